"""Every example in the queue manager's and notice sender's docstrings runs."""

import doctest
import importlib

import pytest

MODULES = ["mailflow.qmgr.active", "mailflow.qmgr.retry", "mailflow.qmgr.status_log",
           "mailflow.qmgr.scheduler", "mailflow.services.qmgr", "mailflow.services.bounce"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    """The module's docstring examples pass."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
