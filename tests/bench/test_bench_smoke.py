"""The benchmarks still run: a few messages end to end, a small routing map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    p = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_deliver_benchmark_delivers_every_message_through_the_api():
    """bench/deliver.py with 20 messages through submit() prints a row for that run."""
    out = _run("bench/deliver.py", "--count", "20", "--only", "api", "--skip-postfix",
               "--timeout", "120")
    [row] = [line for line in out.splitlines() if line.startswith("mailflow submit() API")]
    seconds, rate = row.split()[-4:-2]
    assert float(seconds) > 0 and float(rate) > 0


def test_resolve_benchmark_routes_a_small_map():
    """bench/resolve.py with 300 entries prints every routing row."""
    out = _run("bench/resolve.py", "--entries", "300", "--skip-postfix")
    for name in ("cleanup virtual expansion", "trivial-rewrite resolve",
                 "expansion + resolve", "mailflow postmap -q -"):
        assert name in out
