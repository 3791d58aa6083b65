"""The bounce service: mail cleanup rejected at pickup goes back to its sender."""

from __future__ import annotations

import asyncio
import email
import email.policy

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName, QueuedMessage
from mailflow.model import DsnStatus, Envelope, Message, Recipient
from mailflow.services.bounce import BounceService
from mailflow.services.cleanup import CleanupReply
from mailflow.services.skeleton import ServiceContext


def test_rejected_message_is_returned_to_sender(tmp_path):
    """return_rejected queues a non-delivery notice with cleanup's status for every recipient."""
    store = FileQueueStore(tmp_path / "spool")
    cfg = Config(queue_directory=str(tmp_path / "spool"), myhostname="mx.example.com",
                 myorigin="example.com")
    env = Envelope("a@example.com", (Recipient("b@example.net"), Recipient("c@example.net")),
                   arrival_time=1.0)
    queued = QueuedMessage("4bWg9Q6Sp5zGFNY", QueueName.MAILDROP, env, Message(b"Subject: spam\n\nx\n"))
    reply = CleanupReply(None, DsnStatus("5.7.1", "message content rejected"), "reject")

    async def main():
        svc = BounceService()
        await svc.start(ServiceContext(name="bounce", config=cfg, store=store))
        new_id = svc.return_rejected(queued, reply)
        await svc.stop()
        return new_id
    new_id = asyncio.run(main())
    notice = store.read(new_id, QueueName.INCOMING)
    assert notice.envelope.sender == ""
    assert [r.address for r in notice.envelope.recipients] == ["a@example.com"]
    report = email.message_from_bytes(notice.message.data, policy=email.policy.default)
    fields = report.get_payload()[1].get_payload()[1:]
    assert [(f["Final-Recipient"], f["Status"]) for f in fields] == [
        ("rfc822; b@example.net", "5.7.1"), ("rfc822; c@example.net", "5.7.1")]
