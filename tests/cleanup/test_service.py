"""The cleanup service with a real file spool: what lands where, logs, wake-ups."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import Envelope, Message, Recipient
from mailflow.services.cleanup import CleanupService


@pytest.fixture
def spool(tmp_path):
    return FileQueueStore(tmp_path / "spool")


@pytest.fixture
def service(spool, tmp_path):
    def make(**params) -> CleanupService:
        cfg = Config(queue_directory=str(tmp_path / "spool"), myhostname="mx.example.test",
                     mydomain="example.test", **params)
        return CleanupService(cfg, spool)
    return make


def envelope(*rcpts: str, sender: str = "alice") -> Envelope:
    return Envelope(sender, tuple(Recipient(r) for r in rcpts or ("bob@remote.example",)))


def test_message_without_headers_reaches_incoming_with_them(service, spool):
    """A message without From/Date/Message-ID is written to incoming/ with those added."""
    reply = service().submit(envelope(), Message(b"Subject: bare\n\nhello\n"), origin="pickup")
    queued = spool.read(reply.queue_id)
    assert queued.queue is QueueName.INCOMING
    names = [n.lower() for n, _ in queued.message.headers()]
    assert {"from", "date", "message-id", "received"} <= set(names)
    assert queued.message.header_values("from") == ["alice@mx.example.test"]
    assert queued.envelope.sender == "alice@mx.example.test"


def test_reply_is_ok_queued_as(service):
    """An accepted message is answered 2.0.0 Ok: queued as QUEUEID."""
    reply = service().submit(envelope(), Message(b"\nhi\n"))
    assert str(reply.status) == f"2.0.0 Ok: queued as {reply.queue_id}"


def test_header_checks_hold_puts_message_in_hold(service, spool, tmp_path):
    """A header_checks HOLD rule puts the message in hold/, not incoming/."""
    rules = tmp_path / "hc"
    rules.write_text("/^Subject: park/ HOLD\n")
    reply = service(header_checks=f"regexp:{rules}").submit(envelope(), Message(b"Subject: park\n\nhi\n"))
    assert reply.action == "hold"
    assert list(spool.ids(QueueName.HOLD)) == [reply.queue_id]
    assert list(spool.ids(QueueName.INCOMING)) == []


def test_reject_writes_nothing_and_returns_rule_text(service, spool, tmp_path):
    """REJECT leaves the spool untouched and returns the rule's text with 5.7.1."""
    rules = tmp_path / "hc"
    rules.write_text("/^Subject: spam/ REJECT no spam here\n")
    reply = service(header_checks=f"regexp:{rules}").submit(envelope(), Message(b"Subject: spam\n\nhi\n"))
    assert (reply.action, reply.queue_id, str(reply.status)) == ("reject", None, "5.7.1 no spam here")
    assert list(spool.ids(QueueName.INCOMING)) == [] and list(spool.ids(QueueName.HOLD)) == []


def test_temporary_rejection_is_a_defer(service):
    """A 4.x.x rejection is reported as action defer, so the submitter keeps the mail."""
    reply = service(header_checks="inline:{ {Subject: x = DEFER busy} }").submit(
        envelope(), Message(b"Subject: x\n\nhi\n"))
    assert (reply.action, reply.status.code, reply.accepted) == ("defer", "4.7.1", False)


def test_discard_reports_success_and_writes_nothing(service, spool):
    """DISCARD answers success but nothing is queued."""
    reply = service(header_checks="inline:{ {Subject: x = DISCARD} }").submit(
        envelope(), Message(b"Subject: x\n\nhi\n"))
    assert reply.action == "discard" and reply.status.is_success
    assert list(spool.ids(QueueName.INCOMING)) == []


def test_deferred_recipient_is_in_the_defer_log(service, spool, tmp_path):
    """A recipient whose alias expansion loops is queued unexpanded with a defer-log entry."""
    virtual = tmp_path / "virtual"
    virtual.write_text("a@x.example b@x.example\nb@x.example a@x.example\n")
    reply = service(virtual_alias_maps=f"texthash:{virtual}").submit(
        envelope("a@x.example", "c@x.example"), Message(b"\nhi\n"))
    queued = spool.read(reply.queue_id)
    assert queued.queue is QueueName.INCOMING
    assert [r.address for r in queued.envelope.recipients] == ["a@x.example", "c@x.example"]
    (entry,) = spool.read_log("defer", reply.queue_id)
    assert (entry.recipient.address, entry.status.code) == ("a@x.example", "4.6.0")
    from mailflow.qmgr.active import is_cleanup_deferral
    assert is_cleanup_deferral(entry)


def test_logs_message_id_with_the_queue_id(service, caplog):
    """cleanup logs 'QUEUEID: message-id=<...>' under mailflow.cleanup."""
    with caplog.at_level(logging.INFO, logger="mailflow.cleanup"):
        reply = service().submit(envelope(), Message(b"Message-ID: <m1@example.org>\n\nhi\n"))
    assert f"{reply.queue_id}: message-id=<m1@example.org>" in caplog.messages


def test_reject_is_logged_as_postfix_does(service, caplog):
    """The reject line has Postfix's wording."""
    with caplog.at_level(logging.INFO, logger="mailflow.cleanup"):
        service(header_checks="inline:{ {Subject: spam = REJECT} }").submit(
            envelope(), Message(b"Subject: spam\n\nhi\n"))
    assert any(m.endswith(": reject: header Subject: spam from local; from=<alice@mx.example.test> "
                          "to=<bob@remote.example>: 5.7.1 message content rejected")
               for m in caplog.messages)


def test_submit_async_writes_the_same(service, spool):
    """submit_async gives the same result, with the store write in a thread."""
    reply = asyncio.run(service().submit_async(envelope(), Message(b"Subject: a\n\nhi\n")))
    assert spool.read(reply.queue_id).message.header_values("subject") == ["a"]


def test_accepted_mail_wakes_the_queue_manager(service, tmp_path):
    """After writing to incoming/, the service kicks public/qmgr."""
    public = tmp_path / "spool" / "public"
    public.mkdir(parents=True, exist_ok=True)
    fifo = public / "qmgr"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        service().submit(envelope(), Message(b"\nhi\n"))
        assert os.read(fd, 64) != b""
    finally:
        os.close(fd)


def test_pickup_hands_maildrop_mail_to_cleanup(spool, tmp_path):
    """pickup uses this service: a maildrop message arrives in incoming/ cleaned up."""
    from mailflow.services.pickup import Pickup
    cfg = Config(queue_directory=str(tmp_path / "spool"), myhostname="mx.example.test")
    spool.enqueue(QueueName.MAILDROP, envelope(), Message(b"Subject: via pickup\n\nhi\n"))
    Pickup(cfg, spool).drain()
    (qid,) = list(spool.ids(QueueName.INCOMING))
    message = spool.read(qid).message
    assert message.header_values("subject") == ["via pickup"]
    assert message.header_values("from") == ["alice@mx.example.test"]


def test_spool_write_failure_is_a_defer(tmp_path):
    """When the spool cannot be written the reply is 4.3.0 defer, not an exception."""
    from mailflow.queue.memory import MemoryQueueStore

    class Full(MemoryQueueStore):
        def enqueue(self, queue, envelope, message):
            raise OSError(28, "No space left on device")
    svc = CleanupService(Config(myhostname="mx.example.test"), Full(), wake=False)
    reply = svc.submit(envelope(), Message(b"\nhi\n"))
    assert (reply.action, reply.queue_id, str(reply.status)) == ("defer", None, "4.3.0 queue file write error")


def test_failed_defer_log_write_leaves_no_copy_in_hold(tmp_path):
    """When the defer log cannot be written, the half-made message is removed, not left in hold/."""
    from mailflow.queue.memory import MemoryQueueStore

    class NoLogs(MemoryQueueStore):
        def append_log(self, kind, queue_id, outcome):
            raise OSError(28, "No space left on device")
    (tmp_path / "virtual").write_text("a@x.example b@x.example\nb@x.example a@x.example\n")
    store = NoLogs()
    cfg = Config(myhostname="mx.example.test", virtual_alias_maps=f"texthash:{tmp_path}/virtual")
    svc = CleanupService(cfg, store, wake=False)
    reply = svc.submit(envelope("a@x.example"), Message(b"\nhi\n"))
    assert reply.action == "defer"
    assert [list(store.ids(q)) for q in (QueueName.HOLD, QueueName.INCOMING)] == [[], []]
