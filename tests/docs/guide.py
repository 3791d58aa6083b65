"""Run a how-to guide as written: its files, then its commands, in order.

A guide under docs/howto/ shows its configuration as blocks titled with
the file's path (``/etc/mailflow/main.cf``, ``/etc/mailflow/transport``...)
and its commands as ``console`` blocks marked
``<!-- tested by tests/docs/test_howto_NAME.py -->``. :class:`Guide` writes
those files into a scratch directory, runs those commands with bash (a
``mailflow`` command on PATH), and compares what each prints with the
page, ``...`` standing for any text. The real paths of the page are mapped
to the scratch directory (and ports to free ones) by the test's
``replace`` table, in files, commands and (backwards) in the output.

A command that only looks (``postqueue -p``, ``ls``, ``grep``, ``cat``) is
repeated until its output matches or a deadline passes, because delivery
happens in the background; every other command runs exactly once. The
mail system is stopped when the test ends, and no process of it may be
left.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from .codeblocks import ROOT, Block, blocks, matches

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from e2e_helpers import mail_processes  # noqa: E402

DEADLINE = 30.0
LOOKS = ("mailflow -c /etc/mailflow postqueue", "ls ", "grep ", "cat ")


class Guide:
    """One guide, run in ``tmp`` with the page's paths replaced as ``replace`` says."""

    def __init__(self, page: str, test_file: str, tmp: Path, replace: dict[str, str]) -> None:
        self.page = page
        self.blocks = blocks(ROOT / page)
        self.test_file = test_file
        self.tmp = tmp
        self.etc = tmp / "etc"
        self.etc.mkdir(parents=True, exist_ok=True)
        # Longest first, so /etc/mailflow/main.cf is not cut by /etc/mailflow.
        self.replace = dict(sorted({"/etc/mailflow": str(self.etc), **replace}.items(),
                                   key=lambda kv: -len(kv[0])))
        bindir = tmp / "bin"
        bindir.mkdir(exist_ok=True)
        wrapper = bindir / "mailflow"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mailflow "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        self.env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
                        PYTHONPATH=str(ROOT))
        self.env.pop("MAILFLOW_CONFIG_DIR", None)

    # ------------------------------------------------------------ the page
    def mapped(self, text: str) -> str:
        for old, new in self.replace.items():
            text = text.replace(old, new)
        return text

    def unmapped(self, text: str) -> str:
        for old, new in self.replace.items():
            text = text.replace(new, old)
        return text

    def file_blocks(self) -> list[Block]:
        """The blocks titled with an absolute path (``/etc/mailflow/main.cf``,
        ``/usr/local/bin/filter``...), in page order."""
        return [b for b in self.blocks if b.title and b.title.startswith("/")]

    def write_files(self, extra_main_cf: str = "", append: bool = False) -> None:
        """Write every file the page shows (mapped: each must land under the
        scratch directory), and ``extra_main_cf`` (the scratch queue
        directory, say) after main.cf; ``append`` adds to files another
        guide wrote. A file whose first line is ``#!`` is made executable."""
        texts: dict[str, str] = {}
        for block in self.file_blocks():
            texts[block.title] = texts.get(block.title, "") + block.text
        if extra_main_cf:
            texts["/etc/mailflow/main.cf"] = texts.get("/etc/mailflow/main.cf", "") + extra_main_cf
        for title, text in texts.items():
            path = Path(self.mapped(title))
            assert path.is_relative_to(self.tmp), f"{self.page}: {title} is not mapped into {self.tmp}"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a" if append else "w") as f:
                f.write(self.mapped(text))
            if text.startswith("#!"):
                path.chmod(0o755)

    def steps(self) -> list[tuple[Block, str, str]]:
        """``(block, command, expected output)`` of the console blocks this test runs."""
        found = []
        for block in self.blocks:
            if block.lang != "console" or block.marker != ("tested by", self.test_file):
                continue
            for line in block.text.splitlines():
                if line.startswith("$ "):
                    found.append([block, line[2:], []])
                elif found and found[-1][0] is block:
                    found[-1][2].append(line)
        return [(b, c, "\n".join(out)) for b, c, out in found]

    # ------------------------------------------------------------ running
    def run(self, command: str, stdin: bytes = b"") -> str:
        """One command of the page, mapped; its output (stdout and stderr), unmapped."""
        proc = subprocess.run(["bash", "-c", self.mapped(command)], cwd=self.tmp, env=self.env,
                              input=stdin, timeout=DEADLINE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self.unmapped(proc.stdout.decode(errors="replace"))

    def check(self, block: Block, command: str, expected: str) -> None:
        """Run one step; fail with the page's line, the command, what was expected and what came."""
        output = self.run(command)
        if command.startswith(LOOKS):
            deadline = time.monotonic() + DEADLINE
            while not matches(expected, output) and time.monotonic() < deadline:
                time.sleep(0.1)
                output = self.run(command)
        assert matches(expected, output), (
            f"{block.where}: $ {command}\n--- the page shows ---\n{expected}\n"
            f"--- it printed ---\n{output}\n--- log ---\n{self.log()}")

    def run_steps(self, until: str | None = None) -> None:
        """Every step of the page in order (up to, not including, the first
        command that contains ``until``)."""
        for block, command, expected in self.steps():
            if until is not None and until in command:
                return
            self.check(block, command, expected)

    def log(self) -> str:
        logs = [p for p in self.tmp.rglob("*.log")] + list(self.tmp.rglob("maillog"))
        return "\n".join(p.read_text(errors="replace") for p in logs)

    def stop(self) -> None:
        """Stop the mail system if it runs; fail if any of its processes is left."""
        pid_file = next(self.tmp.rglob("pid/master.pid"), None)
        if pid_file is not None and pid_file.exists():
            subprocess.run([sys.executable, "-m", "mailflow", "-c", str(self.etc), "stop"],
                           env=self.env, cwd=self.tmp, capture_output=True, timeout=DEADLINE)
        deadline = time.monotonic() + 10
        while (left := mail_processes(self.etc)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"processes left behind: {left}"
