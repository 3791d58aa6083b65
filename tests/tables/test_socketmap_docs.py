"""The Python examples of the socketmap/tcp/ldap docs sections run as shown."""

import doctest
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_network_tables_doc_examples_run():
    """The page with the socketmap section gives the output written there."""
    pages = [p for p in sorted(DOCS.glob("tables*.md")) if "\n## socketmap\n" in p.read_text()]
    assert len(pages) == 1
    result = doctest.testfile(str(pages[0]), module_relative=False)
    assert result.attempted > 0 and result.failed == 0
