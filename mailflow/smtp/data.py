"""Message content on the wire: the DATA and BDAT decoders and the client's encoders.

Content is kept in the spool's form: lines end in ``\\n``, no dot-stuffing,
no end marker. :class:`DataDecoder` turns what a client sends after ``354``
into that form and finds the end marker; :class:`BdatDecoder` does the same
for RFC 3030 chunks (no dot-stuffing, exact byte counts);
:func:`encode_data` and :func:`encode_bdat` go the other way for a client.

Both decoders work on whole buffers with ``bytes.find``/``bytes.replace``;
they loop once per line only at lines that start with a dot, never once per
byte. What they hold between calls is a tail of at most a few bytes (a
``\\r`` whose ``\\n`` has not arrived, a ``.`` at a line start), so memory does
not depend on line or message length. No I/O.

Line ends (``bare_newline``, Postfix's ``smtpd_forbid_bare_newline``):

``normalize`` and ``reject``
    ``<CR><LF>`` and a bare ``<LF>`` both end a line; a bare ``<CR>`` is data.
    Only ``<CR><LF>.<CR><LF>`` ends the message: a ``.`` line next to a bare
    ``<LF>`` (``\\n.\\r\\n``, ``\\r\\n.\\n``, ``\\n.\\n``) is dropped, as Postfix 3.9
    does, and never ends or splits the message (no SMTP smuggling).
    ``bare_lf`` tells the caller that a bare ``<LF>`` was seen; under
    ``reject`` the service refuses the message for it.
``no``
    Postfix before 3.9: any ``.`` line ends the message, however it ends, and
    any run of ``<CR>`` before ``<LF>`` is part of the line end.

>>> d = DataDecoder()
>>> d.feed(b"Subject: hi\\r\\n\\r\\n..dot\\r\\nbare\\nlf\\r\\n.\\r\\nQUIT\\r\\n")
b'Subject: hi\\n\\n.dot\\nbare\\nlf\\n'
>>> (d.done, d.leftover, d.size, d.bare_lf)
(True, b'QUIT\\r\\n', 26, True)
>>> encode_data(b".dot\\nlast line")
b'..dot\\r\\nlast line\\r\\n.\\r\\n'
"""

from __future__ import annotations

import re

__all__ = ["DataDecoder", "BdatDecoder", "DataEncoder", "encode_data", "encode_bdat",
           "BARE_NEWLINE_MODES"]

BARE_NEWLINE_MODES = ("normalize", "reject", "no")

_CR = 0x0D
_LF = 0x0A
_DOT = 0x2E
# Under "no", a run of CRs before LF is all line end (Postfix's smtp_get()
# strips them when bare-newline detection is off).
_CRS_LF = re.compile(rb"\r+\n")
_CRS = re.compile(rb"\r*")
# A run of CRs longer than this at the end of a read is passed on as data
# rather than held back, so that a client cannot make the decoder buffer.
_MAX_HELD_CRS = 64


class _LineEnds:
    """CRLF (or CR...LF) to LF over a buffer, noting bare LFs."""

    def __init__(self, bare_newline: str) -> None:
        if bare_newline not in BARE_NEWLINE_MODES:
            raise ValueError(f"bare_newline must be one of {', '.join(BARE_NEWLINE_MODES)}, "
                             f"not {bare_newline!r}")
        self.legacy = bare_newline == "no"
        self.bare_lf = False

    def convert(self, seg: bytes) -> bytes:
        if not seg:
            return seg
        lfs = seg.count(b"\n")
        if not lfs:
            return seg
        crlfs = seg.count(b"\r\n")
        if crlfs != lfs:
            self.bare_lf = True
        if self.legacy:
            return _CRS_LF.sub(b"\n", seg) if crlfs else seg
        return seg.replace(b"\r\n", b"\n") if crlfs else seg

    def held(self, seg: bytes) -> int:
        """How many trailing bytes of ``seg`` must wait for the next read (CRs)."""
        if not seg.endswith(b"\r"):
            return 0
        if not self.legacy:
            return 1
        return min(len(seg) - len(seg.rstrip(b"\r")), _MAX_HELD_CRS)


class DataDecoder:
    """Decodes DATA content up to the end marker, in the spool's form.

    Call :meth:`feed` with bytes as they arrive; it returns the content they
    complete (possibly ``b""``). Once the end marker is seen, ``done`` is true
    and ``leftover`` holds the bytes that followed it (pipelined commands).
    ``size`` counts the content bytes returned; ``bare_lf`` is true once a
    line ended in a bare ``<LF>``.

    >>> d = DataDecoder()
    >>> d.feed(b"a\\r\\n.") + d.feed(b".b\\r\\n.\\r") + d.feed(b"\\n")
    b'a\\n.b\\n'
    >>> d.done
    True
    """

    def __init__(self, bare_newline: str = "normalize") -> None:
        self._ends = _LineEnds(bare_newline)
        self._tail = b""
        self._line_start = True   # the next byte starts a line
        self._prev_bare = False   # ... and the line before ended in a bare LF
        self.done = False
        self.leftover = b""
        self.size = 0

    @property
    def bare_lf(self) -> bool:
        """Whether a line ended in a bare ``<LF>`` (not ``<CR><LF>``)."""
        return self._ends.bare_lf

    def feed(self, data: bytes) -> bytes:
        """Take the next bytes; return the content they complete."""
        if self.done:
            raise ValueError("DATA content already ended; feed the leftover to the command parser")
        buf = self._tail + data if self._tail else bytes(data)
        self._tail = b""
        legacy = self._ends.legacy
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while pos < n:
            if self._line_start and buf[pos] == _DOT:
                # A line that starts with a dot: the end marker, a dot line
                # next to a bare LF (dropped), or a stuffed dot (removed).
                if pos + 1 >= n:
                    self._tail = buf[pos:]
                    break
                after = buf[pos + 1]
                if after == _LF:
                    self._ends.bare_lf = True
                    if legacy:
                        self._finish(buf, pos + 2)
                        break
                    pos += 2          # ".\n": dropped; never an end (RFC 5321 4.1.1.4)
                    self._prev_bare = True
                    continue
                if after == _CR:
                    lf = _CRS.match(buf, pos + 1).end() if legacy else pos + 2
                    if lf >= n:
                        if lf - pos > _MAX_HELD_CRS:
                            lf = pos + 1  # an absurd CR run: data, not a marker
                        else:
                            self._tail = buf[pos:]
                            break
                    if buf[lf] == _LF and (legacy or not self._prev_bare):
                        self._finish(buf, lf + 1)
                        break
                    if buf[lf] == _LF:
                        pos = lf + 1      # "\n.\r\n": dropped, as Postfix 3.9 does
                        self._prev_bare = False
                        continue
                pos += 1                  # a stuffed dot (RFC 5321 4.5.2)
                self._line_start = False
                if pos >= n:
                    break
            nl = buf.find(b"\n.", pos)
            if nl >= 0:
                end = nl + 1
            else:
                end = n - self._ends.held(buf[pos:] if pos else buf)
                self._tail = buf[end:]
            if end > pos:
                out.append(self._ends.convert(buf[pos:end]))
                if buf[end - 1] == _LF:
                    self._line_start = True
                    self._prev_bare = not (end >= 2 and buf[end - 2] == _CR)
                else:
                    self._line_start = False
            if nl < 0:
                break
            pos = end
        content = b"".join(out)
        self.size += len(content)
        return content

    def _finish(self, buf: bytes, end: int) -> None:
        self.done = True
        self.leftover = buf[end:]


class BdatDecoder:
    """Decodes the chunks of one BDAT message (RFC 3030) into the spool's form.

    Chunk bytes are content as they are: no dot-stuffing, no end marker.
    Line ends are converted as for DATA, also when a ``<CR>`` ends one chunk
    and its ``<LF>`` starts the next. Start each chunk with :meth:`start_chunk`,
    feed bytes until ``remaining`` is 0, and call :meth:`finish` after the
    LAST chunk.

    >>> d = BdatDecoder()
    >>> d.start_chunk(4)
    >>> d.feed(b"ab\\r\\rNOOP\\r\\n")
    (b'ab\\r', b'NOOP\\r\\n')
    >>> d.start_chunk(3)
    >>> d.feed(b"\\ncd")
    (b'\\ncd', b'')
    >>> d.finish(), d.size
    (b'', 6)
    """

    def __init__(self, bare_newline: str = "normalize") -> None:
        self._ends = _LineEnds(bare_newline)
        self._tail = b""
        self.remaining = 0
        self.size = 0

    @property
    def bare_lf(self) -> bool:
        """Whether a line ended in a bare ``<LF>``."""
        return self._ends.bare_lf

    def start_chunk(self, size: int) -> None:
        """Expect ``size`` more bytes of content."""
        if self.remaining:
            raise ValueError(f"previous chunk still has {self.remaining} bytes to read")
        self.remaining = size

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """Take bytes; return (content, bytes past the end of this chunk)."""
        take = min(len(data), self.remaining)
        self.remaining -= take
        buf = self._tail + data[:take] if self._tail else data[:take]
        keep = self._ends.held(buf)
        self._tail = buf[len(buf) - keep:] if keep else b""
        content = self._ends.convert(buf[:len(buf) - keep] if keep else buf)
        self.size += len(content)
        return bytes(content), bytes(data[take:])

    def finish(self) -> bytes:
        """End of the message: return the held ``<CR>`` (if any) as content."""
        tail, self._tail = self._tail, b""
        self.size += len(tail)
        return tail


class DataEncoder:
    """Encodes spool-form content for DATA, piece by piece (the client side).

    ``\\n`` becomes ``<CR><LF>``, a dot at a line start is doubled, and
    :meth:`end` closes the last line if needed and adds ``.<CR><LF>``.

    >>> e = DataEncoder()
    >>> e.feed(b"a\\n") + e.feed(b".b") + e.end()
    b'a\\r\\n..b\\r\\n.\\r\\n'
    """

    def __init__(self) -> None:
        self._line_start = True

    def feed(self, content: bytes) -> bytes:
        """Encode the next piece of content."""
        if not content:
            return b""
        stuffed = content.replace(b"\n.", b"\n..")
        if self._line_start and content[:1] == b".":
            stuffed = b"." + stuffed
        self._line_start = content.endswith(b"\n")
        return stuffed.replace(b"\n", b"\r\n")

    def end(self) -> bytes:
        """The end of the content: a final line end if missing, then the end marker."""
        closing = b".\r\n" if self._line_start else b"\r\n.\r\n"
        self._line_start = True
        return closing


def encode_data(content: bytes) -> bytes:
    """Spool-form content as a client sends it after ``354``, end marker included.

    >>> encode_data(b"")
    b'.\\r\\n'
    >>> encode_data(b"a\\n.\\n")
    b'a\\r\\n..\\r\\n.\\r\\n'
    """
    encoder = DataEncoder()
    return encoder.feed(content) + encoder.end()


def encode_bdat(content: bytes) -> bytes:
    """Spool-form content as BDAT chunk bytes: ``\\n`` becomes ``<CR><LF>``, nothing else.

    >>> encode_bdat(b".a\\nb")
    b'.a\\r\\nb'
    """
    return content.replace(b"\n", b"\r\n")
