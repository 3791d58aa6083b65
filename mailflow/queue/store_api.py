"""Helpers every queue store shares, and queue-wide operations built on the
:class:`~mailflow.interfaces.QueueStore` protocol.

Owns the rules that do not depend on where messages are kept: which
recipients an outcome finishes, the order queues are searched in, lazy
iteration with filters, and the queue-ID source for stores that have no
inode numbers. Never does I/O of its own; it only calls a store.

>>> from mailflow.queue.memory import MemoryQueueStore
>>> store = MemoryQueueStore()
>>> qid = store.enqueue(QueueName.INCOMING, Envelope("a@example.com", (Recipient("b@example.net"),)),
...                     Message(b"Subject: x\\n\\n"))
>>> [m.queue_id for m in iter_messages(store, [QueueName.INCOMING])] == [qid]
True
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Callable, Iterable, Iterator, Sequence

from mailflow.errors import NoSuchMessage, QueueFileCorrupt
from mailflow.interfaces import QueueName, QueuedMessage, QueueStore
from mailflow.model import Envelope, Message, Outcome, Recipient, RecipientState
from mailflow.queue.names import make_queue_id

__all__ = ["SEARCH_ORDER", "LISTED_QUEUES", "outcome_states", "PendingIndex", "iter_messages", "scan_ids",
           "QueueIdSource", "stamp_arrival", "no_such_message"]

# Where read()/locate() look when no queue is named: the order Postfix's
# postsuper and postcat try (incoming, active, deferred, hold), then the rest.
SEARCH_ORDER = (QueueName.INCOMING, QueueName.ACTIVE, QueueName.DEFERRED, QueueName.HOLD,
                QueueName.MAILDROP, QueueName.CORRUPT)
# What showq (postqueue -p) lists, in Postfix's order (showq.c).
LISTED_QUEUES = (QueueName.MAILDROP, QueueName.INCOMING, QueueName.ACTIVE,
                 QueueName.DEFERRED, QueueName.HOLD)


def no_such_message(queue_id: str, queue: QueueName | None = None) -> NoSuchMessage:
    """The error every store raises for a queue ID missing from ``queue``
    (``None``: from every queue), worded the same whatever the store.

    >>> str(no_such_message("4SVLCh0sf8z1c9", QueueName.HOLD))
    '4SVLCh0sf8z1c9: no such message in the hold queue'
    >>> str(no_such_message("4SVLCh0sf8z1c9"))
    '4SVLCh0sf8z1c9: no such message in any queue'
    """
    where = "any queue" if queue is None else f"the {QueueName(queue).value} queue"
    return NoSuchMessage(f"{queue_id}: no such message in {where}")


class PendingIndex:
    """The pending recipients of an envelope by (address, original, ORCPT),
    for finishing them one outcome at a time without scanning them all:
    a store marking a message with 100,000 recipients in slices of a few
    hundred keeps one of these instead of decoding the file every time.

    >>> from mailflow.model import DsnStatus
    >>> index = PendingIndex(Envelope("", (Recipient("a@x"), Recipient("a@x"))))
    >>> index.take([Outcome(Recipient("a@x"), DsnStatus.parse("2.0.0"))])
    {0: <RecipientState.DELIVERED: 'delivered'>}
    >>> index.take([Outcome(Recipient("a@x"), DsnStatus.parse("5.1.1"))])
    {1: <RecipientState.BOUNCED: 'bounced'>}
    """

    def __init__(self, envelope: Envelope) -> None:
        # Per key its index, or the list of them for a key seen more than
        # once: most keys are unique, and a list each would double the
        # index's size for a message with 100,000 recipients.
        pending: dict[tuple, int | list[int]] = {}
        for index, rcpt in enumerate(envelope.recipients):
            if not rcpt.done:
                key = (rcpt.address, rcpt.original, rcpt.orcpt)
                seen = pending.setdefault(key, index)
                if seen == index:
                    continue
                if isinstance(seen, int):
                    pending[key] = [seen, index]
                else:
                    seen.append(index)
        self._pending = pending
        # Per key, how many of its indexes are taken (a list pop(0) would be quadratic).
        self._taken: dict[tuple, int] = {}

    def take(self, outcomes: Sequence[Outcome]) -> dict[int, RecipientState]:
        """``{index: new state}`` for the final outcomes, each finishing the
        first recipient still pending with its key; those count as done
        from now on. Temporary outcomes change nothing."""
        changes: dict[int, RecipientState] = {}
        for outcome in outcomes:
            if outcome.status.is_temporary:
                continue
            want = outcome.recipient
            key = (want.address, want.original, want.orcpt)
            found = self._pending.get(key)
            if found is None:
                continue
            if isinstance(found, int):
                index = found
                del self._pending[key]           # taken: the index shrinks as it goes
            else:
                n = self._taken.get(key, 0)
                if n >= len(found):
                    continue
                index = found[n]
                self._taken[key] = n + 1
            changes[index] = (RecipientState.DELIVERED if outcome.status.is_success
                              else RecipientState.BOUNCED)
        return changes


def outcome_states(envelope: Envelope, outcomes: Sequence[Outcome]) -> dict[int, RecipientState]:
    """Which recipient records the outcomes finish: ``{index: new state}``.

    A 2.x.x outcome marks the recipient delivered, 5.x.x bounced; 4.x.x
    leaves it pending. Each outcome finishes the first pending recipient
    with the same address, original recipient and ORCPT, so duplicates are
    finished one by one.

    >>> from mailflow.model import DsnStatus
    >>> env = Envelope("", (Recipient("a@x"), Recipient("b@x")))
    >>> outcome_states(env, [Outcome(Recipient("b@x"), DsnStatus.parse("5.1.1"))])
    {1: <RecipientState.BOUNCED: 'bounced'>}
    """
    return PendingIndex(envelope).take(outcomes)


def apply_states(envelope: Envelope, changes: dict[int, RecipientState]) -> Envelope:
    """``envelope`` with the recipient states in ``changes`` applied."""
    import attrs
    rcpts = [attrs.evolve(r, state=changes[i]) if i in changes else r
             for i, r in enumerate(envelope.recipients)]
    return envelope.with_recipients(rcpts)


def iter_messages(store: QueueStore, queues: Iterable[QueueName], *,
                  with_content: bool = False,
                  match: Callable[[QueuedMessage], bool] | None = None) -> Iterator[QueuedMessage]:
    """Messages in ``queues``, one at a time (never the whole queue in memory).

    Messages that vanish while iterating (delivered, deleted) are skipped;
    corrupt ones are skipped too (the store has moved them to ``corrupt/``).
    ``match`` filters, e.g. ``lambda m: m.envelope.sender == "a@example.com"``.
    """
    for queue in queues:
        for queue_id in store.ids(queue):
            try:
                msg = store.read(queue_id, queue, with_content=with_content)
            except (NoSuchMessage, QueueFileCorrupt):
                continue
            if match is None or match(msg):
                yield msg


def scan_ids(store: QueueStore, queue: QueueName, *, due_by: float | None = None) -> Iterator[str]:
    """The IDs in ``queue``, lazily; with ``due_by``, only messages due by
    then (``next_attempt``) or forced to expire.

    A store with a ``scan_ids`` method of its own (the file spool: one
    directory read, a status per entry, no file opened) answers itself;
    for others the IDs are listed first (those stores hold the queue in
    memory anyway) and each message's head is read to check its due time.

    >>> from mailflow.queue.memory import MemoryQueueStore
    >>> store = MemoryQueueStore()
    >>> qid = store.enqueue(QueueName.DEFERRED, Envelope("", (Recipient("b@x"),)), Message(b""))
    >>> store.set_next_attempt(qid, QueueName.DEFERRED, 100.0)
    >>> list(scan_ids(store, QueueName.DEFERRED, due_by=99.0)), list(scan_ids(store, QueueName.DEFERRED, due_by=100.0)) == [qid]
    ([], True)
    """
    own = getattr(store, "scan_ids", None)
    if own is not None:
        return own(queue, due_by=due_by)
    return _scan_heads(store, queue, due_by)


def _scan_heads(store: QueueStore, queue: QueueName, due_by: float | None) -> Iterator[str]:
    ids = list(store.ids(queue))
    for queue_id in ids:
        if due_by is None:
            yield queue_id
            continue
        try:
            head = store.read(queue_id, queue, with_content=False)
        except (NoSuchMessage, QueueFileCorrupt):
            continue
        if head.next_attempt <= due_by or head.forced_expire:
            yield queue_id


def stamp_arrival(envelope: Envelope, now: float) -> Envelope:
    """Give an envelope without an arrival time the time ``now``.

    >>> stamp_arrival(Envelope("", ()), 5.0).arrival_time
    5.0
    """
    if envelope.arrival_time:
        return envelope
    import attrs
    return attrs.evolve(envelope, arrival_time=now, queue_id=None)


class QueueIdSource:
    """Queue IDs for stores without inode numbers (memory, sqlitedict).

    The unique part combines the process ID with a counter that every
    source in the process shares, so two processes (or two sources in one
    process, say cleanup's and a store's) never hand out the same ID; the
    time part keeps IDs unique across restarts and sorted by time.

    >>> a, b = QueueIdSource().next(), QueueIdSource().next()
    >>> a != b
    True
    """

    # Process-wide on purpose: one counter per source would let two sources
    # in one process produce the same ID within one microsecond.
    _counter = itertools.count()
    _lock = threading.Lock()

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock

    def next(self) -> str:
        with QueueIdSource._lock:
            count = next(QueueIdSource._counter)
        now = self._clock()
        return make_queue_id(now // 1_000_000_000, (now // 1000) % 1_000_000,
                             (os.getpid() << 24) | (count & 0xFFFFFF))
