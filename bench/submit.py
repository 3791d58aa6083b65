"""Benchmark: local submission into the spool, mailflow against Postfix.

Run from the project directory::

    python bench/submit.py [--count N] [--parallel P]

Submits N (default 10,000) one-KB messages

1. through ``mailflow sendmail``, one process per message as a user's
   program would, P processes at a time;
2. through the Python API (:func:`mailflow.submit.submit`), in one thread,
   and in P threads;
3. through Postfix's own ``sendmail`` into a private Postfix spool on the
   same machine (bench/postfix_peer.py; needs root and Postfix, otherwise
   skipped with the reason), P processes at a time.

Every path fsyncs each message before it counts as submitted (Postfix's
postdrop does too). Neither mail system runs its daemons, so both measure
the same thing: getting a message durably into ``maildrop/``. Prints
messages per second side by side, the ratios to Postfix, and the CPU time
per message (this process and its children, user + system: for the
process paths, mostly the submitting processes themselves).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import in_parallel, make_message, run_process  # noqa: E402

from mailflow.submit import submit  # noqa: E402

SENDER, RCPT = "bench@example.com", "sink@example.net"


def cpu_seconds() -> float:
    """CPU used so far by this process and its finished children (user + system)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measured(count: int, workers: int, one) -> tuple[float, float]:
    """:func:`common.in_parallel`, also returning the CPU seconds it took."""
    before = cpu_seconds()
    seconds = in_parallel(count, workers, one)
    return seconds, cpu_seconds() - before


def count_files(directory: Path) -> int:
    return sum(1 for _, _, files in os.walk(directory) for f in files if not f.startswith("."))


def bench_mailflow_sendmail(count: int, workers: int, data: bytes, tmp: Path) -> tuple[float, float]:
    etc = tmp / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(f"queue_directory = {tmp / 'spool'}\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "mailflow", "-c", str(etc), "sendmail", "-f", SENDER, RCPT]
    took = measured(count, workers, lambda _i: run_process(argv, data, env))
    assert count_files(tmp / "spool" / "maildrop") == count
    return took


def bench_api(count: int, workers: int, data: bytes, tmp: Path) -> tuple[float, float]:
    qdir = tmp / "spool"
    took = measured(count, workers,
                       lambda _i: submit(data, SENDER, [RCPT], queue_directory=qdir))
    assert count_files(qdir / "maildrop") == count
    return took


def bench_postfix(count: int, workers: int, data: bytes) -> tuple[float, float]:
    from postfix_peer import PostfixPeer
    with PostfixPeer() as peer:
        argv = peer.sendmail_argv("-f", SENDER, RCPT)
        took = measured(count, workers, lambda _i: run_process(argv, data))
        assert peer.queue_count("maildrop") == count
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000, help="messages per run (default 10000)")
    ap.add_argument("--parallel", type=int, default=4, help="concurrent submitters (default 4)")
    args = ap.parse_args(argv)
    data = make_message()
    rows: list[tuple[str, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp:
        tmp_path = Path(tmp)
        runs = [
            (f"mailflow sendmail ({args.parallel} processes at a time)",
             lambda d: bench_mailflow_sendmail(args.count, args.parallel, data, d)),
            ("mailflow submit() API, 1 thread", lambda d: bench_api(args.count, 1, data, d)),
            (f"mailflow submit() API, {args.parallel} threads",
             lambda d: bench_api(args.count, args.parallel, data, d)),
        ]
        for i, (name, fn) in enumerate(runs):
            d = tmp_path / f"run{i}"
            d.mkdir()
            rows.append((name, fn(d)))
            shutil.rmtree(d)
            print(f"  done: {name}", file=sys.stderr)
    from postfix_peer import why_unavailable
    reason = why_unavailable()
    postfix_name = f"postfix sendmail ({args.parallel} processes at a time)"
    if reason is None:
        rows.append((postfix_name, bench_postfix(args.count, args.parallel, data)))
    else:
        print(f"  skipping the Postfix peer: {reason}", file=sys.stderr)
    print(f"{args.count} messages of {len(data)} bytes each, fsync on, on {os.cpu_count()} CPUs")
    print(f"{'':52} {'seconds':>9} {'msgs/s':>9} {'vs postfix':>10} {'CPU ms/msg':>10}")
    postfix_run = dict(rows).get(postfix_name)
    postfix_rate = args.count / postfix_run[0] if postfix_run else None
    for name, (seconds, cpu) in rows:
        rate = args.count / seconds
        ratio = f"{rate / postfix_rate:9.2f}x" if postfix_rate else "         -"
        print(f"{name:52} {seconds:9.2f} {rate:9.0f} {ratio:>10} {cpu * 1000 / args.count:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
