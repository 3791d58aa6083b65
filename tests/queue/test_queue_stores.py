"""One suite, run against the file spool, the sqlitedict store and the memory store."""

from __future__ import annotations

import pytest

from mailflow.errors import BadQueueIdError, NoSuchMessage, QueueError
from mailflow.interfaces import QueueName as Q
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient, RecipientState
from mailflow.queue.names import validate_queue_id
from mailflow.queue.store_api import iter_messages


def test_enqueue_returns_a_valid_id_and_read_gives_the_message_back(store, envelope, message):
    """What was enqueued is read back whole, in the queue it was put in."""
    qid = store.enqueue(Q.INCOMING, envelope, message)
    validate_queue_id(qid)
    got = store.read(qid)
    assert got.queue is Q.INCOMING
    assert got.envelope.sender == envelope.sender
    assert got.envelope.recipients == envelope.recipients
    assert got.envelope.queue_id == qid
    assert got.message == message and got.size == len(message.data)


def test_ids_are_unique(store, envelope, message):
    """Many quick enqueues never reuse an ID."""
    ids = [store.enqueue(Q.INCOMING, envelope, message) for _ in range(50)]
    assert len(set(ids)) == 50
    assert sorted(store.ids(Q.INCOMING)) == sorted(ids)


def test_missing_arrival_time_is_stamped(store, message):
    """An envelope without arrival time gets the time of enqueue."""
    qid = store.enqueue(Q.INCOMING, Envelope("a@x", (Recipient("b@y"),)), message)
    assert store.read(qid).envelope.arrival_time > 1e9


def test_read_without_content_keeps_size(store, envelope, message):
    """A head-only read has the envelope and the size but no content."""
    qid = store.enqueue(Q.INCOMING, envelope, message)
    got = store.read(qid, with_content=False)
    assert got.message.data == b"" and got.size == len(message.data)
    assert got.envelope.recipients == envelope.recipients


@pytest.mark.parametrize("src,dst", [
    pytest.param(Q.INCOMING, Q.ACTIVE, id="incoming-to-active"),
    pytest.param(Q.ACTIVE, Q.DEFERRED, id="active-to-deferred-hashed"),
    pytest.param(Q.DEFERRED, Q.HOLD, id="hold"),
    pytest.param(Q.HOLD, Q.DEFERRED, id="release"),
    pytest.param(Q.DEFERRED, Q.MAILDROP, id="requeue"),
])
def test_move_changes_the_queue(store, envelope, message, src, dst):
    """After a move the message is in the new queue only."""
    qid = store.enqueue(src, envelope, message)
    store.move(qid, src, dst)
    assert store.locate(qid) is dst
    assert list(store.ids(src)) == [] and list(store.ids(dst)) == [qid]
    assert store.read(qid, dst).message == message


def test_move_from_the_wrong_queue_raises(store, envelope, message):
    """Moving a message from a queue it is not in raises NoSuchMessage."""
    qid = store.enqueue(Q.INCOMING, envelope, message)
    with pytest.raises(NoSuchMessage):
        store.move(qid, Q.DEFERRED, Q.HOLD)
    assert store.locate(qid) is Q.INCOMING


def test_delete_removes_message_and_logs(store, envelope, message):
    """A deleted message and its defer log are gone."""
    qid = store.enqueue(Q.DEFERRED, envelope, message)
    store.append_log("defer", qid, Outcome(envelope.recipients[0], DsnStatus.parse("4.4.1")))
    store.delete(qid, Q.DEFERRED)
    with pytest.raises(NoSuchMessage):
        store.read(qid)
    assert store.read_log("defer", qid) == []


def test_mark_done_records_each_recipient(store, envelope, message):
    """Delivered and bounced recipients are recorded; deferred ones stay pending."""
    qid = store.enqueue(Q.ACTIVE, envelope, message)
    bob, carol = envelope.recipients
    store.mark_done(qid, Q.ACTIVE, [Outcome(bob, DsnStatus.parse("4.4.1"))])
    assert [r.state for r in store.read(qid).envelope.recipients] == [RecipientState.PENDING] * 2
    store.mark_done(qid, Q.ACTIVE, [Outcome(carol, DsnStatus.parse("5.1.1")),
                                    Outcome(bob, DsnStatus.parse("2.0.0"))])
    assert [r.state for r in store.read(qid).envelope.recipients] == [
        RecipientState.DELIVERED, RecipientState.BOUNCED]
    assert store.read(qid).envelope.pending() == []


def test_duplicate_recipients_are_finished_one_at_a_time(store, message):
    """Two identical recipients need two outcomes to both be done."""
    env = Envelope("a@x", (Recipient("b@y"), Recipient("b@y")), arrival_time=1.0)
    qid = store.enqueue(Q.ACTIVE, env, message)
    store.mark_done(qid, Q.ACTIVE, [Outcome(Recipient("b@y"), DsnStatus.parse("2.0.0"))])
    assert len(store.read(qid).envelope.pending()) == 1


def test_next_attempt_is_kept(store, envelope, message):
    """set_next_attempt is visible on the next read of a deferred message."""
    qid = store.enqueue(Q.DEFERRED, envelope, message)
    store.set_next_attempt(qid, Q.DEFERRED, 1800000000.0)
    assert store.read(qid).next_attempt == pytest.approx(1800000000.0)


def test_expire_marks_the_message(store, envelope, message):
    """postsuper -e's mark survives a move."""
    qid = store.enqueue(Q.DEFERRED, envelope, message)
    assert not store.read(qid).forced_expire
    store.expire(qid, Q.DEFERRED)
    store.move(qid, Q.DEFERRED, Q.ACTIVE)
    assert store.read(qid).forced_expire


def test_logs_append_in_order(store, envelope, message):
    """Each append adds one entry; reading returns them in order."""
    qid = store.enqueue(Q.DEFERRED, envelope, message)
    for code in ("4.4.1", "4.4.2"):
        store.append_log("defer", qid, Outcome(envelope.recipients[0], DsnStatus.parse(code, "why\nnot")))
    got = store.read_log("defer", qid)
    assert [o.status.code for o in got] == ["4.4.1", "4.4.2"]
    assert got[0].status.text == "why\nnot"
    assert store.read_log("bounce", qid) == []


def test_unknown_log_kind_is_refused(store, envelope, message):
    """Only bounce, defer and trace logs exist."""
    qid = store.enqueue(Q.DEFERRED, envelope, message)
    with pytest.raises(QueueError, match="unknown log kind"):
        store.append_log("../x", qid, Outcome(envelope.recipients[0], DsnStatus.parse("4.0.0")))


@pytest.mark.parametrize("bad", ["../../etc/passwd", "%2e%2e", "/etc/passwd", ""])
def test_every_entry_point_refuses_bad_ids(store, bad):
    """Path-like IDs are refused by read, move, delete and the logs."""
    for call in (lambda: store.read(bad), lambda: store.move(bad, Q.HOLD, Q.DEFERRED),
                 lambda: store.delete(bad, Q.HOLD), lambda: store.read_log("defer", bad),
                 lambda: store.locate(bad)):
        with pytest.raises(BadQueueIdError):
            call()


def test_iter_messages_filters_lazily(store, message):
    """iter_messages yields only matching messages, one queue after another."""
    a = store.enqueue(Q.INCOMING, Envelope("a@x", (Recipient("r@y"),)), message)
    b = store.enqueue(Q.DEFERRED, Envelope("b@x", (Recipient("r@y"),)), message)
    it = iter_messages(store, [Q.INCOMING, Q.DEFERRED], match=lambda m: m.envelope.sender == "b@x")
    assert [m.queue_id for m in it] == [b]
    assert {m.queue_id for m in iter_messages(store, [Q.INCOMING, Q.DEFERRED])} == {a, b}


def test_next_attempt_survives_moves_and_only_counts_in_deferred(store, envelope, message):
    """A next-attempt time set in active shows once the message is deferred, and is 0 elsewhere."""
    qid = store.enqueue(Q.ACTIVE, envelope, message)
    store.set_next_attempt(qid, Q.ACTIVE, 1800000000.0)
    assert store.read(qid).next_attempt == 0.0
    store.move(qid, Q.ACTIVE, Q.DEFERRED)
    assert store.read(qid).next_attempt == pytest.approx(1800000000.0)


def test_delay_warned_flag_is_kept_apart_from_expiry(store, envelope, message):
    """set_delay_warned sets only its own flag, and it survives a move."""
    qid = store.enqueue(Q.DEFERRED, envelope, message)
    store.set_delay_warned(qid, Q.DEFERRED)
    store.move(qid, Q.DEFERRED, Q.ACTIVE, sync=False)
    got = store.read(qid)
    assert got.delay_warned and not got.forced_expire


def test_clear_log_removes_one_kind(store, envelope, message):
    """clear_log empties one log and leaves the others."""
    qid = store.enqueue(Q.DEFERRED, envelope, message)
    for kind in ("defer", "bounce"):
        store.append_log(kind, qid, Outcome(envelope.recipients[0], DsnStatus.parse("4.0.0")))
    store.clear_log("defer", qid)
    assert store.read_log("defer", qid) == [] and len(store.read_log("bounce", qid)) == 1


def test_delete_without_sync(store, envelope, message):
    """delete(sync=False) removes the message like delete()."""
    qid = store.enqueue(Q.ACTIVE, envelope, message)
    store.delete(qid, Q.ACTIVE, sync=False)
    with pytest.raises(NoSuchMessage):
        store.locate(qid)
