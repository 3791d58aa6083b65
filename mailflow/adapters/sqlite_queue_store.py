"""SqliteQueueStore: the whole queue in one embedded database file (sqlitedict).

For applications that want a durable queue without a directory tree. Owns
the database layout; never interprets messages beyond the queue-file format
(:mod:`mailflow.queue.records`), which it stores unchanged, so ``postcat``
and the other stores see the same bytes. This module and
:mod:`mailflow.adapters.sqlite_table` are the only places that import
sqlitedict.

Layout, three tables in one file: ``index`` (queue ID -> ``queue
next_attempt forced_expire``), ``data`` (queue ID -> queue file) and
``logs`` (``kind/queue ID`` -> log); the index row also holds the
forced-expiry and delay-warned flags.

Durability: every write is committed and on disk before it returns. Two
things stand in the way in sqlitedict and are undone here: it opens its
connections with ``PRAGMA synchronous=OFF`` (no fsync at all), and it runs
statements on a thread of its own, returning before they run. So each
connection is switched to ``synchronous=FULL`` at open, and each write
waits for a blocking commit, which also raises the write's own error in
the caller. FULL, not NORMAL: in WAL mode NORMAL syncs the log only at a
checkpoint, so a commit survives a process crash but not a power cut,
which is not what "acknowledged" means here; FULL fsyncs the log at every
commit. The index is the authority: a message
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

from mailflow.errors import QueueFileCorrupt, QueueIdInUse
from mailflow.interfaces import QueueName, QueuedMessage
from mailflow.model import Envelope, Message, Outcome
from mailflow.queue import records
from mailflow.queue.logs import LOG_KINDS, check_log_kind, decode_log, encode_log_entry
from mailflow.queue.names import QueueId, validate_queue_id
from mailflow.queue.store_api import QueueIdSource, no_such_message, outcome_states, stamp_arrival

__all__ = ["SqliteQueueStore"]

log = logging.getLogger("mailflow.queue")


def _identity(value):
    return value


@attrs.frozen
class _Row:
    queue: QueueName
    when: float = 0.0
    expire: bool = False
    warned: bool = False

    @classmethod
    def parse(cls, value: bytes) -> "_Row":
        queue, when, expire, warned = value.decode().split(" ")
        return cls(QueueName(queue), float(when), expire == "1", warned == "1")

    def encode(self) -> bytes:
        return f"{self.queue.value} {self.when!r} {int(self.expire)} {int(self.warned)}".encode()


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
        for table in (self._index, self._data, self._logs):
            # Queued on the connection's thread after sqlitedict's own
            # "synchronous=OFF", so it is the setting every write runs with.
            table.conn.execute("PRAGMA synchronous=FULL")
            table.commit(blocking=True)

    def __repr__(self) -> str:
        return f"<SqliteQueueStore {self.filename}>"

    def close(self) -> None:
        """Close the database (pending writes are already committed)."""
        for table in (self._index, self._data, self._logs):
            table.close()

    @staticmethod
    def _sync(*tables: SqliteDict) -> None:
        # Wait until the writes queued on each table's thread are committed
        # (and fsynced): a write is durable, or has raised, when we return.
        for table in tables:
            table.commit(blocking=True)

    def _get_index(self, queue_id: str) -> _Row | None:
        validate_queue_id(queue_id)
        value = self._index.get(queue_id)
        return None if value is None else _Row.parse(bytes(value))

    def _require(self, queue_id: str, queue: QueueName) -> _Row:
        found = self._get_index(queue_id)
        if found is None or found.queue is not QueueName(queue):
            raise no_such_message(queue_id, queue)
        return found

    def _update(self, queue_id: str, where: QueueName, **changes) -> None:
        with self._lock:
            row = self._require(queue_id, where)
            self._index[queue_id] = attrs.evolve(row, **changes).encode()
            self._sync(self._index)

    def enqueue(self, queue: QueueName, envelope: Envelope, message: Message) -> str:
        """Add a message (``envelope.queue_id``, when set, is its ID; see
        :meth:`QueueStore.enqueue <mailflow.interfaces.QueueStore.enqueue>`)."""
        chosen = envelope.queue_id
        queue_id = self._ids.next() if chosen is None else validate_queue_id(chosen)
        data = records.encode(stamp_arrival(envelope, self._clock()), message)
        with self._lock:
            if chosen is not None:
                self._refuse_taken(queue_id)
            self._data[queue_id] = data                       # first the content...
            self._sync(self._data)
            self._index[queue_id] = _Row(QueueName(queue)).encode()  # ...then it exists
            self._sync(self._index)
        return queue_id

    def _refuse_taken(self, queue_id: str) -> None:
        found = self._get_index(queue_id)
        # A data row without an index row is another writer's, between its
        # two commits: taken as well.
        if found is not None or queue_id in self._data:
            where = f"the {found.queue.value} queue" if found is not None else "the store"
            raise QueueIdInUse(f"{queue_id}: queue ID already in use in {where}")

    def locate(self, queue_id: str) -> QueueName:
        found = self._get_index(queue_id)
        if found is None:
            raise no_such_message(queue_id)
        return found.queue

    def read(self, queue_id: str, queue: QueueName | None = None, *,
             with_content: bool = True) -> QueuedMessage:
        found = self._get_index(queue_id)
        if found is None or (queue is not None and found.queue is not QueueName(queue)):
            raise no_such_message(queue_id, queue)
        data = self._data.get(queue_id, b"")
        try:
            qf = records.decode(bytes(data), with_content=with_content)
        except QueueFileCorrupt as exc:
            if found.queue is not QueueName.CORRUPT:
                log.warning("%s: queue file is corrupt (%s); moved to the corrupt queue", queue_id, exc)
                self._index[queue_id] = attrs.evolve(found, queue=QueueName.CORRUPT).encode()
                self._sync(self._index)
            raise
        return QueuedMessage(queue_id, found.queue, attrs.evolve(qf.envelope, queue_id=queue_id),
                             qf.message or Message(b""), qf.size,
                             found.when if found.queue is QueueName.DEFERRED else 0.0,
                             found.expire, found.warned)

    def raw(self, queue_id: str) -> bytes:
        """The stored queue file (for postcat)."""
        self.locate(queue_id)
        return bytes(self._data[queue_id])

    def ids(self, queue: QueueName) -> Iterator[str]:
        want = QueueName(queue).value.encode() + b" "
        for key, value in self._index.items():
            if bytes(value).startswith(want):
                yield key

    def move(self, queue_id: str, src: QueueName, dst: QueueName, *, sync: bool = True) -> None:
        # ``sync`` is accepted for the file spool's sake; every commit here syncs.
        self._update(queue_id, src, queue=QueueName(dst))

    def delete(self, queue_id: str, queue: QueueName, *, sync: bool = True) -> None:
        with self._lock:
            self._require(queue_id, queue)
            del self._index[queue_id]                          # gone for readers first
            self._sync(self._index)
            self._data.pop(queue_id, None)
            for kind in LOG_KINDS:
                self._logs.pop(f"{kind}/{queue_id}", None)
            self._sync(self._data, self._logs)

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
            self._sync(self._data)

    def set_next_attempt(self, queue_id: str, queue: QueueName, when: float) -> None:
        self._update(queue_id, queue, when=float(when))

    def expire(self, queue_id: str, queue: QueueName) -> None:
        self._update(queue_id, queue, expire=True)

    def set_delay_warned(self, queue_id: str, queue: QueueName) -> None:
        """Record, durably, that the one delay notice was sent."""
        self._update(queue_id, queue, warned=True)

    def clear_log(self, kind: str, queue_id: str) -> None:
        """Remove the per-message ``bounce``/``defer``/``trace`` log."""
        check_log_kind(kind)
        validate_queue_id(queue_id)
        self._logs.pop(f"{kind}/{queue_id}", None)
        self._sync(self._logs)

    def append_log(self, kind: str, queue_id: str, outcome: Outcome) -> None:
        check_log_kind(kind)
        validate_queue_id(queue_id)
        key = f"{kind}/{queue_id}"
        with self._lock:
            self._logs[key] = bytes(self._logs.get(key, b"")) + encode_log_entry(outcome)
            self._sync(self._logs)

    def read_log(self, kind: str, queue_id: str) -> list[Outcome]:
        check_log_kind(kind)
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
            self._sync(self._data)
        return removed
