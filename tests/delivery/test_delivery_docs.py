"""The Python examples in docs/delivery run and print what the pages say."""

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "delivery"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def examples():
    for page in sorted(DOCS.glob("*.md")):
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            if code.lstrip().startswith("async def"):
                continue  # a signature, not a program
            if "JsonArchiveAgent" in code:
                continue  # shown in full in examples/custom_agent.py
            yield pytest.param(code, id=f"{page.stem}-{i}")


@pytest.mark.parametrize("code", list(examples()))
def test_doc_example_prints_what_its_comments_say(code, tmp_path, monkeypatch):
    """Each example runs; every `print(...)  # text` line prints that text."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_example__"})
    printed = out.getvalue().splitlines()
    wanted = [line.split("# ", 1)[1].split(" (")[0].strip() for line in code.splitlines()
              if line.lstrip().startswith("print(") and "# " in line]
    assert len(printed) >= len(wanted)
    for want, got in zip(wanted, printed):
        assert got.startswith(want)
