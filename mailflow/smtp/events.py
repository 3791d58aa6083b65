"""What :class:`~mailflow.smtp.server.ServerEngine` reports: one frozen class per event.

Command events carry ``pipelined``: more input was already buffered after
the command's line when it was parsed, i.e. the client did not wait for the
reply (the service uses it for ``reject_unauth_pipelining`` and to flush
replies in groups). Content events (:class:`MessageData`,
:class:`EndOfMessage`, :class:`BdatChunkEnd`) follow ``start_data()`` or a
:class:`Bdat` command. :data:`NEED_DATA` and :data:`CLOSED` are the two
sentinels ``next_event()`` returns when it has no event. No I/O here.

>>> Hello("EHLO", "client.example")
Hello(verb='EHLO', domain='client.example', pipelined=False)
>>> isinstance(CLOSED, ConnectionClosed), CLOSED
(True, CLOSED)
"""

from __future__ import annotations

import attrs

from mailflow.smtp.esmtp import MailParams, RcptParams
from mailflow.smtp.reply import Reply

__all__ = [
    "Event", "Hello", "MailFrom", "RcptTo", "Data", "Bdat", "Rset", "Noop", "Quit", "Vrfy",
    "Etrn", "StartTls", "Auth", "AuthResponse", "Help", "Xclient", "Xforward",
    "UnknownCommand", "BadCommand", "MessageData", "EndOfMessage", "BdatChunkEnd",
    "ConnectionClosed", "NEED_DATA", "CLOSED",
]


class Event:
    """Base class of every engine event (for ``isinstance`` checks)."""

    __slots__ = ()


@attrs.frozen
class Hello(Event):
    """HELO, EHLO or LHLO; ``verb`` upper-case, ``domain`` as given (extra words joined)."""

    verb: str
    domain: str
    pipelined: bool = False


@attrs.frozen
class MailFrom(Event):
    """MAIL FROM: ``address`` in internal form (``""`` for ``<>``), parameters, ``raw`` as sent."""

    address: str
    params: MailParams
    raw: str
    pipelined: bool = False


@attrs.frozen
class RcptTo(Event):
    """RCPT TO: ``address`` in internal form, parameters, ``raw`` address text as sent."""

    address: str
    params: RcptParams
    raw: str
    pipelined: bool = False


@attrs.frozen
class Data(Event):
    """DATA. Reply 354 and call ``start_data()``, or reply with an error."""

    pipelined: bool = False


@attrs.frozen
class Bdat(Event):
    """BDAT ``size`` [LAST]. The engine reads the chunk next, on its own (RFC 3030)."""

    size: int
    last: bool
    pipelined: bool = False


@attrs.frozen
class Rset(Event):
    """RSET."""

    pipelined: bool = False


@attrs.frozen
class Noop(Event):
    """NOOP (any argument is ignored, RFC 5321 4.1.1.9)."""

    pipelined: bool = False


@attrs.frozen
class Quit(Event):
    """QUIT (arguments are not checked, as in Postfix)."""

    pipelined: bool = False


@attrs.frozen
class Vrfy(Event):
    """VRFY with its argument (the words after the verb, joined by one space)."""

    argument: str
    pipelined: bool = False


@attrs.frozen
class Etrn(Event):
    """ETRN with its argument as given (``@domain``, ``#queue`` included)."""

    argument: str
    pipelined: bool = False


@attrs.frozen
class StartTls(Event):
    """STARTTLS. Reply 220 and call ``start_tls()`` before the handshake."""

    pipelined: bool = False


@attrs.frozen
class Auth(Event):
    """AUTH ``mechanism`` (upper-case) with the optional ``initial`` response (``"="`` = empty)."""

    mechanism: str
    initial: str | None
    pipelined: bool = False


@attrs.frozen
class AuthResponse(Event):
    """A client's line after a 334 challenge (``"*"`` cancels, RFC 4954)."""

    line: str
    pipelined: bool = False


@attrs.frozen
class Help(Event):
    """HELP with its (possibly empty) argument."""

    argument: str
    pipelined: bool = False


@attrs.frozen
class Xclient(Event):
    """XCLIENT: attribute names upper-case, values xtext-decoded."""

    attributes: dict[str, str]
    pipelined: bool = False


@attrs.frozen
class Xforward(Event):
    """XFORWARD: attribute names upper-case, values xtext-decoded."""

    attributes: dict[str, str]
    pipelined: bool = False


@attrs.frozen
class UnknownCommand(Event):
    """A verb the engine does not know (Postfix: ``500 5.5.2 Error: command not recognized``)."""

    verb: str
    line: bytes
    pipelined: bool = False


@attrs.frozen
class BadCommand(Event):
    """A line the engine refused; send ``reply``, and hang up when ``close`` is true.

    ``verb`` is upper-case (``""`` when the line has none); ``line`` is the
    line as received, cut to the engine's line length limit.
    """

    verb: str
    reply: Reply
    line: bytes
    close: bool = False
    pipelined: bool = False


@attrs.frozen
class MessageData(Event):
    """A piece of message content in the spool's form (``\\n`` line ends, dots unstuffed)."""

    data: bytes


@attrs.frozen
class EndOfMessage(Event):
    """The end of the content: ``size`` bytes in the spool's form (skipped ones too).

    ``bare_newline``: a line ended in a bare ``<LF>`` (what Postfix's
    ``smtpd_forbid_bare_newline = reject`` refuses). ``discarded``: the
    content was skipped after ``stop_data()``.
    """

    size: int
    bare_newline: bool
    discarded: bool = False


@attrs.frozen
class BdatChunkEnd(Event):
    """All bytes of a BDAT chunk were read; reply to the chunk now."""

    last: bool
    size: int = 0
    discarded: bool = False


class ConnectionClosed(Event):
    """The client closed the connection; the engine's last word (see :data:`CLOSED`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CLOSED"


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


#: ``next_event()`` has nothing to say until more bytes arrive.
NEED_DATA = _NeedData()
#: The client closed and every buffered byte has been turned into events.
#: Returned for good from then on; an instance of :class:`ConnectionClosed`.
CLOSED = ConnectionClosed()
