"""The plugin's tests run pytest inside pytest (``pytester``), loading the
plugin by module name, as an installed copy loads it by entry point.

Each test module says ``pytest_plugins = ["pytester"]`` itself: pytest
refuses ``pytest_plugins`` in a conftest below the root directory.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

# "-p no:mailflow" keeps an installed copy's entry point from registering the
# same module a second time; "-W error" holds the inner run to the suite's rule;
# hypothesis's summary alone would take seconds per inner run.
PLUGIN_ARGS = ("-p", "no:mailflow", "-p", "mailflow.pytest_plugin", "-W", "error",
               "-p", "no:hypothesispytest", "-p", "no:cacheprovider")


@pytest.fixture
def run(pytester: pytest.Pytester) -> Callable[..., Any]:
    """Write ``source`` as a test file and run pytest on it, with the plugin, in process."""
    def run_tests(source: str, *args: str) -> pytest.RunResult:
        pytester.makepyfile(source)
        return pytester.runpytest(*PLUGIN_ARGS, *args)
    return run_tests
