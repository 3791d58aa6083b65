"""The content the queue manager keeps in memory is bounded in all, not
only per message: a queue run that activates thousands of messages holds
at most ``CONTENT_CACHE_TOTAL`` bytes of their content; the rest is read
again for each delivery, and every delivery still gets its message."""

from __future__ import annotations

import asyncio

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.services import qmgr as qmgr_mod
from mailflow.services.qmgr import QueueManager

N = 60
SIZE = 32 * 1024


def test_content_kept_in_memory_stays_under_the_total(tmp_path, monkeypatch):
    monkeypatch.setattr(qmgr_mod, "CONTENT_CACHE_TOTAL", 8 * SIZE + 100)
    store = FileQueueStore(tmp_path / "spool", fsync=False)
    for i in range(N):
        body = f"Subject: m{i}\n\n".encode() + bytes([65 + i % 26]) * SIZE
        store.enqueue(QueueName.INCOMING, Envelope("a@x.example", (Recipient(f"u{i}@d{i}.example"),)),
                      Message(body))
    cfg = Config(queue_directory=str(tmp_path / "spool"), default_transport="a", mydestination="",
                 myhostname="mx.example.com", relayhost="")
    release = asyncio.Event()
    got: dict[str, bytes] = {}

    class Waiting:
        async def deliver(self, request):
            await release.wait()
            got[request.recipients[0].address] = request.message.data
            return [Outcome(r, DsnStatus("2.0.0", "delivered")) for r in request.recipients]

    async def main() -> tuple[int, int]:
        qm = QueueManager(cfg, store, agents={"a": Waiting()})
        await qm.start()
        for _ in range(500):
            if len(qm._active) == N:
                break
            await asyncio.sleep(0.01)
        active = len(qm._active)
        kept = sum(len(m.content.data) for m in qm._active.values() if m.content is not None)
        release.set()
        await qm.run_until_idle()
        await qm.stop()
        return active, kept

    active, kept = asyncio.run(main())
    assert active == N
    assert 0 < kept <= 8 * SIZE + 100
    assert len(got) == N
    for i in range(N):
        assert got[f"u{i}@d{i}.example"].endswith(bytes([65 + i % 26]) * SIZE)
    assert list(store.ids(QueueName.ACTIVE)) == list(store.ids(QueueName.INCOMING)) == []
