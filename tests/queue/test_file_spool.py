"""What only the file spool does: Postfix's layout, temp files, corrupt files, repair."""

from __future__ import annotations

import logging
import os

import pytest

from mailflow.adapters.queue_store import FileQueueStore, QUEUE_DIRS
from mailflow.errors import NoSuchMessage, QueueFileCorrupt
from mailflow.interfaces import QueueName as Q
from mailflow.queue.names import hash_dirs


@pytest.fixture
def spool(tmp_path) -> FileQueueStore:
    """A file spool under tmp_path with Postfix's default hashing."""
    return FileQueueStore(tmp_path / "spool")


def test_creates_postfix_queue_directories(spool):
    """All of Postfix's queue and log directories exist after opening."""
    assert set(QUEUE_DIRS) <= set(os.listdir(spool.queue_directory))
    assert {"maildrop", "incoming", "active", "deferred", "hold", "corrupt", "bounce", "defer"} <= set(QUEUE_DIRS)


def test_deferred_is_hashed_incoming_is_flat(spool, envelope, message):
    """Queues in hash_queue_names get one-character subdirectories; others do not."""
    qid = spool.enqueue(Q.INCOMING, envelope, message)
    assert os.path.isfile(os.path.join(spool.queue_directory, "incoming", qid))
    spool.move(qid, Q.INCOMING, Q.DEFERRED)
    sub = hash_dirs(qid, 1)[0]
    assert os.path.isfile(os.path.join(spool.queue_directory, "deferred", sub, qid))


def test_file_mode_is_private(spool, envelope, message):
    """Queue files are created mode 0600 (no group-execute bit: not expired)."""
    qid = spool.enqueue(Q.INCOMING, envelope, message)
    assert os.stat(spool.path(qid, Q.INCOMING)).st_mode & 0o777 == 0o600


def test_temp_files_are_invisible_and_purged(spool, envelope, message):
    """A leftover temp file of a dead writer is not listed and postsuper -p removes it."""
    qid = spool.enqueue(Q.MAILDROP, envelope, message)
    stale = os.path.join(spool.queue_directory, "maildrop", ".tmp.999999999.0")
    with open(stale, "wb") as fh:
        fh.write(b"MAILFLOW-QUEUE 1\nT 1")
    assert list(spool.ids(Q.MAILDROP)) == [qid]
    assert spool.purge_temp() == 1
    assert not os.path.exists(stale)
    assert os.path.exists(spool.path(qid, Q.MAILDROP))


def test_temp_file_of_a_live_writer_is_kept(spool):
    """A fresh temp file whose writer still runs is left alone."""
    live = os.path.join(spool.queue_directory, "incoming", f".tmp.{os.getpid()}.12345")
    open(live, "wb").close()
    assert spool.purge_temp() == 0
    assert os.path.exists(live)


def test_corrupt_file_moves_to_corrupt_with_a_log_line(spool, envelope, message, caplog):
    """A file that does not decode is moved to corrupt/ and logged; other messages still read."""
    bad = spool.enqueue(Q.DEFERRED, envelope, message)
    good = spool.enqueue(Q.DEFERRED, envelope, message)
    with open(spool.path(bad, Q.DEFERRED), "r+b") as fh:
        fh.truncate(30)
    with caplog.at_level(logging.WARNING, logger="mailflow.queue"):
        with pytest.raises(QueueFileCorrupt):
            spool.read(bad, Q.DEFERRED)
    assert f"{bad}: queue file" in caplog.text and "corrupt" in caplog.text
    assert spool.locate(bad) is Q.CORRUPT
    assert spool.read(good).message == message
    with pytest.raises(QueueFileCorrupt):      # still corrupt, and stays where it is
        spool.read(bad)
    assert spool.locate(bad) is Q.CORRUPT


def test_next_attempt_is_the_file_mtime(spool, envelope, message):
    """Like Postfix, a deferred file's mtime is its next-attempt time."""
    qid = spool.enqueue(Q.DEFERRED, envelope, message)
    spool.set_next_attempt(qid, Q.DEFERRED, 1800000000)
    assert os.stat(spool.path(qid, Q.DEFERRED)).st_mtime == 1800000000


def test_expire_sets_the_group_execute_bit(spool, envelope, message):
    """Forced expiry is the group-execute bit, as in Postfix 3.5+ (ls -l after postsuper -e: -rwx--x---)."""
    qid = spool.enqueue(Q.DEFERRED, envelope, message)
    spool.expire(qid, Q.DEFERRED)
    assert os.stat(spool.path(qid, Q.DEFERRED)).st_mode & 0o010


def test_repair_moves_files_after_a_hash_depth_change(tmp_path, envelope, message):
    """After hash_queue_depth changes, repair puts each file where its name says."""
    old = FileQueueStore(tmp_path / "spool", hash_queue_depth=1)
    qid = old.enqueue(Q.DEFERRED, envelope, message)
    new = FileQueueStore(tmp_path / "spool", hash_queue_depth=2)
    with pytest.raises(NoSuchMessage):
        new.read(qid, Q.DEFERRED)
    assert new.repair() == {"moved": 1, "renamed": 0}
    assert new.read(qid, Q.DEFERRED).message == message


def test_repair_renames_a_file_with_a_foreign_name(spool, envelope, message):
    """A queue file whose name is not a queue ID gets a fresh valid ID."""
    qid = spool.enqueue(Q.HOLD, envelope, message)
    os.rename(spool.path(qid, Q.HOLD), os.path.join(spool.queue_directory, "hold", "restored-file"))
    assert spool.repair()["renamed"] == 1
    (new_id,) = list(spool.ids(Q.HOLD))
    assert spool.read(new_id).message == message


def test_without_fsync_still_works(tmp_path, envelope, message):
    """fsync=False (for throwaway spools) writes the same files."""
    s = FileQueueStore(tmp_path / "s", fsync=False)
    qid = s.enqueue(Q.INCOMING, envelope, message)
    assert s.read(qid).message == message
