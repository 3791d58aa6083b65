"""cleanup files a message under the queue ID it wrote into the headers (every store)."""

from __future__ import annotations

import logging

import attrs
import pytest

from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import Envelope, Message, Recipient
from mailflow.services.cleanup import CleanupService

ENVELOPE = Envelope("a@example.com", (Recipient("b@example.com"),))
MESSAGE = Message(b"Subject: hi\n\nhello\n")


@pytest.fixture
def cleanup(store):
    """A cleanup service writing into ``store``, not waking any queue manager."""
    return CleanupService(Config(myhostname="mx.example.com"), store, wake=False)


def test_received_and_message_id_name_the_spool_queue_id(cleanup, store):
    """Received: ... id X and Message-Id: <stamp.X@host> use the ID the spool files it under."""
    reply = cleanup.submit(ENVELOPE, MESSAGE, origin="pickup", uid=1000)
    queued = store.read(reply.queue_id)
    received = " ".join(queued.message.header_values("received")[0].split())
    assert f" id {reply.queue_id};" in received
    [message_id] = queued.message.header_values("message-id")
    assert message_id.endswith(f".{reply.queue_id}@mx.example.com>")
    assert list(store.ids(QueueName.INCOMING)) == [reply.queue_id]


def test_log_lines_name_the_spool_queue_id(cleanup, store, caplog):
    """cleanup's log line carries the queue ID of the file in the spool."""
    caplog.set_level(logging.INFO, logger="mailflow.cleanup")
    reply = cleanup.submit(ENVELOPE, MESSAGE, origin="pickup", uid=1000)
    assert f"{reply.queue_id}: message-id=<" in caplog.text


def test_message_with_deferred_recipients_keeps_its_id(store):
    """A message written to hold/ first (a recipient to defer) and then moved keeps its headers' ID."""
    # An alias loop: the recipient stays unexpanded, to be retried.
    cfg = Config(myhostname="mx.example.com",
                 virtual_alias_maps="inline:{ b@example.com=c@example.com, c@example.com=b@example.com }")
    reply = CleanupService(cfg, store, wake=False).submit(ENVELOPE, MESSAGE, origin="pickup", uid=1000)
    assert store.read_log("defer", reply.queue_id)          # the recipient is to be retried
    assert store.locate(reply.queue_id) is QueueName.INCOMING
    received = " ".join(store.read(reply.queue_id).message.header_values("received")[0].split())
    assert f" id {reply.queue_id};" in received


def test_a_caller_id_already_queued_is_a_temporary_write_error(cleanup, store, caplog):
    """Submitting with a queue ID that is already queued defers (4.3.0) and writes nothing."""
    first = cleanup.submit(ENVELOPE, MESSAGE, origin="pickup", uid=1000)
    again = cleanup.submit(attrs.evolve(ENVELOPE, queue_id=first.queue_id), MESSAGE,
                           origin="pickup", uid=1000)
    assert (again.queue_id, again.action, again.status.code) == (None, "defer", "4.3.0")
    assert "queue ID already in use" in caplog.text
    assert list(store.ids(QueueName.INCOMING)) == [first.queue_id]
