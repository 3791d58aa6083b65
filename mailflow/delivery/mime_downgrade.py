"""8BITMIME to 7BIT: the smtp/lmtp clients' conversion for servers without 8BITMIME.

Owns Postfix's MIME downgrade (mime_state.c with ``MIME_OPT_DOWNGRADE``, as
smtp(8) runs it when the server does not announce 8BITMIME and
``disable_mime_output_conversion = no``): one pass over the message that
follows its MIME structure and rewrites only what claims to be 8-bit.

* A body part whose ``Content-Transfer-Encoding`` is ``8bit`` or ``binary``
  is encoded as quoted-printable; its Content-Transfer-Encoding header is
  dropped, and ``Content-Transfer-Encoding: quoted-printable`` is added at
  the end of that part's headers.
* A multipart or message/* entity (other than message/global) that claims
  8bit or binary gets ``Content-Transfer-Encoding: 7bit`` instead; its
  content is walked: the parts of a multipart (by their boundaries, nested
  up to ``mime_nesting_limit``), the headers and body of a message/rfc822.
* Everything else is copied unchanged: parts that say (or default to)
  7bit, quoted-printable or base64 -- even when they hold 8-bit bytes,
  which Postfix does not guess about -- and message headers, 8-bit
  ones included (no encoding of headers exists that every reader
  understands; Postfix sends them as they are).

Quoted-printable is Postfix's: every byte below 32 (but TAB), ``=`` and
every byte above 126 becomes ``=XX``; a soft line break (``=``) ends an
output line once it is longer than 72 characters, so lines stay at most
76 long; a space or TAB at the end of a line is encoded. Pure: bytes in
(lines ending in ``\\n``, the spool's form), bytes out; no I/O.

>>> msg = (b"Content-Type: text/plain; charset=utf-8\\n"
...        b"Content-Transfer-Encoding: 8bit\\nSubject: caf\\xc3\\xa9\\n\\n"
...        b"caf\\xc3\\xa9 = coffee\\n")
>>> for line in downgrade(msg).splitlines():
...     print(line)
b'Content-Type: text/plain; charset=utf-8'
b'Subject: caf\\xc3\\xa9'
b'Content-Transfer-Encoding: quoted-printable'
b''
b'caf=C3=A9 =3D coffee'
"""

from __future__ import annotations

import re

import attrs

from mailflow.errors import MailflowError

__all__ = ["downgrade", "needs_downgrade", "MimeNestingError", "qp_line"]

_HEADER = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_TSPECIALS = b'()<>@,;:\\"/[]?='
# One token of a MIME header value: a quoted string, a special, or an atom.
_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"?|([()<>@,;:\\/\[\]?=])|([^\s()<>@,;:\\"/\[\]?=]+)')
_COMMENT = re.compile(rb"\((?:[^()\\]|\\.)*\)")

# Quoted-printable of each byte value (mime_state_downgrade's rule).
_QP = [bytes([c]) if (32 <= c <= 126 and c != 0x3D) or c == 9 else b"=%02X" % c
       for c in range(256)]

_TEXT, _MESSAGE, _MULTIPART, _OTHER = "text", "message", "multipart", "other"
_7BIT, _8BIT = "7bit", "8bit"
# Encoding name -> its domain (RFC 2045): transformations are 7-bit.
_DOMAINS = {b"7bit": _7BIT, b"8bit": _8BIT, b"binary": _8BIT,
            b"base64": _7BIT, b"quoted-printable": _7BIT}


class MimeNestingError(MailflowError):
    """The multipart structure nests deeper than mime_nesting_limit. Postfix
    bounces such a message: ``5.6.0 MIME nesting exceeds safety limit``."""

    dsn = "5.6.0"
    text = "MIME nesting exceeds safety limit"


def needs_downgrade(data: bytes) -> bool:
    """Whether the message holds 8-bit bytes (what the conversion is for).

    >>> needs_downgrade(b"Subject: hi\\n\\nplain\\n"), needs_downgrade(b"\\n\\xe9\\n")
    (False, True)
    """
    return not data.isascii()


def qp_line(line: bytes) -> list[bytes]:
    """One line as quoted-printable output lines (all but the last end in a
    soft line break ``=``).

    >>> qp_line(b"tab\\tend \\xff")
    [b'tab\\tend =FF']
    >>> [len(x) for x in qp_line(b"x" * 100)]
    [74, 27]
    >>> qp_line(b"trailing space ")
    [b'trailing space=20']
    """
    out: list[bytes] = []
    buf = bytearray()
    for ch in line:
        if len(buf) > 72:
            buf += b"="
            out.append(bytes(buf))
            buf = bytearray()
        buf += _QP[ch]
    if buf and buf[-1] in (0x20, 0x09):
        # A space or TAB at the end of a line would be stripped in transit.
        buf[-1:] = b"=%02X" % buf[-1]
    out.append(bytes(buf))
    return out


@attrs.define
class _Bound:
    boundary: bytes
    def_ctype: str
    def_stype: str


def _tokens(value: bytes) -> list[tuple[str, bytes]]:
    """RFC 2045 tokens of a header value: ("q"|"s"|"a", text); comments dropped."""
    value = _COMMENT.sub(b" ", value)
    out = []
    for m in _TOKEN.finditer(value):
        if m.group(2) is not None:
            out.append(("s", m.group(2)))
        elif m.group(3) is not None:
            out.append(("a", m.group(3)))
        else:
            out.append(("q", re.sub(rb"\\(.)", rb"\1", m.group(1) or b"")))
    return out


class _Downgrade:
    """The state machine of one message (Postfix's MIME_STATE)."""

    def __init__(self, nesting_limit: int, boundary_limit: int) -> None:
        self.nesting_limit = nesting_limit
        self.boundary_limit = boundary_limit
        self.out: list[bytes] = []
        self.state = "primary"           # primary, multipart, nested (headers) or body
        self.ctype, self.stype, self.domain = _TEXT, "plain", _7BIT
        self.stack: list[_Bound] = []
        self.nesting = -1
        self.header: list[bytes] = []

    def _set(self, state: str, ctype: str, stype: str) -> None:
        self.state, self.ctype, self.stype, self.domain = state, ctype, stype, _7BIT

    def line(self, line: bytes) -> None:
        if self.state != "body":
            if self.header:
                if line[:1] in (b" ", b"\t"):
                    self.header.append(line)
                    return
                self._header_done()
            m = _HEADER.match(line)
            if m:
                # Postfix's "Name : value" -> "Name: value" (obsolete syntax).
                self.header = [m.group(1) + line[m.end() - 1:]]
                return
            self._headers_end(line)
        self._body(line)

    def _header_done(self) -> None:
        lines, self.header = self.header, []
        first = lines[0]
        name, _, value = first.partition(b":")
        name = name.lower()
        value = b"\n".join([value] + lines[1:])
        if name == b"content-type":
            self._content_type(value)
        elif name == b"content-transfer-encoding":
            toks = _tokens(value)
            if toks and toks[0][0] == "a":
                self.domain = _DOMAINS.get(toks[0][1].lower(), self.domain)
            if self.domain != _7BIT:
                return            # replaced at the end of the headers
        self.out += lines

    def _content_type(self, value: bytes) -> None:
        params = _split_params(value)
        toks = _tokens(params[0]) if params else []
        kind = toks[0][1].lower() if toks and toks[0][0] == "a" else b""
        sub = toks[2][1].lower() if len(toks) >= 3 and toks[1] == ("s", b"/") else b""
        if kind == b"text":
            self.ctype, self.stype = _TEXT, "plain" if sub == b"plain" else "other"
        elif kind == b"message":
            self.ctype = _MESSAGE
            self.stype = {b"rfc822": "rfc822", b"partial": "partial",
                          b"external-body": "external-body",
                          b"global": "global"}.get(sub, "other")
        elif kind == b"multipart":
            self.ctype = _MULTIPART
            default = (_MESSAGE, "rfc822") if sub == b"digest" else (_TEXT, "plain")
            for param in params[1:]:
                ptoks = _tokens(param)
                if (len(ptoks) >= 3 and ptoks[0][0] == "a" and ptoks[0][1].lower() == b"boundary"
                        and ptoks[1] == ("s", b"=")):
                    if self.nesting > self.nesting_limit:
                        raise MimeNestingError(MimeNestingError.text)
                    self.nesting += 1
                    self.stack.insert(0, _Bound(ptoks[2][1][:self.boundary_limit], *default))
        else:
            self.ctype = _OTHER

    def _headers_end(self, line: bytes) -> None:
        self._cte()
        if line == b"":
            if self.ctype == _MESSAGE and (self.stype == "rfc822"
                                           or (self.stype == "global" and self.domain == _7BIT)):
                self._set("nested", _TEXT, "plain")
            elif self.ctype == _MULTIPART:
                self._set("body", _OTHER, "other")
            else:
                self.state = "body"
        else:
            # A line that is neither a header nor the empty separator: the
            # body starts here; after the primary headers Postfix adds the
            # missing empty line.
            if self.state == "primary":
                self.out.append(b"")
            self.state = "body"

    def _body(self, line: bytes) -> None:
        if self.stack and len(line) > 2 and line[:2] == b"--":
            for i, bound in enumerate(self.stack):
                n = len(bound.boundary)
                if len(line) >= 2 + n and line[2:2 + n] == bound.boundary:
                    del self.stack[:i]
                    self.nesting -= i
                    if line[2 + n:4 + n] == b"--":
                        self.stack.pop(0)
                        self.nesting -= 1
                        self._set("body", _OTHER, "other")
                    else:
                        self._set("multipart", bound.def_ctype, bound.def_stype)
                    break
        if self.domain != _7BIT:
            self.out += qp_line(line)
        else:
            self.out.append(line)

    def finish(self) -> None:
        if self.state != "body":
            # The message ends inside a header block: what a header line
            # would have decided is decided now (mime_state_update() at end).
            if self.header:
                self._header_done()
            self._cte()

    def _cte(self) -> None:
        if self.domain != _7BIT:
            nested = ((self.ctype == _MESSAGE and self.stype != "global")
                      or self.ctype == _MULTIPART)
            self.out.append(b"Content-Transfer-Encoding: "
                            + (b"7bit" if nested else b"quoted-printable"))


def _split_params(value: bytes) -> list[bytes]:
    """A header value split at ``;`` outside quoted strings and comments."""
    parts, cur, quoted, depth, escaped = [], bytearray(), False, 0, False
    for ch in value:
        c = bytes([ch])
        if escaped:
            escaped = False
        elif c == b"\\":
            escaped = True
        elif quoted:
            quoted = c != b'"'
        elif c == b'"':
            quoted = True
        elif c == b"(":
            depth += 1
        elif c == b")" and depth:
            depth -= 1
        elif c == b";" and not depth:
            parts.append(bytes(cur))
            cur = bytearray()
            continue
        cur += c
    parts.append(bytes(cur))
    return parts


def downgrade(data: bytes, *, nesting_limit: int = 100, boundary_limit: int = 2048) -> bytes:
    """``data`` with its 8-bit parts made 7-bit, as Postfix's smtp does for
    a server without 8BITMIME (see the module docstring). Lines end in
    ``\\n`` in and out; a last line without one gets one. Raises
    :class:`MimeNestingError` past ``mime_nesting_limit``.

    >>> data = (b"Content-Type: multipart/mixed; boundary=b1\\n"
    ...         b"Content-Transfer-Encoding: 8bit\\n\\npreamble\\n--b1\\n"
    ...         b"Content-Transfer-Encoding: 8bit\\n\\n\\xe9t\\xe9\\n--b1--\\n")
    >>> print(downgrade(data).decode())
    Content-Type: multipart/mixed; boundary=b1
    Content-Transfer-Encoding: 7bit
    <BLANKLINE>
    preamble
    --b1
    Content-Transfer-Encoding: quoted-printable
    <BLANKLINE>
    =E9t=E9
    --b1--
    <BLANKLINE>
    """
    machine = _Downgrade(nesting_limit, boundary_limit)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        machine.line(line)
    machine.finish()
    if not machine.out:
        return b""
    return b"\n".join(machine.out) + b"\n"
