"""The SMTP/LMTP client protocol engine, without I/O.

Owns what the smtp(8)/lmtp(8) clients say and how they read the answers:
replies are parsed incrementally from bytes (:class:`ReplyParser`, bounded
however long or many the lines), the EHLO/LHLO reply becomes
:class:`Extensions`, and one mail transaction is a :class:`Transaction`
that hands out commands as bytes (a whole PIPELINING group at once when the
server offers it, one at a time when not) and takes the replies back in
order. After DATA it expects one reply (SMTP) or one per accepted recipient
(LMTP). The caller owns the socket and the clock; the content goes out as
:func:`mailflow.smtp.data.encode_data` makes it.

The client keeps its own :class:`Reply` and :class:`ReplyParser` rather
than :mod:`mailflow.smtp.reply`'s (the server's): a reply is quoted in logs
and bounces with every line's code, as Postfix's smtp client does
(``550-5.7.1 ... 550 5.7.1 ...``); a reply of any number of lines is read
to its end with only its first 2048 characters kept (Postfix reads a
10,000-line reply; it does not fail on it); and :meth:`ReplyParser.next_reply`
parses one reply at a time, so bytes a server sends after its 220 to
STARTTLS are dropped unread (CVE-2011-0411).

>>> p = ReplyParser()
>>> [str(r) for r in p.feed(b"250-mx.example\\r\\n250-PIPELINING\\r\\n250 SIZE 1000\\r\\n")]
['250-mx.example 250-PIPELINING 250 SIZE 1000']
>>> ext = Extensions.from_reply(p.last)
>>> ext.pipelining, ext.size
(True, 1000)
>>> tx = Transaction("a@example.org", ["b@example.com"], ext, size=10)
>>> tx.next_commands()
[Command(verb='MAIL', line=b'MAIL FROM:<a@example.org> SIZE=10\\r\\n'), Command(verb='RCPT', line=b'RCPT TO:<b@example.com>\\r\\n'), Command(verb='DATA', line=b'DATA\\r\\n')]
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

import attrs

from mailflow.smtp.errors import SmtpProtocolError
from mailflow.smtp.esmtp import xtext_encode as xtext

__all__ = ["Reply", "ReplyParser", "Extensions", "Command", "Transaction", "MAX_REPLY_TEXT",
           "MAX_LINE"]

#: How much reply text is kept (Postfix's line_length_limit default): the
#: rest of a longer multi-line reply is read and dropped, as Postfix does.
MAX_REPLY_TEXT = 2048
#: Longest reply line read before the reply is given up as garbage.
MAX_LINE = 65536

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")


@attrs.frozen
class Reply:
    """One server reply: the code and its lines as received (without CRLF).

    ``str()`` is how Postfix quotes a reply in logs and bounces: the lines
    joined by spaces, codes included.

    >>> r = Reply(550, ("550 5.1.1 <x@example.com>: Recipient address rejected",))
    >>> r.dsn, r.is_permanent
    ('5.1.1', True)
    >>> Reply(451, ("451 try later",)).dsn
    '4.0.0'
    """

    code: int
    lines: tuple = attrs.field(converter=tuple)

    @property
    def text(self) -> str:
        """The text after the code on every line, joined by newlines."""
        return "\n".join(line[4:] for line in self.lines)

    @property
    def dsn(self) -> str:
        """The enhanced status code the reply gives, else X.0.0 from its class."""
        first = self.lines[0][4:] if self.lines else ""
        m = _ENHANCED.match(first)
        if m and m.group(1) == str(self.code)[0]:
            return f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
        klass = self.code // 100
        return f"{klass if klass in (2, 4, 5) else 4}.0.0"

    @property
    def is_success(self) -> bool:
        return 200 <= self.code < 400

    @property
    def is_temporary(self) -> bool:
        return not self.is_success and not self.is_permanent

    @property
    def is_permanent(self) -> bool:
        return 500 <= self.code < 600

    def __str__(self) -> str:
        return " ".join(self.lines)


class ReplyParser:
    """Incremental reply parser: :meth:`feed` bytes, get the complete replies.

    A reply of thousands of lines is read to its end but only the first
    :data:`MAX_REPLY_TEXT` characters are kept. A line that is not
    ``DDD text`` or ``DDD-text`` raises :class:`SmtpProtocolError`.

    >>> p = ReplyParser()
    >>> p.feed(b"220 mx.exa"), [r.code for r in p.feed(b"mple ESMTP\\r\\n")]
    ([], [220])
    >>> p.feed(b"hello\\r\\n")
    Traceback (most recent call last):
    ...
    mailflow.smtp.errors.SmtpProtocolError: hello
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._lines: list[str] = []
        self._kept = 0
        self.last: Reply | None = None

    def feed(self, data: bytes) -> list[Reply]:
        """Add ``data``; return every reply it completes."""
        self.push(data)
        out: list[Reply] = []
        while (reply := self.next_reply()) is not None:
            out.append(reply)
        return out

    def push(self, data: bytes) -> None:
        """Add ``data`` without parsing it yet (see :meth:`next_reply`)."""
        self._buf += data

    def next_reply(self) -> Reply | None:
        """The next complete reply, or None until more data arrives. Lines
        after it stay unparsed: bytes a server sends after its 220 to
        STARTTLS are never read as replies (:meth:`discard` drops them)."""
        buf = self._buf
        start = 0
        reply = None
        try:
            while reply is None:
                end = buf.find(b"\n", start)
                if end < 0:
                    break
                line = bytes(buf[start:end]).rstrip(b"\r").decode("utf-8", "replace")
                start = end + 1
                reply = self._line(line)
        finally:
            del buf[:start]
        if reply is None and len(buf) > MAX_LINE:
            raise SmtpProtocolError(f"reply line longer than {MAX_LINE} bytes")
        if reply is not None:
            self.last = reply
        return reply

    def discard(self) -> None:
        """Forget everything not parsed yet."""
        self._buf.clear()
        self._lines, self._kept = [], 0

    def _line(self, line: str) -> Reply | None:
        if (len(line) < 3 or not (line[:3].isascii() and line[:3].isdigit())
                or (len(line) > 3 and line[3] not in " -")):
            raise SmtpProtocolError(line[:100])
        if self._lines and line[:3] != self._lines[0][:3]:
            raise SmtpProtocolError(line[:100])
        if self._kept < MAX_REPLY_TEXT:
            kept = line[:MAX_REPLY_TEXT - self._kept]
            self._lines.append(kept)
            self._kept += len(kept) + 1
        if len(line) > 3 and line[3] == "-":
            return None
        code, lines = int(line[:3]), self._lines
        self._lines, self._kept = [], 0
        return Reply(code, lines)


@attrs.frozen
class Extensions:
    """What an EHLO/LHLO reply offers.

    >>> e = Extensions.from_reply(Reply(250, ["250-mx", "250-SIZE", "250-AUTH PLAIN LOGIN",
    ...                                        "250-DSN", "250 STARTTLS"]))
    >>> e.size, e.auth, e.dsn, e.starttls, e.pipelining
    (0, ('PLAIN', 'LOGIN'), True, True, False)
    """

    keywords: frozenset = frozenset()
    size: int = 0                 # SIZE limit; 0: none announced
    auth: tuple = ()

    @classmethod
    def from_reply(cls, reply: Reply | None) -> "Extensions":
        if reply is None:
            return cls()
        keywords, size, auth = set(), 0, ()
        for line in reply.lines[1:]:
            words = line[4:].split()
            if not words:
                continue
            kw = words[0].upper()
            keywords.add(kw)
            if kw == "SIZE" and len(words) > 1 and words[1].isdigit():
                size = int(words[1])
            elif kw == "AUTH" or kw.startswith("AUTH="):
                mechs = words[1:] if kw == "AUTH" else [kw[5:], *words[1:]]
                auth = tuple(dict.fromkeys((*auth, *(m.upper() for m in mechs))))
                keywords.add("AUTH")
        return cls(frozenset(keywords), size, auth)

    def has(self, keyword: str) -> bool:
        return keyword.upper() in self.keywords

    pipelining = property(lambda self: self.has("PIPELINING"))
    dsn = property(lambda self: self.has("DSN"))
    starttls = property(lambda self: self.has("STARTTLS"))
    smtputf8 = property(lambda self: self.has("SMTPUTF8"))
    eightbitmime = property(lambda self: self.has("8BITMIME"))


@attrs.frozen
class Command:
    """One command as sent; ``verb`` names it in "(in reply to X command)"."""

    verb: str
    line: bytes

    @property
    def reply_to(self) -> str:
        """Postfix's "in reply to" name: ``RCPT TO``, ``MAIL FROM``, ``end of DATA``.

        >>> Command("RCPT", b"").reply_to, Command("DOT", b"").reply_to
        ('RCPT TO', 'end of DATA')
        """
        return {"MAIL": "MAIL FROM", "RCPT": "RCPT TO", "DOT": "end of DATA"}.get(self.verb, self.verb)


def _address_needs_utf8(address: str) -> bool:
    return not address.isascii()


class Transaction:
    """One mail transaction: MAIL, RCPT..., DATA, content, and the replies.

    ``recipients`` are addresses; ``notify`` and ``orcpt`` (same length,
    optional) give each one's DSN NOTIFY keywords and ORCPT, sent only when
    the server offers DSN. Feed each reply with :meth:`receive` in the order
    the commands went out. When :attr:`send_content` is true, send
    :func:`~mailflow.smtp.data.encode_data` of the message and feed the final replies (one, or
    one per accepted recipient in LMTP) to :meth:`receive` too.

    After the transaction, :attr:`results` maps each recipient index to
    ``(reply, command)``: the reply that decided it and what it answered.

    >>> ext = Extensions(frozenset({"PIPELINING"}))
    >>> tx = Transaction("", ["a@x", "b@x"], ext, lmtp=True)
    >>> [c.verb for c in tx.next_commands()]
    ['MAIL', 'RCPT', 'RCPT', 'DATA']
    >>> for r in (Reply(250, ["250 ok"]), Reply(550, ["550 no"]), Reply(250, ["250 ok"]),
    ...           Reply(354, ["354 go"])):
    ...     tx.receive(r)
    >>> tx.send_content
    True
    >>> tx.content_sent(); tx.expected_final
    1
    >>> tx.receive(Reply(250, ["250 2.0.0 saved"]))
    >>> {i: str(r) for i, (r, c) in tx.results.items()}
    {0: '550 no', 1: '250 2.0.0 saved'}
    """

    def __init__(self, sender: str, recipients: Sequence[str], ext: Extensions, *,
                 size: int = 0, lmtp: bool = False, envid: str | None = None,
                 ret: str | None = None, notify: Sequence[Iterable[str]] | None = None,
                 orcpt: Sequence[str | None] | None = None, body_8bit: bool = False) -> None:
        self.sender = sender
        self.recipients = list(recipients)
        self.ext = ext
        self.lmtp = lmtp
        self.results: dict[int, tuple[Reply, Command]] = {}
        self.accepted: list[int] = []
        self.failure: tuple[Reply, Command] | None = None
        self.send_content = False
        self.done = False
        self._outstanding: list[tuple[Command, int]] = []   # (command, recipient index or -1)
        self._queue = self._plan(size, envid, ret, notify, orcpt, body_8bit)
        self._data_sent = False
        self._final_pending: list[int] = []

    # --- building ---------------------------------------------------------------
    def _plan(self, size, envid, ret, notify, orcpt, body_8bit) -> list[tuple[Command, int]]:
        ext = self.ext
        params = []
        if ext.size and size:
            params.append(f"SIZE={size}")
        if body_8bit and ext.eightbitmime:
            params.append("BODY=8BITMIME")
        utf8 = ext.smtputf8 and (_address_needs_utf8(self.sender)
                                 or any(map(_address_needs_utf8, self.recipients)))
        if utf8:
            params.append("SMTPUTF8")
        if ext.dsn:
            if ret:
                params.append(f"RET={ret}")
            if envid:
                params.append(f"ENVID={xtext(envid)}")
        plan = [(self._cmd("MAIL", f"MAIL FROM:<{self.sender}>", params), -1)]
        for i, rcpt in enumerate(self.recipients):
            rparams = []
            if ext.dsn:
                kinds = sorted(notify[i]) if notify and notify[i] else []
                if kinds:
                    rparams.append("NOTIFY=" + ",".join(kinds))
                if orcpt and orcpt[i]:
                    kind, _, addr = orcpt[i].partition(";")
                    rparams.append(f"ORCPT={kind};{xtext(addr)}")
            plan.append((self._cmd("RCPT", f"RCPT TO:<{rcpt}>", rparams), i))
        plan.append((Command("DATA", b"DATA\r\n"), -1))
        return plan

    @staticmethod
    def _cmd(verb: str, text: str, params: list[str]) -> Command:
        line = " ".join([text, *params]) + "\r\n"
        return Command(verb, line.encode("utf-8"))

    # --- driving ----------------------------------------------------------------
    def next_commands(self) -> list[Command]:
        """The commands to send now (none while replies are outstanding
        without PIPELINING, or once the transaction needs no more)."""
        if self.done or self.send_content:
            return []
        if self.ext.pipelining:
            batch, self._queue = self._queue, []
        elif self._outstanding or not self._queue:
            return []
        else:
            batch, self._queue = self._queue[:1], self._queue[1:]
        self._outstanding += batch
        return [c for c, _ in batch]

    @property
    def waiting_for(self) -> Command | None:
        """The command whose reply comes next (for the timeout and the text)."""
        if self._final_pending:
            return Command("DOT", b".\r\n")
        return self._outstanding[0][0] if self._outstanding else None

    @property
    def expected_final(self) -> int:
        """Replies still expected after the content: 1 (SMTP) or one per
        accepted recipient (LMTP)."""
        return len(self._final_pending)

    def content_sent(self) -> None:
        """Say the content (with its final dot) went out."""
        self.send_content = False
        self._data_sent = True
        self._final_pending = list(self.accepted) if self.lmtp else [-1]

    def receive(self, reply: Reply) -> None:
        """Take the next reply, in command order."""
        if self._final_pending:
            self._final(reply)
            return
        if not self._outstanding:
            raise SmtpProtocolError(f"unexpected reply: {reply}")
        command, index = self._outstanding.pop(0)
        if command.verb == "MAIL":
            if not reply.is_success:
                self.failure = (reply, command)
                self._queue = []
                if not self.ext.pipelining:
                    self._finish()
        elif command.verb == "RCPT":
            if self.failure is not None:
                return            # pipelined after a failed MAIL: MAIL's reply decides
            if reply.is_success:
                self.accepted.append(index)
            else:
                self.results[index] = (reply, command)
            if not self.ext.pipelining and not self._queue[1:] and not self.accepted:
                self._queue = []
                self._finish()
        elif command.verb == "DATA":
            if self.failure is None and self.accepted:
                if reply.code == 354:
                    self.send_content = True
                    return
                self.failure = (reply, command)
            elif reply.code == 354:
                # A pipelined DATA the server took although no recipient
                # was accepted: end an empty message so the session stays
                # in step (its reply decides nothing).
                self._queue = [(Command("DOT", b".\r\n"), -1)]
                return
            self._finish()
        elif command.verb == "DOT":
            self._finish()
        if not self._outstanding and not self._queue and not self.send_content:
            self._finish()

    def _final(self, reply: Reply) -> None:
        index = self._final_pending.pop(0)
        command = Command("DOT", b".\r\n")
        if index < 0:
            for i in self.accepted:
                self.results[i] = (reply, command)
        else:
            self.results[index] = (reply, command)
        if not self._final_pending:
            self.done = True

    def _finish(self) -> None:
        if self.failure is not None:
            for i in range(len(self.recipients)):
                self.results.setdefault(i, self.failure)
        self.done = True

    @property
    def needs_reset(self) -> bool:
        """Whether the server still holds transaction state (send RSET before reuse)."""
        return not (self._data_sent and not self._final_pending)
