"""The agents that need no mailbox: discard(8), error(8) and its retry service.

Each turns the request's nexthop into the status of every recipient: the
nexthop is the reason text, optionally led by an RFC 3463 code
(``error:5.1.1 User unknown``). discard always succeeds, error always
bounces, retry always defers. No I/O at all.

>>> import asyncio
>>> from mailflow.model import DeliveryRequest, Envelope, Recipient
>>> r = Recipient("x@example.com")
>>> req = DeliveryRequest("Q1", "error", "5.1.1 User unknown in virtual mailbox table",
...                       Envelope("a@example.com", (r,)), (r,))
>>> [str(o.status) for o in asyncio.run(ErrorAgent().deliver(req))]
['5.1.1 User unknown in virtual mailbox table']
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from mailflow.model import DeliveryRequest, DsnStatus, Outcome

__all__ = ["split_dsn", "DiscardAgent", "ErrorAgent", "RetryAgent", "error_service"]

_DSN = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")


def split_dsn(text: str, default: str) -> DsnStatus:
    """A leading RFC 3463 code and the rest of the text (Postfix dsn_split()).

    >>> split_dsn("4.7.1 try later", "5.0.0")
    DsnStatus(code='4.7.1', text='try later')
    >>> split_dsn("no such list", "5.0.0")
    DsnStatus(code='5.0.0', text='no such list')
    """
    m = _DSN.match(text)
    if m:
        return DsnStatus(f"{m.group(1)}.{m.group(2)}.{m.group(3)}", text[m.end():].strip())
    return DsnStatus(default, text.strip())


def _forced(status: DsnStatus, klass: str, default: str) -> DsnStatus:
    # The service decides deliver/defer/bounce: a code of another class is
    # replaced by the service's default (Postfix 3.7: "error:4.7.1 not now"
    # bounces as "5.0.0 not now"; "retry:5.1.1 nope" defers as "4.0.0 nope").
    return status if status.code[0] == klass else DsnStatus(default, status.text)


class _NexthopAgent:
    """Every recipient gets the status the nexthop text gives."""

    default = "5.0.0"
    klass = "5"
    empty_text = "Address is undeliverable"   # trivial-rewrite's text for "error:"

    def __init__(self, cfg: Any = None, service: Any = None) -> None:
        self.cfg = cfg
        self.service = service

    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]:
        status = _forced(split_dsn(request.nexthop, self.default), self.klass, self.default)
        if not status.text:
            status = DsnStatus(status.code, self.empty_text or DsnStatus.parse(status.code).text)
        return [Outcome(r, status, relay="none") for r in request.recipients]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class DiscardAgent(_NexthopAgent):
    """discard(8): report every recipient delivered; the nexthop is the reason.

    >>> import asyncio
    >>> from mailflow.model import DeliveryRequest, Envelope, Recipient
    >>> r = Recipient("x@example.com")
    >>> req = DeliveryRequest("Q1", "discard", "example.com", Envelope("", (r,)), (r,))
    >>> str(asyncio.run(DiscardAgent().deliver(req))[0].status)
    '2.0.0 example.com'
    """

    default = "2.0.0"
    klass = "2"
    empty_text = ""


class ErrorAgent(_NexthopAgent):
    """error(8): bounce every recipient with the nexthop text (default 5.0.0)."""

    default = "5.0.0"
    klass = "5"


class RetryAgent(_NexthopAgent):
    """error(8) run as the ``retry`` service: defer every recipient (default 4.0.0).

    >>> import asyncio
    >>> from mailflow.model import DeliveryRequest, Envelope, Recipient
    >>> r = Recipient("x@example.com")
    >>> req = DeliveryRequest("Q1", "retry", "4.4.1 host down", Envelope("", (r,)), (r,))
    >>> str(asyncio.run(RetryAgent().deliver(req))[0].status)
    '4.4.1 host down'
    """

    default = "4.0.0"
    klass = "4"


def error_service(cfg: Any = None, service: Any = None, **hooks: Any) -> _NexthopAgent:
    """The master.cf ``error`` command: bounces, or defers when the service
    is named ``retry`` (error(8): "depending on the service name").

    >>> from mailflow.delivery.registry import ServiceEntry
    >>> error_service(None, ServiceEntry("retry", "error")), error_service(None, None)
    (RetryAgent(), ErrorAgent())
    """
    if service is not None and getattr(service, "name", "") == "retry":
        return RetryAgent(cfg, service)
    return ErrorAgent(cfg, service)
