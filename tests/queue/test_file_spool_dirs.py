"""The file spool's remembered names and directories stay right when the spool changes behind it."""

from __future__ import annotations

import os
import shutil

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.errors import BadQueueIdError, NoSuchMessage
from mailflow.interfaces import QueueName as Q
from mailflow.model import DsnStatus, Outcome, Recipient

FIXED_NS = 1_700_000_000_123_456_000     # one instant: every ID hashes to the same sub-directory


@pytest.fixture
def spool(tmp_path) -> FileQueueStore:
    """A file spool with Postfix's default hashing and a fixed clock."""
    return FileQueueStore(tmp_path / "spool", clock=lambda: FIXED_NS)


def _hashed_dir(spool: FileQueueStore, queue_id: str, queue: str) -> str:
    return os.path.dirname(spool.path(queue_id, queue))


def test_move_remakes_a_removed_hashed_directory(spool, envelope, message):
    """A move into a hashed sub-directory removed after earlier use makes it again."""
    qid = spool.enqueue(Q.INCOMING, envelope, message)
    spool.move(qid, Q.INCOMING, Q.DEFERRED)
    spool.move(qid, Q.DEFERRED, Q.INCOMING)
    shutil.rmtree(_hashed_dir(spool, qid, Q.DEFERRED))
    spool.move(qid, Q.INCOMING, Q.DEFERRED)
    assert os.path.isfile(spool.path(qid, Q.DEFERRED))


def test_enqueue_remakes_a_removed_hashed_directory(spool, envelope, message):
    """An enqueue into a hashed sub-directory removed after earlier use makes it again."""
    first = spool.enqueue(Q.DEFERRED, envelope, message)
    spool.delete(first, Q.DEFERRED)
    shutil.rmtree(_hashed_dir(spool, first, Q.DEFERRED))
    second = spool.enqueue(Q.DEFERRED, envelope, message)
    assert spool.read(second, Q.DEFERRED).envelope.sender == envelope.sender


def test_append_log_remakes_a_removed_log_directory(spool, envelope, message):
    """A defer log is written even when its hashed sub-directory was removed after earlier use."""
    qid = spool.enqueue(Q.INCOMING, envelope, message)
    outcome = Outcome(Recipient("bob@example.net"), DsnStatus.parse("4.0.0", "try later"))
    spool.append_log("defer", qid, outcome)
    shutil.rmtree(_hashed_dir(spool, qid, "defer"))
    spool.append_log("defer", qid, outcome)
    assert len(spool.read_log("defer", qid)) == 1


def test_move_of_a_missing_message_into_a_removed_directory_says_no_such_message(spool, envelope, message):
    """A missing message is still reported as missing when its target directory was also gone."""
    qid = spool.enqueue(Q.INCOMING, envelope, message)
    spool.move(qid, Q.INCOMING, Q.DEFERRED)
    shutil.rmtree(_hashed_dir(spool, qid, Q.DEFERRED))
    with pytest.raises(NoSuchMessage):
        spool.move(qid, Q.INCOMING, Q.DEFERRED)


@pytest.mark.parametrize("queue", [Q.INCOMING, Q.ACTIVE, Q.DEFERRED, Q.HOLD], ids=lambda q: q.value)
def test_delete_removes_logs_another_store_wrote(tmp_path, envelope, message, queue):
    """Logs written through another store (another process) go with the message."""
    writer = FileQueueStore(tmp_path / "spool")
    remover = FileQueueStore(tmp_path / "spool")
    qid = writer.enqueue(queue, envelope, message)
    remover.read(qid, queue)                         # the remover has seen the message before
    for kind in ("bounce", "defer", "trace"):
        writer.append_log(kind, qid, Outcome(Recipient("bob@example.net"), DsnStatus.parse("5.0.0", "no")))
    remover.delete(qid, queue)
    assert [remover.read_log(kind, qid) for kind in ("bounce", "defer", "trace")] == [[], [], []]


@pytest.mark.parametrize("bad", ["../4SVLCh0sf8z1c9", "4SVLCh0sf8z1c9/", ".", ""],
                         ids=["dot-dot", "slash", "dot", "empty"])
def test_bad_ids_are_refused_after_good_ones_were_used(spool, envelope, message, bad):
    """Names are remembered only for valid IDs: a bad one is refused however often it is asked."""
    qid = spool.enqueue(Q.INCOMING, envelope, message)
    spool.read(qid, Q.INCOMING)
    for _ in range(2):
        with pytest.raises(BadQueueIdError):
            spool.path(bad, Q.INCOMING)
