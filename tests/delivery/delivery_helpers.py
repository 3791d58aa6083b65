"""Helpers for the delivery agent tests: requests and a runner for agents."""

from __future__ import annotations

import asyncio


from mailflow.model import DeliveryRequest, Envelope, Message, Recipient


def make_request(*recipients: str, sender: str = "sender@example.org", transport: str = "local",
                 nexthop: str = "localhost", data: bytes = b"Subject: test\n\nhello\n",
                 queue_id: str = "4ABC123", client=None, originals: dict | None = None) -> DeliveryRequest:
    """A DeliveryRequest for the given recipient addresses."""
    originals = originals or {}
    rcpts = tuple(Recipient(r, original=originals.get(r)) for r in recipients)
    env = Envelope(sender, rcpts, client=client, queue_id=queue_id)
    return DeliveryRequest(queue_id, transport, nexthop, env, rcpts, Message(data))


def deliver(agent, request):
    """Run ``agent.deliver(request)`` to completion; return the outcomes."""
    return list(asyncio.run(agent.deliver(request)))


