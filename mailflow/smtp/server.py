"""The server side of SMTP/LMTP as a state machine: bytes in, events out.

:class:`ServerEngine` turns what a client sends into events
(:mod:`mailflow.smtp.events`): one per command line, message content as
:class:`~mailflow.smtp.events.MessageData` pieces. It checks what Postfix's
smtpd checks *before* a command's handler runs (line length, bare
newlines, UTF-8, tokenizing, each command's syntax) and reports a refused
line as :class:`~mailflow.smtp.events.BadCommand` with Postfix's reply.
Everything that depends on the session (order of commands, policy, limits)
is the service's job; the service tells the engine what it replied when that
changes how the next bytes are read (``start_data()``,
``start_auth_response()``, ``start_tls()``, ``stop_data()``).

No sockets, no clock, no logging. Memory per connection is bounded: at most
one command line (``line_length_limit``) is buffered, and message content is
passed on as it arrives, holding back only a few bytes at a time.

>>> engine = ServerEngine()
>>> engine.receive_data(b"EHLO client.example\\r\\nMAIL FROM:<a@example.com> SIZE=10\\r\\n")
>>> engine.next_event()
Hello(verb='EHLO', domain='client.example', pipelined=True)
>>> engine.next_event().address
'a@example.com'
>>> engine.next_event()
NEED_DATA
"""

from __future__ import annotations

import collections
import re

import attrs

from mailflow.address.parse import parse_path
from mailflow.errors import AddressError
from mailflow.smtp import replies
from mailflow.smtp.data import BARE_NEWLINE_MODES, BdatDecoder, DataDecoder
from mailflow.smtp.errors import ParameterError, SmtpProtocolError
from mailflow.smtp.esmtp import parse_mail_params, parse_rcpt_params, xtext_decode
from mailflow.smtp.events import (
    CLOSED, NEED_DATA, Auth, AuthResponse, BadCommand, Bdat, BdatChunkEnd, Data,
    EndOfMessage, Etrn, Event, Hello, Help, MailFrom, MessageData, Noop, Quit, RcptTo, Rset,
    StartTls, UnknownCommand, Vrfy, Xclient, Xforward,
)

__all__ = ["ServerEngine", "tokenize"]

# Postfix's smtpd_token(): words split at white space, except inside <...>
# and "..." (which may nest quotes) and after a backslash; "FROM:" and "TO:"
# end a word at their colon, so "MAIL FROM:<a@b>" is MAIL, FROM:, <a@b>.
_SPACE = " \t\r\n\v\f"
_PIECE = re.compile(r"""
      (?P<angle> < (?: [^<>"\\] | \\. | " (?: [^"\\] | \\. )* " )* > )
    | (?P<quote> " (?: [^"\\] | \\. )* " )
    | (?P<plain> (?: [^ \t\r\n\v\f<"\\:] | \\. )+ )
    | (?P<colon> : )
    | (?P<space> [ \t\r\n\v\f]+ )
    | (?P<error> [<"\\] .* )
""", re.X | re.S)
_ENDS_AT_COLON = ("from:", "to:")

# The common address form, <dot-atom@domain>, whose internal form is the text
# between the brackets; anything else goes through the full address parser.
_SIMPLE_PATH = re.compile(
    r"<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>")

# XCLIENT/XFORWARD values longer than this are refused (smtpd.c).
_MAX_ATTRIBUTE_VALUE = 255
# Largest SIZE/BDAT count Postfix accepts (off_t).
_OFF_T_MAX = 2**63 - 1

_COMMAND, _DATA, _BDAT, _SKIP_LINE = "command", "data", "bdat", "skip-line"


def tokenize(line: str) -> list[tuple[str, bool]]:
    """Split a command line into words as Postfix's smtpd does; each with a "malformed" flag.

    A word with an unterminated ``<`` or ``"`` runs to the end of the line
    and is marked malformed (Postfix's ``SMTPD_TOK_ERROR``).

    >>> [w for w, _ in tokenize('MAIL FROM:<"a b"@example.com> SIZE=10')]
    ['MAIL', 'FROM:', '<"a b"@example.com>', 'SIZE=10']
    >>> tokenize("RCPT TO:<bob@example.com")
    [('RCPT', False), ('TO:', False), ('<bob@example.com', True)]
    """
    words: list[tuple[str, bool]] = []
    current: list[str] = []
    bad = False
    pos = 0
    n = len(line)
    while pos < n:
        m = _PIECE.match(line, pos)
        assert m is not None  # the alternatives cover every character
        pos = m.end()
        kind = m.lastgroup
        if kind == "space":
            if current:
                words.append(("".join(current), bad))
                current, bad = [], False
            continue
        current.append(m.group())
        if kind == "error":
            bad = True
        elif kind == "colon" and "".join(current).lower() in _ENDS_AT_COLON:
            words.append(("".join(current), bad))
            current, bad = [], False
    if current:
        words.append(("".join(current), bad))
    return words


class ServerEngine:
    """The SMTP (or LMTP) server's protocol engine for one connection.

    Feed bytes with :meth:`receive_data` (``b""`` when the client closed)
    and take events with :meth:`next_event` until it returns
    :data:`~mailflow.smtp.events.NEED_DATA`. After the client closed and
    everything was read it returns :data:`~mailflow.smtp.events.CLOSED` for
    good; ``unfinished`` then says what the client was in the middle of
    (``"command"``, ``"data"``, ``"bdat"``) or is ``None``.

    ``lmtp`` accepts LHLO instead of HELO/EHLO. ``line_length_limit`` is
    Postfix's ``line_length_limit`` (longer command lines are skipped, not
    buffered, and refused); ``bare_newline`` is
    ``smtpd_forbid_bare_newline`` (``normalize``, ``reject`` or ``no``; see
    :mod:`mailflow.smtp.data`); ``strict_rfc821_envelopes`` requires
    ``<...>`` around addresses. ``hostname`` (``myhostname``) is named in
    the replies where Postfix names it. ``dsn``, ``smtputf8`` and
    ``binarymime`` say which MAIL/RCPT parameters are accepted; the service
    may change them per client (``smtpd_discard_ehlo_keywords``).

    >>> e = ServerEngine()
    >>> e.receive_data(b"DATA\\r\\n")
    >>> e.next_event()
    Data(pipelined=False)
    >>> e.start_data()
    >>> e.receive_data(b"Hi\\r\\n.\\r\\n")
    >>> e.next_event(), e.next_event()
    (MessageData(data=b'Hi\\n'), EndOfMessage(size=3, bare_newline=False, discarded=False))
    """

    def __init__(self, lmtp: bool = False, line_length_limit: int = 2048,
                 bare_newline: str = "normalize", *, strict_rfc821_envelopes: bool = False,
                 hostname: str = "", dsn: bool = True, smtputf8: bool = True,
                 binarymime: bool = False, max_words: int = 32,
                 auth_line_limit: int = 12288) -> None:
        if bare_newline not in BARE_NEWLINE_MODES:
            raise ValueError(f"bare_newline must be one of {', '.join(BARE_NEWLINE_MODES)}, "
                             f"not {bare_newline!r}")
        if line_length_limit < 16:
            raise ValueError("line_length_limit must be at least 16")
        self.lmtp = lmtp
        self.line_length_limit = line_length_limit
        self.bare_newline = bare_newline
        self.strict_rfc821_envelopes = strict_rfc821_envelopes
        self.hostname = hostname
        self.dsn = dsn
        self.smtputf8 = smtputf8
        self.binarymime = binarymime
        self.max_words = max_words
        self.auth_line_limit = auth_line_limit
        self.unfinished: str | None = None
        self._buf = bytearray()
        self._closed = False     # the client sent EOF
        self._finished = False   # CLOSED has been returned
        self._state = _COMMAND
        self._auth_next = False  # the next line answers a 334 challenge
        self._skipped = b""      # the start of an over-long line being skipped
        self._pending: collections.deque[Event] = collections.deque()
        self._data: DataDecoder | None = None
        self._bdat: BdatDecoder | None = None
        self._bdat_last = False
        self._bdat_chunk = 0
        self._discard = False        # skipping the current DATA content or BDAT chunk
        self._discarded_any = False  # ... some of this message's content was skipped

    # --- what the service tells the engine ----------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the client; ``b""`` means the client closed its side."""
        if self._closed:
            if data:
                raise SmtpProtocolError("bytes received after the client closed")
            return
        if not data:
            self._closed = True
            return
        self._buf += data

    def start_data(self) -> None:
        """The service sent 354: what follows is content up to ``<CR><LF>.<CR><LF>``."""
        if self._state != _COMMAND:
            raise RuntimeError(f"start_data() while reading {self._state}")
        self._reset_bdat()
        self._data = DataDecoder(self.bare_newline)
        self._discard = self._discarded_any = False
        self._state = _DATA

    def start_auth_response(self) -> None:
        """The service sent 334: the next line is an AUTH response, not a command."""
        self._auth_next = True

    def start_tls(self) -> bytes:
        """The service sent 220 to STARTTLS: drop and return any bytes already buffered.

        Bytes sent before the TLS handshake must not be read as commands after
        it (CVE-2011-0411, plaintext command injection); the service may log them.
        """
        dropped = bytes(self._buf)
        self._buf.clear()
        self._pending.clear()
        self._auth_next = False
        self._state = _COMMAND
        return dropped

    def stop_data(self) -> None:
        """Skip the rest of the current DATA content or BDAT chunk without MessageData.

        The end is still reported (``EndOfMessage``/``BdatChunkEnd`` with
        ``discarded=True``), so the service replies at the right moment. It may
        be called on any ``MessageData``, also when the end of the content has
        already been read: pieces not yet handed out are dropped too.
        """
        in_content = self._state in (_DATA, _BDAT)
        if not in_content and not any(isinstance(e, (EndOfMessage, BdatChunkEnd))
                                      for e in self._pending):
            raise RuntimeError("stop_data() outside message content")
        kept: collections.deque[Event] = collections.deque()
        for event in self._pending:
            if isinstance(event, MessageData):
                continue
            if isinstance(event, (EndOfMessage, BdatChunkEnd)):
                event = attrs.evolve(event, discarded=True)
            kept.append(event)
        self._pending = kept
        if in_content:
            self._discard = self._discarded_any = True

    # --- events ---------------------------------------------------------------

    def next_event(self) -> Event | object:
        """The next event, or NEED_DATA, or CLOSED once the client closed and all was read."""
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._finished:
                return CLOSED
            if self._state == _DATA:
                event = self._next_data()
            elif self._state == _BDAT:
                event = self._next_bdat()
            else:
                event = self._next_line()
            if event is not None:
                return event
            if not self._pending:
                if self._closed:
                    self._finish()
                    continue
                return NEED_DATA

    def _finish(self) -> None:
        self._finished = True
        if self._state == _DATA:
            self.unfinished = "data"
        elif self._state == _BDAT:
            self.unfinished = "bdat"
        elif self._buf or self._state == _SKIP_LINE:
            self.unfinished = "command"
        self._buf.clear()

    # --- message content ------------------------------------------------------

    def _next_data(self) -> Event | None:
        decoder = self._data
        assert decoder is not None
        if not self._buf:
            return None
        content = decoder.feed(bytes(self._buf))
        self._buf.clear()
        if content and not self._discard:
            self._pending.append(MessageData(content))
        if decoder.done:
            self._buf += decoder.leftover
            self._pending.append(EndOfMessage(decoder.size, decoder.bare_lf, self._discard))
            self._data = None
            self._discard = False
            self._state = _COMMAND
        return None

    def _next_bdat(self) -> Event | None:
        decoder = self._bdat
        assert decoder is not None
        if decoder.remaining and not self._buf:
            return None
        content, rest = decoder.feed(bytes(self._buf))
        self._buf[:] = rest
        if content and not self._discard:
            self._pending.append(MessageData(content))
        if decoder.remaining:
            return None
        last = self._bdat_last
        if last:
            tail = decoder.finish()
            if tail and not self._discard:
                self._pending.append(MessageData(tail))
        self._pending.append(BdatChunkEnd(last, self._bdat_chunk, self._discard))
        self._discard = False
        self._state = _COMMAND
        if last:
            self._pending.append(EndOfMessage(decoder.size, decoder.bare_lf, self._discarded_any))
            self._reset_bdat()
        return None

    def _reset_bdat(self) -> None:
        self._bdat = None
        self._discarded_any = False

    # --- command lines --------------------------------------------------------

    def _limit(self) -> int:
        return self.auth_line_limit if self._auth_next else self.line_length_limit

    def _next_line(self) -> Event | None:
        if self._state == _SKIP_LINE:
            nl = self._buf.find(b"\n")
            if nl < 0:
                self._buf.clear()
                return None
            del self._buf[:nl + 1]
            self._state = _COMMAND
            return self._too_long(self._skipped)
        nl = self._buf.find(b"\n")
        limit = self._limit()
        if nl < 0:
            # Allow for the CR of a CRLF still on its way.
            if len(self._buf) > limit + 1:
                self._skipped = bytes(self._buf[:limit])
                self._buf.clear()
                self._state = _SKIP_LINE
            return None
        raw = bytes(self._buf[:nl])
        del self._buf[:nl + 1]
        bare_lf = not raw.endswith(b"\r")
        line = raw[:-1] if not bare_lf else raw
        if len(line) > limit:
            return self._too_long(line[:limit])
        pipelined = bool(self._buf)
        if bare_lf and self.bare_newline == "reject":
            return BadCommand(_verb_of(line), replies.bare_lf_received(self.hostname), line,
                              close=True, pipelined=pipelined)
        if self._auth_next:
            self._auth_next = False
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                return BadCommand("", replies.BAD_UTF8, line, pipelined=pipelined)
            return AuthResponse(text.strip(_SPACE), pipelined)
        return self._command(line, pipelined)

    def _too_long(self, start: bytes) -> Event:
        if self._auth_next:
            self._auth_next = False
            return BadCommand("", replies.SASL_RESPONSE_TOO_LONG, start)
        return BadCommand(_verb_of(start), replies.command_too_long(self.hostname), start,
                          pipelined=bool(self._buf))

    def _command(self, line: bytes, pipelined: bool) -> Event:
        if b"\0" in line:
            return BadCommand(_verb_of(line), replies.BAD_SYNTAX, line, pipelined=pipelined)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return BadCommand(_verb_of(line), replies.BAD_UTF8, line, pipelined=pipelined)
        words = tokenize(text)
        if not words:
            return BadCommand("", replies.BAD_SYNTAX, line, pipelined=pipelined)
        verb = words[0][0].upper()
        if len(words) > self.max_words:
            return BadCommand(verb, replies.TOO_MANY_PARAMETERS, line, pipelined=pipelined)
        if verb in ("HELO", "EHLO") and self.lmtp:
            # An LMTP server knows only LHLO (RFC 2033 4.1).
            return BadCommand(verb, replies.NOT_RECOGNIZED, line, pipelined=pipelined)
        handler = _HANDLERS.get(verb)
        if handler is None or (verb == "LHLO" and not self.lmtp):
            return UnknownCommand(verb, line, pipelined)
        event = handler(self, verb, words, line, pipelined)
        if isinstance(event, (Rset, Hello)):
            # Both always reset the mail transaction, a BDAT message included.
            self._reset_bdat()
        return event

    # --- one method per command ----------------------------------------------

    def _hello(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        if len(words) < 2:
            syntax = {"HELO": replies.SYNTAX_HELO, "EHLO": replies.SYNTAX_EHLO,
                      "LHLO": replies.SYNTAX_LHLO}[verb]
            return BadCommand(verb, syntax, line, pipelined=pipelined)
        return Hello(verb, " ".join(w for w, _ in words[1:]), pipelined)

    def _mail(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        if len(words) < 3 or words[1][0].lower() != "from:":
            return BadCommand(verb, replies.SYNTAX_MAIL, line, pipelined=pipelined)
        raw, bad = words[2]
        address = self._address(raw, bad)
        if address is None:
            return BadCommand(verb, replies.BAD_SENDER, line, pipelined=pipelined)
        try:
            params = parse_mail_params([w for w, _ in words[3:]], smtputf8=self.smtputf8,
                                       dsn=self.dsn, binarymime=self.binarymime)
        except ParameterError as exc:
            return BadCommand(verb, exc.reply, line, pipelined=pipelined)
        return MailFrom(address, params, raw, pipelined)

    def _rcpt(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        if len(words) < 3 or words[1][0].lower() != "to:":
            return BadCommand(verb, replies.SYNTAX_RCPT, line, pipelined=pipelined)
        raw, bad = words[2]
        address = self._address(raw, bad)
        if not address:  # None (bad) or "" (<> is no recipient)
            return BadCommand(verb, replies.BAD_RECIPIENT, line, pipelined=pipelined)
        try:
            params = parse_rcpt_params([w for w, _ in words[3:]], dsn=self.dsn)
        except ParameterError as exc:
            return BadCommand(verb, exc.reply, line, pipelined=pipelined)
        return RcptTo(address, params, raw, pipelined)

    def _address(self, raw: str, bad: bool) -> str | None:
        if bad:
            return None
        simple = _SIMPLE_PATH.fullmatch(raw)
        if simple is not None:
            return simple.group(1)
        try:
            return parse_path(raw, strict=self.strict_rfc821_envelopes)
        except AddressError:
            return None

    def _simple(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        # Postfix checks that DATA, RSET and STARTTLS come alone; NOOP and QUIT
        # may carry anything (RFC 5321 4.1.1.9; quit_cmd() does not look).
        syntax = _ALONE.get(verb)
        if syntax is not None and len(words) != 1:
            return BadCommand(verb, syntax, line, pipelined=pipelined)
        return _SIMPLE[verb](pipelined=pipelined)

    def _bdat_cmd(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        count = words[1][0] if len(words) > 1 else ""
        if (not 2 <= len(words) <= 3 or not (count.isascii() and count.isdigit())
                or int(count) > _OFF_T_MAX
                or (len(words) == 3 and words[2][0].upper() != "LAST")):
            # The client's next bytes are content of unknown length: hang up.
            return BadCommand(verb, replies.SYNTAX_BDAT, line, close=True, pipelined=pipelined)
        size = int(count)
        last = len(words) == 3
        if self._bdat is None:
            self._bdat = BdatDecoder(self.bare_newline)
            self._discarded_any = False
        self._bdat.start_chunk(size)
        self._bdat_last = last
        self._bdat_chunk = size
        self._discard = False
        self._state = _BDAT
        return Bdat(size, last, len(self._buf) > size)

    def _vrfy(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        if len(words) < 2:
            return BadCommand(verb, replies.SYNTAX_VRFY, line, pipelined=pipelined)
        return Vrfy(" ".join(w for w, _ in words[1:]), pipelined)

    def _etrn(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        if len(words) != 2:
            return BadCommand(verb, replies.SYNTAX_ETRN, line, pipelined=pipelined)
        return Etrn(words[1][0], pipelined)

    def _auth(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        if not 2 <= len(words) <= 3:
            return BadCommand(verb, replies.SYNTAX_AUTH, line, pipelined=pipelined)
        initial = words[2][0] if len(words) == 3 else None
        return Auth(words[1][0].upper(), initial, pipelined)

    def _help(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        return Help(" ".join(w for w, _ in words[1:]), pipelined)

    def _attributes(self, verb: str, words: list, line: bytes, pipelined: bool) -> Event:
        if len(words) < 2:
            syntax = replies.SYNTAX_XCLIENT if verb == "XCLIENT" else replies.SYNTAX_XFORWARD
            return BadCommand(verb, syntax, line, pipelined=pipelined)
        attributes: dict[str, str] = {}
        for word, _ in words[1:]:
            name, eq, value = word.partition("=")
            if not eq or not value or not name:
                return BadCommand(verb, replies.ATTRIBUTE_EXPECTED, line, pipelined=pipelined)
            if len(value) > _MAX_ATTRIBUTE_VALUE:
                return BadCommand(verb, replies.ATTRIBUTE_TOO_LONG, line, pipelined=pipelined)
            try:
                # Postfix before 2.3 sent values without xtext; take those as written.
                value = xtext_decode(value)
            except ValueError:
                pass
            attributes[name.upper()] = value
        cls = Xclient if verb == "XCLIENT" else Xforward
        return cls(attributes, pipelined)


def _verb_of(line: bytes) -> str:
    """The first word of a line, upper-case, for logging a refused line."""
    word = line.split(None, 1)[0] if line.strip() else b""
    return word[:32].decode("ascii", "replace").upper()


_SIMPLE = {"DATA": Data, "RSET": Rset, "NOOP": Noop, "QUIT": Quit, "STARTTLS": StartTls}
_ALONE = {"DATA": replies.SYNTAX_DATA, "RSET": replies.SYNTAX_RSET,
          "STARTTLS": replies.SYNTAX_STARTTLS}

_HANDLERS = {
    "HELO": ServerEngine._hello, "EHLO": ServerEngine._hello, "LHLO": ServerEngine._hello,
    "MAIL": ServerEngine._mail, "RCPT": ServerEngine._rcpt,
    "DATA": ServerEngine._simple, "RSET": ServerEngine._simple, "NOOP": ServerEngine._simple,
    "QUIT": ServerEngine._simple, "STARTTLS": ServerEngine._simple,
    "BDAT": ServerEngine._bdat_cmd, "VRFY": ServerEngine._vrfy, "ETRN": ServerEngine._etrn,
    "AUTH": ServerEngine._auth, "HELP": ServerEngine._help,
    "XCLIENT": ServerEngine._attributes, "XFORWARD": ServerEngine._attributes,
}
