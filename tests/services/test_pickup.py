"""pickup: maildrop → cleanup → incoming, through the Python API and in the master."""

from __future__ import annotations

import logging
import os

import attrs
import pytest

from mailflow.adapters.kick import kick
from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Recipient
from mailflow.queue.memory import MemoryQueueStore
from mailflow.services.pickup import PassThroughCleanup, Pickup, PickupReply

MESSAGE = Message(b"Subject: hi\n\nhello\n")
ENVELOPE = Envelope("a@example.com", (Recipient("b@example.com"),))


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    """The file spool (real files under tmp_path) and the in-memory store."""
    if request.param == "file":
        return FileQueueStore(str(tmp_path / "spool"))
    return MemoryQueueStore()


def ids(store, queue):
    return list(store.ids(queue))


@attrs.define
class FakeCleanup:
    """A cleanup that answers with a fixed action and records what it got."""

    action: str
    status: DsnStatus
    got: list = attrs.field(factory=list)

    def submit(self, envelope, message, *, origin="pickup", **info):
        self.got.append((envelope, origin, info))
        return PickupReply(None, self.status, self.action)


def test_drain_moves_maildrop_files_to_incoming(store):
    """Every maildrop file reaches incoming unchanged and leaves maildrop."""
    for _ in range(3):
        store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    assert Pickup(Config(), store, cleanup=PassThroughCleanup(store)).drain() == 3
    assert ids(store, QueueName.MAILDROP) == []
    incoming = ids(store, QueueName.INCOMING)
    assert len(incoming) == 3
    assert store.read(incoming[0], QueueName.INCOMING).message == MESSAGE


def test_pickup_logs_uid_and_sender_with_the_new_queue_id(store, caplog):
    """The log line is Postfix's: 'QUEUEID: uid=N from=<sender>' with cleanup's queue ID."""
    caplog.set_level(logging.INFO, "mailflow.pickup")
    store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    Pickup(Config(), store, cleanup=PassThroughCleanup(store)).drain()
    new_id = ids(store, QueueName.INCOMING)[0]
    assert [r.getMessage() for r in caplog.records] == [
        f"{new_id}: uid={os.getuid()} from=<a@example.com>"]


def test_a_file_that_does_not_parse_goes_to_corrupt(tmp_path, caplog):
    """A maildrop file that does not parse ends in corrupt/ with a warning; others go on."""
    store = FileQueueStore(str(tmp_path / "spool"))
    bad = store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    with open(store.path(bad, QueueName.MAILDROP), "wb") as fh:
        fh.write(b"this is not a queue file\n")
    store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    assert Pickup(Config(), store, cleanup=PassThroughCleanup(store)).drain() == 1
    assert ids(store, QueueName.CORRUPT) == [bad]
    assert ids(store, QueueName.MAILDROP) == []
    assert len(ids(store, QueueName.INCOMING)) == 1
    assert any(bad in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_rejected_message_is_returned_to_sender_and_removed(store):
    """cleanup's reject calls the bounce hook with its reply and removes the maildrop file."""
    bounced = []
    cleanup = FakeCleanup("reject", DsnStatus("5.7.1", "message content rejected"))
    store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    pickup = Pickup(Config(), store, cleanup=cleanup,
                    bounce=lambda queued, reply: bounced.append((queued.envelope.sender,
                                                                 reply.status.code)))
    assert pickup.drain() == 0
    assert bounced == [("a@example.com", "5.7.1")]
    assert ids(store, QueueName.MAILDROP) == []


def test_temporary_cleanup_failure_leaves_the_maildrop_file(store):
    """A 4.x.x answer from cleanup keeps the file for the next scan."""
    cleanup = FakeCleanup("defer", DsnStatus("4.3.0", "queue file write error"))
    qid = store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    assert Pickup(Config(), store, cleanup=cleanup).drain() == 0
    assert ids(store, QueueName.MAILDROP) == [qid]


def test_cleanup_crash_leaves_the_file_and_the_rest_go_on(store, caplog):
    """An exception in cleanup is logged, the file stays, and other files are still taken."""
    class Flaky(PassThroughCleanup):
        calls = 0

        def submit(self, envelope, message, **kw):
            type(self).calls += 1
            if type(self).calls == 1:
                raise OSError("disk on fire")
            return super().submit(envelope, message, **kw)
    store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    assert Pickup(Config(), store, cleanup=Flaky(store)).drain() == 1
    assert len(ids(store, QueueName.MAILDROP)) == 1
    assert len(ids(store, QueueName.INCOMING)) == 1
    assert any("disk on fire" in r.getMessage() for r in caplog.records)


def test_cleanup_gets_origin_pickup_and_the_submitter_uid(store):
    """cleanup is told the message comes from pickup and which uid submitted it."""
    cleanup = FakeCleanup("defer", DsnStatus("4.3.0"))
    store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
    Pickup(Config(), store, cleanup=cleanup).drain()
    envelope, origin, info = cleanup.got[0]
    assert (envelope.sender, origin, info) == ("a@example.com", "pickup", {"uid": os.getuid()})


def test_pickup_service_takes_mail_when_kicked(mf_config, run_master, until):
    """In the master, a maildrop file reaches incoming once public/pickup is kicked."""
    (mf_config / "master.cf").write_text("pickup unix n - n 60 1 pickup\n")
    qdir = str(mf_config.parent / "spool")

    async def body(master):
        store = master.store
        await until(lambda: "pickup" in master.services)
        store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
        assert kick(qdir, "pickup")
        # pickup removes the maildrop file only after the queue file is
        # durable, so the two are seen one after the other.
        await until(lambda: ids(store, QueueName.INCOMING) and not ids(store, QueueName.MAILDROP))
    run_master(mf_config, body)


def test_pickup_service_scans_at_start(mf_config, run_master, until):
    """Files already in maildrop when the master starts are taken without a kick."""
    (mf_config / "master.cf").write_text("pickup unix n - n 60 1 pickup\n")
    store = FileQueueStore(str(mf_config.parent / "spool"))
    store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)

    async def body(master):
        await until(lambda: ids(master.store, QueueName.INCOMING))
    run_master(mf_config, body)
    assert ids(store, QueueName.MAILDROP) == []


def test_pickup_line_comes_before_cleanups_line(tmp_path, caplog):
    """pickup logs "QID: uid=N from=<...>" before cleanup's "QID: message-id=...", as in Postfix's log."""
    import logging

    from mailflow.services.cleanup import CleanupService
    store = MemoryQueueStore()
    store.enqueue(QueueName.MAILDROP, Envelope("a@example.com", (Recipient("b@example.com"),)),
                  Message(b"Subject: hi\n\nhello\n"))
    cfg = Config(myhostname="mx.example.com")
    caplog.set_level(logging.INFO, logger="mailflow")
    Pickup(cfg, store, cleanup=CleanupService(cfg, store, wake=False)).drain()
    (qid,) = list(store.ids(QueueName.INCOMING))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(qid)]
    assert lines[0].startswith(f"{qid}: uid=") and lines[1].startswith(f"{qid}: message-id=")
