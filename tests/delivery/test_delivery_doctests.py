"""Every example in the delivery modules' docstrings runs."""

import doctest
import importlib

import pytest

MODULES = ["mailflow.delivery", "mailflow.delivery.registry", "mailflow.delivery.sysexits",
           "mailflow.delivery.mailcopy", "mailflow.delivery.locking", "mailflow.delivery.mbox",
           "mailflow.delivery.maildir", "mailflow.delivery.trivial", "mailflow.delivery.pipe_argv",
           "mailflow.delivery.pipe", "mailflow.delivery.command", "mailflow.delivery.settings",
           "mailflow.delivery.maps", "mailflow.delivery.virtual", "mailflow.delivery.users",
           "mailflow.delivery.local_expand", "mailflow.delivery.local",
           "mailflow.delivery.agentutil"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    """The module's docstring examples pass."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
