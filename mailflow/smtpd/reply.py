"""The SMTP reply a restriction gives, made the way Postfix's smtpd makes it.

This module owns :func:`make_reply`, which applies the rules of Postfix's
``smtpd_check_reject`` to a code, an enhanced status and a text: a code
outside 4xx/5xx or a bad enhanced status becomes ``450 4.7.1 Service
unavailable``, ``soft_bounce`` turns 5xx into 4xx, the class digit of the
enhanced status follows the code, and the reply is cut at 510 characters
with unprintable characters replaced. The value is the protocol engine's
:class:`~mailflow.smtp.reply.Reply`, so the smtpd service sends it as it is.
It formats text only; it never writes to a socket.

>>> str(make_reply(554, "5.7.1", "<x@y>: Relay access denied"))
'554 5.7.1 <x@y>: Relay access denied'
>>> str(make_reply(450, "5.1.2", "<x@y>: Recipient address rejected: Domain not found"))
'450 4.1.2 <x@y>: Recipient address rejected: Domain not found'
"""

from __future__ import annotations

import re

from mailflow.smtp.reply import Reply

__all__ = ["Reply", "make_reply"]

_DSN = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" or ord(c) > 127 else " " for c in text)


def make_reply(code: int, dsn: str, text: str, *, soft_bounce: bool = False) -> Reply:
    """A reply as ``smtpd_check_reject`` formats it.

    >>> make_reply(250, "2.0.0", "nonsense")
    Reply(code=450, lines=('Service unavailable',), enhanced='4.7.1')
    >>> str(make_reply(554, "5.7.1", "no", soft_bounce=True))
    '454 4.7.1 no'
    """
    if not 400 <= code <= 599 or not _DSN.match(dsn):
        return Reply.of(450, "Service unavailable", "4.7.1")
    if soft_bounce and code >= 500:
        code -= 100
    # 510 characters for the whole line: code, space, status, space, text.
    text = _printable(text)[:510 - 5 - len(dsn)]
    return Reply.of(code, text, f"{str(code)[0]}{dsn[1:]}")
