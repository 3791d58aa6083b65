"""SMTP replies: the value, its wire form, and an incremental parser for the client side.

A :class:`Reply` is a code, one or more text lines and an optional RFC 2034
enhanced status code. :meth:`Reply.format` writes it as Postfix's smtpd does
(``250-first`` ... ``250 last``, the enhanced code repeated on every line);
:class:`ReplyParser` reads a server's replies from bytes as they arrive,
with bounded memory. This module does no I/O.

>>> r = Reply.of(250, "mx.example.com\\nPIPELINING\\nSIZE 10240000")
>>> r.format()
b'250-mx.example.com\\r\\n250-PIPELINING\\r\\n250 SIZE 10240000\\r\\n'
>>> p = ReplyParser()
>>> p.feed(b"250 2.0.0 Ok: queued as 4Q")
[]
>>> p.feed(b"x2Jk\\r\\n")
[Reply(code=250, lines=('Ok: queued as 4Qx2Jk',), enhanced='2.0.0')]
"""

from __future__ import annotations

import re

import attrs

from mailflow.smtp.errors import SmtpProtocolError

__all__ = ["Reply", "ReplyParser", "parse_enhanced"]

# RFC 3463 / Postfix dsn_valid(): class 2, 4 or 5, then 1-3 digit subject
# and detail, followed by a space or the end of the text.
_ENHANCED_RE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?= |$)")
_ENHANCED_FULL_RE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


def parse_enhanced(code: int, text: str) -> tuple[str | None, str]:
    """Split an RFC 2034 enhanced status code off the front of reply text.

    The code counts only when its first digit is the reply code's class, as
    RFC 2034 and Postfix's smtp client require; otherwise the text is left
    alone.

    >>> parse_enhanced(550, "5.1.1 <bob@example.com>: User unknown")
    ('5.1.1', '<bob@example.com>: User unknown')
    >>> parse_enhanced(250, "5.1.1 out of sync")
    (None, '5.1.1 out of sync')
    >>> parse_enhanced(354, "End data with <CR><LF>.<CR><LF>")
    (None, 'End data with <CR><LF>.<CR><LF>')
    """
    m = _ENHANCED_RE.match(text)
    if m is None or int(m.group(1)) != code // 100:
        return None, text
    return m.group(0), text[m.end():].lstrip(" ")


def _check_code(_inst: object, _attr: attrs.Attribute, value: int) -> None:
    if not 200 <= value <= 599:
        raise ValueError(f"SMTP reply code {value!r} is not in 200..599")


def _to_lines(value: "str | tuple[str, ...] | list[str]") -> tuple[str, ...]:
    # A lone string is one line, not a sequence of one-character lines.
    return (value,) if isinstance(value, str) else tuple(value)


def _check_lines(_inst: object, _attr: attrs.Attribute, value: tuple[str, ...]) -> None:
    if not value:
        raise ValueError("an SMTP reply has at least one line")
    for line in value:
        if "\r" in line or "\n" in line:
            raise ValueError(f"reply line {line!r} contains a line break")


@attrs.frozen
class Reply:
    """One SMTP reply: ``code``, text ``lines`` and the ``enhanced`` status code.

    ``lines`` hold the text only, without the code or the enhanced code.
    ``enhanced`` (``"2.0.0"``) is ``None`` for replies that have none
    (the greeting, HELO/EHLO, 3xx).

    >>> r = Reply.of(550, "<bob@example.com>: Recipient address rejected", "5.1.1")
    >>> str(r)
    '550 5.1.1 <bob@example.com>: Recipient address rejected'
    >>> (r.is_positive, r.is_transient, r.is_permanent)
    (False, False, True)
    >>> Reply.of(354, "End data with <CR><LF>.<CR><LF>").format()
    b'354 End data with <CR><LF>.<CR><LF>\\r\\n'
    """

    code: int = attrs.field(validator=_check_code)
    lines: tuple[str, ...] = attrs.field(converter=_to_lines, validator=_check_lines)
    enhanced: str | None = attrs.field(default=None)

    @enhanced.validator
    def _check_enhanced(self, _attr: attrs.Attribute, value: str | None) -> None:
        if value is None:
            return
        if not _ENHANCED_FULL_RE.fullmatch(value) or int(value[0]) != self.code // 100:
            raise ValueError(f"enhanced status code {value!r} does not fit reply code {self.code}")

    @classmethod
    def of(cls, code: int, text: str, enhanced: str | None = None) -> "Reply":
        """Build a reply from text that may hold ``\\n`` for a multi-line reply.

        >>> Reply.of(250, "first\\nlast", "2.0.0").lines
        ('first', 'last')
        """
        return cls(code, tuple(text.split("\n")), enhanced)

    @classmethod
    def parse(cls, text: str) -> "Reply":
        """Build a one-line reply from its written form, ``"550 5.1.1 text"``.

        The enhanced code is taken only when it matches the reply's class.

        >>> Reply.parse("554 5.7.1 <x@y>: Relay access denied")
        Reply(code=554, lines=('<x@y>: Relay access denied',), enhanced='5.7.1')
        >>> Reply.parse("221 Bye").enhanced is None
        True
        """
        if len(text) < 3 or not text[:3].isdigit() or text[3:4] not in ("", " "):
            raise ValueError(f"not an SMTP reply: {text!r}")
        code = int(text[:3])
        enhanced, rest = parse_enhanced(code, text[4:])
        return cls(code, (rest,), enhanced)

    @property
    def text(self) -> str:
        """The text lines joined with ``\\n`` (no codes).

        >>> Reply.of(250, "a\\nb").text
        'a\\nb'
        """
        return "\n".join(self.lines)

    @property
    def is_positive(self) -> bool:
        """A 2xx (completion) or 3xx (intermediate, e.g. 354, 334) reply."""
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        """A 4xx reply: try again later."""
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        """A 5xx reply: do not try again."""
        return self.code >= 500

    def format(self) -> bytes:
        """The reply on the wire, CRLF after every line, as Postfix writes it.

        >>> Reply.of(250, "a\\nb", "2.0.0").format()
        b'250-2.0.0 a\\r\\n250 2.0.0 b\\r\\n'
        """
        lines = self.lines
        if len(lines) == 1:        # nearly every reply: no loop, no join
            line, enhanced = lines[0], self.enhanced
            body = (f"{enhanced} {line}" if line else enhanced) if enhanced else line
            return (f"{self.code} {body}\r\n" if body else f"{self.code}\r\n").encode("utf-8")
        last = len(lines) - 1
        out = []
        for i, line in enumerate(lines):
            body = " ".join(part for part in (self.enhanced, line) if part)
            if body:
                out.append(f"{self.code}{' ' if i == last else '-'}{body}\r\n")
            else:  # RFC 5321 4.2: the text is optional; no trailing space
                out.append(f"{self.code}{'' if i == last else '-'}\r\n")
        return "".join(out).encode("utf-8")

    def __str__(self) -> str:
        """One line, as Postfix's logs show a reply: the lines joined by spaces.

        >>> str(Reply.of(250, "a\\nb", "2.0.0"))
        '250 2.0.0 a b'
        """
        parts = [str(self.code)]
        if self.enhanced:
            parts.append(self.enhanced)
        text = " ".join(self.lines)
        if text:
            parts.append(text)
        return " ".join(parts)


class ReplyParser:
    """Reads SMTP replies from bytes as they arrive (the client side).

    ``feed()`` returns every reply completed by the bytes given, in order.
    Bare LF line ends are accepted (RFC 5321 says CRLF; many servers differ).
    A reply line longer than ``line_limit`` bytes (Postfix's
    ``line_length_limit``, 2048) is cut at the limit and the rest of that line
    is discarded unread, as Postfix's smtp client does; a reply of more than
    ``max_lines`` lines, a line without a three-digit 2xx-5xx code, or a
    continuation line whose code differs from the first raise
    :class:`~mailflow.smtp.errors.SmtpProtocolError`. Memory is bounded by
    ``line_limit * max_lines`` whatever the server sends.

    >>> p = ReplyParser()
    >>> [str(r) for r in p.feed(b"250-mx.example\\n250-PIPELINING\\r\\n250 SIZE\\r\\n220 ")]
    ['250 mx.example PIPELINING SIZE']
    >>> p.feed(b"ready\\r\\n")[0].text
    'ready'
    >>> p.feed(b"hello\\r\\n")
    Traceback (most recent call last):
      ...
    mailflow.smtp.errors.SmtpProtocolError: malformed SMTP reply line: 'hello'
    """

    def __init__(self, *, line_limit: int = 2048, max_lines: int = 1000) -> None:
        if line_limit < 5 or max_lines < 1:
            raise ValueError("line_limit must be at least 5 and max_lines at least 1")
        self.line_limit = line_limit
        self.max_lines = max_lines
        self._buf = bytearray()
        self._skipping = False        # discarding the rest of an over-long line
        self._code: int | None = None  # the code of the reply being collected
        self._enhanced: str | None = None
        self._lines: list[str] = []

    @property
    def pending(self) -> bool:
        """Whether part of a reply has been read but not yet completed."""
        return bool(self._buf) or bool(self._lines) or self._skipping

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes from the server; return the replies they complete."""
        replies: list[Reply] = []
        pos = 0
        end = len(data)
        while pos < end:
            nl = data.find(b"\n", pos)
            if self._skipping:
                if nl < 0:
                    return replies
                self._skipping = False
                pos = nl + 1
                line = bytes(self._buf)
                self._buf.clear()
                self._line(line, replies)
                continue
            if nl < 0:
                self._buf += data[pos:]
                if len(self._buf) > self.line_limit:
                    # Keep the first line_limit bytes, drop the rest of the line
                    # as it arrives (Postfix: smtp_get(..., SMTP_GET_FLAG_SKIP)).
                    del self._buf[self.line_limit:]
                    self._skipping = True
                return replies
            self._buf += data[pos:nl]
            pos = nl + 1
            if len(self._buf) > self.line_limit:
                del self._buf[self.line_limit:]
            line = bytes(self._buf)
            self._buf.clear()
            self._line(line, replies)
        return replies

    def _line(self, raw: bytes, replies: list[Reply]) -> None:
        """Take one complete reply line (without LF)."""
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        text = raw.decode("utf-8", "replace")
        head = text[:3]
        sep = text[3:4]
        if not (len(head) == 3 and head.isascii() and head.isdigit() and head[0] in "2345"
                and sep in ("", " ", "-")) or "\r" in text:
            # A bare CR inside a line has no place in a reply (RFC 5321 2.3.8).
            raise SmtpProtocolError(f"malformed SMTP reply line: {text[:100]!r}")
        code = int(head)
        if self._code is None:
            self._code = code
        elif code != self._code:
            raise SmtpProtocolError(
                f"reply code changed within a multi-line reply: {self._code} then {code}")
        if len(self._lines) >= self.max_lines:
            raise SmtpProtocolError(f"multi-line reply longer than {self.max_lines} lines")
        enhanced, rest = parse_enhanced(code, text[4:])
        if enhanced is not None and self._enhanced is None:
            self._enhanced = enhanced
        self._lines.append(rest)
        if sep != "-":
            replies.append(Reply(code, tuple(self._lines), self._enhanced))
            self._code = None
            self._enhanced = None
            self._lines = []
