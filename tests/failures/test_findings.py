"""Regression tests for the paths that could lose or strand mail (issue 10).

Each test here failed before its fix: a bounce dropped when its log write
failed, a sqlite queue that was not durable, pickup hiding errors and
retrying a bad file forever, messages stranded in active/, and delivery
bugs that were only quiet deferrals.
"""

from __future__ import annotations

import contextlib
import errno
import logging

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, RecipientState

from qmgr_harness import Harness


class BounceLogFull(FileQueueStore):
    """A spool whose bounce-log appends fail with ENOSPC while ``full``."""

    full = True

    def append_log(self, kind, queue_id, outcome):
        if kind == "bounce" and self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().append_log(kind, queue_id, outcome)


def test_bounce_is_kept_when_its_log_write_fails(tmp_path, caplog):
    """(1) A bounce whose log write fails (disk full) leaves the recipient pending and the message deferred; once the disk has room the notice goes out."""
    h = Harness(tmp_path, store_class=BounceLogFull)
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown user")
    qid = h.enqueue("b@other.example", "c@other.example")
    seen = {}

    def check_then_free(qm):
        seen["deferred"] = h.ids(QueueName.DEFERRED)
        seen["states"] = [r.state for r in h.store.read(qid).envelope.recipients]
        seen["notices"] = len(h.notices)
        h.store.full = False
        h.retry_later(qm)
    h.drive(check_then_free)
    assert seen == {"deferred": [qid], "states": [RecipientState.PENDING] * 2, "notices": 0}
    assert any(f"{qid}: cannot record delivery status" in r.getMessage() and "No space left" in r.getMessage()
               for r in caplog.records)
    [(env, msg)] = h.notices
    assert env.recipients[0].address == "a@sender.example"
    assert b"<b@other.example>: unknown user" in msg.data and b"<c@other.example>: unknown user" in msg.data
    assert h.ids(QueueName.DEFERRED) == h.ids(QueueName.ACTIVE) == h.ids(QueueName.INCOMING) == []


def _pragma(table, name):
    return table.conn.select_one(f"PRAGMA {name}")[0]


def test_sqlite_queue_store_commits_durably(tmp_path):
    """(2) Every connection of the sqlite queue store runs with synchronous=FULL in WAL mode (NORMAL would lose the last commits in a power cut), and a write is on disk when the call returns."""
    import sqlite3
    from mailflow.adapters.sqlite_queue_store import SqliteQueueStore
    from mailflow.model import Envelope, Message, Recipient
    store = SqliteQueueStore(tmp_path / "queue.db")
    try:
        tables = (store._index, store._data, store._logs)
        assert [_pragma(t, "synchronous") for t in tables] == [2, 2, 2]      # 2 = FULL
        assert [_pragma(t, "journal_mode") for t in tables] == ["wal"] * 3
        ids = [store.enqueue(QueueName.INCOMING, Envelope("a@x.example", (Recipient("b@x.example"),)),
                             Message(b"Subject: %d\n\nx\n" % n)) for n in range(20)]
        # Another connection (another process after a crash) sees every
        # acknowledged message at once: nothing is still queued in a thread.
        with contextlib.closing(sqlite3.connect(tmp_path / "queue.db")) as db, db:
            rows = dict(db.execute('SELECT key, value FROM "index"').fetchall())
            data = {k for (k,) in db.execute('SELECT key FROM "data"').fetchall()}
        assert set(ids) <= set(rows) and set(ids) <= data
    finally:
        store.close()


# --- (3) pickup ------------------------------------------------------------------

import attrs as _attrs  # noqa: E402

from mailflow.config import Config  # noqa: E402
from mailflow.model import Envelope, Message, Recipient  # noqa: E402
from mailflow.services import pickup as pickup_mod  # noqa: E402
from mailflow.services.pickup import PassThroughCleanup, Pickup, PickupReply  # noqa: E402

ENVELOPE = Envelope("a@example.com", (Recipient("b@example.com"),))
MESSAGE = Message(b"Subject: hi\n\nhello\n")


@_attrs.define
class AnswerCleanup(PassThroughCleanup):
    """cleanup that answers mail from pickup with ``answer`` (a reply, or an
    exception to raise) and queues notices (origin bounce) unchanged."""

    store: object
    answer: object
    notices: list = _attrs.field(factory=list)

    def submit(self, envelope, message, *, origin="pickup", **info):
        if origin == "bounce":
            self.notices.append((envelope, message))
            return super().submit(envelope, message)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def spool(tmp_path):
    store = FileQueueStore(tmp_path / "spool")
    return store, store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)


def test_pickup_logs_a_cleanup_failure_and_keeps_the_file(tmp_path, caplog):
    """(3) cleanup's temporary failure is logged with its status (the log call used an undefined name) and the maildrop file stays."""
    store, qid = spool(tmp_path)
    cleanup = AnswerCleanup(store, PickupReply(None, DsnStatus("4.3.0", "queue file write error"), "defer"))
    assert Pickup(Config(), store, cleanup=cleanup).drain() == 0
    assert list(store.ids(QueueName.MAILDROP)) == [qid]
    messages = [r.getMessage() for r in caplog.records]
    assert f"{qid}: cleanup failed: 4.3.0 queue file write error; will try again" in messages
    assert not any("NameError" in m for m in messages)


def test_pickup_logs_a_programming_error_with_its_traceback(tmp_path, caplog):
    """(3) A bug met while handling a file is logged at error level with its traceback, not hidden in a warning."""
    store, qid = spool(tmp_path)
    cleanup = AnswerCleanup(store, TypeError("unsupported operand"))
    assert Pickup(Config(), store, cleanup=cleanup).drain() == 0
    [rec] = [r for r in caplog.records if qid in r.getMessage()]
    assert rec.levelno == logging.ERROR and rec.exc_info and rec.exc_info[0] is TypeError
    assert list(store.ids(QueueName.MAILDROP)) == [qid]


def test_a_file_that_keeps_failing_goes_to_corrupt(tmp_path, caplog):
    """(3) A maildrop file that fails every time is moved to corrupt/ with a log line after a bounded number of tries; the others go on."""
    store, bad = spool(tmp_path)

    class OneBadFile(AnswerCleanup):
        def submit(self, envelope, message, *, origin="pickup", **info):
            if message.data.startswith(b"Subject: no"):
                raise ValueError("cannot handle this message")
            return PassThroughCleanup.submit(self, envelope, message)
    with open(store.path(bad, QueueName.MAILDROP), "rb") as fh:
        data = fh.read()
    with open(store.path(bad, QueueName.MAILDROP), "wb") as fh:
        fh.write(data.replace(b"Subject: hi", b"Subject: no"))
    p = Pickup(Config(), store, cleanup=OneBadFile(store, None))
    for n in range(pickup_mod.MAX_TRIES - 1):
        store.enqueue(QueueName.MAILDROP, ENVELOPE, MESSAGE)
        assert p.drain() == 1
        assert list(store.ids(QueueName.MAILDROP)) == [bad]
    p.drain()
    assert list(store.ids(QueueName.MAILDROP)) == [] and list(store.ids(QueueName.CORRUPT)) == [bad]
    assert len(list(store.ids(QueueName.INCOMING))) == pickup_mod.MAX_TRIES - 1
    assert any(r.getMessage().startswith(f"{bad}: maildrop file failed {pickup_mod.MAX_TRIES} times")
               and "moved to the corrupt queue" in r.getMessage() for r in caplog.records)


def test_a_spool_error_never_sends_a_file_to_corrupt(tmp_path):
    """A file that fails because the spool cannot be written (disk full) is not its own fault: it stays in maildrop however often it is tried."""
    store, qid = spool(tmp_path)
    cleanup = AnswerCleanup(store, OSError(errno.ENOSPC, "No space left on device"))
    p = Pickup(Config(), store, cleanup=cleanup)
    for _ in range(pickup_mod.MAX_TRIES * 2):
        p.drain()
    assert list(store.ids(QueueName.MAILDROP)) == [qid] and list(store.ids(QueueName.CORRUPT)) == []


def test_rejected_message_without_a_bounce_service_is_returned(tmp_path, caplog):
    """(3) A message cleanup rejects at pickup, with no bounce hook, is returned to its sender before its maildrop file is removed."""
    caplog.set_level(logging.INFO)
    store, qid = spool(tmp_path)
    cleanup = AnswerCleanup(store, PickupReply(None, DsnStatus("5.7.1", "message content rejected"), "reject"))
    assert Pickup(Config(myhostname="mx.example.com"), store, cleanup=cleanup).drain() == 0
    [(env, msg)] = cleanup.notices
    assert env.sender == "" and [r.address for r in env.recipients] == ["a@example.com"]
    assert b"message content rejected" in msg.data
    assert list(store.ids(QueueName.MAILDROP)) == [] and len(list(store.ids(QueueName.INCOMING))) == 1
    assert any("sender non-delivery notification" in r.getMessage() for r in caplog.records)


def test_rejected_message_stays_when_its_notice_cannot_be_queued(tmp_path):
    """(3) A rejected message whose notice cannot be queued (disk full) is never deleted: it waits in maildrop."""
    store, qid = spool(tmp_path)

    class NoRoom(AnswerCleanup):
        def submit(self, envelope, message, *, origin="pickup", **info):
            if origin == "bounce":
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().submit(envelope, message, origin=origin, **info)
    cleanup = NoRoom(store, PickupReply(None, DsnStatus("5.7.1", "message content rejected"), "reject"))
    assert Pickup(Config(), store, cleanup=cleanup).drain() == 0
    assert list(store.ids(QueueName.MAILDROP)) == [qid]


# --- (4) nothing stranded in active/ ------------------------------------------------

class MoveFails(FileQueueStore):
    """A spool whose moves from ``src`` to ``dst`` fail ``times`` times (EIO)."""

    route = (QueueName.ACTIVE, QueueName.DEFERRED)
    times = 2

    def move(self, queue_id, src, dst, *, sync=True):
        if (src, dst) == self.route and self.times > 0:
            self.times -= 1
            raise OSError(errno.EIO, "Input/output error")
        super().move(queue_id, src, dst, sync=sync)


def test_message_that_cannot_leave_active_is_moved_at_the_next_run(tmp_path, caplog):
    """(4) A deferred message whose move to deferred/ fails (and whose fallback move fails too) does not wait in active/ for a restart: it is moved at the next queue run, with a log line."""
    h = Harness(tmp_path, store_class=MoveFails)
    h.rec.answer = lambda a: DsnStatus("4.4.1", "connection refused")
    qid = h.enqueue("b@other.example")
    seen = []
    h.drive(lambda qm: (seen.append(h.ids(QueueName.ACTIVE)), qm.wake(b"I")))
    assert seen == [[qid]]
    assert h.ids(QueueName.ACTIVE) == [] and h.ids(QueueName.DEFERRED) == [qid]
    assert any(f"{qid}: cannot move to the deferred queue" in r.getMessage() and "will try again" in r.getMessage()
               for r in caplog.records)


def test_activation_whose_move_back_fails_is_retried(tmp_path, caplog):
    """(4) When activation fails after the move and the move back fails too, the message is moved back at the next run and then delivered."""
    class Both(MoveFails):
        route = (QueueName.ACTIVE, QueueName.INCOMING)
        times = 1
        failed = False

        def read_log(self, kind, queue_id):
            if kind == "defer" and not self.failed:
                self.failed = True
                raise OSError(errno.EIO, "Input/output error")
            return super().read_log(kind, queue_id)
    h = Harness(tmp_path, store_class=Both)
    qid = h.enqueue("b@other.example")
    h.drive(lambda qm: qm.wake(b"I"), lambda qm: qm.wake(b"I"))
    assert h.rec.delivered_to == ["b@other.example"]
    assert h.ids(QueueName.ACTIVE) == h.ids(QueueName.INCOMING) == []
    assert any(f"{qid}: cannot move to the incoming queue" in r.getMessage() for r in caplog.records)


# --- (5) bugs in delivery are seen ----------------------------------------------------

def test_a_bug_in_an_agent_is_deferred_and_logged_with_its_traceback(tmp_path, caplog):
    """(5) An agent that raises a programming error defers its recipients with 4.3.0 (as before) and the error is logged at error level with its traceback."""
    h = Harness(tmp_path)
    h.rec.answer = lambda a: KeyError("transport")
    qid = h.enqueue("b@other.example")
    h.drive()
    assert h.ids(QueueName.DEFERRED) == [qid]
    [entry] = h.store.read_log("defer", qid)
    assert entry.status.code == "4.3.0" and "delivery agent failed" in entry.status.text
    [rec] = [r for r in caplog.records
             if r.name == "mailflow.qmgr" and "delivery agent failed" in r.getMessage()]
    assert rec.levelno == logging.ERROR and rec.exc_info[0] is KeyError


def test_an_agent_io_error_is_a_plain_warning(tmp_path, caplog):
    """An agent's I/O error (a refused connection, a full disk) is an expected failure: a warning without a traceback."""
    h = Harness(tmp_path)
    h.rec.answer = lambda a: ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    h.enqueue("b@other.example")
    h.drive()
    [rec] = [r for r in caplog.records
             if r.name == "mailflow.qmgr" and "delivery agent failed" in r.getMessage()]
    assert rec.levelno == logging.WARNING and not rec.exc_info
