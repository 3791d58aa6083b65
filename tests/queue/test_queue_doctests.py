"""The doctest examples in the queue, submission and queue-tool modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "mailflow.queue.names", "mailflow.queue.records", "mailflow.queue.logs",
    "mailflow.queue.store_api", "mailflow.queue.memory", "mailflow.queue.showq",
    "mailflow.adapters.queue_store", "mailflow.adapters.sqlite_queue_store",
    "mailflow.submit", "mailflow.cli.sendmail", "mailflow.cli.postcat",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name):
    """Every >>> example in the module's docstrings passes."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
