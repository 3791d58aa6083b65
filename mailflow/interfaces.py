"""Extension points as small Protocols.

Each is what a user's own class implements to replace one piece of the
pipeline; each is registered under the name users write (a table type, a
transport name), never discovered by method-name prefix.

This module holds no code, only the contracts. It imports no I/O modules.
"""

from __future__ import annotations

import enum
from typing import Iterator, Protocol, Sequence, runtime_checkable

import attrs

from mailflow.model import DeliveryRequest, Envelope, Message, Outcome

__all__ = ["Table", "Clock", "QueueName", "QueuedMessage", "QueueStore",
           "DeliveryAgent", "DnsResolver"]


@runtime_checkable
class Table(Protocol):
    """A lookup table (Postfix's ``type:name``).

    ``get`` returns the value, or ``None`` when the key is not in the table.
    A table that cannot answer now raises :class:`mailflow.errors.TableError`;
    callers must treat that as "try again later", never as "not found".
    """

    def get(self, key: str) -> str | None: ...


class Clock(Protocol):
    """Wall-clock time in seconds since the epoch; injected so tests can fake it."""

    def now(self) -> float: ...


class QueueName(str, enum.Enum):
    """The spool's queues (Postfix's directory names)."""

    MAILDROP = "maildrop"
    INCOMING = "incoming"
    ACTIVE = "active"
    DEFERRED = "deferred"
    HOLD = "hold"
    CORRUPT = "corrupt"


@attrs.frozen
class QueuedMessage:
    """One message as read back from a queue."""

    queue_id: str
    queue: QueueName
    envelope: Envelope
    message: Message
    size: int = 0                     # content size in bytes
    next_attempt: float = 0.0         # for deferred mail: when it is due again
    forced_expire: bool = False       # postsuper -e: return it to sender at the next attempt
    delay_warned: bool = False        # the one delay_warning_time notice was sent


class QueueStore(Protocol):
    """Where accepted mail lives until every recipient is done.

    Every method that changes the spool is durable when it returns: a message
    is acknowledged to its sender only after :meth:`enqueue` has returned.
    Methods are synchronous (file I/O); services call them from a thread pool
    so fsync never blocks the event loop. A store whose reads, renames and
    removals are local and quick may say so with a class attribute
    ``local_io = True``: the queue manager then runs those on its event loop.
    """

    def enqueue(self, queue: QueueName, envelope: Envelope, message: Message) -> str:
        """Write a new message durably into ``queue``; return its queue ID.

        When ``envelope.queue_id`` is set, the message gets exactly that ID:
        a caller such as cleanup chooses the ID first (from
        :class:`~mailflow.queue.store_api.QueueIdSource`, unique across
        processes) because it writes it into the ``Received:`` and
        ``Message-Id:`` headers, as Postfix's cleanup does. The store checks
        it with :func:`~mailflow.queue.names.validate_queue_id` (raising
        BadQueueIdError) and never overwrites: if a message in any queue
        already has the ID, it writes nothing and raises
        :class:`~mailflow.errors.QueueIdInUse`. When ``envelope.queue_id``
        is None, the store picks a fresh ID itself.
        """

    def read(self, queue_id: str, queue: QueueName | None = None, *,
             with_content: bool = True) -> QueuedMessage:
        """Read one message (searching all queues when ``queue`` is None).

        With ``with_content=False`` only the envelope is read (``message`` is
        empty, ``size`` still right): listing a big queue stays cheap.
        Raises NoSuchMessage, or QueueFileCorrupt for a file that does not
        parse (the store has then moved it to ``corrupt``).
        """

    def locate(self, queue_id: str) -> QueueName:
        """The queue holding ``queue_id``; raises NoSuchMessage."""

    def ids(self, queue: QueueName) -> Iterator[str]:
        """Queue IDs in ``queue``, lazily (a queue may hold a million)."""

    def move(self, queue_id: str, src: QueueName, dst: QueueName, *, sync: bool = True) -> None:
        """Move a message between queues, atomically. ``sync=False`` may skip
        the directory fsync where either side of a crash is safe."""

    def delete(self, queue_id: str, queue: QueueName, *, sync: bool = True) -> None:
        """Remove a message and its bounce/defer logs."""

    def mark_done(self, queue_id: str, queue: QueueName, outcomes: Sequence[Outcome]) -> None:
        """Record, durably, that these recipients are delivered or bounced."""

    def set_next_attempt(self, queue_id: str, queue: QueueName, when: float) -> None:
        """For deferred mail: when the queue manager may try it again."""

    def append_log(self, kind: str, queue_id: str, outcome: Outcome) -> None:
        """Append to the per-message ``bounce`` or ``defer`` log."""

    def read_log(self, kind: str, queue_id: str) -> list[Outcome]:
        """Read the per-message ``bounce`` or ``defer`` log (empty when none)."""

    def expire(self, queue_id: str, queue: QueueName) -> None:
        """Mark for forced expiry (postsuper -e): bounce at the next delivery attempt."""

    def set_delay_warned(self, queue_id: str, queue: QueueName) -> None:
        """Record, durably, that the one delay notice was sent."""

    def clear_log(self, kind: str, queue_id: str) -> None:
        """Remove one per-message log (after its notice was sent)."""

    def purge_temp(self) -> int:
        """Remove temporary files left by writers that died (postsuper -p); return how many."""


class DeliveryAgent(Protocol):
    """A delivery agent (local, virtual, pipe, smtp, ...), registered by
    transport name. It returns one Outcome per recipient in the request."""

    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]: ...


class DnsResolver(Protocol):
    """DNS lookups for MX/A/AAAA and blocklists; a test passes a fake."""

    async def query(self, name: str, rtype: str) -> list[str]: ...
