"""Micro-benchmark: the cleanup pipeline on a 10 KB and a 1 MB message.

Run from the project directory::

    python bench/cleanup.py [--seconds N]

For each message size it runs the pure pipeline (no spool I/O) in two
configurations: Postfix's defaults (missing headers, rewriting, no checks)
and with header_checks/body_checks regexp tables of 20 rules each, and
prints messages per second and MB per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mailflow.cleanup import CleanupPipeline  # noqa: E402
from mailflow.config import Config  # noqa: E402
from mailflow.model import Envelope, Message, Recipient  # noqa: E402


def make_message(size: int) -> bytes:
    head = (b"From: Alice <alice@example.com>\nTo: bob@example.net, carol\n"
            b"Subject: benchmark message\nMIME-Version: 1.0\nContent-Type: text/plain\n\n")
    line = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen.\n"
    return head + line * max(1, (size - len(head)) // len(line))


def make_pipeline(checks: bool, tmp: str) -> CleanupPipeline:
    params = dict(myhostname="mx.example.com", mydomain="example.com")
    if checks:
        hc = os.path.join(tmp, "header_checks")
        bc = os.path.join(tmp, "body_checks")
        with open(hc, "w") as f:
            f.writelines(f"/^Subject: .*spam{i}/ REJECT\n" for i in range(20))
        with open(bc, "w") as f:
            f.writelines(f"/lottery winner {i}/ REJECT\n" for i in range(20))
        params.update(header_checks=f"regexp:{hc}", body_checks=f"regexp:{bc}")
    return CleanupPipeline.from_config(Config(**params))


def run(pipeline: CleanupPipeline, data: bytes, seconds: float) -> tuple[float, float]:
    env = Envelope("alice@example.com", (Recipient("bob@example.net"),))
    message = Message(data)
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        result = pipeline.process(env, message, queue_id="4OQIBa0jY8z1W9", now=time.time())
        assert result.action == "queue"
        count += 1
        if count % 8 == 0 and time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - start
    rate = count / elapsed
    return rate, rate * len(data) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per case (default 2)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'case':<34}{'messages/s':>12}{'MB/s':>10}")
        for label, size in (("10 KB", 10 * 1024), ("1 MB", 1024 * 1024)):
            data = make_message(size)
            for checks in (False, True):
                name = f"{label}, {'20+20 regexp checks' if checks else 'defaults'}"
                rate, mbps = run(make_pipeline(checks, tmp), data, args.seconds)
                print(f"{name:<34}{rate:>12,.0f}{mbps:>10,.1f}")


if __name__ == "__main__":
    main()
