"""What cleanup decided about one message: :class:`CleanupResult`.

This module owns the result value and the closed set of actions. It does no
I/O and makes no decisions; :mod:`mailflow.cleanup.pipeline` fills it in and
:mod:`mailflow.services.cleanup` acts on it.

>>> from mailflow.model import Envelope, Message, Recipient
>>> r = CleanupResult(QUEUE, Envelope("a@example.com", (Recipient("b@example.com"),)),
...                   Message(b"Subject: hi\\n\\nbody\\n"))
>>> r.accepted, r.queue
(True, 'incoming')
"""

from __future__ import annotations

import attrs

from mailflow.model import DsnStatus, Envelope, Message

__all__ = ["CleanupResult", "QUEUE", "HOLD", "DISCARD", "REJECT", "ACTIONS"]

QUEUE = "queue"        # write to incoming/ for the queue manager
HOLD = "hold"          # write to hold/ (header/body checks HOLD, postsuper -h)
DISCARD = "discard"    # accept and throw away (DISCARD action): report success
REJECT = "reject"      # do not accept; ``status`` says why (4.x.x: try again, 5.x.x: never)
ACTIONS = (QUEUE, HOLD, DISCARD, REJECT)


@attrs.frozen
class CleanupResult:
    """The outcome of running one message through the cleanup pipeline.

    ``envelope`` and ``message`` are the rewritten ones (headers added,
    addresses rewritten, virtual aliases expanded); ``status`` is set when
    ``action`` is ``reject`` (for example ``5.7.1 message content rejected``,
    or the rule's own text). ``reason`` is the text of the rule that decided a
    hold, discard or reject. ``filter`` (``transport:nexthop`` from a FILTER
    action) is for the queue manager, which routes the whole message there,
    as Postfix's qmgr honours the queue file's ``content_filter`` record.
    ``redirect`` is the address of a REDIRECT action; the envelope's
    recipients are already replaced by it (their ``original`` kept), which is
    what Postfix's qmgr does with a ``redirect`` record.

    ``deferred`` holds one :class:`~mailflow.model.Outcome` with a 4.x.x
    status per recipient whose virtual alias expansion could not be finished
    (a table that could not answer, a nesting or size limit); those
    recipients stay in ``envelope`` unexpanded, and the queue manager must
    defer them with that status instead of delivering them (see
    docs/cleanup.md, "Recipients cleanup could not expand").

    ``log`` holds the log lines cleanup would write, in Postfix's wording
    and with the queue ID in front (``QUEUEID: hold: header Subject: ...``);
    the service writes them to ``logging.getLogger("mailflow.cleanup")``.

    >>> from mailflow.model import Envelope, Message
    >>> r = CleanupResult(REJECT, Envelope("", ()), Message(b""),
    ...                   status=DsnStatus.parse("5.7.1", "no spam here"))
    >>> r.accepted, str(r.status)
    (False, '5.7.1 no spam here')
    """

    action: str = attrs.field(validator=attrs.validators.in_(ACTIONS))
    envelope: Envelope
    message: Message
    status: DsnStatus | None = None
    reason: str = ""
    filter: str | None = None
    redirect: str | None = None
    deferred: tuple = attrs.field(default=(), converter=tuple)
    log: tuple = attrs.field(default=(), converter=tuple)

    @property
    def accepted(self) -> bool:
        """Whether the sender is told the message was taken (all but reject)."""
        return self.action != REJECT

    @property
    def queue(self) -> str | None:
        """The spool queue the message goes to: ``incoming``, ``hold`` or None."""
        return {QUEUE: "incoming", HOLD: "hold"}.get(self.action)

    @property
    def deferred_for(self) -> dict:
        """``{recipient address: DsnStatus}`` for the recipients in ``deferred``.

        >>> from mailflow.model import Envelope, Message, Recipient
        >>> CleanupResult(QUEUE, Envelope("", ()), Message(b"")).deferred_for
        {}
        """
        return {o.recipient.address: o.status for o in self.deferred}

