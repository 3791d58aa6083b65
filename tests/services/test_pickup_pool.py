"""pickup handing maildrop files to cleanup from several threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import Envelope, Message, Recipient
from mailflow.services.pickup import PassThroughCleanup, Pickup


def _fill(store: FileQueueStore, count: int) -> None:
    for i in range(count):
        store.enqueue(QueueName.MAILDROP, Envelope("a@example.com", (Recipient(f"u{i}@example.com"),)),
                      Message(b"Subject: %d\n\nbody\n" % i))


def test_drain_with_a_pool_takes_every_file_once(tmp_path):
    """Draining 40 maildrop files from 4 threads moves each to incoming exactly once."""
    store = FileQueueStore(str(tmp_path / "spool"))
    _fill(store, 40)
    pickup = Pickup(Config(), store, cleanup=PassThroughCleanup(store))
    with ThreadPoolExecutor(4) as pool:
        assert pickup.drain(pool=pool) == 40
    assert list(store.ids(QueueName.MAILDROP)) == []
    rcpts = sorted(store.read(q, QueueName.INCOMING).envelope.recipients[0].address
                   for q in store.ids(QueueName.INCOMING))
    assert rcpts == sorted(f"u{i}@example.com" for i in range(40))


def test_drain_removes_maildrop_files_without_a_directory_sync(tmp_path, monkeypatch):
    """The maildrop file is removed with sync=False on a store that supports it."""
    store = FileQueueStore(str(tmp_path / "spool"))
    _fill(store, 1)
    calls = []
    real_delete = store.delete
    monkeypatch.setattr(store, "delete", lambda qid, q, sync=True: (calls.append((q, sync)),
                                                                    real_delete(qid, q, sync=sync)))
    Pickup(Config(), store, cleanup=PassThroughCleanup(store)).drain()
    assert calls == [(QueueName.MAILDROP, False)]
