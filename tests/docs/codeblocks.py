"""The fenced code blocks of the documentation, and the runner for their Python.

The documentation's convention (docs/index.md's "About the examples" says
it for readers):

- ```` ```python ```` runs; the blocks of one page run in order in one
  namespace, in a scratch directory, so a block may use what an earlier
  one defined. A ``python`` block that starts with ``>>>`` is a doctest.
  A function ``test_*`` that takes no argument is called after its block.
- ```` ```pycon ```` is a doctest (the blocks of a page share one namespace).
- A block with ``title="main.cf"`` or ``title="master.cf"`` (or a path
  ending so) is parsed by mailflow's own configuration parser: no warning,
  no bad value, and every master.cf command a known delivery agent or
  service.
- ```` ```console ```` is ``$ command`` lines, each followed by its output.
- ```` ```text ```` is not code: output, a diagram, a synopsis. ``json`` and
  ``toml`` blocks must parse.
- A block directly after ``<!-- not tested: REASON -->`` is not run, for
  the REASON given; one after ``<!-- tested by tests/PATH.py -->`` is run
  by that test instead (a how-to's daemon, for instance).

Run as a program (``python codeblocks.py PAGE ...``), this module runs the
``python``/``pycon`` blocks of each page and prints one JSON list of
failures, ``{"where": "docs/page.md:LINE", "why": "..."}``; the test runs
it in a child process per page, so what a page registers or changes stays
in that process.
"""

from __future__ import annotations

import doctest
import inspect
import io
import json
import os
import re
import sys
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"^<!--\s*(?P<kind>not tested|tested by)\b[:\s]*(?P<text>.*?)\s*-->\s*$")


@attrs.frozen
class Block:
    """One fenced code block: where it is, its info string, its text."""

    page: str               # relative to the repository root: docs/routing.md
    line: int               # 1-based line of the opening fence
    lang: str               # the info string's first word ("" when none)
    title: str | None       # title="..." of the info string
    text: str
    marker: tuple[str, str] | None = None   # ("not tested", reason) / ("tested by", path)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def is_doctest(self) -> bool:
        return self.lang == "pycon" or (self.lang == "python" and self.text.lstrip().startswith(">>>"))


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, in order.

    >>> import tempfile, pathlib
    >>> page = pathlib.Path(tempfile.mkdtemp(), "p.md")
    >>> _ = page.write_text('x\\n<!-- not tested: needs root -->\\n```ini title="main.cf"\\na = b\\n```\\n')
    >>> [(b.line, b.lang, b.title, b.text, b.marker) for b in blocks(page)]
    [(3, 'ini', 'main.cf', 'a = b\\n', ('not tested', 'needs root'))]
    """
    lines = path.read_text().splitlines()
    try:
        page = path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        page = str(path)
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent, info = m["fence"], len(m["indent"]), m["info"].strip()
        end = i + 1
        while end < len(lines) and not (lines[end].strip().startswith(fence[0] * len(fence))
                                        and not lines[end].strip().strip(fence[0])):
            end += 1
        body = [line[indent:] if not line[:indent].strip() else line.lstrip()
                for line in lines[i + 1:end]]
        lang = info.split()[0].lstrip(".{") if info else ""
        title = re.search(r'title="([^"]*)"', info)
        prev = i - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        marker = _MARKER.match(lines[prev].strip()) if prev >= 0 else None
        found.append(Block(page, i + 1, lang, title[1] if title else None,
                           "\n".join(body) + "\n" if body else "",
                           (marker["kind"], marker["text"]) if marker else None))
        i = end + 1
    return found


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` fits ``expected``: ``...`` matches any text, runs of blanks compare equal.

    >>> matches("a ... c", "a  bb c"), matches("a", "b")
    (True, False)
    """
    def squeeze(text: str) -> str:
        return re.sub(r"[ \t]+", " ", text.strip("\n"))
    pattern = ".*?".join(re.escape(part) for part in squeeze(expected).split("..."))
    return re.fullmatch(pattern, squeeze(actual), re.S) is not None


def pages() -> list[Path]:
    """Every documentation page with code: docs/**/*.md (not the hooks) and README.md."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "hooks" not in p.parts)
    return [ROOT / "README.md", *docs]


# --------------------------------------------------------------- the runner
def _tail(exc: BaseException, page: str) -> str:
    """The exception and the frames of the page that raised it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == page]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def printed_comments(text: str) -> list[str]:
    """What ``print(...)  # TEXT`` lines say they print (TEXT up to a `` (`` aside).

    >>> printed_comments('x = 1\\nprint(x)  # 1 (one)\\nprint(2)\\n')
    ['1']
    """
    return [line.split("# ", 1)[1].split(" (")[0].strip() for line in text.splitlines()
            if line.lstrip().startswith("print(") and "# " in line]


def run_python(block: Block, namespace: dict[str, Any]) -> str | None:
    """Run one ``python`` block in ``namespace``; None, or why it failed.

    A ``print(...)  # TEXT`` line must print a line starting with TEXT."""
    # Leading newlines: a traceback's line numbers are the page's.
    source = "\n" * block.line + block.text
    out = io.StringIO()
    try:
        code = compile(source, block.page, "exec")
        with redirect_stdout(out):
            exec(code, namespace)
            tests = [(name, f) for name, f in namespace.items()
                     if name.startswith("test_") and callable(f)
                     and f.__code__.co_filename == block.page
                     and not inspect.signature(f).parameters]
            for name, func in tests:
                result = func()
                if inspect.iscoroutine(result):
                    import asyncio
                    asyncio.run(result)
                namespace.pop(name)
    except BaseException as exc:  # noqa: BLE001 -- a failing block is reported, whatever it raised
        return _tail(exc, block.page)
    wanted = printed_comments(block.text)
    printed = out.getvalue().splitlines() + [""] * len(wanted)     # too few lines: compare with ""
    for want, got in zip(wanted, printed):
        if not got.startswith(want):
            return f"a print() says it prints {want!r} but printed {got!r}"
    return None


def run_doctest(block: Block, namespace: dict[str, Any]) -> str | None:
    """Run one doctest block with ``namespace`` as its globals; None, or the report."""
    parser = doctest.DocTestParser()
    test = parser.get_doctest(block.text, namespace, block.where, block.page, block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    with redirect_stderr(io.StringIO()):
        result = runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)
    if not test.examples:
        return "a doctest block without a >>> example"
    return report.getvalue().strip() if result.failed else None


def run_page(path: Path) -> list[dict[str, str]]:
    """Run the python and pycon blocks of one page in a scratch directory."""
    failures = []
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="docs-") as scratch:
        os.chdir(scratch)
        try:
            for block in blocks(path):
                if block.marker is not None or block.lang not in ("python", "pycon"):
                    continue
                if block.is_doctest:
                    why = run_doctest(block, namespace)
                else:
                    why = run_python(block, namespace)
                if why:
                    failures.append({"where": block.where, "why": why})
        finally:
            os.chdir(cwd)
    return failures


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(json.dumps([f for page in sys.argv[1:] for f in run_page(Path(page).resolve())]))
