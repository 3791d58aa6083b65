"""The fixed replies: Postfix's wording, one line each, and the helpers that fill in a value."""

from __future__ import annotations

import pytest

from mailflow.smtp import replies
from mailflow.smtp.reply import Reply

# As written in Postfix's smtpd.c (3.7 and later patch levels).
POSTFIX = {
    "OK": "250 2.0.0 Ok",
    "MAIL_OK": "250 2.1.0 Ok",
    "RCPT_OK": "250 2.1.5 Ok",
    "START_DATA": "354 End data with <CR><LF>.<CR><LF>",
    "BYE": "221 2.0.0 Bye",
    "READY_TLS": "220 2.0.0 Ready to start TLS",
    "BAD_SYNTAX": "500 5.5.2 Error: bad syntax",
    "BAD_UTF8": "500 5.5.2 Error: bad UTF-8 syntax",
    "NOT_RECOGNIZED": "500 5.5.2 Error: command not recognized",
    "SYNTAX_HELO": "501 Syntax: HELO hostname",
    "SYNTAX_EHLO": "501 Syntax: EHLO hostname",
    "SYNTAX_MAIL": "501 5.5.4 Syntax: MAIL FROM:<address>",
    "SYNTAX_RCPT": "501 5.5.4 Syntax: RCPT TO:<address>",
    "BAD_SENDER": "501 5.1.7 Bad sender address syntax",
    "BAD_RECIPIENT": "501 5.1.3 Bad recipient address syntax",
    "SYNTAX_DATA": "501 5.5.4 Syntax: DATA",
    "SYNTAX_BDAT": "521 5.5.4 Syntax: BDAT count [LAST]",
    "SYNTAX_RSET": "501 5.5.4 Syntax: RSET",
    "SYNTAX_ETRN": "500 Syntax: ETRN domain",
    "SYNTAX_STARTTLS": "501 5.5.4 Syntax: STARTTLS",
    "SYNTAX_AUTH": "501 5.5.4 Syntax: AUTH mechanism",
    "ATTRIBUTE_EXPECTED": "501 5.5.4 Error: attribute=value expected",
    "ATTRIBUTE_TOO_LONG": "501 5.5.4 Error: attribute value too long",
    "SASL_RESPONSE_TOO_LONG": "500 5.5.6 SASL response limit exceeded",
}


@pytest.mark.parametrize("name, text", POSTFIX.items(), ids=list(POSTFIX))
def test_fixed_reply_matches_postfix(name, text):
    """The constant reads exactly as Postfix's reply for the same case."""
    reply = getattr(replies, name)
    assert str(reply) == text
    assert reply.format() == text.encode() + b"\r\n"


def test_every_exported_name_is_a_reply_or_a_builder():
    """__all__ holds replies and the functions that build them, nothing else."""
    for name in replies.__all__:
        value = getattr(replies, name)
        assert isinstance(value, Reply) or callable(value), name


def test_builders_name_the_host_as_postfix_does():
    """command_too_long and bare_lf_received put myhostname after the enhanced code."""
    assert str(replies.command_too_long("mx")) == "500 5.5.2 mx Error: command too long"
    assert str(replies.command_too_long()) == "500 5.5.2 Error: command too long"
    assert str(replies.bare_lf_received("mx", 450)) == "450 4.5.2 mx Error: bare <LF> received"
    assert str(replies.queued("ABC")) == "250 2.0.0 Ok: queued as ABC"
    assert str(replies.bdat_ok(3)) == "250 2.0.0 Ok: 3 bytes"
