"""Helpers shared by the end-to-end benchmarks: messages, workers, counting, memory.

Nothing here knows about mailflow or Postfix; bench/postfix_peer.py owns
the Postfix instance and the benchmarks own their configurations.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, NamedTuple

__all__ = ["Result", "make_message", "in_parallel", "run_process", "count_maildir",
           "wait_until", "daemon_memory", "format_table"]


class Result(NamedTuple):
    """One run: wall-clock seconds and peak memory in KB (None when unknown)."""

    seconds: float
    peak_kb: int | None


def make_message(size: int = 1024) -> bytes:
    """A ``size``-byte message with a few headers and a text body."""
    head = b"From: bench@example.com\nTo: sink@example.net\nSubject: delivery benchmark\n\n"
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n"
    body = line * ((size - len(head)) // len(line) + 1)
    return head + body[: size - len(head) - 1] + b"\n"


def in_parallel(count: int, workers: int, one: Callable[[int], None]) -> float:
    """Call ``one(i)`` for i in range(count) from ``workers`` threads; return seconds."""
    lock = threading.Lock()
    counter = iter(range(count))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not errors:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                one(i)
        except BaseException as exc:        # report, do not hang the benchmark
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def run_process(argv: list[str], data: bytes, env: dict | None = None) -> None:
    """Run a submission program with ``data`` on stdin; raise when it fails."""
    p = subprocess.run(argv, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {p.returncode}: "
                           f"{p.stderr.decode(errors='replace')}")


def count_maildir(base: Path) -> int:
    """Messages in the ``new/`` directories of the Maildirs under ``base``."""
    total = 0
    try:
        boxes = list(os.scandir(base))
    except FileNotFoundError:
        return 0
    for box in boxes:
        try:
            total += len(os.listdir(os.path.join(box.path, "new")))
        except (FileNotFoundError, NotADirectoryError):
            pass
    return total


def wait_until(done: Callable[[], bool], timeout: float, progress: Callable[[], str]) -> None:
    """Poll ``done()`` every 10 ms; raise TimeoutError naming ``progress()``."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not finished after {timeout:.0f}s: {progress()}")
        time.sleep(0.01)


def _children(pid: int) -> list[int]:
    """Every process whose parent chain leads to ``pid``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    # the command name may hold spaces: the ppid follows the last ')'
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(c for c, parent in parents.items() if parent == p)
    return found


def daemon_memory(pid: int) -> int | None:
    """Sum of VmHWM (peak resident set, KB) over ``pid`` and its descendants."""
    total, seen = 0, False
    for p in _children(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
                        seen = True
        except OSError:
            continue
    return total if seen else None


def format_table(rows: list[tuple[str, Result]], count: int, reference: str) -> str:
    """Seconds, messages/s, peak memory and the ratio to the ``reference`` row."""
    lines = [f"{'':40} {'seconds':>9} {'msgs/s':>9} {'peak MB':>9} {'vs postfix':>10}"]
    ref = dict(rows).get(reference)
    ref_rate = count / ref.seconds if ref else None
    for name, r in rows:
        rate = count / r.seconds
        ratio = f"{rate / ref_rate:9.2f}x" if ref_rate else "-"
        mem = f"{r.peak_kb / 1024:9.1f}" if r.peak_kb is not None else "-"
        lines.append(f"{name:40} {r.seconds:9.2f} {rate:9.0f} {mem:>9} {ratio:>10}")
    return "\n".join(lines)
