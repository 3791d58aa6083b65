"""The per-message logs read back what was written and survive damage."""

from __future__ import annotations

import pytest

from mailflow.model import DsnStatus, Outcome, Recipient
from mailflow.queue.logs import decode_log, encode_log_entry

GOOD = encode_log_entry(Outcome(Recipient("b@example.net"), DsnStatus.parse("4.4.1", "refused")))


@pytest.mark.parametrize("damaged", [
    pytest.param(b"recipient=a@x\nstatus=9.9\n\n", id="bad-status"),
    pytest.param(b"recipient=a@x\nstatus=4.0.0\nnotify=sometimes\n\n", id="bad-notify"),
    pytest.param(b"status=4.0.0\n\n", id="no-recipient"),
])
def test_damaged_entry_is_skipped_and_the_rest_is_read(damaged):
    """A damaged entry is skipped, never fatal: the entries around it are read."""
    got = decode_log(GOOD + damaged + GOOD)
    assert [o.recipient.address for o in got] == ["b@example.net", "b@example.net"]


def test_read_log_refuses_an_unknown_kind(store, envelope, message):
    """Every store's read_log names the log kinds it knows when asked for another."""
    from mailflow.errors import QueueError
    from mailflow.interfaces import QueueName
    qid = store.enqueue(QueueName.INCOMING, envelope, message)
    with pytest.raises(QueueError, match="unknown log kind 'x'; expected one of bounce, defer, trace"):
        store.read_log("x", qid)
