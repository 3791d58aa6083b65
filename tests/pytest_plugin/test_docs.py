"""The fixture examples of docs/testing.md run as test files under pytest and pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
FIXTURES = r"\b(mail_system|mail_system_factory|dns_records|smtp_server|mailflow_daemon)\b"
BLOCKS = [code for code in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
          if re.search(r"def test_\w+\([^)]*" + FIXTURES, code)]


def test_the_page_has_fixture_examples():
    """The page shows every fixture in a runnable example."""
    used = set(re.findall(FIXTURES, "".join(BLOCKS)))
    assert used == {"mail_system", "mail_system_factory", "dns_records", "smtp_server",
                    "mailflow_daemon"}


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_fixture_example_passes(run, code):
    """Every test function in the example passes."""
    result = run(code)
    tests = len(re.findall(r"^def test_", code, re.M))
    result.assert_outcomes(passed=tests)
