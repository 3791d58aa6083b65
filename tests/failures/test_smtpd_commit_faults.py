"""smtpd's queue-file write (cleanup's commit_async: staged on the event
loop, fsynced and named in a thread) under every file-system fault: the
client is told 451 and nothing is left behind (no copy to deliver besides
the one the client sends again), or told 250 and the message is queued.
An abandoned staged file leaves nothing either."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.cleanup.actions import WRITE_ERROR
from mailflow.config import Config
from mailflow.errors import QueueError
from mailflow.interfaces import QueueName
from mailflow.model import Envelope, Message, Recipient
from mailflow.services.cleanup import CleanupService

from faults import Faults


def _service(spool: Path) -> CleanupService:
    cfg = Config(queue_directory=str(spool), myhostname="mx.example.test", alias_maps="")
    store = FileQueueStore(spool)
    return CleanupService(cfg, store, wake=False)


def _files(spool: Path) -> list[str]:
    return sorted(str(p.relative_to(spool)) for p in spool.rglob("*") if p.is_file())


def _commit(service: CleanupService) -> object:
    env = Envelope("bob@example.org", [Recipient("ann@example.net")])
    result = service.process(env, Message(b"Subject: x\n\nhello\n"), origin="smtpd")
    return asyncio.run(service.commit_async(result))


def test_every_fault_point_answers_451_with_nothing_left_or_queues_once(tmp_path):
    spool = tmp_path / "spool"
    service = _service(spool)
    with Faults() as counting:
        reply = _commit(service)
    assert reply.accepted
    points = counting.calls
    assert any(op == "fsync" for op, _ in points), points
    for n in range(len(points)):
        spool_n = tmp_path / f"spool{n}"
        service = _service(spool_n)
        before = _files(spool_n)
        with Faults(fail_at=n):
            reply = _commit(service)
        after = _files(spool_n)
        if reply.accepted:
            # Only a failed removal of the temporary name comes after the
            # message is in place: it stays queued, the stale name is logged.
            assert points[n][0] == "unlink" and ".tmp." in points[n][1], (n, points[n])
            assert [f for f in after if f.startswith("incoming/") and ".tmp." not in f] == \
                [f"incoming/{reply.queue_id}"]
            continue
        assert reply.status == WRITE_ERROR
        assert after == before, f"fault {n} ({points[n]}) left files behind"


def test_a_staged_file_abandoned_before_publish_is_removed(tmp_path):
    store = FileQueueStore(tmp_path)
    staged = store.stage(QueueName.INCOMING, Envelope("a@example.org", [Recipient("b@example.net")]),
                         Message(b"Subject: x\n\nhi\n"))
    assert os.path.exists(staged.tmp)
    assert staged.abandon() is True
    assert not os.path.exists(staged.tmp)
    with pytest.raises(QueueError, match="already abandoned"):
        staged.publish()
    assert list(store.ids(QueueName.INCOMING)) == []


def test_a_published_file_cannot_be_abandoned(tmp_path):
    store = FileQueueStore(tmp_path)
    staged = store.stage(QueueName.INCOMING, Envelope("a@example.org", [Recipient("b@example.net")]),
                         Message(b"Subject: x\n\nhi\n"))
    queue_id = staged.publish()
    assert staged.abandon() is False
    assert list(store.ids(QueueName.INCOMING)) == [queue_id]
