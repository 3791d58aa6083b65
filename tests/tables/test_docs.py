"""The Python examples in docs/tables.md run as shown."""

import doctest
from pathlib import Path


def test_tables_doc_examples_run():
    """Every example in docs/tables.md gives the output written there."""
    page = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted > 0 and result.failed == 0
