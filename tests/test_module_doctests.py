"""Every docstring example in the package runs as shown, whichever module it is in.

The component test suites run their own modules' examples too; this one walks
the whole package so that a module nobody listed is not left out.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import mailflow

MODULES = sorted(info.name for info in pkgutil.walk_packages(mailflow.__path__, "mailflow.")
                 if not info.name.endswith("__main__"))


@pytest.mark.parametrize("name", ["mailflow", *MODULES])
def test_module_doctests_pass(name):
    """The module's docstring examples give the output written there."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
