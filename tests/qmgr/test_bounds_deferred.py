"""A big deferred queue costs the queue manager and postqueue no memory per message.

A spool with many small deferred messages (written directly with the
queue-file encoder, each with a defer log, as a long outage leaves them)
is scanned by the queue manager and listed by ``postqueue -p`` and ``-j``
in a child process, which reports how much its peak RSS grew over the
work (``VmHWM`` reset through ``/proc/self/clear_refs``). The growth must
not depend on the number of messages: the scan keeps queue IDs and due
times only for a batch at a time, and the listing prints as it reads.

The suite runs 10,000 messages; ``MAILFLOW_BIG_TESTS=1`` adds 100,000.
Run by hand: ``python tests/qmgr/test_bounds_deferred.py N`` prints the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.queue import records
from mailflow.queue.logs import encode_log_entry
from mailflow.queue.names import make_queue_id

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"),
                                reason="needs Linux /proc/self/status and clear_refs")

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
REASON = "connect to mx.example.net[192.0.2.1]:25: Connection refused"


def make_spool(spool: str, n: int, *, due: bool = False) -> FileQueueStore:
    """``n`` deferred messages (two recipients, 200 bytes of content each),
    each with a defer log; not due for an hour unless ``due``."""
    store = FileQueueStore(spool, fsync=False)
    body = Message(b"Subject: test\n\n" + b"x" * 184 + b"\n")
    now = time.time()
    when = now - 60 if due else now + 3600
    base = int(now) - 7200
    for i in range(n):
        qid = make_queue_id(base + i // 1000, (i % 1000) * 1000, i + 1)
        env = Envelope(f"s{i}@example.com", (Recipient(f"a{i}@example.net"), Recipient(f"b{i}@example.net")),
                       arrival_time=float(base))
        path = store.path(qid, QueueName.DEFERRED)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(records.encode(env, body))
        os.utime(path, (when, when))
        log = store.path(qid, "defer")
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "wb") as fh:
            for r in env.recipients:
                fh.write(encode_log_entry(Outcome(r, DsnStatus("4.4.1", REASON))))
    return store


def probe(spool: str, what: str) -> dict:
    """Run ``what`` in a child; its peak RSS growth (kB) and result."""
    # The child imports the mailflow this test belongs to, not an installed one.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, HERE, "probe", spool, what], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _child(spool: str, what: str) -> None:
    import asyncio
    import gc
    import io

    from mailflow.cli.postqueue import show_json, show_queue
    from mailflow.config import Config
    from mailflow.services.qmgr import QueueManager

    store = FileQueueStore(spool, fsync=False, create=False)
    cfg = Config(queue_directory=spool, default_transport="a", mydestination="",
                 myhostname="mx.example.com", relayhost="")

    class Sink(io.TextIOBase):
        """Counts what is printed, keeps nothing."""

        def __init__(self) -> None:
            self.chars = 0

        def write(self, s: str) -> int:
            self.chars += len(s)
            return len(s)

    class Defer:
        async def deliver(self, request):
            return [Outcome(r, DsnStatus("4.4.1", REASON)) for r in request.recipients]

    result: dict = {}

    def work() -> None:
        if what == "scan":
            async def main() -> None:
                qm = QueueManager(cfg, store, agents={"a": Defer()})
                await qm.run_until_idle()
                result["active"] = sum(1 for _ in store.ids(QueueName.ACTIVE))
                await qm.stop()
            asyncio.run(main())
        elif what == "mailq":
            sink = Sink()
            result["messages"] = show_queue(store, sink)
            result["chars"] = sink.chars
        elif what == "json":
            sink = Sink()
            result["messages"] = show_json(store, sink)
            result["chars"] = sink.chars
        else:
            raise SystemExit(f"unknown probe {what!r}")

    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")                      # VmHWM := VmRSS
    before = _status("VmRSS")
    start = time.perf_counter()
    work()
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["growth_kb"] = _status("VmHWM") - before
    result["deferred"] = sum(1 for _ in store.ids(QueueName.DEFERRED))
    print(json.dumps(result))


def _check(tmp_path, n: int) -> dict:
    spool = str(tmp_path / "spool")
    make_spool(spool, n)
    figures = {what: probe(spool, what) for what in ("scan", "mailq", "json")}
    for what in ("mailq", "json"):
        assert figures[what]["messages"] == n
    assert figures["scan"]["deferred"] == n and figures["scan"]["active"] == 0
    return figures


# Growth allowed whatever the number of messages: the interpreter's own
# arenas and caches (well under this for 10 messages).
FLAT_KB = 8 * 1024


def test_a_scan_and_a_listing_of_10000_deferred_messages_stay_flat(tmp_path):
    """10,000 deferred messages not yet due: the queue manager's scan and
    postqueue -p / -j each grow by less than a fixed few MB, no more than
    for 100 messages give or take that margin."""
    small = _check(tmp_path / "small", 100)
    big = _check(tmp_path / "big", 10_000)
    for what in ("scan", "mailq", "json"):
        assert big[what]["growth_kb"] < FLAT_KB, (what, big[what])
        assert big[what]["growth_kb"] - small[what]["growth_kb"] < FLAT_KB // 2, (what, small, big)


@pytest.mark.skipif(os.environ.get("MAILFLOW_BIG_TESTS") != "1",
                    reason="writes 200,000 files; set MAILFLOW_BIG_TESTS=1")
def test_100000_deferred_messages(tmp_path):
    """The full size: 100,000 deferred messages, the same bound."""
    big = _check(tmp_path, 100_000)
    for what in ("scan", "mailq", "json"):
        assert big[what]["growth_kb"] < FLAT_KB, (what, big[what])
    print({k: (v["growth_kb"], v["seconds"]) for k, v in big.items()})


def test_due_messages_are_deferred_again_without_loss(tmp_path):
    """2,000 due deferred messages, an agent that defers: every message is
    tried and back in deferred/, none left in active/."""
    spool = str(tmp_path / "spool")
    make_spool(spool, 2000, due=True)
    got = probe(spool, "scan")
    assert got["deferred"] == 2000 and got["active"] == 0


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        _child(sys.argv[2], sys.argv[3])
    else:
        import tempfile
        n = int(sys.argv[1])
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            make_spool(os.path.join(d, "spool"), n, due=len(sys.argv) > 2 and sys.argv[2] == "due")
            print(f"{n} messages written in {time.perf_counter() - t0:.1f}s", flush=True)
            for what in ("scan", "mailq", "json"):
                print(what, probe(os.path.join(d, "spool"), what), flush=True)
