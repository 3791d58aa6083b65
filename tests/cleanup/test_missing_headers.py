"""Missing headers and Received:, compared with Postfix 3.7.

The POSTFIX_* expectations were obtained from a private Postfix 3.7.11
instance (myhostname = mx.example.test, TZ=UTC, all transports set to
``retry:held`` so mail stays queued) with::

    printf 'Subject: test one\\n\\nhello\\n' | sendmail -f alice bob@remote.example
    postcat -q QUEUEID

and the same with ``-f ''`` and with a ``Resent-To:`` header. Postfix names
itself "Postfix" in Received:, mailflow "mailflow"; the queue ID and the
time are the same because the test passes them in.
"""

from __future__ import annotations

import calendar

import pytest

from mailflow.cleanup.headers import mail_date, message_id
from tests.cleanup.conftest import submit

POSTFIX_PLAIN = (
    "Received: by mx.example.test (Postfix, from userid 0)\n"
    "\tid 7573D20C2DD; Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "Subject: test one\n"
    "Message-Id: <20261129132401.7573D20C2DD@mx.example.test>\n"
    "Date: Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "From: root <alice@mx.example.test>\n"
    "\n"
    "hello\n")

POSTFIX_NULL_SENDER = (
    "Received: by mx.example.test (Postfix, from userid 0)\n"
    "\tid 7573D20C2DD; Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "Subject: test two\n"
    "Message-Id: <20261129132401.7573D20C2DD@mx.example.test>\n"
    "Date: Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "From: MAILER-DAEMON\n"
    "\n"
    "hello\n")

POSTFIX_RESENT = (
    "Received: by mx.example.test (Postfix, from userid 0)\n"
    "\tid 7573D20C2DD; Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "Subject: test three\n"
    "Resent-To: x@y.example\n"
    "Resent-Message-Id: <20261129132401.7573D20C2DD@mx.example.test>\n"
    "Resent-Date: Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "Resent-From: root <carol@other.example>\n"
    "\n"
    "hello\n")

# With undisclosed_recipients_header = To: undisclosed-recipients:; (postcat -bh)
POSTFIX_UNDISCLOSED_TAIL = (
    "From: root <alice@mx.example.test>\n"
    "To: undisclosed-recipients:;\n")


def ours(text: str) -> str:
    return text.replace("(Postfix,", "(mailflow,")


CASES = [
    pytest.param(b"Subject: test one\n\nhello\n", "alice", POSTFIX_PLAIN, id="plain"),
    pytest.param(b"Subject: test two\n\nhello\n", "", POSTFIX_NULL_SENDER, id="null-sender"),
    pytest.param(b"Subject: test three\nResent-To: x@y.example\n\nhello\n", "carol@other.example",
                 POSTFIX_RESENT, id="resent"),
]


@pytest.mark.parametrize("data, sender, expected", CASES)
def test_local_submission_gets_postfix_headers(pipeline, utc, data, sender, expected):
    """A local submission gets the same added headers, in the same order, as Postfix's."""
    r = submit(pipeline(), data, sender=sender, uid=0, fullname="root")
    assert r.message.data.decode() == ours(expected)


def test_undisclosed_recipients_header_is_added_last(pipeline, utc):
    """undisclosed_recipients_header is added after From: when no To/Cc/Bcc exists."""
    p = pipeline(undisclosed_recipients_header="To: undisclosed-recipients:;")
    r = submit(p, b"Subject: plain\n\nhello\n", uid=0, fullname="root")
    assert r.message.data.decode().split("\n\n")[0].endswith(POSTFIX_UNDISCLOSED_TAIL.rstrip("\n"))


@pytest.mark.parametrize("header", ["To: a@b.example", "Cc: a@b.example", "Bcc: a@b.example"],
                         ids=["to", "cc", "bcc"])
def test_undisclosed_recipients_not_added_with_destination_header(pipeline, header):
    """Any of To:, Cc:, Bcc: counts as a destination header."""
    p = pipeline(undisclosed_recipients_header="To: undisclosed-recipients:;")
    r = submit(p, f"Subject: x\n{header}\n\nhi\n".encode())
    assert b"undisclosed-recipients" not in r.message.data


def test_no_undisclosed_header_by_default(pipeline):
    """Postfix 3.7's default undisclosed_recipients_header is empty: nothing is added."""
    r = submit(pipeline(), b"Subject: x\n\nhi\n")
    assert [n for n, _ in r.message.headers()] == ["Received", "Subject", "Message-Id", "Date", "From"]


def test_existing_headers_are_kept(pipeline):
    """From:, Date: and Message-ID: already present are neither replaced nor duplicated."""
    data = b"From: Ann <ann@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\n\nhi\n"
    r = submit(pipeline(), data)
    names = [n.lower() for n, _ in r.message.headers()]
    assert names == ["received", "from", "date", "message-id"]
    assert r.message.header_values("message-id") == ["<x@y>"]


def test_remote_smtp_mail_gets_no_missing_headers(pipeline):
    """Postfix 2.6+ adds missing headers only for local clients (local_header_rewrite_clients)."""
    from mailflow.model import ClientInfo
    client = ClientInfo("client.example", "192.0.2.7", "helo.example")
    r = submit(pipeline(), b"Subject: x\n\nhi\n", origin="smtpd", client=client)
    assert [n for n, _ in r.message.headers()] == ["Received", "Subject"]


def test_always_add_missing_headers_covers_remote_mail(pipeline):
    """always_add_missing_headers = yes adds them for remote clients too."""
    from mailflow.model import ClientInfo
    client = ClientInfo("client.example", "192.0.2.7", "helo.example")
    r = submit(pipeline(always_add_missing_headers="yes"), b"Subject: x\n\nhi\n",
               origin="smtpd", client=client)
    assert {"Message-Id", "Date", "From"} <= {n for n, _ in r.message.headers()}


def test_smtpd_received_header_has_postfix_layout(pipeline, utc):
    """smtpd's Received: names HELO, client name and address, and the single recipient."""
    from mailflow.model import ClientInfo
    client = ClientInfo("client.example", "192.0.2.7", "helo.example")
    r = submit(pipeline(), b"Subject: x\n\nhi\n", origin="smtpd", client=client)
    assert r.message.data.decode().startswith(
        "Received: from helo.example (client.example [192.0.2.7])\n"
        "\tby mx.example.test (mailflow) with ESMTP id 7573D20C2DD\n"
        "\tfor <bob@remote.example>; Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n")


def test_smtpd_received_header_omits_for_with_two_recipients(pipeline):
    """With more than one recipient Postfix leaves out the 'for <rcpt>' clause."""
    from mailflow.model import ClientInfo
    client = ClientInfo("client.example", "192.0.2.7", "helo.example")
    r = submit(pipeline(), b"Subject: x\n\nhi\n", origin="smtpd", client=client,
               rcpts=("a@x.example", "b@x.example"))
    assert "\tfor <" not in r.message.headers()[0][1]


def test_message_id_uses_utc_and_myhostname():
    """Message-Id is <YYYYMMDDhhmmss.QUEUEID@myhostname> with the time in UTC."""
    assert message_id(1795958641, "QID", "h.example") == "<20261129132401.QID@h.example>"


def test_mail_date_pads_the_day_with_a_space(utc):
    """Postfix's mail_date() writes the day with %e: a blank before a one-digit day.

    (The format string is in Postfix's libpostfix-global: ``strings`` shows
    "%a, %e %b %Y %H:%M:%S ".)"""
    assert mail_date(calendar.timegm((2026, 11, 8, 13, 40, 0, 0, 0, 0))) == "Sun,  8 Nov 2026 13:40:00 +0000 (UTC)"


def test_message_id_is_logged(pipeline):
    """cleanup logs QUEUEID: message-id=<...> for every accepted message."""
    r = submit(pipeline(), b"Message-ID: <abc@example.org>\n\nhi\n")
    assert "7573D20C2DD: message-id=<abc@example.org>" in r.log


@pytest.mark.parametrize("header", ["Bcc: x@y.example", "Content-Length: 12",
                                    "Resent-Bcc: x@y.example", "Return-Path: <x@y.example>"],
                         ids=["bcc", "content-length", "resent-bcc", "return-path"])
def test_message_drop_headers_are_removed(pipeline, header):
    """The headers in message_drop_headers (Postfix default list) are removed."""
    r = submit(pipeline(), f"Subject: x\n{header}\n\nhi\n".encode())
    assert header.split(":")[0].lower() not in [n.lower() for n, _ in r.message.headers()]


# Postfix 3.7.11: printf 'Subject: fullname\n\nhi\n' | sendmail -F NAME -f alice bob@remote.example,
# then postcat -h (header_from_format = standard).
POSTFIX_FULLNAME_FROM = [
    ("J. Doe", '"J. Doe" <alice@mx.example.test>'),
    ("Doe, John", '"Doe, John" <alice@mx.example.test>'),
    ('Say "hi"', '"Say \\"hi\\"" <alice@mx.example.test>'),
    ("Ann Smith", "Ann Smith <alice@mx.example.test>"),
]


@pytest.mark.parametrize("fullname, expected", POSTFIX_FULLNAME_FROM,
                         ids=["dot", "comma", "quotes", "plain"])
def test_from_with_full_name_as_postfix(pipeline, fullname, expected):
    """The submitter's full name is quoted in From: as Postfix quotes it."""
    r = submit(pipeline(), b"Subject: fullname\n\nhi\n", fullname=fullname)
    assert r.message.header_values("from") == [expected]
