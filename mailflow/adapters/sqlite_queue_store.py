"""SqliteQueueStore: the whole queue in one embedded database file (sqlitedict).

For applications that want a durable queue without a directory tree. Owns
the database layout; never interprets messages beyond the queue-file format
(:mod:`mailflow.queue.records`), which it stores unchanged, so ``postcat``
and the other stores see the same bytes. This module and
:mod:`mailflow.adapters.sqlite_table` are the only places that import
sqlitedict.

Layout, three tables in one file: ``index`` (queue ID -> ``queue
next_attempt forced_expire``), ``data`` (queue ID -> queue file) and
``logs`` (``kind/queue ID`` -> log). Every write commits before it returns
(SQLite fsyncs the journal on commit). The index is the authority: a message
exists once its index row is committed, which happens after its data row;
deletion removes the index row first. A crash in between leaves only an
orphan data row, which :meth:`SqliteQueueStore.purge_temp` removes. A move
changes one index row, so it is atomic.

>>> import tempfile, os
>>> from mailflow.model import Envelope, Message, Recipient
>>> store = SqliteQueueStore(os.path.join(tempfile.mkdtemp(), "queue.db"))
>>> qid = store.enqueue(QueueName.INCOMING, Envelope("a@example.com", (Recipient("b@example.net"),)),
...                     Message(b"Subject: hi\\n\\nhello\\n"))
>>> store.read(qid).queue
<QueueName.INCOMING: 'incoming'>
>>> store.close()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Iterator, Sequence

import attrs
from sqlitedict import SqliteDict

from mailflow.errors import NoSuchMessage, QueueError, QueueFileCorrupt
from mailflow.interfaces import QueueName, QueuedMessage
from mailflow.model import Envelope, Message, Outcome
from mailflow.queue import records
from mailflow.queue.logs import LOG_KINDS, decode_log, encode_log_entry
from mailflow.queue.names import QueueId, validate_queue_id
from mailflow.queue.store_api import QueueIdSource, outcome_states, stamp_arrival

__all__ = ["SqliteQueueStore"]

log = logging.getLogger("mailflow.queue")


def _identity(value):
    return value


def _parse_index(value: bytes) -> tuple[QueueName, float, bool]:
    queue, when, expire = value.decode().split(" ")
    return QueueName(queue), float(when), expire == "1"


def _index(queue: QueueName, when: float, expire: bool) -> bytes:
    return f"{QueueName(queue).value} {when!r} {int(expire)}".encode()


class SqliteQueueStore:
    """A :class:`~mailflow.interfaces.QueueStore` in one sqlitedict file."""

    def __init__(self, filename: str | os.PathLike, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.filename = os.fspath(filename)
        self._clock = clock
        self._ids = QueueIdSource()
        self._lock = threading.RLock()
        opts = dict(autocommit=True, journal_mode="WAL", encode=_identity, decode=_identity,
                    outer_stack=False)
        self._index = SqliteDict(self.filename, tablename="index", **opts)
        self._data = SqliteDict(self.filename, tablename="data", **opts)
        self._logs = SqliteDict(self.filename, tablename="logs", **opts)

    def __repr__(self) -> str:
        return f"<SqliteQueueStore {self.filename}>"

    def close(self) -> None:
        """Close the database (pending writes are already committed)."""
        for table in (self._index, self._data, self._logs):
            table.close()

    def _get_index(self, queue_id: str) -> tuple[QueueName, float, bool] | None:
        validate_queue_id(queue_id)
        value = self._index.get(queue_id)
        return None if value is None else _parse_index(value)

    def _require(self, queue_id: str, queue: QueueName) -> tuple[QueueName, float, bool]:
        found = self._get_index(queue_id)
        if found is None or found[0] is not QueueName(queue):
            raise NoSuchMessage(f"{queue_id}: no such message in the {QueueName(queue).value} queue")
        return found

    def enqueue(self, queue: QueueName, envelope: Envelope, message: Message) -> str:
        queue_id = self._ids.next()
        data = records.encode(stamp_arrival(envelope, self._clock()), message)
        with self._lock:
            self._data[queue_id] = data                       # first the content...
            self._index[queue_id] = _index(queue, 0.0, False)  # ...then it exists
        return queue_id

    def locate(self, queue_id: str) -> QueueName:
        found = self._get_index(queue_id)
        if found is None:
            raise NoSuchMessage(f"{queue_id}: no such message")
        return found[0]

    def read(self, queue_id: str, queue: QueueName | None = None, *,
             with_content: bool = True) -> QueuedMessage:
        found = self._get_index(queue_id)
        if found is None or (queue is not None and found[0] is not QueueName(queue)):
            where = "any queue" if queue is None else f"the {QueueName(queue).value} queue"
            raise NoSuchMessage(f"{queue_id}: no such message in {where}")
        where, when, expire = found
        data = self._data.get(queue_id, b"")
        try:
            qf = records.decode(bytes(data), with_content=with_content)
        except QueueFileCorrupt as exc:
            if where is not QueueName.CORRUPT:
                log.warning("%s: queue file is corrupt (%s); moved to the corrupt queue", queue_id, exc)
                self._index[queue_id] = _index(QueueName.CORRUPT, when, expire)
            raise
        return QueuedMessage(queue_id, where, attrs.evolve(qf.envelope, queue_id=queue_id),
                             qf.message or Message(b""), qf.size, when, expire)

    def raw(self, queue_id: str) -> bytes:
        """The stored queue file (for postcat)."""
        self.locate(queue_id)
        return bytes(self._data[queue_id])

    def ids(self, queue: QueueName) -> Iterator[str]:
        want = QueueName(queue).value.encode() + b" "
        for key, value in self._index.items():
            if bytes(value).startswith(want):
                yield key

    def move(self, queue_id: str, src: QueueName, dst: QueueName) -> None:
        with self._lock:
            _, when, expire = self._require(queue_id, src)
            self._index[queue_id] = _index(dst, when, expire)

    def delete(self, queue_id: str, queue: QueueName) -> None:
        with self._lock:
            self._require(queue_id, queue)
            del self._index[queue_id]                          # gone for readers first
            self._data.pop(queue_id, None)
            for kind in LOG_KINDS:
                self._logs.pop(f"{kind}/{queue_id}", None)

    def mark_done(self, queue_id: str, queue: QueueName, outcomes: Sequence[Outcome]) -> None:
        with self._lock:
            self._require(queue_id, queue)
            data = bytes(self._data[queue_id])
            qf = records.decode(data, with_content=False)
            changes = outcome_states(qf.envelope, outcomes)
            if not changes:
                return
            buf = bytearray(data)
            for index, state in changes.items():
                buf[qf.state_offsets[index]] = records.state_byte(state)[0]
            self._data[queue_id] = bytes(buf)

    def set_next_attempt(self, queue_id: str, queue: QueueName, when: float) -> None:
        with self._lock:
            _, _, expire = self._require(queue_id, queue)
            self._index[queue_id] = _index(queue, when, expire)

    def expire(self, queue_id: str, queue: QueueName) -> None:
        with self._lock:
            _, when, _ = self._require(queue_id, queue)
            self._index[queue_id] = _index(queue, when, True)

    def append_log(self, kind: str, queue_id: str, outcome: Outcome) -> None:
        if kind not in LOG_KINDS:
            raise QueueError(f"unknown log kind {kind!r}; expected one of {', '.join(LOG_KINDS)}")
        validate_queue_id(queue_id)
        key = f"{kind}/{queue_id}"
        with self._lock:
            self._logs[key] = bytes(self._logs.get(key, b"")) + encode_log_entry(outcome)

    def read_log(self, kind: str, queue_id: str) -> list[Outcome]:
        if kind not in LOG_KINDS:
            raise QueueError(f"unknown log kind {kind!r}; expected one of {', '.join(LOG_KINDS)}")
        validate_queue_id(queue_id)
        return decode_log(bytes(self._logs.get(f"{kind}/{queue_id}", b"")))

    def purge_temp(self, now: float | None = None) -> int:
        """Remove content rows whose index row was never committed (a crash
        mid-enqueue) and that are over an hour old (so a writer still between
        its two commits is left alone, as postsuper.c does with temp files)."""
        now = self._clock() if now is None else now
        removed = 0
        with self._lock:
            for key in list(self._data.keys()):
                seconds = QueueId.parse(key).seconds
                if key not in self._index and (seconds is None or now - seconds > 3600):
                    self._data.pop(key, None)
                    removed += 1
        return removed
