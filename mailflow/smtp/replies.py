"""The fixed SMTP replies, worded as Postfix 3.7's smtpd words them.

One table for the replies that never change: what the engine sends for a
line it refuses, and the plain answers a service gives (``250 2.0.0 Ok``,
``354``, ``221``). Replies that carry a value (a hostname, a queue ID, a
byte count) are small functions next to the constants. ESMTP parameter
replies live with their parser in :mod:`mailflow.smtp.esmtp`. No I/O.

>>> OK.format()
b'250 2.0.0 Ok\\r\\n'
>>> str(queued("4QX2Jk0cz3z9v"))
'250 2.0.0 Ok: queued as 4QX2Jk0cz3z9v'
>>> str(command_too_long("mx.example.com"))
'500 5.5.2 mx.example.com Error: command too long'
"""

from __future__ import annotations

from mailflow.smtp.reply import Reply

__all__ = [
    "OK", "MAIL_OK", "RCPT_OK", "START_DATA", "BYE", "READY_TLS",
    "BAD_SYNTAX", "BAD_UTF8", "NOT_RECOGNIZED", "TOO_MANY_PARAMETERS",
    "SYNTAX_HELO", "SYNTAX_EHLO", "SYNTAX_LHLO", "SYNTAX_MAIL", "SYNTAX_RCPT",
    "BAD_SENDER", "BAD_RECIPIENT", "SYNTAX_DATA", "SYNTAX_BDAT", "SYNTAX_RSET",
    "SYNTAX_VRFY", "SYNTAX_ETRN", "SYNTAX_STARTTLS", "SYNTAX_AUTH",
    "SYNTAX_XCLIENT", "SYNTAX_XFORWARD", "ATTRIBUTE_EXPECTED", "ATTRIBUTE_TOO_LONG",
    "SASL_RESPONSE_TOO_LONG",
    "NEED_HELO", "NESTED_MAIL", "NEED_MAIL", "NEED_RCPT", "IN_TRANSACTION", "NO_VALID_RCPT",
    "TOO_MANY_RCPT", "SIZE_EXCEEDS", "TOO_BIG", "NO_STORAGE", "WRITE_ERROR", "NOT_IMPLEMENTED",
    "VRFY_DISABLED", "AUTH_DISABLED", "NO_AUTHORIZATION", "MUST_STARTTLS", "TLS_ACTIVE",
    "with_hostname", "command_too_long", "bare_lf_received", "queued", "bdat_ok",
]

# --- the plain answers ------------------------------------------------------
OK = Reply.of(250, "Ok", "2.0.0")
MAIL_OK = Reply.of(250, "Ok", "2.1.0")
RCPT_OK = Reply.of(250, "Ok", "2.1.5")
START_DATA = Reply.of(354, "End data with <CR><LF>.<CR><LF>")
BYE = Reply.of(221, "Bye", "2.0.0")
READY_TLS = Reply.of(220, "Ready to start TLS", "2.0.0")

# --- lines the engine refuses (smtpd.c smtpd_proto() and the *_cmd() syntax checks)
BAD_SYNTAX = Reply.of(500, "Error: bad syntax", "5.5.2")
BAD_UTF8 = Reply.of(500, "Error: bad UTF-8 syntax", "5.5.2")
NOT_RECOGNIZED = Reply.of(500, "Error: command not recognized", "5.5.2")
# Postfix has no limit on the number of words in a command besides the line
# length; mailflow bounds it so that one line cannot make a huge token list.
TOO_MANY_PARAMETERS = Reply.of(501, "Error: too many parameters", "5.5.4")
# RFC 2034: no enhanced status code on replies to HELO/EHLO (Postfix agrees).
SYNTAX_HELO = Reply.of(501, "Syntax: HELO hostname")
SYNTAX_EHLO = Reply.of(501, "Syntax: EHLO hostname")
SYNTAX_LHLO = Reply.of(501, "Syntax: LHLO hostname")
SYNTAX_MAIL = Reply.of(501, "Syntax: MAIL FROM:<address>", "5.5.4")
SYNTAX_RCPT = Reply.of(501, "Syntax: RCPT TO:<address>", "5.5.4")
BAD_SENDER = Reply.of(501, "Bad sender address syntax", "5.1.7")
BAD_RECIPIENT = Reply.of(501, "Bad recipient address syntax", "5.1.3")
SYNTAX_DATA = Reply.of(501, "Syntax: DATA", "5.5.4")
# 521: the client's next bytes would be content of unknown length, so
# Postfix hangs up after a malformed BDAT (BadCommand.close is set).
SYNTAX_BDAT = Reply.of(521, "Syntax: BDAT count [LAST]", "5.5.4")
SYNTAX_RSET = Reply.of(501, "Syntax: RSET", "5.5.4")
SYNTAX_VRFY = Reply.of(501, "Syntax: VRFY address [SMTPUTF8]", "5.5.4")
SYNTAX_ETRN = Reply.of(500, "Syntax: ETRN domain")
SYNTAX_STARTTLS = Reply.of(501, "Syntax: STARTTLS", "5.5.4")
SYNTAX_AUTH = Reply.of(501, "Syntax: AUTH mechanism", "5.5.4")
SYNTAX_XCLIENT = Reply.of(501, "Syntax: XCLIENT attribute=value...", "5.5.4")
SYNTAX_XFORWARD = Reply.of(501, "Syntax: XFORWARD attribute=value...", "5.5.4")
ATTRIBUTE_EXPECTED = Reply.of(501, "Error: attribute=value expected", "5.5.4")
ATTRIBUTE_TOO_LONG = Reply.of(501, "Error: attribute value too long", "5.5.4")
# An AUTH response line over smtpd_sasl_response_limit (smtpd_sasl_glue.c).
SASL_RESPONSE_TOO_LONG = Reply.of(500, "SASL response limit exceeded", "5.5.6")

# --- the session's answers: order of commands, limits, features -------------------
NEED_HELO = Reply.of(503, "Error: send HELO/EHLO first", "5.5.1")
NESTED_MAIL = Reply.of(503, "Error: nested MAIL command", "5.5.1")
NEED_MAIL = Reply.of(503, "Error: need MAIL command", "5.5.1")
NEED_RCPT = Reply.of(503, "Error: need RCPT command", "5.5.1")
IN_TRANSACTION = Reply.of(503, "Error: MAIL transaction in progress", "5.5.1")
NO_VALID_RCPT = Reply.of(554, "Error: no valid recipients", "5.5.1")
TOO_MANY_RCPT = Reply.of(452, "Error: too many recipients", "4.5.3")
SIZE_EXCEEDS = Reply.of(552, "Message size exceeds fixed limit", "5.3.4")
TOO_BIG = Reply.of(552, "Error: message file too big", "5.3.4")
NO_STORAGE = Reply.of(452, "Insufficient system storage", "4.3.1")
WRITE_ERROR = Reply.of(451, "Error: queue file write error", "4.3.0")
NOT_IMPLEMENTED = Reply.of(502, "Error: command not implemented", "5.5.1")
VRFY_DISABLED = Reply.of(502, "VRFY command is disabled", "5.5.1")
AUTH_DISABLED = Reply.of(503, "Error: authentication not enabled", "5.5.1")
NO_AUTHORIZATION = Reply.of(550, "Error: insufficient authorization", "5.7.0")
MUST_STARTTLS = Reply.of(530, "Must issue a STARTTLS command first", "5.7.0")
TLS_ACTIVE = Reply.of(554, "Error: TLS already active", "5.5.1")


def with_hostname(code: int, enhanced: str, text: str, hostname: str) -> Reply:
    """A reply that names the server first, as Postfix's do (``myhostname``).

    An empty hostname leaves the name out.

    >>> str(with_hostname(421, "4.7.0", "Error: too many errors", "mx.example"))
    '421 4.7.0 mx.example Error: too many errors'
    >>> str(with_hostname(421, "4.7.0", "Error: too many errors", ""))
    '421 4.7.0 Error: too many errors'
    """
    return Reply.of(code, f"{hostname} {text}" if hostname else text, enhanced)


def command_too_long(hostname: str = "") -> Reply:
    """The reply to a command line over ``line_length_limit`` (Postfix 3.7.x+ patch level)."""
    return with_hostname(500, "5.5.2", "Error: command too long", hostname)


def bare_lf_received(hostname: str = "", code: int = 550) -> Reply:
    """The reply under ``smtpd_forbid_bare_newline = reject`` (``..._reject_code``, default 550).

    >>> str(bare_lf_received("mx.example"))
    '550 5.5.2 mx.example Error: bare <LF> received'
    """
    return with_hostname(code, f"{code // 100}.5.2", "Error: bare <LF> received", hostname)


def queued(queue_id: str) -> Reply:
    """The reply once a message is safely in the queue."""
    return Reply.of(250, f"Ok: queued as {queue_id}", "2.0.0")


def bdat_ok(size: int) -> Reply:
    """The reply to a BDAT chunk that is not the last.

    >>> str(bdat_ok(65536))
    '250 2.0.0 Ok: 65536 bytes'
    """
    return Reply.of(250, f"Ok: {size} bytes", "2.0.0")
