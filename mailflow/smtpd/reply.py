"""The SMTP reply a restriction gives, made the way Postfix's smtpd makes it.

This module owns :class:`Reply` (code, enhanced status, text) and
:func:`make_reply`, which applies the rules of Postfix's
``smtpd_check_reject``: a code outside 4xx/5xx or a bad enhanced status
becomes ``450 4.7.1 Service unavailable``, ``soft_bounce`` turns 5xx into
4xx, the class digit of the enhanced status follows the code, and the
reply is cut at 510 characters with unprintable characters replaced.
It formats text only; it never writes to a socket.

>>> str(make_reply(554, "5.7.1", "<x@y>: Relay access denied"))
'554 5.7.1 <x@y>: Relay access denied'
>>> str(make_reply(450, "5.1.2", "<x@y>: Recipient address rejected: Domain not found"))
'450 4.1.2 <x@y>: Recipient address rejected: Domain not found'
"""

from __future__ import annotations

import re

import attrs

__all__ = ["Reply", "make_reply"]

_DSN = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


@attrs.frozen
class Reply:
    """One SMTP reply: ``554 5.7.1 text``.

    >>> r = Reply(450, "4.7.1", "Service unavailable")
    >>> str(r), r.is_temporary, r.lines(footer="See https://help.example/")
    ('450 4.7.1 Service unavailable', True, ['450-4.7.1 Service unavailable', '450 4.7.1 See https://help.example/'])
    """

    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}".rstrip()

    @property
    def is_temporary(self) -> bool:
        """A 4xx reply (the client tries again later)."""
        return 400 <= self.code < 500

    def lines(self, footer: str = "") -> list[str]:
        """The reply as wire lines (without CRLF); ``footer`` is Postfix's
        ``smtpd_reject_footer`` already expanded: each ``\\n`` in it starts a
        new line, and every line gets the code and enhanced status."""
        texts = [self.text] + ([part for part in footer.replace("\\n", "\n").split("\n")]
                               if footer else [])
        out = []
        for i, text in enumerate(texts):
            sep = " " if i == len(texts) - 1 else "-"
            out.append(f"{self.code}{sep}{self.enhanced} {text}".rstrip())
        return out


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" or ord(c) > 127 else " " for c in text)


def make_reply(code: int, dsn: str, text: str, *, soft_bounce: bool = False) -> Reply:
    """A reply as ``smtpd_check_reject`` formats it.

    >>> make_reply(250, "2.0.0", "nonsense")
    Reply(code=450, enhanced='4.7.1', text='Service unavailable')
    >>> str(make_reply(554, "5.7.1", "no", soft_bounce=True))
    '454 4.7.1 no'
    """
    if not 400 <= code <= 599 or not _DSN.match(dsn):
        return Reply(450, "4.7.1", "Service unavailable")
    if soft_bounce and code >= 500:
        code -= 100
    text = _printable(text)[:510 - 10]
    return Reply(code, f"{str(code)[0]}{dsn[1:]}", text)
