"""Regression tests for the paths that could lose or strand mail (issue 10).

Each test here failed before its fix: a bounce dropped when its log write
failed, a sqlite queue that was not durable, pickup hiding errors and
retrying a bad file forever, messages stranded in active/, and delivery
bugs that were only quiet deferrals.
"""

from __future__ import annotations

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
        with sqlite3.connect(tmp_path / "queue.db") as db:
            rows = dict(db.execute('SELECT key, value FROM "index"').fetchall())
            data = {k for (k,) in db.execute('SELECT key FROM "data"').fetchall()}
        assert set(ids) <= set(rows) and set(ids) <= data
    finally:
        store.close()
