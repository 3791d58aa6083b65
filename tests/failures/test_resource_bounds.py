"""Big messages stay cheap: a message with many recipients is delivered in
slices, and each slice costs the slice's work, not the whole message's.

The full-size run (100,000 recipients, about ten seconds) runs when
``MAILFLOW_BIG_TESTS=1``; the suite runs the same path with fewer, and
measures the queue manager's memory for 20,000 in a child process
(``python tests/failures/test_resource_bounds.py N`` prints the figures
for N, run with the repository on ``PYTHONPATH``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.queue import records
from mailflow.services.qmgr import QueueManager


class Counting:
    """An agent that delivers everything and counts recipients per address."""

    def __init__(self) -> None:
        self.requests = 0
        self.seen: dict[str, int] = {}

    async def deliver(self, request):
        self.requests += 1
        for r in request.recipients:
            self.seen[r.address] = self.seen.get(r.address, 0) + 1
        return [Outcome(r, DsnStatus("2.0.0", "delivered"), relay="a") for r in request.recipients]


def run_big(tmp_path, n: int, monkeypatch) -> tuple[Counting, int, float]:
    store = FileQueueStore(tmp_path / "spool")
    rcpts = tuple(Recipient(f"u{i}@d{i % 50}.example") for i in range(n))
    store.enqueue(QueueName.INCOMING, Envelope("a@x.example", rcpts), Message(b"Subject: big\n\nx\n"))
    decodes = []
    real = records.decode

    def counting_decode(data, *, with_content=True):
        qf = real(data, with_content=with_content)
        if len(qf.envelope.recipients) == n:
            decodes.append(with_content)
        return qf
    monkeypatch.setattr(records, "decode", counting_decode)
    agent = Counting()
    cfg = Config(queue_directory=str(tmp_path / "spool"), default_transport="a", mydestination="",
                 myhostname="mx.example.com", relayhost="")

    async def main():
        qm = QueueManager(cfg, store, agents={"a": agent})
        await qm.run_until_idle()
        await qm.stop()
    start = time.perf_counter()
    asyncio.run(main())
    took = time.perf_counter() - start
    for q in (QueueName.INCOMING, QueueName.ACTIVE, QueueName.DEFERRED):
        assert list(store.ids(q)) == []
    return agent, len(decodes), took


def test_many_recipients_are_marked_without_reading_the_file_again(tmp_path, monkeypatch):
    """5,000 recipients in 50 domains: delivered in slices (one request per destination and recipient limit), each recipient exactly once, and the queue file decoded a handful of times, not once per slice."""
    agent, decodes, _ = run_big(tmp_path, 5000, monkeypatch)
    assert agent.requests >= 100                      # slices, not one request
    assert len(agent.seen) == 5000 and set(agent.seen.values()) == {1}
    # Once, when it is read to be activated: marking reuses that decode.
    assert decodes == 1, decodes


def test_100000_recipients(tmp_path, monkeypatch):
    """One message with 100,000 recipients is delivered, each recipient once."""
    agent, decodes, took = run_big(tmp_path, 100_000, monkeypatch)
    assert len(agent.seen) == 100_000 and set(agent.seen.values()) == {1}
    assert decodes == 1
    print(f"100,000 recipients: {agent.requests} deliveries in {took:.1f}s")


HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def _rss_growth_kb(n: int) -> dict:
    """Deliver one message with ``n`` recipients in a child process; its
    peak RSS growth over the delivery (VmHWM reset through clear_refs)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, HERE, str(n)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc/self/clear_refs")
def test_20000_recipients_cost_about_a_kilobyte_each(tmp_path):
    """One message with 20,000 recipients: the queue manager's peak memory
    grows by well under 1.5 KB per recipient (the envelope it keeps, the
    pending index, one slice at a time), not by a second decoded copy."""
    got = _rss_growth_kb(20_000)
    assert got["delivered"] == 20_000
    assert got["growth_kb"] < 20_000 * 1.5, got


def _child(n: int) -> None:
    import gc

    def status(field: str) -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise LookupError(field)

    with tempfile.TemporaryDirectory() as d:
        spool = os.path.join(d, "spool")
        store = FileQueueStore(spool, fsync=False)
        rcpts = tuple(Recipient(f"u{i}@d{i % 50}.example") for i in range(n))
        store.enqueue(QueueName.INCOMING, Envelope("a@x.example", rcpts), Message(b"Subject: big\n\nx\n"))
        del rcpts
        agent = Counting()
        cfg = Config(queue_directory=spool, default_transport="a", mydestination="",
                     myhostname="mx.example.com", relayhost="")

        async def main() -> None:
            qm = QueueManager(cfg, store, agents={"a": agent})
            await qm.run_until_idle()
            await qm.stop()
        gc.collect()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")                      # VmHWM := VmRSS
        before = status("VmRSS")
        start = time.perf_counter()
        asyncio.run(main())
        print(json.dumps({"growth_kb": status("VmHWM") - before, "delivered": len(agent.seen),
                          "requests": agent.requests, "seconds": round(time.perf_counter() - start, 2)}))


if __name__ == "__main__":
    _child(int(sys.argv[1]))
