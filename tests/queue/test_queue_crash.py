"""Crash safety: a writer killed with SIGKILL at random points loses nothing it acknowledged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.adapters.sqlite_queue_store import SqliteQueueStore
from mailflow.interfaces import QueueName as Q
from mailflow.model import RecipientState

WRITER = Path(__file__).with_name("crash_writer.py")
ROOT = Path(__file__).resolve().parents[2]


def _run_and_kill(kind: str, path: Path, delay: float) -> list[str]:
    """Start a writer, let it work for ``delay`` seconds, SIGKILL it; return its output lines."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(WRITER), kind, str(path)],
                            stdout=subprocess.PIPE, env=env)
    lines: list[str] = []

    def read() -> None:
        for raw in proc.stdout:
            lines.append(raw.decode())

    reader = threading.Thread(target=read)
    reader.start()
    # Wait for the first acknowledged message so each round kills a busy writer.
    deadline = time.monotonic() + 30
    while not lines and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join()
    proc.stdout.close()
    # A line cut short by the kill has no newline: it was never acknowledged.
    return [line for line in lines if line.endswith("\n")]


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_sigkill_loop_loses_no_acknowledged_message(tmp_path, kind):
    """After several random SIGKILLs every printed ID is intact and nothing partial is visible."""
    path = tmp_path / ("spool" if kind == "file" else "queue.db")
    rng = random.Random(20261129)
    enqueued: dict[str, int] = {}
    done: set[str] = set()
    for _ in range(6):
        for line in _run_and_kill(kind, path, rng.uniform(0.0, 0.4)):
            parts = line.split()
            # The last line may be cut mid-write; a whole line has all its fields.
            if parts[:1] == ["E"] and len(parts) == 3:
                enqueued[parts[1]] = int(parts[2])
            elif parts[:1] == ["D"] and len(parts) == 2:
                done.add(parts[1])
    assert enqueued, "the writer acknowledged nothing"
    store = FileQueueStore(path) if kind == "file" else SqliteQueueStore(path)
    try:
        for qid, n in enqueued.items():
            msg = store.read(qid, Q.INCOMING)
            assert msg.message.data == b"Subject: %d\n\n" % n + b"x" * (n % 5000) + b"\n"
            if qid in done:
                assert msg.envelope.recipients[0].state is RecipientState.DELIVERED
            assert msg.envelope.recipients[1].state is RecipientState.PENDING
        # Whatever is listed decodes: no half-written file is ever visible.
        listed = list(store.ids(Q.INCOMING))
        for qid in listed:
            store.read(qid, Q.INCOMING)
        assert set(enqueued) <= set(listed)
        assert list(store.ids(Q.CORRUPT)) == []
        if kind == "file":
            # What a crash leaves is only temp files, and `postsuper -p` removes them.
            etc = tmp_path / "etc"
            etc.mkdir()
            (etc / "main.cf").write_text(f"queue_directory = {path}\n")
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            subprocess.run([sys.executable, "-m", "mailflow", "-c", str(etc), "postsuper", "-p"],
                           check=True, env=env, capture_output=True, timeout=120)
            assert list(store.temp_files()) == []
    finally:
        if kind == "sqlite":
            store.close()
