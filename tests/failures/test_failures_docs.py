"""The Python examples in docs/explanation/failures.md run as written, and
the page names the log lines the code writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "explanation" / "failures.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index):
    """The example runs and its assertions hold."""
    exec(compile(BLOCKS[index], f"failures.md#{index}", "exec"), {})


@pytest.mark.parametrize("module, text", [
    ("mailflow/services/pickup.py", "maildrop file failed %d times (last: %s: %s); moved to the corrupt queue"),
    ("mailflow/services/pickup.py", "cannot hand the message to cleanup: %s: %s; will try again"),
    ("mailflow/services/qmgr.py", "cannot move to the %s queue: %s; will try again"),
    ("mailflow/services/qmgr.py", "bounce or trace service failure"),
    ("mailflow/services/qmgr.py", "cannot record delivery status"),
    ("mailflow/cli/postsuper.py", "cannot {what} in the {where.value} queue"),
    ("mailflow/queue/space.py", "not enough free space in mail queue"),
])
def test_page_quotes_the_code(module, text):
    """Every log line the page quotes is one the code writes."""
    root = PAGE.parents[2]
    assert text in (root / module).read_text()
