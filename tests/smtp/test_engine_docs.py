"""The examples in docs/smtp-engine.md run as shown."""

from __future__ import annotations

import doctest
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_doc_examples_run():
    """Every >>> example on the page gives the output written there."""
    result = doctest.testfile(str(DOCS / "smtp-engine.md"), module_relative=False)
    assert result.attempted > 20 and result.failed == 0
