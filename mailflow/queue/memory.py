"""MemoryQueueStore: the queue store in a dict, for tests and applications
that need no durability.

Owns nothing on disk and never does I/O; it behaves like the file spool in
every other way (same errors, same queue IDs, same per-recipient progress),
which the shared store test suite checks.

>>> from mailflow.model import Envelope, Message, Recipient
>>> store = MemoryQueueStore()
>>> qid = store.enqueue(QueueName.INCOMING, Envelope("a@example.com", (Recipient("b@example.net"),)),
...                     Message(b"Subject: hi\\n\\nhello\\n"))
>>> store.move(qid, QueueName.INCOMING, QueueName.ACTIVE)
>>> store.read(qid).queue, store.read(qid).size
(<QueueName.ACTIVE: 'active'>, 19)
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterator, Sequence

import attrs

from mailflow.errors import QueueIdInUse
from mailflow.interfaces import QueueName, QueuedMessage
from mailflow.model import Envelope, Message, Outcome
from mailflow.queue.logs import LOG_KINDS, check_log_kind
from mailflow.queue.names import validate_queue_id
from mailflow.queue.store_api import (SEARCH_ORDER, QueueIdSource, apply_states, no_such_message,
                                      outcome_states, stamp_arrival)

__all__ = ["MemoryQueueStore"]


@attrs.define
class _Entry:
    envelope: Envelope
    message: Message
    next_attempt: float = 0.0
    forced_expire: bool = False
    delay_warned: bool = False


class MemoryQueueStore:
    """A :class:`~mailflow.interfaces.QueueStore` kept in memory (thread-safe)."""

    #: Every operation is a dictionary update: no thread needed.
    local_io = True

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._ids = QueueIdSource()
        self._queues: dict[QueueName, dict[str, _Entry]] = {q: {} for q in QueueName}
        self._logs: dict[tuple[str, str], list[Outcome]] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{q.value}={len(m)}" for q, m in self._queues.items() if m)
        return f"<MemoryQueueStore {sizes or 'empty'}>"

    def _entry(self, queue_id: str, queue: QueueName) -> _Entry:
        validate_queue_id(queue_id)
        try:
            return self._queues[QueueName(queue)][queue_id]
        except KeyError:
            raise no_such_message(queue_id, queue) from None

    def enqueue(self, queue: QueueName, envelope: Envelope, message: Message) -> str:
        """Add a message (``envelope.queue_id``, when set, is its ID; see
        :meth:`QueueStore.enqueue <mailflow.interfaces.QueueStore.enqueue>`)."""
        chosen = envelope.queue_id
        queue_id = self._ids.next() if chosen is None else validate_queue_id(chosen)
        envelope = stamp_arrival(envelope, self._clock())
        with self._lock:
            for name, messages in self._queues.items():
                if queue_id in messages:
                    raise QueueIdInUse(f"{queue_id}: queue ID already in use in the "
                                       f"{name.value} queue")
            self._queues[QueueName(queue)][queue_id] = _Entry(attrs.evolve(envelope, queue_id=None), message)
        return queue_id

    def locate(self, queue_id: str) -> QueueName:
        validate_queue_id(queue_id)
        with self._lock:
            for queue in SEARCH_ORDER:
                if queue_id in self._queues[queue]:
                    return queue
        raise no_such_message(queue_id)

    def read(self, queue_id: str, queue: QueueName | None = None, *,
             with_content: bool = True) -> QueuedMessage:
        with self._lock:
            queue = self.locate(queue_id) if queue is None else QueueName(queue)
            entry = self._entry(queue_id, queue)
            return QueuedMessage(queue_id, queue, attrs.evolve(entry.envelope, queue_id=queue_id),
                                 entry.message if with_content else Message(b""),
                                 len(entry.message),
                                 entry.next_attempt if queue is QueueName.DEFERRED else 0.0,
                                 entry.forced_expire, entry.delay_warned)

    def ids(self, queue: QueueName) -> Iterator[str]:
        with self._lock:
            names = list(self._queues[QueueName(queue)])
        return iter(names)

    def move(self, queue_id: str, src: QueueName, dst: QueueName, *, sync: bool = True) -> None:
        with self._lock:
            entry = self._entry(queue_id, src)
            del self._queues[QueueName(src)][queue_id]
            self._queues[QueueName(dst)][queue_id] = entry

    def delete(self, queue_id: str, queue: QueueName, *, sync: bool = True) -> None:
        with self._lock:
            self._entry(queue_id, queue)
            del self._queues[QueueName(queue)][queue_id]
            for kind in LOG_KINDS:
                self._logs.pop((kind, queue_id), None)

    def mark_done(self, queue_id: str, queue: QueueName, outcomes: Sequence[Outcome]) -> None:
        with self._lock:
            entry = self._entry(queue_id, queue)
            entry.envelope = apply_states(entry.envelope, outcome_states(entry.envelope, outcomes))

    def set_next_attempt(self, queue_id: str, queue: QueueName, when: float) -> None:
        with self._lock:
            self._entry(queue_id, queue).next_attempt = when

    def expire(self, queue_id: str, queue: QueueName) -> None:
        with self._lock:
            self._entry(queue_id, queue).forced_expire = True

    def set_delay_warned(self, queue_id: str, queue: QueueName) -> None:
        with self._lock:
            self._entry(queue_id, queue).delay_warned = True

    def clear_log(self, kind: str, queue_id: str) -> None:
        check_log_kind(kind)
        with self._lock:
            self._logs.pop((kind, queue_id), None)

    def append_log(self, kind: str, queue_id: str, outcome: Outcome) -> None:
        check_log_kind(kind)
        validate_queue_id(queue_id)
        with self._lock:
            self._logs.setdefault((kind, queue_id), []).append(outcome)

    def read_log(self, kind: str, queue_id: str) -> list[Outcome]:
        check_log_kind(kind)
        validate_queue_id(queue_id)
        with self._lock:
            return list(self._logs.get((kind, queue_id), ()))

    def purge_temp(self) -> int:
        return 0
