"""docs/smtpd.md: its Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_smtpd_page_example_runs():
    [code] = re.findall(r"```python\n(.*?)```", (DOCS / "smtpd.md").read_text(), re.S)
    exec(compile(code, "smtpd.md", "exec"), {})


def test_smtpd_page_is_linked_from_the_index():
    assert "(smtpd.md)" in (DOCS / "index.md").read_text()
