"""Cleanup under the running daemon: missing headers, header_checks HOLD and REJECT."""

from __future__ import annotations

import email
import email.policy

import pytest

from e2e_helpers import maildir_messages, wait_until

HEADER_CHECKS = """\
/^Subject: .*hold me/       HOLD held for review
/^Subject: .*buy now/       REJECT no advertising here
"""


@pytest.fixture
def no_qmgr(make_mta):
    """A running mail system whose master.cf has no qmgr: mail stays in incoming/."""
    return make_mta(without=("qmgr",), header_checks=HEADER_CHECKS)


def test_missing_headers_are_added_before_incoming(no_qmgr):
    """A message without From, Date and Message-ID reaches incoming/ with all three added."""
    no_qmgr.sendmail("a@example.com", "b@example.com", data="Subject: bare\n\nno headers\n")
    [qid] = wait_until(lambda: no_qmgr.queue_ids("incoming"), "a message in incoming/")
    headers = email.message_from_string(
        no_qmgr.cli("postcat", "-h", "-q", qid, check=True).stdout, policy=email.policy.default)
    assert headers["From"] == "a@example.com"
    assert headers["Message-ID"].endswith("@mail.example.com>")
    assert headers["Date"].datetime is not None
    assert headers["Subject"] == "bare"


def test_postcat_shows_the_added_headers_and_envelope(no_qmgr):
    """postcat -q prints the envelope records and the headers cleanup added."""
    no_qmgr.sendmail("a@example.com", "b@example.com", data="Subject: bare\n\nno headers\n")
    [qid] = wait_until(lambda: no_qmgr.queue_ids("incoming"), "a message in incoming/")
    out = no_qmgr.cli("postcat", "-q", qid, check=True).stdout
    assert f"*** ENVELOPE RECORDS incoming/{qid} ***" in out
    assert "sender: a@example.com" in out and "recipient: b@example.com" in out
    # Postfix's cleanup spells it Message-Id.
    for name in ("From: a@example.com", "Date: ", "Message-Id: <"):
        assert "\n" + name.lower() in out.lower(), name


def test_header_checks_hold_puts_the_message_in_hold(no_qmgr):
    """A header_checks HOLD rule parks the message in hold/, marked ! by postqueue -p."""
    no_qmgr.sendmail("a@example.com", "b@example.com", data="Subject: please hold me\n\nx\n")
    [qid] = wait_until(lambda: no_qmgr.queue_ids("hold"), "a message in hold/")
    assert no_qmgr.queue_ids("incoming") == []
    listing = no_qmgr.cli("postqueue", "-p", check=True).stdout
    assert f"{qid}!" in listing
    assert "held for review" in no_qmgr.log_text()


def test_header_checks_reject_makes_sendmail_fail(no_qmgr):
    """A header_checks REJECT rule makes sendmail exit non-zero with the rule's text."""
    result = no_qmgr.cli("sendmail", "-f", "a@example.com", "b@example.com",
                         input="Subject: buy now\n\nx\n")
    assert result.returncode != 0
    assert "no advertising here" in result.stderr
    assert no_qmgr.queue_ids("maildrop") == [] and no_qmgr.queue_ids("incoming") == []


def submit_uninspected(mta, data: str) -> None:
    """Put a message in maildrop/ the way submit() does (sendmail would refuse
    it), so that pickup's cleanup is the one that rejects it."""
    from mailflow.submit import submit
    submit(data.encode(), "a@example.com", ["b@example.com"], queue_directory=str(mta.spool))


def notice_or_refusal(mta):
    """Wait until the sender's Maildir has the notice or pickup logs that
    cleanup refused it; return the notice's bytes or None."""
    refused = "cannot hand the message to cleanup"
    wait_until(lambda: maildir_messages(mta.maildir("a")) or refused in mta.log_text(),
               "a notice for a@example.com or a refusal in the log")
    found = maildir_messages(mta.maildir("a"))
    return found[0].read_bytes() if found else None


def test_header_checks_reject_returns_the_message_to_its_sender(make_mta):
    """A message cleanup rejects at pickup comes back to the sender with the rule's text."""
    # Without nested_header_checks, the notice (which quotes the rejected
    # headers) passes cleanup whether or not cleanup inspects notices.
    mta = make_mta(header_checks=HEADER_CHECKS, main_extra="nested_header_checks =\n")
    submit_uninspected(mta, "Subject: buy now\n\nx\n")
    data = notice_or_refusal(mta)
    assert data is not None, mta.log_text()
    notice = email.message_from_bytes(data, policy=email.policy.default)
    assert notice.get_content_type() == "multipart/report"
    assert "no advertising here" in notice.as_string()
    wait_until(mta.queue_is_empty, "the queue to be empty")
    assert maildir_messages(mta.maildir("b")) == []


def test_notice_is_not_inspected_by_header_checks(make_mta):
    """The notice for a rejected message reaches the sender although it quotes the rejected header."""
    mta = make_mta(header_checks=HEADER_CHECKS)
    submit_uninspected(mta, "Subject: buy now\n\nx\n")
    assert notice_or_refusal(mta) is not None


def test_received_header_names_the_queue_id(no_qmgr):
    """The Received: header cleanup adds names the message's queue ID, as Postfix's does."""
    no_qmgr.sendmail("a@example.com", "b@example.com", data="Subject: id\n\nx\n")
    [qid] = wait_until(lambda: no_qmgr.queue_ids("incoming"), "a message in incoming/")
    headers = email.message_from_string(
        no_qmgr.cli("postcat", "-h", "-q", qid, check=True).stdout, policy=email.policy.compat32)
    received = " ".join(headers["Received"].split())
    assert f" id {qid};" in received, received
