"""mailflow postqueue: -p and -j listings from a real spool, flush requests, usage errors."""

from __future__ import annotations

import json
import os
import time

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName as Q
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient


@pytest.fixture
def spool(config_dir) -> FileQueueStore:
    """The file spool named by the test config."""
    return FileQueueStore(config_dir.parent / "spool")


def _put(spool, queue, sender="a@example.com", rcpts=("b@example.net",), body=b"Subject: x\n\nhi\n"):
    env = Envelope(sender, tuple(Recipient(r) for r in rcpts))
    return spool.enqueue(queue, env, Message(body))


def test_empty_queue(run_cli, config_dir, spool):
    """An empty spool prints Postfix's one line."""
    r = run_cli("-c", config_dir, "postqueue", "-p")
    assert (r.status, r.out) == (0, "Mail queue is empty\n")


def test_listing_shows_every_queue_with_marks_and_reasons(run_cli, config_dir, spool):
    """Active (*), hold (!) and deferred mail with its reason all show, then the trailer."""
    active = _put(spool, Q.ACTIVE)
    held = _put(spool, Q.HOLD, sender="")
    deferred = _put(spool, Q.DEFERRED, rcpts=("c@example.org", "d@example.org"))
    spool.append_log("defer", deferred, Outcome(Recipient("c@example.org"),
                                                DsnStatus.parse("4.4.1", "connection refused")))
    r = run_cli("-c", config_dir, "postqueue", "-p")
    lines = r.out.split("\n")
    assert lines[0] == "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------"
    assert any(line.startswith(active + "*") for line in lines)
    assert any(line.startswith(held + "!") and line.endswith(" MAILER-DAEMON") for line in lines)
    assert " " * 23 + "(connection refused)" in lines
    assert lines.index(" " * 23 + "(connection refused)") < lines.index(" " * 47 + "c@example.org")
    assert r.out.endswith("-- 0 Kbytes in 3 Requests.\n")


def test_json_has_postfix_field_names(run_cli, config_dir, spool):
    """-j prints one JSON object per message with Postfix's keys."""
    qid = _put(spool, Q.DEFERRED)
    spool.append_log("defer", qid, Outcome(Recipient("b@example.net"), DsnStatus.parse("4.4.1", "refused")))
    r = run_cli("-c", config_dir, "postqueue", "-j")
    (obj,) = [json.loads(line) for line in r.out.splitlines()]
    assert list(obj) == ["queue_name", "queue_id", "arrival_time", "message_size",
                         "forced_expire", "sender", "recipients"]
    assert obj["queue_name"] == "deferred" and obj["queue_id"] == qid
    assert obj["recipients"] == [{"address": "b@example.net", "delay_reason": "refused"}]
    assert obj["message_size"] == len(b"Subject: x\n\nhi\n")


def test_corrupt_file_does_not_stop_the_listing(run_cli, config_dir, spool):
    """A damaged queue file is skipped (and moved to corrupt/); the rest still lists."""
    bad = _put(spool, Q.DEFERRED)
    good = _put(spool, Q.DEFERRED)
    with open(spool.path(bad, Q.DEFERRED), "r+b") as fh:
        fh.write(b"garbage")
    r = run_cli("-c", config_dir, "postqueue", "-p")
    assert good in r.out and bad not in r.out
    assert spool.locate(bad) is Q.CORRUPT


def test_flush_when_nothing_listens_says_the_system_is_down(run_cli, config_dir, spool):
    """-f with no running qmgr exits 69 with Postfix's message."""
    r = run_cli("-c", config_dir, "postqueue", "-f")
    assert r.status == 69
    assert "Cannot flush mail queue - mail system is down" in r.err


def test_flush_writes_the_request_to_a_listening_qmgr(run_cli, config_dir, spool):
    """-f writes Postfix's flush request into the qmgr wake-up FIFO."""
    fifo = os.path.join(spool.queue_directory, "public", "qmgr")
    os.makedirs(os.path.dirname(fifo), exist_ok=True)
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        r = run_cli("-c", config_dir, "postqueue", "-f")
        assert r.status == 0, r.err
        assert os.read(reader, 100) == b"FADI"
    finally:
        os.close(reader)


def test_flush_one_id_makes_it_due_now(run_cli, config_dir, spool):
    """-i ID sets the deferred message's next attempt to now."""
    qid = _put(spool, Q.DEFERRED)
    spool.set_next_attempt(qid, Q.DEFERRED, time.time() + 3600)
    before = time.time()
    r = run_cli("-c", config_dir, "postqueue", "-i", qid)
    assert r.status == 0
    assert spool.read(qid).next_attempt <= time.time() and spool.read(qid).next_attempt >= before - 1


def test_flush_site_touches_only_that_destination(run_cli, config_dir, spool):
    """-s SITE makes due only deferred mail with a recipient at SITE."""
    there = _put(spool, Q.DEFERRED, rcpts=("x@Site.example",))
    elsewhere = _put(spool, Q.DEFERRED, rcpts=("x@other.example",))
    later = time.time() + 3600
    for qid in (there, elsewhere):
        spool.set_next_attempt(qid, Q.DEFERRED, later)
    assert run_cli("-c", config_dir, "postqueue", "-s", "site.example").status == 0
    assert spool.read(there).next_attempt < later - 60
    assert spool.read(elsewhere).next_attempt == pytest.approx(later)


@pytest.mark.parametrize("args", [
    pytest.param([], id="no-mode"),
    pytest.param(["-p", "-j"], id="two-modes"),
    pytest.param(["-x"], id="bad-flag"),
    pytest.param(["-p", "extra"], id="stray-argument"),
])
def test_usage_errors(run_cli, config_dir, args):
    """Anything but exactly one mode is a usage error (64) with Postfix's usage line."""
    r = run_cli("-c", config_dir, "postqueue", *args)
    assert r.status == 64
    assert "usage: postqueue" in r.err


@pytest.mark.parametrize("bad", ["../../etc/passwd", "%2e%2e", "/etc/passwd"])
def test_flush_id_refuses_path_traversal(run_cli, config_dir, bad):
    """-i with a path-like ID is refused with a clear error."""
    r = run_cli("-c", config_dir, "postqueue", "-i", bad)
    assert r.status == 64 and "invalid queue ID" in r.err
