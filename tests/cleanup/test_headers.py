"""Header-only parsing: splitting the spool form into headers and body."""

from __future__ import annotations

import pytest

from mailflow.cleanup.headers import Header, join_message, split_message

SPLIT_CASES = [
    (b"A: 1\nB: 2\n\nbody\n", ["A: 1", "B: 2"], b"body\n"),
    (b"A: 1\n folded\n\tagain\n\nbody\n", ["A: 1\n folded\n\tagain"], b"body\n"),
    (b"A: 1\nnot a header\nmore\n", ["A: 1"], b"not a header\nmore\n"),
    (b"\nbody only\n", [], b"body only\n"),
    (b"A: 1\n", ["A: 1"], b""),
    (b"A: 1\n\n", ["A: 1"], b""),
    (b"X-Name : spaced\n\nb\n", ["X-Name : spaced"], b"b\n"),
    (b"From alice Mon Jan 1\nA: 1\n\nb\n", [], b"From alice Mon Jan 1\nA: 1\n\nb\n"),
]


@pytest.mark.parametrize("data, headers, body", SPLIT_CASES,
                         ids=["simple", "folded", "non-header-ends-headers", "no-headers",
                              "headers-only", "headers-blank-line", "blank-before-colon",
                              "mbox-from-line-is-body"])
def test_split_message(data, headers, body):
    """Headers end at the empty line or the first line that is not a header."""
    got_headers, got_body = split_message(data)
    assert ([h.text for h in got_headers], got_body) == (headers, body)


def test_split_then_join_keeps_the_message():
    """Joining the split parts gives the same bytes back."""
    data = b"Subject: x\n y\nFrom: a@b\n\nline 1\n\nline 3\n"
    assert join_message(*split_message(data)) == data


def test_non_utf8_header_bytes_survive():
    """Header bytes that are not UTF-8 come back unchanged."""
    data = b"Subject: caf\xe9\n\nb\n"
    assert join_message(*split_message(data)) == data


def test_header_value_keeps_folding():
    """The value keeps the folding, without the blanks after the colon."""
    assert Header.parse("Subject:   a\n\tb").value == "a\n\tb"


def test_pipeline_never_builds_the_email_object_model(pipeline, rules_file, monkeypatch):
    """Cleanup with header and body checks never calls the email parser."""
    import email

    def forbidden(*args, **kwargs):
        raise AssertionError("email object model used")
    monkeypatch.setattr(email, "message_from_bytes", forbidden)
    monkeypatch.setattr(email, "message_from_string", forbidden)
    from tests.cleanup.conftest import submit
    p = pipeline(header_checks=rules_file("/^Subject: z/ HOLD\n"), body_checks=rules_file("/zz/ HOLD\n"))
    assert submit(p, b"Subject: a\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n").action == "queue"
