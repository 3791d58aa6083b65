"""Every example in the smtp/lmtp client modules' docstrings runs."""

import doctest
import importlib

import pytest

MODULES = ["mailflow.delivery.smtp", "mailflow.delivery.lmtp", "mailflow.delivery.smtp_route",
           "mailflow.delivery.smtp_session", "mailflow.delivery.smtp_tls_policy",
           "mailflow.delivery.mime_downgrade",
           "mailflow.adapters.tls", "mailflow.smtp.client"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    """The module's docstring examples pass."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
