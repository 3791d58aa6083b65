"""The values every component passes around: envelopes, recipients, messages,
DSN statuses and per-recipient delivery outcomes.

All are frozen attrs classes; change one with :func:`attrs.evolve`. This module
does no I/O and imports nothing from the rest of mailflow but :mod:`errors`.

>>> env = Envelope(sender="alice@example.com",
...                recipients=(Recipient("bob@example.net"),))
>>> env.recipients[0].original
'bob@example.net'
>>> DsnStatus.parse("5.1.1").is_permanent
True
"""

from __future__ import annotations

import enum
import re
from typing import Iterable

import attrs

from mailflow.errors import MailflowError

__all__ = [
    "DsnStatus", "Notify", "Ret", "RecipientState", "Recipient", "ClientInfo",
    "Envelope", "Message", "Outcome", "DeliveryRequest",
]

_STATUS_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")

# RFC 3463 subject/detail texts, used when a component gives a bare code.
STATUS_TEXTS: dict[str, str] = {
    "2.0.0": "Ok",
    "2.1.5": "Destination address valid",
    "4.0.0": "Temporary failure",
    "4.1.1": "Bad destination mailbox address",
    "4.2.2": "Mailbox full",
    "4.3.0": "Other or undefined mail system status",
    "4.3.5": "System incorrectly configured",
    "4.4.1": "No answer from host",
    "4.4.2": "Bad connection",
    "4.4.3": "Directory server failure",
    "4.4.6": "Routing loop detected",
    "4.4.7": "Delivery time expired",
    "4.5.3": "Too many recipients",
    "4.7.1": "Delivery not authorized",
    "5.0.0": "Permanent failure",
    "5.1.1": "Bad destination mailbox address",
    "5.1.2": "Bad destination system address",
    "5.1.3": "Bad destination mailbox address syntax",
    "5.2.2": "Mailbox full",
    "5.2.3": "Message length exceeds administrative limit",
    "5.3.0": "Other or undefined mail system status",
    "5.3.4": "Message too big for system",
    "5.4.4": "Unable to route",
    "5.4.6": "Routing loop detected",
    "5.4.7": "Delivery time expired",
    "5.7.1": "Delivery not authorized, message refused",
}


@attrs.frozen
class DsnStatus:
    """An RFC 3463 enhanced status code with its text.

    >>> s = DsnStatus.parse("4.4.1", "connection refused")
    >>> (s.klass, s.is_temporary, str(s))
    (4, True, '4.4.1 connection refused')
    >>> DsnStatus.parse("5.1.1").text
    'Bad destination mailbox address'
    """

    code: str = attrs.field()
    text: str = ""

    @code.validator
    def _check_code(self, _attr: attrs.Attribute, value: str) -> None:
        if not _STATUS_RE.match(value):
            raise MailflowError(f"invalid DSN status code {value!r}; expected like 2.0.0, 4.4.1, 5.1.1")

    @classmethod
    def parse(cls, code: str, text: str | None = None) -> "DsnStatus":
        """Build from a code; the text defaults to RFC 3463's wording."""
        code = code.strip()
        if text is None:
            text = STATUS_TEXTS.get(code) or STATUS_TEXTS.get(code[:1] + ".0.0", "")
        return cls(code, text)

    @property
    def klass(self) -> int:
        """2 (success), 4 (temporary) or 5 (permanent)."""
        return int(self.code[0])

    @property
    def is_success(self) -> bool:
        return self.klass == 2

    @property
    def is_temporary(self) -> bool:
        return self.klass == 4

    @property
    def is_permanent(self) -> bool:
        return self.klass == 5

    def __str__(self) -> str:
        return f"{self.code} {self.text}".rstrip()


class Notify(str, enum.Enum):
    """RFC 3461 NOTIFY keywords."""

    NEVER = "NEVER"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DELAY = "DELAY"


class Ret(str, enum.Enum):
    """RFC 3461 RET: return the full message or only its headers."""

    FULL = "FULL"
    HDRS = "HDRS"


class RecipientState(str, enum.Enum):
    """Where one recipient stands. ``PENDING`` recipients still need work."""

    PENDING = "pending"
    DELIVERED = "delivered"
    BOUNCED = "bounced"


@attrs.frozen
class Recipient:
    """One envelope recipient.

    ``original`` is the address before alias expansion and rewriting (what
    Postfix logs as ``orig_to``); it defaults to ``address``. ``orcpt`` is the
    RFC 3461 ORCPT parameter as given (``rfc822;user@example``). An empty
    ``notify`` means the RFC 3461 default (FAILURE and DELAY).

    >>> r = Recipient("bob@example.com", notify=frozenset({Notify.SUCCESS}))
    >>> r.wants(Notify.SUCCESS), r.wants(Notify.FAILURE)
    (True, False)
    >>> Recipient("bob@example.com").wants(Notify.FAILURE)
    True
    """

    address: str
    original: str = attrs.field(default=None)
    orcpt: str | None = None
    notify: frozenset = attrs.field(default=frozenset(), converter=frozenset)
    state: RecipientState = RecipientState.PENDING

    def __attrs_post_init__(self) -> None:
        if self.original is None:
            object.__setattr__(self, "original", self.address)

    def wants(self, kind: Notify) -> bool:
        """Whether a notice of this kind should be sent for this recipient."""
        if Notify.NEVER in self.notify:
            return False
        if not self.notify:
            return kind in (Notify.FAILURE, Notify.DELAY)
        return kind in self.notify

    @property
    def done(self) -> bool:
        return self.state is not RecipientState.PENDING


@attrs.frozen
class ClientInfo:
    """Who handed us the message: what smtpd logs and pipe's ``${client_*}`` see.

    ``received_comments`` are the extra comment lines smtpd puts in its
    ``Received:`` header (TLS details, the authenticated sender); they are
    not kept in the queue file.
    """

    name: str = "localhost"
    address: str = "127.0.0.1"
    helo: str = ""
    protocol: str = "ESMTP"
    sasl_username: str = ""
    received_comments: tuple = attrs.field(default=(), converter=tuple, eq=False)


@attrs.frozen
class Envelope:
    """Sender, recipients and the delivery-relevant facts about one message.

    The null sender is ``""``. Addresses are in internal (unquoted) form.
    ``content_filter`` is Postfix's queue-file ``content_filter`` record
    (``transport:nexthop``): when set, the queue manager sends every
    recipient there instead of where the address resolves (cleanup sets it
    from a FILTER action or the ``content_filter`` parameter).

    >>> e = Envelope("", (Recipient("a@example.com"),))
    >>> e.is_null_sender, [r.address for r in e.pending()]
    (True, ['a@example.com'])
    >>> Envelope("", (), content_filter="scan:[127.0.0.1]:10025").content_filter
    'scan:[127.0.0.1]:10025'
    """

    sender: str
    recipients: tuple = attrs.field(converter=tuple)
    arrival_time: float = 0.0
    envid: str | None = None
    ret: Ret | None = None
    client: ClientInfo | None = None
    queue_id: str | None = None
    content_filter: str | None = None

    @property
    def is_null_sender(self) -> bool:
        return self.sender == ""

    def pending(self) -> list[Recipient]:
        """Recipients that still need a delivery attempt."""
        return [r for r in self.recipients if not r.done]

    def with_recipients(self, recipients: Iterable[Recipient]) -> "Envelope":
        return attrs.evolve(self, recipients=tuple(recipients))


@attrs.frozen
class Message:
    """Message content as bytes with ``\\n`` line ends (the spool's form).

    Headers are split off cheaply without the ``email`` object model; use
    :meth:`email_message` where the full model is really needed.

    >>> m = Message(b"Subject: hi\\nFrom: a@example.com\\n\\nbody\\n")
    >>> m.header_values("subject")
    ['hi']
    >>> m.body
    b'body\\n'
    """

    data: bytes

    @classmethod
    def from_wire(cls, data: bytes) -> "Message":
        """From CRLF (SMTP) or mixed line ends to the spool's ``\\n`` form."""
        return cls(data.replace(b"\r\n", b"\n"))

    @property
    def _split_at(self) -> int:
        data = self.data
        if data.startswith(b"\n"):
            return 0
        end = data.find(b"\n\n")
        return len(data) if end < 0 else end + 1

    @property
    def header_bytes(self) -> bytes:
        """The header block, each line ending in ``\\n``, without the blank line."""
        return self.data[: self._split_at]

    @property
    def body(self) -> bytes:
        at = self._split_at
        return self.data[at + 1:] if at < len(self.data) else b""

    def headers(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs in order; folded lines are unfolded."""
        out: list[tuple[str, str]] = []
        for raw in self.header_bytes.decode("utf-8", "surrogateescape").split("\n"):
            if not raw:
                continue
            if raw[0] in " \t" and out:
                name, value = out[-1]
                out[-1] = (name, value + "\n" + raw)
                continue
            name, sep, value = raw.partition(":")
            if sep:
                out.append((name.strip(), value.strip()))
        return out

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self.headers() if n.lower() == name]

    def email_message(self):  # -> email.message.Message
        """The full ``email`` object model (slow; not for the hot path)."""
        import email
        import email.policy
        return email.message_from_bytes(self.data, policy=email.policy.default)

    def __len__(self) -> int:
        return len(self.data)


@attrs.frozen
class Outcome:
    """The result of one delivery attempt for one recipient.

    ``status`` decides what happens next: 2.x.x done, 4.x.x defer, 5.x.x
    bounce. ``relay`` is what the log shows after ``relay=``; ``diagnostic``
    is the RFC 3464 Diagnostic-Code (``smtp; 550 5.1.1 ...``) when the
    remote side said something. ``conn_use`` is set by the smtp and lmtp
    agents when the message went over a cached connection: how many
    deliveries that connection has carried, this one included (the log's
    ``conn_use=2``); None for a fresh connection. ``service`` names the
    agent that really delivered when it is not the one the queue manager
    called (local(8) handing a recipient to ``mailbox_transport``): the
    delivery line is logged under it (``mailflow/lmtp[pid]: ...``).

    >>> o = Outcome(Recipient("a@example.com"), DsnStatus.parse("2.0.0", "delivered to maildir"), relay="virtual")
    >>> o.status.is_success, o.conn_use
    (True, None)
    """

    recipient: Recipient
    status: DsnStatus
    relay: str = "none"
    diagnostic: str | None = None
    remote_mta: str | None = None
    conn_use: int | None = None
    service: str | None = None


@attrs.frozen
class DeliveryRequest:
    """What the queue manager hands a delivery agent: one message, one
    transport and nexthop, and the recipients of that message that go there.

    An agent returns one :class:`Outcome` per recipient, in any order.
    """

    queue_id: str
    transport: str
    nexthop: str
    envelope: Envelope
    recipients: tuple = attrs.field(converter=tuple)
    message: Message = attrs.field(default=Message(b""))
