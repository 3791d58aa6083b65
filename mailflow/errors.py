"""The exception tree: every error mailflow raises on purpose.

The class of a failure lives in its type (as slimta and httpx do): a caller
decides retry, bounce or reject from the class alone, never by parsing text::

    MailflowError
    ├── ConfigError                 bad main.cf/master.cf value (file, line, parameter)
    │   └── ExpansionLoopError      $name refers back to itself
    ├── AddressError                an address that does not parse
    ├── TableError                  a lookup table that cannot answer ("try again later")
    │   └── TableSyntaxError        a table source file with a bad line (file, line)
    ├── QueueError                  the spool cannot do what was asked
    │   ├── BadQueueIdError         a queue ID from user input that is not one
    │   ├── QueueFileCorrupt        a queue file that does not parse
    │   ├── QueueIdInUse            a chosen queue ID that a queued message already has
    │   └── NoSuchMessage           a queue ID that is not in the queue asked
    ├── DnsError                    a DNS lookup that did not give an answer
    │   ├── DnsNotFound             the name does not exist (NXDOMAIN): a definite "no"
    │   └── DnsTemporaryError       no answer now (timeout, SERVFAIL): try again later
    ├── TemporaryFailure            carries a 4.x.x DsnStatus: defer and retry
    └── PermanentFailure            carries a 5.x.x DsnStatus: bounce or reject

A table that cannot answer raises :class:`TableError`; it is never treated as
"not found" (Postfix stops the lookup and defers the mail; so do we).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailflow.model import DsnStatus


class MailflowError(Exception):
    """Base class of every error mailflow raises on purpose."""


class ConfigError(MailflowError):
    """A configuration problem, worded as ``main.cf, line 12: name = value: why``.

    >>> str(ConfigError("not a number", filename="main.cf", lineno=12,
    ...                 name="message_size_limit", value="banana"))
    'main.cf, line 12: message_size_limit = banana: not a number'
    """

    def __init__(self, reason: str, *, filename: str | None = None,
                 lineno: int | None = None, name: str | None = None,
                 value: str | None = None) -> None:
        self.reason = reason
        self.filename = filename
        self.lineno = lineno
        self.name = name
        self.value = value
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.filename:
            where.append(self.filename if self.lineno is None
                         else f"{self.filename}, line {self.lineno}")
        if self.name is not None:
            where.append(self.name if self.value is None else f"{self.name} = {self.value}")
        return ": ".join(where + [self.reason])


class ExpansionLoopError(ConfigError):
    """A ``$name`` expansion that refers back to itself."""


class AddressError(MailflowError, ValueError):
    """An address that does not parse; the message says where and why."""


class TableError(MailflowError):
    """A lookup table that cannot answer now. Callers defer; never a miss."""


class TableSyntaxError(TableError):
    """A bad line in a table source file; the message names file and line."""


class QueueError(MailflowError):
    """The spool cannot do what was asked."""


class BadQueueIdError(QueueError, ValueError):
    """A queue ID from user input that is not a valid queue ID."""


class QueueFileCorrupt(QueueError):
    """A queue file that does not parse; it belongs in ``corrupt/``."""


class QueueIdInUse(QueueError):
    """A caller-chosen queue ID that a message in the spool already has;
    the store wrote nothing (choose a fresh ID and try again)."""


class NoSuchMessage(QueueError, KeyError):
    """A queue ID that is not in the queue that was asked."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "no such message"


class DnsError(MailflowError):
    """A DNS lookup that gave no answer; see the two subclasses. The text is
    the name looked up, or Postfix's wording for the failed lookup.

    A :class:`~mailflow.interfaces.DnsResolver` returns ``[]`` when the name
    exists but has no record of the type asked (NODATA).

    >>> str(DnsNotFound("Host or domain name not found. Name service error for "
    ...                 "name=x.test type=A: Host not found"))
    'Host or domain name not found. Name service error for name=x.test type=A: Host not found'
    """


class DnsNotFound(DnsError):
    """The name does not exist (NXDOMAIN): a definite answer, not a failure."""


class DnsTemporaryError(DnsError):
    """No answer now (timeout, SERVFAIL, no server): callers defer, never
    treat it as "not found"."""


class DeliveryFailure(MailflowError):
    """A failure with a DSN status; see the two subclasses."""

    def __init__(self, status: "DsnStatus") -> None:
        self.status = status
        super().__init__(f"{status.code} {status.text}".strip())


class TemporaryFailure(DeliveryFailure):
    """A 4.x.x failure: the mail is deferred and tried again later."""


class PermanentFailure(DeliveryFailure):
    """A 5.x.x failure: the mail is bounced (or the command rejected)."""
