"""Fixtures for the table tests: source files in tmp_path and a postmap runner."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailflow.tables import default_cache


@pytest.fixture
def write(tmp_path: Path):
    """Write a table source file under tmp_path and return its path as str."""
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test opens its tables afresh."""
    default_cache.reset()
    yield
    default_cache.reset()


@pytest.fixture
def real_postfix(tmp_path: Path):
    """Run a real Postfix tool (postmap/postalias) in its own directory;
    skipped when Postfix is not installed."""
    if shutil.which("postmap") is None or shutil.which("postalias") is None:
        pytest.skip("Postfix's postmap/postalias are not installed")
    workdir = tmp_path / "postfix"
    workdir.mkdir()
    env = dict(os.environ, LC_ALL="C")

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=workdir, input=stdin, capture_output=True,
                              text=True, env=env, timeout=60)
    run.dir = workdir
    return run
