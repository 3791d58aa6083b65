"""The content_filter record: queue-file format version 2, and every store keeping it."""

from __future__ import annotations

import attrs
import pytest

from mailflow.errors import QueueFileCorrupt
from mailflow.interfaces import QueueName as Q
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.queue import records

FILTER = "scan:[127.0.0.1]:10025"

# A version-1 queue file as this format wrote it before the F record existed.
OLD_FILE = (b"MAILFLOW-QUEUE 1\nT 1700000000.25\nS =a@example.com\nV -\nN -\n"
            b"R- =b@example.net =b@example.net - -\nM 9\nSubject:\n\nE\n")


def test_a_filter_round_trips_in_a_version_2_file(envelope, message):
    """An envelope with a content filter is written as version 2 and read back whole."""
    data = records.encode(attrs.evolve(envelope, content_filter=FILTER), message)
    assert data.startswith(b"MAILFLOW-QUEUE 2\n")
    assert b"\nF =scan:[127.0.0.1]:10025\n" in data
    qf = records.decode(data)
    assert qf.envelope.content_filter == FILTER
    assert qf.envelope.recipients == envelope.recipients and qf.message == message


def test_without_a_filter_the_file_stays_version_1(envelope, message):
    """No content filter: the bytes are exactly what version 1 wrote (older readers read them)."""
    data = records.encode(envelope, message)
    assert data.startswith(b"MAILFLOW-QUEUE 1\n") and b"\nF " not in data


def test_an_old_version_1_file_still_reads():
    """A file written before version 2 decodes, with no content filter."""
    qf = records.decode(OLD_FILE)
    assert (qf.envelope.sender, qf.envelope.content_filter) == ("a@example.com", None)
    assert qf.message == Message(b"Subject:\n")
    assert records.encode(qf.envelope, qf.message) == OLD_FILE


def test_head_only_decode_sees_the_filter(envelope, message):
    """Listing the queue (envelope only) sees the content filter too."""
    data = records.encode(attrs.evolve(envelope, content_filter=FILTER), message)
    assert records.decode(data[:records.head_end(data)], with_content=False).envelope.content_filter == FILTER


def test_state_offsets_still_point_at_the_state_bytes(envelope, message):
    """The F record does not upset in-place recipient progress."""
    data = records.encode(attrs.evolve(envelope, content_filter=FILTER), message)
    qf = records.decode(data)
    assert [data[o:o + 1] for o in qf.state_offsets] == [b"-", b"-"]


@pytest.mark.parametrize("data,why", [
    pytest.param(OLD_FILE.replace(b"N -\n", b"N -\nF =scan:x\n"), "unknown record type",
                 id="F-record-in-version-1"),
    pytest.param(OLD_FILE.replace(b"QUEUE 1", b"QUEUE 3"), "unsupported queue file version 3",
                 id="future-version-3"),
])
def test_files_the_format_does_not_allow_are_corrupt(data, why):
    """A version-1 file with an F record, or a version this code does not know, is corrupt."""
    with pytest.raises(QueueFileCorrupt, match=why):
        records.decode(data)


@pytest.mark.parametrize("value", [
    pytest.param(FILTER, id="transport-and-nexthop"),
    pytest.param("scan:", id="no-nexthop"),
    pytest.param("odd filter%with:spaces", id="escaped"),
])
def test_every_store_keeps_the_filter(store, envelope, message, value):
    """Each store reads back the content filter it was given, also after a move."""
    qid = store.enqueue(Q.INCOMING, attrs.evolve(envelope, content_filter=value), message)
    assert store.read(qid).envelope.content_filter == value
    store.move(qid, Q.INCOMING, Q.DEFERRED)
    assert store.read(qid, Q.DEFERRED, with_content=False).envelope.content_filter == value


def test_every_store_marks_progress_in_a_filtered_message(store, message):
    """Recipient progress is recorded in a version-2 file as in a version-1 one."""
    env = Envelope("a@example.com", (Recipient("b@x.example"), Recipient("c@x.example")),
                   content_filter=FILTER)
    qid = store.enqueue(Q.ACTIVE, env, message)
    store.mark_done(qid, Q.ACTIVE, [Outcome(Recipient("c@x.example"), DsnStatus.parse("2.0.0"))])
    assert [r.address for r in store.read(qid).envelope.pending()] == ["b@x.example"]
