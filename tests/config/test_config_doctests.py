"""The examples in the config modules' docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["mailflow.config", "mailflow.config.core", "mailflow.config.params", "mailflow.config.main_cf",
           "mailflow.config.master_cf", "mailflow.config.expand", "mailflow.config.values",
           "mailflow.config.host", "mailflow.config.edit", "mailflow.config.docs",
           "mailflow.config.postfix_names"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    """Every doctest in the module passes."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
