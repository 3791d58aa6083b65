"""The ``webhook`` delivery agent: POST each message to an HTTP URL.

master.cf names it in the command column and gives the URL after it::

    webhook  unix  -  n  n  -  -  webhook url=http://127.0.0.1:8025/inbox

One POST per delivery request: the body is the message as queued
(``Content-Type: message/rfc822``); the envelope travels in the request
headers ``X-Mailflow-Queue-Id``, ``X-Mailflow-Sender`` and
``X-Mailflow-Recipient`` (comma-separated). A 2xx answer delivers every
recipient, a 4xx bounces them (the receiver refused the message), anything
else (5xx, refused connection, timeout) defers them so the queue manager
tries again later. urllib blocks, so the request runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from mailflow.errors import ConfigError
from mailflow.model import DeliveryRequest, DsnStatus, Outcome


class WebhookAgent:
    """Built once per master.cf service as ``WebhookAgent(cfg, service)``."""

    def __init__(self, cfg: Any, service: Any) -> None:
        args = dict(a.split("=", 1) for a in (service.args if service else ()) if "=" in a)
        self.url = args.get("url", "")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            name = service.name if service else "webhook"
            raise ConfigError(f"master.cf: {name}: webhook needs url=http://HOST[:PORT]/PATH, "
                              f"got {self.url!r}")
        self.relay = f"{parts.hostname}[{parts.port or (443 if parts.scheme == 'https' else 80)}]"
        self.timeout = float(args.get("timeout", "30"))

    async def deliver(self, request: DeliveryRequest) -> list[Outcome]:
        status = await asyncio.to_thread(self._post, request)
        return [Outcome(r, status, relay=self.relay) for r in request.recipients]

    def _post(self, request: DeliveryRequest) -> DsnStatus:
        post = urllib.request.Request(self.url, data=request.message.data, method="POST", headers={
            "Content-Type": "message/rfc822",
            "X-Mailflow-Queue-Id": request.queue_id,
            "X-Mailflow-Sender": request.envelope.sender,
            "X-Mailflow-Recipient": ", ".join(r.address for r in request.recipients),
        })
        try:
            with urllib.request.urlopen(post, timeout=self.timeout) as answer:
                return DsnStatus("2.0.0", f"delivered via webhook (HTTP {answer.status})")
        except urllib.error.HTTPError as exc:
            code = "5.0.0" if 400 <= exc.code < 500 else "4.0.0"
            return DsnStatus(code, f"webhook said HTTP {exc.code} {exc.reason}")
        except (urllib.error.URLError, socket.timeout, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return DsnStatus("4.4.1", f"cannot reach the webhook: {reason}")
