"""bench/relay.py still runs: a few messages smtp-source -> mailflow -> smtp-sink."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not (os.path.exists("/usr/sbin/smtp-source") and os.path.exists("/usr/sbin/smtp-sink")),
                    reason="Postfix's smtp-source and smtp-sink are not installed")
def test_relay_benchmark_relays_every_message_and_prints_its_row():
    p = subprocess.run([sys.executable, "bench/relay.py", "--count", "20", "--sessions", "4",
                        "--skip-postfix", "--timeout", "120"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "20 messages of 1024 bytes each, smtp-source (4 sessions)" in p.stdout
    [row] = [line for line in p.stdout.splitlines()
             if line.startswith("mailflow, smtpd_worker_processes = 2")]
    seconds, rate = row.split()[-4:-2]
    assert float(seconds) > 0 and float(rate) > 0
