"""mailflow postdrop: a queue file on stdin becomes a maildrop file."""

from __future__ import annotations

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName as Q
from mailflow.model import Envelope, Message, Recipient
from mailflow.queue import records


def test_queue_file_on_stdin_lands_in_maildrop(run_cli, config_dir):
    """A well-formed queue file is stored as given; -r prints its maildrop ID."""
    data = records.encode(Envelope("a@x.test", (Recipient("b@y.test"),), arrival_time=5.0),
                          Message(b"Subject: p\n\nbody\n"))
    r = run_cli("-c", config_dir, "postdrop", "-r", stdin=data)
    assert r.status == 0, r.err
    store = FileQueueStore(config_dir.parent / "spool")
    msg = store.read(r.out.strip(), Q.MAILDROP)
    assert msg.envelope.sender == "a@x.test" and msg.message.data == b"Subject: p\n\nbody\n"


def test_malformed_input_is_refused(run_cli, config_dir):
    """Input that is not a queue file exits 65 and writes nothing."""
    r = run_cli("-c", config_dir, "postdrop", stdin=b"Subject: not a queue file\n\n")
    assert r.status == 65 and "postdrop: fatal: malformed input" in r.err
    assert list(FileQueueStore(config_dir.parent / "spool").ids(Q.MAILDROP)) == []
