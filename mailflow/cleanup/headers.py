"""Header-only parsing of a message, and the headers cleanup adds.

This module owns splitting the spool form of a message (bytes, ``\\n`` line
ends) into logical headers and a body, and the text of the headers Postfix's
cleanup(8) adds: ``Received:``, ``Message-Id:``, ``Date:``, ``From:`` and
``To: undisclosed-recipients:;``. It never builds the ``email`` object model,
never looks at the body beyond finding where it starts, and never reads a
clock (times are passed in).

>>> headers, body = split_message(b"Subject: hi\\n folded\\nFrom: a@example.com\\n\\nbody\\n")
>>> [(h.name, h.value) for h in headers]
[('Subject', 'hi\\n folded'), ('From', 'a@example.com')]
>>> body
b'body\\n'
"""

from __future__ import annotations

import re
import time

import attrs

__all__ = ["Header", "split_message", "join_message", "is_mime_header",
           "mail_date", "message_id", "received_pickup", "received_smtpd"]

# RFC 5322 section 2.2: a field name is printable ASCII except the colon;
# Postfix's is_header() also allows blanks between the name and the colon.
_HEADER_RE = re.compile(rb"[!-9;-~]+[ \t]*:")


@attrs.frozen
class Header:
    """One logical header: ``text`` is the whole header as written, folded
    lines joined with ``\\n`` and no line end at the end.

    >>> h = Header.parse("Subject:  hello\\n\\tworld")
    >>> h.name, h.lname, h.value
    ('Subject', 'subject', 'hello\\n\\tworld')
    """

    name: str
    text: str

    @classmethod
    def parse(cls, text: str) -> "Header":
        """A header from its text (``Name: value``, possibly folded)."""
        return cls(text.partition(":")[0].rstrip(), text)

    @classmethod
    def make(cls, name: str, value: str) -> "Header":
        """``Name: value`` built from its two parts.

        >>> Header.make("X-Spam", "yes").text
        'X-Spam: yes'
        """
        return cls(name, f"{name}: {value}")

    @property
    def lname(self) -> str:
        """The name in lower case, for comparisons (names are case-blind)."""
        return self.name.lower()

    @property
    def value(self) -> str:
        """The text after the colon, leading blanks removed, folding kept."""
        return self.text.partition(":")[2].lstrip(" \t")

    def to_bytes(self) -> bytes:
        """The header as spool bytes, ending in ``\\n``."""
        return self.text.encode("utf-8", "surrogateescape") + b"\n"


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def split_message(data: bytes, header_size_limit: int = 102400
                  ) -> tuple[list[Header], bytes]:
    """Split spool bytes into logical headers and the body.

    The header block ends at the first empty line, or (as in Postfix's
    cleanup) at the first line that is neither a header nor a continuation:
    that line then starts the body. A logical header longer than
    ``header_size_limit`` bytes is cut there (postconf(5): "If a header is
    larger, the excess is discarded").

    >>> h, b = split_message(b"Subject: x\\nnot a header\\n")
    >>> [x.text for x in h], b
    (['Subject: x'], b'not a header\\n')
    >>> split_message(b"\\nbody only\\n")
    ([], b'body only\\n')
    """
    end = data.find(b"\n\n")
    block = data if end < 0 else data[:end + 1]
    after = b"" if end < 0 else data[end + 2:]
    headers: list[Header] = []
    current: list[bytes] = []
    size = 0
    pos = 0
    n = len(block)
    while pos < n:
        nl = block.find(b"\n", pos)
        if nl < 0:
            nl = n
        line = block[pos:nl]
        if not line:
            return headers, data[pos + 1:]       # an empty first line: no headers
        if line[:1] in (b" ", b"\t") and current:
            if size + len(line) + 1 <= header_size_limit:
                current.append(line)
                size += len(line) + 1
        elif _HEADER_RE.match(line):
            if current:
                headers.append(Header.parse(_decode(b"\n".join(current))))
            current = [line[:header_size_limit]]
            size = len(current[0])
        else:
            # Not a header: the body starts here (nothing was folded onto it).
            if current:
                headers.append(Header.parse(_decode(b"\n".join(current))))
            return headers, data[pos:]
        pos = nl + 1
    if current:
        headers.append(Header.parse(_decode(b"\n".join(current))))
    return headers, after


def join_message(headers: list[Header], body: bytes) -> bytes:
    """Headers, the empty line, then the body: the spool form again.

    >>> join_message([Header.make("Subject", "x")], b"hi\\n")
    b'Subject: x\\n\\nhi\\n'
    """
    return b"".join(h.to_bytes() for h in headers) + b"\n" + body


def is_mime_header(lname: str) -> bool:
    """Whether a header is a MIME header (``Content-*``, ``MIME-Version``),
    the ones mime_header_checks inspects (header_checks(5)).

    >>> is_mime_header("content-type"), is_mime_header("subject")
    (True, False)
    """
    return lname.startswith("content-") or lname == "mime-version"


def mail_date(when: float) -> str:
    """A ``Date:`` value in Postfix's mail_date() form, in local time.

    Postfix writes ``%a, %e %b %Y %H:%M:%S``, the numeric offset, and the zone
    name in parentheses (``Sun, 29 Nov 2026 13:24:01 +0000 (UTC)``).

    >>> import re
    >>> bool(re.fullmatch(r"\\w{3}, [ \\d]\\d \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4} \\(.*\\)", mail_date(0)))
    True
    """
    tm = time.localtime(when)
    offset = tm.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    day = f"{tm.tm_mday:2d}"
    stamp = time.strftime(f"%a, {day} %b %Y %H:%M:%S", tm)
    return f"{stamp} {sign}{offset // 60:02d}{offset % 60:02d} ({tm.tm_zone})"


def message_id(when: float, queue_id: str, myhostname: str) -> str:
    """Postfix's generated Message-Id: ``<YYYYMMDDhhmmss.QUEUEID@myhostname>``
    with the time in UTC.

    >>> message_id(0, "4OQIBa0jY8z1W9", "mx.example.com")
    '<19700101000000.4OQIBa0jY8z1W9@mx.example.com>'
    """
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(when))
    return f"<{stamp}.{queue_id}@{myhostname}>"


def received_pickup(myhostname: str, queue_id: str, when: float,
                    uid: int | None = None, mail_name: str = "mailflow") -> Header:
    """The ``Received:`` header pickup(8) adds for local submission.

    >>> received_pickup("mx.example.com", "ABC", 0, uid=1000).text.splitlines()[0]
    'Received: by mx.example.com (mailflow, from userid 1000)'
    """
    who = mail_name if uid is None else f"{mail_name}, from userid {uid}"
    return Header("Received", f"Received: by {myhostname} ({who})\n\tid {queue_id}; {mail_date(when)}")


def received_smtpd(myhostname: str, queue_id: str, when: float, *, helo: str,
                   client_name: str, client_addr: str, protocol: str = "ESMTP",
                   recipient: str | None = None, mail_name: str = "mailflow",
                   comments: tuple = ()) -> Header:
    """The ``Received:`` header smtpd(8) adds, in Postfix's layout.

    ``recipient`` is given when the message has exactly one recipient
    (Postfix then adds ``for <rcpt>``). ``comments`` are lines smtpd puts
    after the ``from`` clause (``(using TLSv1.3 with cipher ...)``,
    ``(Authenticated sender: ann)``), each on a folded line of its own.

    >>> for line in received_smtpd("mx.example.com", "ABC", 0, helo="client.example",
    ...         client_name="client.example", client_addr="192.0.2.1",
    ...         recipient="bob@example.com").text.replace(mail_date(0), "DATE").splitlines():
    ...     print(repr(line))
    'Received: from client.example (client.example [192.0.2.1])'
    '\\tby mx.example.com (mailflow) with ESMTP id ABC'
    '\\tfor <bob@example.com>; DATE'
    """
    addr = f"IPv6:{client_addr}" if ":" in client_addr else client_addr
    extra = "".join(f"\t{line}\n" for line in comments)
    text = (f"Received: from {helo or client_name} ({client_name} [{addr}])\n{extra}"
            f"\tby {myhostname} ({mail_name}) with {protocol} id {queue_id}")
    # smtpd.c: "for <rcpt>; date" with one recipient, else ";" and the date
    # on a line of its own.
    if recipient is not None:
        return Header("Received", f"{text}\n\tfor <{recipient}>; {mail_date(when)}")
    return Header("Received", f"{text};\n\t{mail_date(when)}")
