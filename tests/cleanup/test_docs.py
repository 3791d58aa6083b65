"""The Python examples in docs/cleanup.md run as shown."""

import doctest
from pathlib import Path


def test_cleanup_doc_examples_run(monkeypatch):
    """Every example in docs/cleanup.md gives the output written there."""
    import time
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        page = Path(__file__).resolve().parents[2] / "docs" / "cleanup.md"
        result = doctest.testfile(str(page), module_relative=False)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.attempted > 0 and result.failed == 0
