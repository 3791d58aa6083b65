"""Fixtures for the queue tests: one store of each kind."""

from __future__ import annotations

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.adapters.sqlite_queue_store import SqliteQueueStore
from mailflow.model import Envelope, Message, Notify, Recipient, Ret, ClientInfo
from mailflow.queue.memory import MemoryQueueStore


@pytest.fixture(params=["file", "sqlite", "memory"])
def store(request, tmp_path):
    """Each QueueStore implementation in turn."""
    if request.param == "file":
        yield FileQueueStore(tmp_path / "spool")
    elif request.param == "sqlite":
        s = SqliteQueueStore(tmp_path / "queue.db")
        yield s
        s.close()
    else:
        yield MemoryQueueStore()


@pytest.fixture
def envelope() -> Envelope:
    """A two-recipient envelope with every optional field set."""
    return Envelope(
        "alice@example.com",
        (Recipient("bob@example.net"),
         Recipient("carol@example.org", "list@example.com", "rfc822;list@example.com",
                   frozenset({Notify.SUCCESS, Notify.FAILURE}))),
        arrival_time=1700000000.25, envid="ENV 1%", ret=Ret.HDRS,
        client=ClientInfo("client.example", "192.0.2.1", "helo.example", "ESMTP", ""))


@pytest.fixture
def message() -> Message:
    """A small message."""
    return Message(b"Subject: hello\nFrom: alice@example.com\n\nbody line\n.\n")
