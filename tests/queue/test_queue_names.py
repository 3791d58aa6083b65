"""Queue IDs: shape, ordering, uniqueness, and refusal of anything else."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from mailflow.errors import BadQueueIdError
from mailflow.queue.names import QueueId, hash_dirs, is_queue_id, make_queue_id, validate_queue_id


@pytest.mark.parametrize("text", [
    pytest.param("../../etc/passwd", id="dotdot-path"),
    pytest.param("%2e%2e", id="percent-encoded-dots"),
    pytest.param("%2e%2e%2fetc%2fpasswd", id="percent-encoded-path"),
    pytest.param("/etc/passwd", id="absolute-path"),
    pytest.param("", id="empty"),
    pytest.param("A" * 33, id="too-long"),
    pytest.param("4SVLCh0sf8z1c9/..", id="id-then-slash"),
    pytest.param("..", id="dotdot"),
    pytest.param(".tmp.123.4", id="temp-file-name"),
    pytest.param("4SVLCh0sf8z1c9\n", id="trailing-newline"),
    pytest.param("abcdef", id="lowercase-short"),
    pytest.param("4OQIBa0jY8zzz", id="two-separators"),
    pytest.param("４OQIBa0jY8z1W9", id="fullwidth-digit"),
])
def test_bad_queue_ids_are_refused_with_a_reason(text):
    """Anything that is not a queue ID raises BadQueueIdError naming the text."""
    with pytest.raises(BadQueueIdError, match="invalid queue ID"):
        validate_queue_id(text)


@pytest.mark.parametrize("text", ["4SVLCh0sf8z1c9", "4F0C61A2E3", "0000000000z0"])
def test_good_queue_ids_pass_unchanged(text):
    """Long and short (hex) queue IDs are accepted as they are."""
    assert validate_queue_id(text) == text


@given(st.integers(0, 52**6 - 1), st.integers(0, 999_999), st.integers(0, 2**64))
def test_long_ids_round_trip(seconds, usec, unique):
    """Every long ID parses back to the time and unique number it was made from."""
    qid = QueueId.parse(make_queue_id(seconds, usec, unique))
    assert (qid.seconds, qid.microseconds, qid.unique) == (seconds, usec, unique)


@given(st.tuples(st.integers(0, 52**6 - 1), st.integers(0, 999_999)),
       st.tuples(st.integers(0, 52**6 - 1), st.integers(0, 999_999)))
def test_ids_sort_by_time(a, b):
    """Comparing IDs as strings compares their creation times."""
    ida, idb = make_queue_id(*a, 7), make_queue_id(*b, 7)
    assert (ida < idb) == (a < b)


@given(st.text(max_size=40))
def test_validation_never_lets_a_path_character_through(text):
    """Whatever validate_queue_id accepts is plain ASCII letters and digits."""
    if is_queue_id(text):
        assert text.isascii() and text.isalnum()


def test_hash_dirs_use_the_hex_microseconds():
    """Hashed directories are the leading hex digits of the microseconds (postconf(5))."""
    qid = make_queue_id(1700000000, 0xABCDE, 99)
    assert hash_dirs(qid, 2) == ["A", "B"]
    assert hash_dirs("ABCDE12345", 1) == ["A"]
    assert hash_dirs(qid, 0) == []


# Queue IDs made by Postfix 3.7 with enable_long_queue_ids = yes, with the
# inode number and hashed directory read from the spool (`ls -li deferred/*/`).
@pytest.mark.parametrize("qid,seconds,inode,hashdir", [
    pytest.param("4jcpB45NThzJBkk", 1795959468, 2150402, "B", id="postfix-4jcpB45NThzJBkk"),
    pytest.param("4jcp9S4KshzJBlM", 1795959436, 2150434, "9", id="postfix-4jcp9S4KshzJBlM"),
])
def test_postfix_long_ids_decode_like_postfix(qid, seconds, inode, hashdir):
    """Postfix's own long IDs parse to their time and inode and hash to Postfix's directory."""
    parsed = QueueId.parse(qid)
    assert (parsed.seconds, parsed.unique) == (seconds, inode)
    assert hash_dirs(qid, 1) == [hashdir]
    assert make_queue_id(parsed.seconds, parsed.microseconds, parsed.unique) == qid
