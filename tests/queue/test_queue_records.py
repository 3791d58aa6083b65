"""The queue-file format: round trips, in-place state bytes, and corruption."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from mailflow.errors import QueueFileCorrupt
from mailflow.model import Envelope, Message, Recipient, RecipientState
from mailflow.queue import records


def test_round_trip_keeps_every_field(envelope, message):
    """Decoding an encoded file gives back the same envelope and content."""
    qf = records.decode(records.encode(envelope, message))
    assert qf.envelope == envelope
    assert qf.message == message
    assert qf.size == len(message.data)


def test_file_starts_with_magic_and_version(envelope, message):
    """The first line names the format and its version."""
    assert records.encode(envelope, message).startswith(b"MAILFLOW-QUEUE 1\n")


@given(st.text(), st.lists(st.text(min_size=1), max_size=3), st.binary())
def test_round_trip_any_text(sender, rcpts, content):
    """Spaces, newlines, percent signs and non-ASCII in addresses survive the format."""
    env = Envelope(sender, tuple(Recipient(r) for r in rcpts), arrival_time=1.0)
    qf = records.decode(records.encode(env, Message(content)))
    assert qf.envelope == env and qf.message.data == content


def test_state_byte_rewrite_marks_recipient_done(envelope, message):
    """Overwriting one byte at a state offset changes that recipient's state only."""
    data = bytearray(records.encode(envelope, message))
    qf = records.decode(bytes(data))
    data[qf.state_offsets[1]] = records.state_byte(RecipientState.BOUNCED)[0]
    states = [r.state for r in records.decode(bytes(data)).envelope.recipients]
    assert states == [RecipientState.PENDING, RecipientState.BOUNCED]


def test_head_only_decode_skips_content(envelope, message):
    """Decoding just the head gives the envelope and size without the content."""
    data = records.encode(envelope, message)
    head = data[:records.head_end(data)]
    qf = records.decode(head, with_content=False)
    assert qf.envelope == envelope and qf.message is None and qf.size == len(message.data)


@pytest.mark.parametrize("damage", [
    pytest.param(lambda d: d[:-1], id="truncated-end-marker"),
    pytest.param(lambda d: d[: len(d) // 2], id="cut-in-half"),
    pytest.param(lambda d: b"", id="empty"),
    pytest.param(lambda d: d.replace(b"MAILFLOW-QUEUE 1", b"MAILFLOW-QUEUE 9"), id="future-version"),
    pytest.param(lambda d: d.replace(b"MAILFLOW-QUEUE", b"XAILFLOW-QUEUE"), id="bad-magic"),
    pytest.param(lambda d: d.replace(b"\nT ", b"\nT x"), id="bad-time"),
    pytest.param(lambda d: d.replace(b"\nR- ", b"\nRQ "), id="bad-state"),
    pytest.param(lambda d: d.replace(b"\nS =", b"\nQ ="), id="unknown-record"),
    pytest.param(lambda d: d + b"junk", id="trailing-junk"),
])
def test_damaged_files_raise_queue_file_corrupt(envelope, message, damage):
    """Any damage is reported as QueueFileCorrupt, never another exception."""
    with pytest.raises(QueueFileCorrupt):
        records.decode(damage(records.encode(envelope, message)))


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(data):
    """Arbitrary bytes either decode or raise QueueFileCorrupt."""
    try:
        records.decode(data)
    except QueueFileCorrupt:
        pass
