"""Delivery status notices, parsed back with the standard email package."""

import doctest
import email
import email.policy

import pytest

import mailflow.bounce.dsn
import mailflow.bounce.templates
from mailflow.bounce import NoticeKind, compose_notice, load_templates
from mailflow.errors import ConfigError
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient, Ret

ORIGINAL = Message(b"From: alice@example.com\nSubject: hello\n\nthe body\n")


def notice(kind=NoticeKind.FAILURE, outcomes=None, envelope=None, message=ORIGINAL, **kw):
    envelope = envelope or Envelope("alice@example.com",
                                    (Recipient("nobody@example.com", original="sales@example.com"),),
                                    arrival_time=1_700_000_000.0, envid="ENV-1")
    outcomes = outcomes or [Outcome(envelope.recipients[0], DsnStatus("5.1.1", 'unknown user: "nobody"'),
                                    relay="local")]
    env, msg = compose_notice(kind, envelope, message, outcomes, queue_id="4AbCdEfG",
                              myhostname="mx.example.com", now=1_700_000_100.0, **kw)
    return env, email.message_from_bytes(msg.data, policy=email.policy.default)


@pytest.mark.parametrize("module", [mailflow.bounce.dsn, mailflow.bounce.templates],
                         ids=lambda m: m.__name__)
def test_doctests(module):
    """The docstring examples run."""
    assert doctest.testmod(module).failed == 0


def test_failure_notice_has_postfix_shape():
    """A bounce is multipart/report with text, delivery-status and the original message."""
    env, report = notice()
    assert env.sender == "" and env.recipients[0].address == "alice@example.com"
    assert report["From"] == "Mail Delivery System <MAILER-DAEMON@mx.example.com>"
    assert report.get_param("report-type") == "delivery-status"
    text, status, original = report.get_payload()
    assert "This is the mail system at host mx.example.com." in text.get_content()
    assert '<nobody@example.com> (expanded from <sales@example.com>): unknown user: "nobody"' \
        in text.get_content()
    per_message, per_rcpt = status.get_payload()
    assert per_message["Reporting-MTA"] == "dns; mx.example.com"
    assert per_message["Original-Envelope-Id"] == "ENV-1"
    assert per_rcpt["Original-Recipient"] == "rfc822;sales@example.com"
    assert per_rcpt["Action"] == "failed" and per_rcpt["Status"] == "5.1.1"
    assert per_rcpt["Diagnostic-Code"] == 'X-Postfix; unknown user: "nobody"'
    assert original.get_content_type() == "message/rfc822"
    assert original.get_payload()[0]["Subject"] == "hello"


@pytest.mark.parametrize("case", ["ret-hdrs", "too-big"])
def test_headers_only_when_asked_or_too_big(case):
    """RET=HDRS and messages over bounce_size_limit return only the headers."""
    envelope = Envelope("a@example.com", (Recipient("b@example.com"),),
                        ret=Ret.HDRS if case == "ret-hdrs" else None)
    out = [Outcome(envelope.recipients[0], DsnStatus("5.0.0", "no"))]
    _, report = notice(envelope=envelope, outcomes=out,
                       bounce_size_limit=10 if case == "too-big" else 50000)
    original = report.get_payload()[2]
    assert original.get_content_type() == "text/rfc822-headers"
    assert b"the body" not in original.as_bytes()


def test_delay_notice_says_delayed_and_will_retry():
    """A delay warning has Action: delayed and Will-Retry-Until, and expands the template times."""
    envelope = Envelope("a@example.com", (Recipient("b@example.com"),), arrival_time=0.0)
    out = [Outcome(envelope.recipients[0], DsnStatus("4.4.1", "connection refused"))]
    _, report = notice(NoticeKind.DELAY, out, envelope, retry_until=432000.0,
                       template_params={"delay_warning_time": 14400, "maximal_queue_lifetime": 432000})
    assert report["Subject"] == "Delayed Mail (still being retried)"
    text = report.get_payload()[0].get_content()
    assert "for more than 4 hour(s)" in text and "until it is 5 day(s) old" in text
    rcpt = report.get_payload()[1].get_payload()[1]
    assert rcpt["Action"] == "delayed" and "Will-Retry-Until" in rcpt


def test_success_notice_for_relay_says_relayed():
    """NOTIFY=SUCCESS to a non-final agent reports Action: relayed."""
    envelope = Envelope("a@example.com", (Recipient("b@example.org"),))
    out = [Outcome(envelope.recipients[0], DsnStatus("2.0.0", "250 ok"), relay="mx.example.org",
                   remote_mta="mx.example.org", diagnostic="smtp; 250 2.0.0 ok")]
    _, report = notice(NoticeKind.SUCCESS, out, envelope)
    rcpt = report.get_payload()[1].get_payload()[1]
    assert rcpt["Action"] == "relayed"
    assert rcpt["Remote-MTA"] == "dns; mx.example.org"
    assert rcpt["Diagnostic-Code"] == "smtp; 250 2.0.0 ok"


def test_template_file_replaces_a_template():
    """bounce_template_file entries replace the defaults."""
    templates = load_templates("failure_template = <<EOF\nSubject: Nope\n\nSorry from $myhostname.\nEOF\n")
    _, report = notice(templates=templates)
    assert report["Subject"] == "Nope"
    assert "Sorry from mx.example.com." in report.get_payload()[0].get_content()


def test_bad_template_file_names_the_line():
    """A template file without the heredoc syntax is a ConfigError with its line."""
    with pytest.raises(ConfigError, match="line 2"):
        load_templates("# comment\nfailure_template = oops\n")


def test_eight_bit_original_is_declared():
    """An 8-bit original is sent with Content-Transfer-Encoding: 8bit."""
    _, report = notice(message=Message("Subject: ünïcode\n\nbödy\n".encode()))
    assert report["Content-Transfer-Encoding"] == "8bit"


def test_original_recipient_is_written_when_same_as_final():
    """Original-Recipient appears even when it equals the final recipient, as Postfix writes it."""
    envelope = Envelope("a@example.com", (Recipient("b@example.com"),))
    _, report = notice(envelope=envelope, outcomes=[Outcome(envelope.recipients[0], DsnStatus("5.0.0", "no"))])
    assert report.get_payload()[1].get_payload()[1]["Original-Recipient"] == "rfc822;b@example.com"
