"""The caller-chosen queue ID rule, run against all three stores.

``enqueue`` files a message under ``envelope.queue_id`` when it is set,
refuses an ID a queued message already has (in any queue) and refuses text
that is not a queue ID; with no ID set, the store picks one.
"""

from __future__ import annotations

import attrs
import pytest

from mailflow.errors import BadQueueIdError, QueueIdInUse
from mailflow.interfaces import QueueName as Q
from mailflow.queue.store_api import QueueIdSource


def test_chosen_id_is_the_queue_id(store, envelope, message):
    """An envelope with a queue ID is filed under exactly that ID."""
    chosen = QueueIdSource().next()
    qid = store.enqueue(Q.INCOMING, attrs.evolve(envelope, queue_id=chosen), message)
    assert qid == chosen
    assert list(store.ids(Q.INCOMING)) == [chosen]
    assert store.read(chosen).message == message


@pytest.mark.parametrize("first", [
    pytest.param(Q.INCOMING, id="same-queue"),
    pytest.param(Q.DEFERRED, id="hashed-queue"),
    pytest.param(Q.MAILDROP, id="maildrop"),
    pytest.param(Q.HOLD, id="hold"),
])
def test_an_id_in_use_in_any_queue_is_refused(store, envelope, message, first):
    """A chosen ID that a queued message has is refused, and that message is untouched."""
    chosen = QueueIdSource().next()
    store.enqueue(first, attrs.evolve(envelope, queue_id=chosen), message)
    other = attrs.evolve(envelope, sender="mallory@example.com", queue_id=chosen)
    with pytest.raises(QueueIdInUse, match=f"{chosen}: queue ID already in use"):
        store.enqueue(Q.INCOMING, other, message)
    assert store.locate(chosen) is first
    assert store.read(chosen).envelope.sender == envelope.sender
    assert list(store.ids(Q.INCOMING)) == ([chosen] if first is Q.INCOMING else [])


def test_an_id_of_a_moved_message_is_still_refused(store, envelope, message):
    """After a message moves on, its ID stays taken."""
    chosen = QueueIdSource().next()
    store.enqueue(Q.INCOMING, attrs.evolve(envelope, queue_id=chosen), message)
    store.move(chosen, Q.INCOMING, Q.ACTIVE)
    with pytest.raises(QueueIdInUse):
        store.enqueue(Q.INCOMING, attrs.evolve(envelope, queue_id=chosen), message)


def test_an_id_is_free_again_after_delete(store, envelope, message):
    """Once its message is deleted, an ID may be chosen again."""
    chosen = QueueIdSource().next()
    store.enqueue(Q.INCOMING, attrs.evolve(envelope, queue_id=chosen), message)
    store.delete(chosen, Q.INCOMING)
    assert store.enqueue(Q.HOLD, attrs.evolve(envelope, queue_id=chosen), message) == chosen


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a b", "", "x" * 40])
def test_a_chosen_id_that_is_not_a_queue_id_is_refused(store, envelope, message, bad):
    """A chosen ID must pass validate_queue_id; nothing is written otherwise."""
    with pytest.raises(BadQueueIdError):
        store.enqueue(Q.INCOMING, attrs.evolve(envelope, queue_id=bad), message)
    assert list(store.ids(Q.INCOMING)) == []


def test_short_hex_ids_may_be_chosen(store, envelope, message):
    """Postfix's short queue IDs are accepted as chosen IDs too."""
    qid = store.enqueue(Q.INCOMING, attrs.evolve(envelope, queue_id="4F0C61A2E3"), message)
    assert qid == "4F0C61A2E3" and store.locate(qid) is Q.INCOMING


def test_store_ids_never_collide_with_chosen_ones(store, envelope, message):
    """IDs the store picks and IDs a QueueIdSource hands out never meet."""
    source = QueueIdSource()
    ids = []
    for _ in range(30):
        ids.append(store.enqueue(Q.INCOMING, envelope, message))
        ids.append(store.enqueue(Q.INCOMING, attrs.evolve(envelope, queue_id=source.next()), message))
    assert len(set(ids)) == 60


def test_sources_in_one_process_share_their_counter():
    """Two QueueIdSources on one frozen clock still give different IDs."""
    frozen = lambda: 1_700_000_000_000_000_000   # noqa: E731
    assert QueueIdSource(frozen).next() != QueueIdSource(frozen).next()
