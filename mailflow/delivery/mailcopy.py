"""The bytes a delivery agent writes: Postfix's mail_copy() as pure functions.

Owns the mbox ``From `` line, the ``Return-Path:``/``X-Original-To:``/
``Delivered-To:`` headers, ``>From`` and dot quoting and the trailing blank
line, selected by :class:`CopyFlags` (the letters of pipe(8)'s ``flags=``).
Pure: no files, no clock (callers pass ``now``).

>>> out = render(b"Subject: x\\n\\nFrom here\\n", sender="a@example.com",
...              recipient="b@example.com", flags=CopyFlags.MBOX, now=0.0, tz_utc=True)
>>> print(out.decode(), end="")
From a@example.com  Thu Jan  1 00:00:00 1970
Return-Path: <a@example.com>
X-Original-To: b@example.com
Delivered-To: b@example.com
Subject: x
<BLANKLINE>
>From here
<BLANKLINE>
"""

from __future__ import annotations

import enum
import time

__all__ = ["CopyFlags", "from_line", "envelope_headers", "quote_from", "quote_dots",
           "render", "delivered_to"]


class CopyFlags(enum.Flag):
    """What to add or quote when copying a message (pipe(8) ``flags=`` letters)."""

    # Plain ints, not enum.auto(): the composite members below are computed
    # in the class body, which enum.auto() supports only from Python 3.11.
    NONE = 0
    FROM = 1            # F: mbox "From sender  date" line
    RETURN_PATH = 2     # R: Return-Path: <sender>
    ORIG_RCPT = 4       # O: X-Original-To: original recipient
    DELIVERED = 8       # D: Delivered-To: recipient
    QUOTE = 16          # >: ">From " for body lines starting "From "
    DOT = 32            # .: double a leading "." (SMTP-style)
    BLANK = 64          # B: a blank line after the message
    # local(8) mailbox delivery uses all of these (mail_copy.h MAIL_COPY_MBOX).
    MBOX = FROM | RETURN_PATH | ORIG_RCPT | DELIVERED | QUOTE | BLANK
    # Maildir gets the headers but no From line or quoting.
    MAILDIR = RETURN_PATH | ORIG_RCPT | DELIVERED

    @classmethod
    def from_letters(cls, letters: str) -> "CopyFlags":
        """``"FR>B"`` -> the matching flags; other letters are ignored here.

        >>> CopyFlags.from_letters("DRB") == CopyFlags.DELIVERED | CopyFlags.RETURN_PATH | CopyFlags.BLANK
        True
        """
        out = cls.NONE
        for ch in letters:
            out |= _LETTERS.get(ch, cls.NONE)
        return out


_LETTERS = {"F": CopyFlags.FROM, "R": CopyFlags.RETURN_PATH, "O": CopyFlags.ORIG_RCPT,
            "D": CopyFlags.DELIVERED, ">": CopyFlags.QUOTE, ".": CopyFlags.DOT,
            "B": CopyFlags.BLANK}


def from_line(sender: str, now: float, tz_utc: bool = False) -> bytes:
    """The mbox separator line; the null sender shows as MAILER-DAEMON.

    Postfix writes ``From %s  %.24s`` (two spaces, asctime() date).

    >>> from_line("", 0.0, tz_utc=True)
    b'From MAILER-DAEMON  Thu Jan  1 00:00:00 1970\\n'
    """
    when = time.gmtime(now) if tz_utc else time.localtime(now)
    return b"From %s  %s\n" % (header_safe(sender or "MAILER-DAEMON"),
                               time.asctime(when)[:24].encode())


def envelope_headers(flags: CopyFlags, sender: str, original: str, recipient: str) -> bytes:
    """``Return-Path:``, ``X-Original-To:``, ``Delivered-To:`` in Postfix's order.

    Delivered-To is lowercased as Postfix does, so loop detection compares
    like with like.

    >>> envelope_headers(CopyFlags.DELIVERED | CopyFlags.RETURN_PATH, "", "x", "Bob@Example.COM")
    b'Return-Path: <>\\nDelivered-To: bob@example.com\\n'
    """
    out = []
    if flags & CopyFlags.RETURN_PATH:
        out.append(b"Return-Path: <%s>\n" % header_safe(sender))
    if flags & CopyFlags.ORIG_RCPT:
        out.append(b"X-Original-To: %s\n" % header_safe(original))
    if flags & CopyFlags.DELIVERED:
        out.append(b"Delivered-To: %s\n" % header_safe(recipient.lower()))
    return b"".join(out)


def header_safe(text: str) -> bytes:
    """An address as header or mbox-line bytes: control characters (a newline
    in a quoted local part, a NUL) become ``?``, as Postfix's printable()
    does, so an address can never add a header line of its own.

    >>> header_safe("a" + chr(10) + "X-Evil: 1@example.com")
    b'a?X-Evil: 1@example.com'
    """
    if text.isprintable():
        return text.encode("utf-8", "surrogateescape")
    return "".join(c if c.isprintable() or c == "\t" else "?" for c in text).encode(
        "utf-8", "surrogateescape")


def quote_from(data: bytes) -> bytes:
    """Prefix ``>`` to every line that starts with ``From `` (mboxo quoting).

    >>> quote_from(b"From a\\nxFrom b\\nFrom c\\n")
    b'>From a\\nxFrom b\\n>From c\\n'
    """
    data = data.replace(b"\nFrom ", b"\n>From ")
    return b">" + data if data.startswith(b"From ") else data


def quote_dots(data: bytes) -> bytes:
    """Double a leading dot on every line (pipe(8) flag ``.``).

    >>> quote_dots(b".a\\nb\\n..c\\n")
    b'..a\\nb\\n...c\\n'
    """
    data = data.replace(b"\n.", b"\n..")
    return b"." + data if data.startswith(b".") else data


def render(message: bytes, *, sender: str, recipient: str, original: str | None = None,
           flags: CopyFlags, now: float | None = None, tz_utc: bool = False,
           eol: bytes = b"\n") -> bytes:
    """The complete bytes to write for one delivery."""
    parts = []
    if flags & CopyFlags.FROM:
        parts.append(from_line(sender, time.time() if now is None else now, tz_utc))
    parts.append(envelope_headers(flags, sender, recipient if original is None else original,
                                  recipient))
    body = message
    if body and not body.endswith(b"\n"):
        body += b"\n"   # mail_copy() always ends the last line
    if flags & CopyFlags.QUOTE:
        body = quote_from(body)
    if flags & CopyFlags.DOT:
        body = quote_dots(body)
    parts.append(body)
    if flags & CopyFlags.BLANK:
        parts.append(b"\n")
    out = b"".join(parts)
    if eol != b"\n":
        out = out.replace(b"\n", eol)
    return out


def delivered_to(header_bytes: bytes) -> set[str]:
    """The lowercased values of every ``Delivered-To:`` header (loop detection).

    >>> sorted(delivered_to(b"Delivered-To: A@x\\nSubject: s\\ndelivered-to:  b@x\\n"))
    ['a@x', 'b@x']
    """
    out = set()
    for line in header_bytes.split(b"\n"):
        if line[:13].lower() == b"delivered-to:":
            out.add(line[13:].strip().decode("utf-8", "surrogateescape").lower())
    return out
