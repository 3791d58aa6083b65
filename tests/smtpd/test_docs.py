"""The Python examples in docs/smtpd-restrictions.md run as shown."""

import doctest
from pathlib import Path


def test_smtpd_restrictions_doc_examples_run():
    """Every example in docs/smtpd-restrictions.md gives the output written there."""
    page = Path(__file__).resolve().parents[2] / "docs" / "smtpd-restrictions.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted > 0 and result.failed == 0
