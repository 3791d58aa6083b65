"""bench/pgsql.py still runs: a small table, every row printed with its ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_bench_pgsql_runs():
    """300 rows, 200 keys: the mailflow rows (and Postfix's when installed) are printed."""
    if pg_server.find_bindir() is None:
        pytest.skip("PostgreSQL's server (initdb, pg_ctl) is not installed")
    p = subprocess.run([sys.executable, "bench/pgsql.py", "--rows", "300", "--keys", "200",
                        "--repeat", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "200 lookups (" in p.stdout and "table of 300 rows" in p.stdout
    for row in ("mailflow postmap -q -", "mailflow in process, 1 thread",
                "mailflow in process, 4 threads"):
        assert row in p.stdout
