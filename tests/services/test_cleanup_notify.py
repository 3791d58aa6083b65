"""cleanup waking an in-process queue manager with a call instead of the FIFO."""

from __future__ import annotations

import os

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.model import Envelope, Message, Recipient
from mailflow.services.cleanup import CleanupService


def _submit(svc: CleanupService):
    return svc.submit(Envelope("a@example.com", (Recipient("b@example.com"),)),
                      Message(b"Subject: hi\n\nhello\n"), origin="pickup")


def test_notify_is_called_once_per_queued_message_instead_of_the_fifo(tmp_path):
    """With notify set, each accepted message calls it and nothing is written to public/qmgr."""
    qdir = tmp_path / "spool"
    store = FileQueueStore(str(qdir))
    (qdir / "public").mkdir()
    os.mkfifo(qdir / "public" / "qmgr")
    reader = os.open(qdir / "public" / "qmgr", os.O_RDONLY | os.O_NONBLOCK)
    calls = []
    svc = CleanupService(None, store, notify=lambda: calls.append(1))
    try:
        assert _submit(svc).action == "queue"
        assert _submit(svc).action == "queue"
        assert calls == [1, 1]
        try:
            assert os.read(reader, 64) == b""
        except BlockingIOError:
            pass                    # nothing written: what the test wants
    finally:
        os.close(reader)


def test_without_notify_the_fifo_is_kicked(tmp_path):
    """Without notify, an accepted message writes a wake-up request to public/qmgr."""
    qdir = tmp_path / "spool"
    store = FileQueueStore(str(qdir))
    (qdir / "public").mkdir()
    os.mkfifo(qdir / "public" / "qmgr")
    reader = os.open(qdir / "public" / "qmgr", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert _submit(CleanupService(None, store)).action == "queue"
        assert os.read(reader, 64) != b""
    finally:
        os.close(reader)
