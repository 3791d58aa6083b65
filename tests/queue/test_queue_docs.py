"""The Python examples in docs/queue.md and docs/submission.md run as shown."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("page", ["queue.md", "submission.md"])
def test_doc_examples_run(page):
    """Every >>> example on the page gives the output written there."""
    result = doctest.testfile(str(DOCS / page), module_relative=False)
    assert result.attempted > 0 and result.failed == 0
