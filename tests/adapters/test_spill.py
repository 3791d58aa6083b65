"""MessageBuffer: memory up to a limit cut at a line end, the rest in an
unlinked file; copy_file copies it without reading it into memory."""

from __future__ import annotations

import os

from hypothesis import given, settings, strategies as st

from mailflow.adapters.spill import MessageBuffer, copy_file, read_range


def test_a_small_message_stays_in_memory(tmp_path):
    buf = MessageBuffer(100, str(tmp_path))
    buf.append(b"Subject: x\n\nhi\n")
    assert not buf.spilled and buf.head() == b"Subject: x\n\nhi\n" and buf.read_tail() == b""
    assert list(tmp_path.iterdir()) == []


def test_past_the_limit_the_rest_goes_to_an_unlinked_file(tmp_path):
    buf = MessageBuffer(20, str(tmp_path))
    buf.append(b"Subject: x\n\n0123456789\nabcdefghij\n")
    buf.append(b"more\n" * 1000)
    assert buf.spilled
    assert buf.head() == b"Subject: x\n\n"           # cut at the last line end within 20 bytes
    assert buf.read_tail() == b"0123456789\nabcdefghij\n" + b"more\n" * 1000
    assert buf.size == len(buf.head()) + buf.tail_size
    assert list(tmp_path.iterdir()) == [], "the spill file has no name"
    fd = buf.fileno()
    buf.close()
    try:
        os.fstat(fd)
    except OSError:
        pass
    else:
        raise AssertionError("the descriptor stayed open after close()")


def test_a_first_line_longer_than_the_limit_stays_whole(tmp_path):
    buf = MessageBuffer(10, str(tmp_path))
    buf.append(b"X-Long: " + b"y" * 50 + b"\nrest\n")
    assert buf.head() == b"X-Long: " + b"y" * 50 + b"\n"
    assert buf.read_tail() == b"rest\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(min_value=1, max_value=400))
def test_any_pieces_come_back_whole(tmp_path_factory, pieces, limit):
    directory = tmp_path_factory.mktemp("spill")
    buf = MessageBuffer(limit, str(directory))
    for piece in pieces:
        buf.append(piece)
    whole = b"".join(pieces)
    assert buf.head() + buf.read_tail() == whole
    if buf.spilled:
        head = buf.head()
        assert head.endswith(b"\n") or b"\n" not in head
        assert len(head) <= limit or head.count(b"\n") <= 1
    buf.close()


def test_copy_file_copies_from_the_start(tmp_path):
    buf = MessageBuffer(1, str(tmp_path))
    data = os.urandom(3 << 20)
    buf.append(b"h\n" + data)
    out = tmp_path / "out"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    try:
        copy_file(buf, fd, buf.tail_size)
    finally:
        os.close(fd)
    assert out.read_bytes() == data
    assert read_range(buf.fileno(), 10) == data[:10]
    buf.close()
