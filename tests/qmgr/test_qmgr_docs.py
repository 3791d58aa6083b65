"""The Python examples in docs/qmgr.md and docs/bounce.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCKS = [(page, i, code) for page in ("qmgr.md", "bounce.md")
          for i, code in enumerate(re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S))]


@pytest.mark.parametrize("page, index, code", BLOCKS, ids=[f"{p}-{i}" for p, i, _ in BLOCKS])
def test_doc_example_runs(page, index, code):
    """The example runs and its assertions hold."""
    exec(compile(code, f"{page}#{index}", "exec"), {})
