"""docs/tutorial.md runs as written: every ``$ command`` gives the output shown.

The page's ``console`` blocks are read in order; each line starting with
``$ `` is a command run by bash in a scratch directory holding a copy of
examples/, with a ``mailflow`` command on PATH; the lines after it, up to
the next command, are its expected output (stdout and stderr together).
``...`` in the expected output matches any text, and runs of blanks compare
equal. A command that only looks (ls, cat, grep, postqueue -p) is repeated
until its output matches or a deadline passes, because delivery happens in
the background; a command that changes something runs exactly once.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from e2e_helpers import DEADLINE, ROOT, free_port, mail_processes, wait_until

TUTORIAL = ROOT / "docs" / "tutorial.md"
# Commands that change state are never repeated.
RUN_ONCE = ("sendmail", " start", " stop", "postsuper", "postconf -e", "cp ")


@attrs.frozen
class Step:
    command: str
    expected: str


def steps(markdown: str) -> list[Step]:
    """The ``$ command`` lines of the page's console blocks with their output."""
    found: list[Step] = []
    for block in re.findall(r"^```console\n(.*?)^```", markdown, re.M | re.S):
        command, output = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append(Step(command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command is not None:
            found.append(Step(command, "\n".join(output)))
    return found


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` fits ``expected`` (``...`` is a wildcard, blanks squeezed)."""
    def squeeze(text: str) -> str:
        return re.sub(r"[ \t]+", " ", text.strip("\n"))
    pattern = ".*?".join(re.escape(part) for part in squeeze(expected).split("..."))
    return re.fullmatch(pattern, squeeze(actual), re.S) is not None


@pytest.fixture
def workdir(tmp_path: Path):
    """A scratch directory with examples/ and a ``mailflow`` command; the
    tutorial's mail system is stopped and checked for leftovers afterwards."""
    # A fresh checkout's examples/: no spool left by running them in place.
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("spool", "maillog", "__pycache__"))
    # Another run on this machine may hold the quickstart's smtpd port (2525).
    master_cf = tmp_path / "examples" / "quickstart" / "master.cf"
    master_cf.write_text(master_cf.read_text().replace("127.0.0.1:2525",
                                                       f"127.0.0.1:{free_port()}"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "mailflow"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mailflow "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT))
    env.pop("MAILFLOW_CONFIG_DIR", None)
    yield tmp_path, env
    confdir = tmp_path / "mymail"
    if (confdir / "main.cf").exists():
        subprocess.run(["mailflow", "-c", str(confdir), "stop"], env=env, cwd=tmp_path,
                       capture_output=True, timeout=DEADLINE)
    wait_until(lambda: not mail_processes(confdir), "no tutorial process left", timeout=10)


def run(step: Step, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(["bash", "-c", step.command], cwd=cwd, env=env, timeout=DEADLINE,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc.stdout.decode(errors="replace")


def test_the_tutorial_parses_into_commands():
    """The page has the commands the walk-through promises: start, sendmail, postqueue, stop."""
    commands = [s.command for s in steps(TUTORIAL.read_text())]
    for word in (" start", "sendmail", "postqueue -p", "Maildir", " stop"):
        assert any(word in c for c in commands), word


def test_every_tutorial_command_gives_the_output_shown(workdir):
    """Each command of docs/tutorial.md, run in order, prints what the page shows."""
    cwd, env = workdir
    for step in steps(TUTORIAL.read_text()):
        if any(word in step.command for word in RUN_ONCE):
            output = run(step, cwd, env)
        else:
            last = {}

            def looks_right() -> bool:
                last["out"] = run(step, cwd, env)
                return matches(step.expected, last["out"])
            try:
                wait_until(looks_right, f"output of {step.command!r}", timeout=10)
            except AssertionError:
                pass                      # reported by the assertion below
            output = last["out"]
        assert matches(step.expected, output), (
            f"$ {step.command}\n--- expected ---\n{step.expected}\n--- got ---\n{output}")
