"""mailflow postsuper: delete, hold, release, requeue, expire, purge and repair, with Postfix's lines."""

from __future__ import annotations

import os

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.errors import NoSuchMessage
from mailflow.interfaces import QueueName as Q
from mailflow.model import Envelope, Message, Recipient

# The expected stderr lines are Postfix 3.7.11's, taken from a private instance
# with `postsuper -c DIR -d ID`, `-h ID`, `-H ALL`, `-e ID`, `-d NOSUCHID0`,
# `-d ../etc` and `-d ALL bogus` (e.g. "postsuper: Deleted: 0 messages",
# "postsuper: warning: invalid mail queue id: ../etc",
# "postsuper: fatal: invalid directory name: bogus", exit 1), and
# `postsuper -s` on a file named 12345 ("Renamed to match inode number: 1 message").


@pytest.fixture
def spool(config_dir) -> FileQueueStore:
    """The file spool named by the test config."""
    return FileQueueStore(config_dir.parent / "spool")


def _put(spool, queue):
    return spool.enqueue(queue, Envelope("a@x.test", (Recipient("b@y.test"),)), Message(b"S: x\n\nb\n"))


def test_delete_one(run_cli, config_dir, spool):
    """-d ID removes the message and prints Postfix's two lines."""
    qid = _put(spool, Q.DEFERRED)
    r = run_cli("-c", config_dir, "postsuper", "-d", qid)
    assert r.status == 0
    assert r.err == f"postsuper: {qid}: removed\npostsuper: Deleted: 1 message\n"
    with pytest.raises(NoSuchMessage):
        spool.locate(qid)


def test_delete_all(run_cli, config_dir, spool):
    """-d ALL empties every queue, including active, and counts them."""
    for q in (Q.INCOMING, Q.ACTIVE, Q.DEFERRED, Q.HOLD, Q.MAILDROP):
        _put(spool, q)
    r = run_cli("-c", config_dir, "postsuper", "-d", "ALL")
    assert r.err.endswith("postsuper: Deleted: 5 messages\n")
    assert all(list(spool.ids(q)) == [] for q in Q)


def test_delete_all_in_one_queue(run_cli, config_dir, spool):
    """-d ALL deferred leaves the other queues alone."""
    keep = _put(spool, Q.HOLD)
    _put(spool, Q.DEFERRED)
    _put(spool, Q.DEFERRED)
    r = run_cli("-c", config_dir, "postsuper", "-d", "ALL", "deferred")
    assert r.err.endswith("postsuper: Deleted: 2 messages\n")
    assert list(spool.ids(Q.HOLD)) == [keep]


def test_delete_ids_from_stdin(run_cli, config_dir, spool):
    """-d - reads queue IDs one per line."""
    ids = [_put(spool, Q.DEFERRED) for _ in range(3)]
    r = run_cli("-c", config_dir, "postsuper", "-d", "-", stdin="\n".join(ids[:2]) + "\n")
    assert r.err.endswith("postsuper: Deleted: 2 messages\n")
    assert list(spool.ids(Q.DEFERRED)) == [ids[2]]


def test_delete_unknown_id_counts_zero(run_cli, config_dir, spool):
    """An ID that is in no queue is not an error; Postfix reports 0 messages."""
    r = run_cli("-c", config_dir, "postsuper", "-d", "4jcpB45NThzJBkk")
    assert (r.status, r.err) == (0, "postsuper: Deleted: 0 messages\n")


@pytest.mark.parametrize("bad", ["../../etc/passwd", "%2e%2e", "/etc/passwd", "..", "a/b"])
def test_path_traversal_is_refused(run_cli, config_dir, spool, tmp_path, bad):
    """Path-like IDs get Postfix's warning plus the reason, and nothing outside the spool is touched."""
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    r = run_cli("-c", config_dir, "postsuper", "-d", bad)
    assert f"postsuper: warning: invalid mail queue id: {bad} (" in r.err
    assert "Deleted: 0 messages" in r.err
    assert victim.read_text() == "keep me"


def test_hold_and_release(run_cli, config_dir, spool):
    """-h moves to hold; -H moves from hold to deferred."""
    qid = _put(spool, Q.INCOMING)
    r = run_cli("-c", config_dir, "postsuper", "-h", qid)
    assert r.err == f"postsuper: {qid}: placed on hold\npostsuper: Placed on hold: 1 message\n"
    assert spool.locate(qid) is Q.HOLD
    r = run_cli("-c", config_dir, "postsuper", "-H", qid)
    assert r.err == f"postsuper: {qid}: released from hold\npostsuper: Released from hold: 1 message\n"
    assert spool.locate(qid) is Q.DEFERRED


def test_hold_all_takes_active_mail_too(run_cli, config_dir, spool):
    """-h ALL holds incoming, active and deferred mail, not maildrop."""
    ids = [_put(spool, q) for q in (Q.INCOMING, Q.ACTIVE, Q.DEFERRED)]
    drop = _put(spool, Q.MAILDROP)
    r = run_cli("-c", config_dir, "postsuper", "-h", "ALL")
    assert r.err.endswith("postsuper: Placed on hold: 3 messages\n")
    assert sorted(spool.ids(Q.HOLD)) == sorted(ids)
    assert spool.locate(drop) is Q.MAILDROP


def test_requeue_goes_back_through_maildrop(run_cli, config_dir, spool):
    """-r moves the message to maildrop so pickup and cleanup see it again."""
    qid = _put(spool, Q.DEFERRED)
    r = run_cli("-c", config_dir, "postsuper", "-r", qid)
    assert r.err == f"postsuper: {qid}: requeued\npostsuper: Requeued: 1 message\n"
    assert spool.locate(qid) is Q.MAILDROP


def test_expire_marks_and_f_also_releases(run_cli, config_dir, spool):
    """-e marks for expiry in place; -f also releases a held message."""
    deferred, held = _put(spool, Q.DEFERRED), _put(spool, Q.HOLD)
    r = run_cli("-c", config_dir, "postsuper", "-e", deferred)
    assert r.err == f"postsuper: {deferred}: expired\npostsuper: Force-expired: 1 message\n"
    assert spool.read(deferred).forced_expire and spool.locate(deferred) is Q.DEFERRED
    r = run_cli("-c", config_dir, "postsuper", "-f", held)
    assert "Force-expired: 1 message" in r.err and "Released from hold: 1 message" in r.err
    assert spool.read(held).forced_expire and spool.locate(held) is Q.DEFERRED


def test_purge_removes_dead_writers_temp_files(run_cli, config_dir, spool):
    """-p removes temp files of writers that are gone, and says how many."""
    stale = os.path.join(spool.queue_directory, "incoming", ".tmp.999999999.1")
    open(stale, "wb").close()
    r = run_cli("-c", config_dir, "postsuper", "-p")
    assert r.status == 0 and "Removed: 1 temporary file" in r.err
    assert not os.path.exists(stale)


def test_structure_repair_renames_foreign_names(run_cli, config_dir, spool):
    """-s gives a misnamed queue file a valid ID, with Postfix's summary and warning."""
    qid = _put(spool, Q.DEFERRED)
    os.rename(spool.path(qid, Q.DEFERRED), os.path.join(spool.queue_directory, "deferred", "12345"))
    r = run_cli("-c", config_dir, "postsuper", "-s")
    assert "postsuper: Renamed to match inode number: 1 message" in r.err
    assert "QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS" in r.err
    assert len(list(spool.ids(Q.DEFERRED))) == 1


def test_bad_queue_name_is_fatal(run_cli, config_dir, spool):
    """An unknown queue name stops with Postfix's message and exit 1."""
    r = run_cli("-c", config_dir, "postsuper", "-d", "ALL", "bogus")
    assert (r.status, r.err) == (1, "postsuper: fatal: invalid directory name: bogus\n")


def test_bad_flag_is_a_usage_error(run_cli, config_dir):
    """An unknown flag exits 64 with the usage line."""
    r = run_cli("-c", config_dir, "postsuper", "-Z")
    assert r.status == 64 and "usage: postsuper" in r.err


def test_a_message_moved_meanwhile_is_still_found(config_dir, spool, monkeypatch, capsys):
    """If the mail system moves a message between look-up and change, postsuper looks again."""
    from mailflow.cli.postsuper import Super
    qid = _put(spool, Q.INCOMING)
    real_delete = spool.delete
    moved = []

    def delete_after_a_move(queue_id, queue, **kw):
        if not moved:            # the queue manager takes it first
            spool.move(queue_id, Q.INCOMING, Q.ACTIVE)
            moved.append(True)
        return real_delete(queue_id, queue, **kw)

    monkeypatch.setattr(spool, "delete", delete_after_a_move)
    assert Super(spool).delete(qid, ["incoming", "active"]) is True
    with pytest.raises(NoSuchMessage):
        spool.locate(qid)
