"""Shared fixtures: a temporary config directory and a CLI runner."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import attrs
import pytest

from mailflow.cli.main import main


@attrs.frozen
class CliResult:
    status: int
    out: str
    err: str


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A config directory with an empty main.cf and a spool under tmp_path."""
    d = tmp_path / "etc"
    d.mkdir()
    (d / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\n")
    (d / "master.cf").write_text("")
    return d


@pytest.fixture
def run_cli(monkeypatch):
    """Run ``mailflow ARGS`` in process; returns status, stdout, stderr."""
    def run(*args: str, stdin: str | bytes = "") -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        data = stdin.encode() if isinstance(stdin, str) else stdin
        fake_stdin = io.TextIOWrapper(io.BytesIO(data))
        monkeypatch.setattr(sys, "stdin", fake_stdin)
        with redirect_stdout(out), redirect_stderr(err):
            status = main([str(a) for a in args])
        return CliResult(status, out.getvalue(), err.getvalue())
    return run
