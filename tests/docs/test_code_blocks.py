"""Every fenced code block of docs/ and README.md is run or checked (issue 12, section 3).

The convention is codeblocks.py's (and docs/index.md's "About the examples"
section): ``python`` and ``pycon`` blocks run, a page's blocks in one
namespace, in a child process per page; blocks titled ``main.cf`` or
``master.cf`` are parsed by mailflow's configuration parser; ``console``
blocks of ``mailflow`` postconf, postmap, postalias, explain and check
commands run against a scratch copy of the page's configuration files and
must print what the page shows; a table source the page names as
``TYPE:/etc/mailflow/NAME`` is read as that type; ``json``/``toml`` blocks
must parse. A block that is none of these needs a marker saying which test
runs it or why nothing can. Every failure names the page and line of the
block and says why.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mailflow.config import Config
from mailflow.errors import ConfigError
from mailflow.services.master import service_plan

from .codeblocks import ROOT, Block, blocks, matches, pages

RUNNER = Path(__file__).with_name("codeblocks.py")
ALL = [b for page in pages() for b in blocks(page)]
PYTHON_PAGES = sorted({b.page for b in ALL if b.lang in ("python", "pycon") and b.marker is None})

# Info strings a block may carry, and what is done with it.
RUN = {"python", "pycon"}
SHELL = {"console", "sh", "shell", "bash"}
NOT_CODE = {"text"}
PARSED = {"json", "toml", "ini"}
# mailflow commands that touch nothing but the configuration directory, so a
# console block of them runs against a scratch copy of the page's files.
SCRATCH_SAFE = {"postconf", "postmap", "postalias", "explain", "check"}


def _config_kind(block: Block) -> str | None:
    """"main.cf" or "master.cf" when the block's title names one of those files."""
    for kind in ("main.cf", "master.cf"):
        if block.title and (block.title == kind or block.title.endswith("/" + kind)):
            return kind
    return None


# ------------------------------------------------------------------ the rules
def problems_of(block: Block) -> list[str]:
    """Why ``block`` breaks the convention (no code is run here)."""
    where = block.where
    if block.marker is not None:
        kind, text = block.marker
        if not text:
            return [f"{where}: the marker <!-- {kind} --> needs a reason or a test's path"]
        if kind == "tested by" and not (ROOT / text.split()[0]).is_file():
            return [f"{where}: <!-- tested by {text} -->: no such file {text.split()[0]}"]
        if kind == "tested by" and Path(block.page).name not in (ROOT / text.split()[0]).read_text():
            return [f"{where}: {text.split()[0]} does not read {Path(block.page).name}"]
        return []
    if not block.lang:
        return [f"{where}: a code block without a language: tag it python, pycon, console, "
                'text (output, not code), or give a configuration file a title ('
                '```ini title="main.cf"```)']
    known = RUN | SHELL | NOT_CODE | PARSED
    if block.lang not in known and _config_kind(block) is None:
        return [f"{where}: unknown info string {block.lang!r} (one of {', '.join(sorted(known))})"]
    if block.lang in NOT_CODE | {"ini"} and _config_kind(block) is None and looks_like_config(block.text):
        return [f"{where}: this looks like {looks_like_config(block.text)}: give the block "
                f'title="{looks_like_config(block.text)}" so that it is checked']
    if block.lang in SHELL and _config_kind(block) is None:
        bad = [c for c in commands(block) if not _scratch_safe(c)]
        if bad:
            return [f"{where}: `{bad[0]}` is not a mailflow {'/'.join(sorted(SCRATCH_SAFE))} "
                    "command, so this block cannot run here: mark it "
                    "<!-- tested by tests/PATH.py --> or <!-- not tested: REASON -->"]
    return []


_SERVICE_LINE = re.compile(r"^\S+\s+(inet|unix|unix-dgram|fifo|pass)\s+[-yn]\s+[-yn]\s+[-yn]\s")


def looks_like_config(text: str) -> str | None:
    """"main.cf" when every line is a comment or ``name = value`` of a known
    parameter, "master.cf" when the lines are service entries; else None.

    >>> looks_like_config("# x\\nrelayhost = [a]\\n"), looks_like_config("a: b\\n")
    ('main.cf', None)
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return None
    if all(_SERVICE_LINE.match(line) or line[0].isspace() for line in lines) \
            and _SERVICE_LINE.match(lines[0]):
        return "master.cf"
    names = [re.match(r"^(\w+)\s*=", line) for line in lines if not line[0].isspace()]
    if names and all(names) and all(Config().is_known(m[1]) for m in names):
        return "main.cf"
    return None


def commands(block: Block) -> list[str]:
    """The commands of a shell block: ``$ `` lines of a console block, every
    line (comments left out) of an sh block."""
    if block.lang == "console" or block.text.lstrip().startswith("$ "):
        return [line[2:] for line in block.text.splitlines() if line.startswith("$ ")]
    return [line.split(" #")[0].strip() for line in block.text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _scratch_safe(command: str) -> bool:
    """A ``mailflow [-c DIR] COMMAND`` of SCRATCH_SAFE, with no pipe or redirection."""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    if not words or words[0] != "mailflow" or any(w in command for w in ("|", ">", ";", "&")):
        return False
    words = words[1:]
    while words[:1] == ["-c"]:
        words = words[2:]
    return bool(words) and words[0] in SCRATCH_SAFE


def test_every_block_follows_the_convention():
    """No block without a language, no unknown info string, no unmarked
    block that cannot run; markers give a reason or a test that reads the page."""
    found = [p for block in ALL for p in problems_of(block)]
    assert not found, "\n".join(found)


# ------------------------------------------------------- python and doctests
@pytest.fixture(scope="module")
def python_results() -> dict[str, list[dict[str, str]]]:
    """Each page's failures, from one child process per page run side by side."""
    env = dict(os.environ, TZ="UTC", PYTHONPATH=str(ROOT))
    env.pop("MAILFLOW_CONFIG_DIR", None)

    def run(page: str) -> list[dict[str, str]]:
        proc = subprocess.run([sys.executable, str(RUNNER), str(ROOT / page)], env=env,
                              cwd=str(ROOT), capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            return [{"where": page, "why": f"the runner failed: {proc.stderr[-2000:]}"}]
        return json.loads(proc.stdout)

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return dict(zip(PYTHON_PAGES, pool.map(run, PYTHON_PAGES)))


@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_blocks_run(page, python_results):
    """The page's python blocks run without an exception and its doctests pass."""
    failures = python_results[page]
    assert not failures, "\n\n".join(f"{f['where']}: {f['why']}" for f in failures)


def test_a_failing_block_is_reported_with_page_and_line(tmp_path):
    """The runner is a real check: a broken block, a wrong doctest output and
    a failing test function each fail, named by page and line."""
    page = tmp_path / "broken.md"
    page.write_text("# t\n\n```python\nx = 1\n```\n\n```python\nassert x == 2\n```\n\n"
                    "```pycon\n>>> x + 1\n3\n```\n\n"
                    "```python\ndef test_it():\n    raise ValueError('nope')\n```\n"
                    "<!-- not tested: shows a failure -->\n```python\n1/0\n```\n")
    proc = subprocess.run([sys.executable, str(RUNNER), str(page)], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    failures = json.loads(proc.stdout)
    where = [f["where"].rsplit("/", 1)[-1] for f in failures]
    assert where == ["broken.md:7", "broken.md:11", "broken.md:16"]
    assert failures[0]["why"] == "AssertionError:  (line 8)"
    assert "Expected:\n    3\nGot:\n    2" in failures[1]["why"]
    assert failures[2]["why"] == "ValueError: nope (line 18)"


# ------------------------------------------------------------ configuration
CONFIG_BLOCKS = [b for b in ALL if _config_kind(b) and b.marker is None]


def config_problems(block: Block) -> list[str]:
    """Warnings and errors of mailflow's parser for a main.cf or master.cf block."""
    kind = _config_kind(block)
    try:
        if kind == "main.cf":
            cfg = Config.from_string(block.text, log_warnings=False)
        else:
            cfg = Config.from_string("", master=block.text, log_warnings=False)
        found = [*cfg.warnings, *map(str, cfg.validate())]
    except ConfigError as exc:
        return [f"{block.where}: {kind}: {exc}"]
    if kind == "master.cf":
        found += [f"{e.service}/{e.type}: command {e.command!r} is not a known service or agent"
                  for e in service_plan(list(cfg.master))[1]]
        if not list(cfg.master):
            found.append("no service in the block")
    # The parser's "main.cf, line N" counts from the block's first line.
    return [f"{block.where}: " + re.sub(r"\b(main|master)\.cf, line (\d+)",
                                       lambda m: f"{m[1]}.cf line {int(m[2])} of the block", text)
            for text in found]


@pytest.mark.parametrize("block", CONFIG_BLOCKS, ids=[b.where for b in CONFIG_BLOCKS])
def test_configuration_blocks_parse(block):
    """A main.cf/master.cf block parses with no warning and no bad value."""
    assert not config_problems(block), "\n".join(config_problems(block))


def test_a_bad_configuration_block_is_reported():
    """An unknown parameter, a bad value and an unknown command each fail, with page and line."""
    bad_main = Block("docs/x.md", 10, "ini", "main.cf", "relay_host = x\nmessage_size_limit = big\n")
    bad_master = Block("docs/x.md", 20, "text", "master.cf",
                       "sink unix - - n - - nosuchdaemon\n")
    assert config_problems(bad_main) == [
        'docs/x.md:10: main.cf line 1 of the block: unknown parameter "relay_host"; '
        'did you mean "relayhost"? (ignored)',
        "docs/x.md:10: main.cf line 2 of the block: message_size_limit = big: not a number "
        "(expected a size in bytes)"]
    assert config_problems(bad_master) == [
        "docs/x.md:20: sink/unix: command 'nosuchdaemon' is not a known service or agent"]


# ------------------------------------------------------------ table sources
# A block titled /etc/mailflow/NAME that the page uses as TYPE:/etc/mailflow/NAME.
_TABLE_REF = re.compile(r"\b(\w+):/etc/mailflow/([\w.-]+)")
RULE_TYPES = {"regexp", "pcre", "cidr"}
SOURCE_TYPES = {"hash", "btree", "lmdb", "cdb", "dbm", "texthash"}
ALIAS_PARAMS = ("alias_maps", "alias_database")


def table_blocks() -> list[tuple[Block, str]]:
    """(block, table type) for every table source a page shows and names
    (in a block or in the prose) as ``TYPE:/etc/mailflow/NAME``."""
    found = []
    for page in pages():
        page_blocks = blocks(page)
        text = page.read_text()
        types = {}
        for m in _TABLE_REF.finditer(text):
            line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
            if not line.lstrip().startswith(ALIAS_PARAMS):   # aliases(5) is another format
                types.setdefault(m[2], m[1])
        for block in page_blocks:
            name = (block.title or "").removeprefix("/etc/mailflow/")
            if block.title and block.title.startswith("/etc/mailflow/") and \
                    types.get(name) in RULE_TYPES | SOURCE_TYPES:
                found.append((block, types[name]))
    return found


def table_problems(block: Block, kind: str, tmp: Path) -> list[str]:
    """What mailflow says about a table source: rule files are opened as
    their type, key/value sources parsed as postmap parses them."""
    from mailflow.tables import open_table
    from mailflow.tables.source import parse_source
    path = tmp / Path(block.title).name
    path.write_text(block.text)
    said: list[str] = []
    if kind in SOURCE_TYPES:
        list(parse_source(block.text, block.title, warn=said.append))
    else:
        import logging

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                said.append(record.getMessage())
        keep = Keep()
        logging.getLogger("mailflow.tables").addHandler(keep)
        try:
            open_table(f"{kind}:{path}").get("probe@example.com")
        finally:
            logging.getLogger("mailflow.tables").removeHandler(keep)
    return [f"{block.where}: {kind}:{block.title}: {text.replace(str(path), block.title)}"
            for text in said]


TABLE_BLOCKS = table_blocks()


@pytest.mark.parametrize("block,kind", TABLE_BLOCKS, ids=[f"{b.where}-{k}" for b, k in TABLE_BLOCKS])
def test_table_sources_parse(block, kind, tmp_path):
    """A lookup table the page shows reads without a warning, as its type."""
    assert not table_problems(block, kind, tmp_path), "\n".join(table_problems(block, kind, tmp_path))


def test_a_bad_table_source_is_reported(tmp_path):
    """A line without a value, and a regexp that does not compile, each fail with page and line."""
    bad_hash = Block("docs/x.md", 3, "text", "/etc/mailflow/transport", "example.com\n")
    bad_regexp = Block("docs/x.md", 9, "text", "/etc/mailflow/virtual_regexp", "/(a/ b\n")
    assert table_problems(bad_hash, "hash", tmp_path) == [
        "docs/x.md:3: hash:/etc/mailflow/transport: /etc/mailflow/transport, line 1: "
        "expected format: key whitespace value"]
    [problem] = table_problems(bad_regexp, "regexp", tmp_path)
    assert problem.startswith("docs/x.md:9: regexp:/etc/mailflow/virtual_regexp: regexp map "
                              "/etc/mailflow/virtual_regexp, line 1: error in regex")


# ------------------------------------------------------------- json and toml
@pytest.mark.parametrize("block", [b for b in ALL if b.lang in ("json", "toml") and b.marker is None],
                         ids=lambda b: b.where)
def test_data_blocks_parse(block):
    """A json block is JSON; a toml block is TOML (where the standard library reads TOML)."""
    if block.lang == "json":
        for line in block.text.splitlines():       # one JSON document per line (postqueue -j)
            json.loads(line)
    else:
        tomllib = pytest.importorskip("tomllib")
        tomllib.loads(block.text)


# ---------------------------------------------------------------- console
def console_steps(block: Block) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return [(command, "\n".join(out)) for command, out in steps]


CONSOLE_BLOCKS = [b for b in ALL if b.lang in SHELL and b.marker is None and not problems_of(b)]


def page_config(page: str, etc: Path) -> None:
    """Write the page's configuration files into ``etc``: the blocks titled
    ``/etc/mailflow/NAME``, in page order (a page may show a file in
    pieces). A block titled just ``main.cf`` is an example on its own,
    checked by itself, not part of the page's configuration."""
    texts: dict[str, str] = {}
    for block in blocks(ROOT / page):
        if block.title and block.title.startswith("/etc/mailflow/"):
            name = block.title.rsplit("/", 1)[-1]
            texts[name] = texts.get(name, "") + block.text
    texts.setdefault("main.cf", "")
    texts["main.cf"] += f"queue_directory = {etc.parent}/spool\n"
    for name, text in texts.items():
        (etc / name).write_text(text.replace("/etc/mailflow", str(etc)))


@pytest.fixture
def shell_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A scratch directory with examples/ and a ``mailflow`` command on PATH."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("spool", "maillog", "__pycache__", "*.egg-info"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "mailflow"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mailflow "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    # A command without -c reads the page's configuration too.
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               MAILFLOW_CONFIG_DIR=str(tmp_path / "etc"))
    return tmp_path, env


def console_problems(block: Block, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run the block's commands in ``cwd`` against a scratch copy of the
    page's configuration; what differs from the page, with page:line."""
    etc = cwd / "etc"
    etc.mkdir(exist_ok=True)
    page_config(block.page, etc)
    problems = []
    for command, expected in console_steps(block) or [(c, None) for c in commands(block)]:
        proc = subprocess.run(["bash", "-c", command.replace("/etc/mailflow", str(etc))],
                              cwd=cwd, env=env, timeout=60,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.stdout.decode(errors="replace").replace(str(etc), "/etc/mailflow")
        if expected is None and proc.returncode != 0:
            problems.append(f"{block.where}: $ {command}\nexit status {proc.returncode}\n{output}")
        elif expected is not None and not matches(expected, output):
            problems.append(f"{block.where}: $ {command}\n--- the page shows ---\n{expected}\n"
                            f"--- it printed ---\n{output}")
    return problems


@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=[b.where for b in CONSOLE_BLOCKS])
def test_console_blocks_print_what_the_page_shows(block, shell_env):
    """Each ``mailflow`` command of the block, run against a scratch copy of
    the page's own configuration (``/etc/mailflow`` and the default
    configuration directory are that copy), prints the output shown
    (``...`` stands for any text)."""
    cwd, env = shell_env
    problems = console_problems(block, cwd, env)
    assert not problems, "\n".join(problems)


def test_a_console_block_with_other_output_is_reported(shell_env):
    """The console check is a real check: a wrong expected output fails,
    naming page and line; the page's own main.cf is what the command reads."""
    cwd, env = shell_env
    page = cwd / "page.md"
    page.write_text('```ini title="/etc/mailflow/main.cf"\nmyhostname = mx.example.com\n```\n\n'
                    "```console\n$ mailflow -c /etc/mailflow postconf myhostname\n"
                    "myhostname = mx.example.org\n```\n")
    [block] = [b for b in blocks(page) if b.lang == "console"]
    [problem] = console_problems(block, cwd, env)
    assert problem.startswith(f"{page}:5: $ mailflow -c /etc/mailflow postconf myhostname\n")
    assert problem.endswith("--- it printed ---\nmyhostname = mx.example.com\n")


def test_the_helpers_pass_their_doctests():
    """codeblocks.py's and this module's helpers do what their examples say."""
    import doctest

    from . import codeblocks
    for module in (codeblocks, sys.modules[__name__]):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
