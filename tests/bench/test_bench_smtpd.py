"""bench/smtpd.py still runs: a few messages through mailflow's smtpd, no Postfix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not os.access("/usr/sbin/smtp-source", os.X_OK),
                    reason="Postfix's smtp-source is not installed")
def test_smtpd_benchmark_runs_every_combination_at_a_tiny_size():
    """20 one-KB and 4 larger messages at 1 and 5 sessions, into discard and a Maildir:
    one row per run with positive rates, the Maildir rows with a delivery rate."""
    p = subprocess.run([sys.executable, "bench/smtpd.py", "--count", "20", "--count-large", "4",
                        "--sessions", "1,5", "--sizes", "1024,20480", "--skip-postfix",
                        "--timeout", "120"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [line.split() for line in p.stdout.splitlines() if line.startswith("mailflow ")]
    assert [(r[1], r[2], r[3] + " " + r[4], r[5]) for r in rows] == [
        ("discard", "1", "1 KB", "20"), ("discard", "5", "1 KB", "20"),
        ("discard", "1", "20 KB", "4"), ("discard", "5", "20 KB", "4"),
        ("maildir", "1", "1 KB", "20"), ("maildir", "5", "1 KB", "20"),
        ("maildir", "1", "20 KB", "4"), ("maildir", "5", "20 KB", "4")]
    for r in rows:
        accepted, delivered, cpu_ms, rss_mb, pss_mb = r[6:11]
        # CPU time counts in clock ticks (10 ms): a run of 4 messages may read 0.
        assert float(accepted) > 0 and float(cpu_ms) >= 0 and float(rss_mb) >= float(pss_mb) > 0
        assert (delivered == "-") == (r[1] == "discard")
    assert sum(float(r[8]) for r in rows) > 0
    assert "ratio" not in p.stdout                 # no Postfix rows, nothing to compare
    assert re.search(r"on \d+ CPUs, load average [\d.]+ at the end", p.stdout)
