"""``tcp:host:port`` tables: Postfix's line protocol of tcp_table(5).

Owns the ``%XX`` quoting (:func:`hex_quote`, :func:`hex_unquote`), the
request line ``get SPACE key NEWLINE``, the reply grammar (``200 value``
found, ``500 text`` not found, ``400 text`` try again later) and
:class:`TcpTable`, which talks over a reused connection
(:mod:`mailflow.tables.netclient`). A server that cannot answer raises
:class:`~mailflow.errors.TableError`, never "not found".

>>> hex_quote("joe doe@example.com")
'joe%20doe@example.com'
>>> parse_reply("200 a%2Cb")
(200, 'a,b')
"""

from __future__ import annotations

import logging
import time
from typing import Any, BinaryIO, Callable

from mailflow.errors import TableError
from mailflow.tables.netclient import ConnectionPool, Disconnected, ReplyTimeout, found

__all__ = ["TcpTable", "hex_quote", "hex_unquote", "parse_reply", "MAX_LINE"]

log = logging.getLogger("mailflow.tables")

#: Postfix's reply size limit (dict_tcp.c).
MAX_LINE = 4096


def hex_quote(text: str) -> str:
    """``%XX`` for ``%``, white space and unprintable bytes (UTF-8 bytes
    above 127 included, as Postfix's hex_quote(3) does in the C locale).

    >>> hex_quote("50%\\tdone")
    '50%25%09done'
    >>> hex_quote("é")
    '%C3%A9'
    """
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        if 32 < byte < 127 and byte != 0x25:
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def hex_unquote(text: str) -> str | None:
    """Undo :func:`hex_quote`; None when a ``%`` is not followed by two hex digits.

    >>> hex_unquote("caf%c3%A9")
    'café'
    >>> hex_unquote("100%") is None
    True
    """
    raw = bytearray()
    data = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x25:
            pair = data[i + 1:i + 3]
            if len(pair) < 2 or any(b not in b"0123456789abcdefABCDEF" for b in pair):
                return None
            raw.append(int(pair, 16))
            i += 3
            continue
        raw.append(byte)
        i += 1
    return raw.decode("utf-8", "replace")


def parse_reply(line: str) -> tuple[int, str] | None:
    """``(code, unquoted text)`` for a well-formed reply line, else None.

    A reply is three digits, one white-space character and %-quoted text.

    >>> parse_reply("500 not found")
    (500, 'not found')
    >>> parse_reply("OK fine") is None
    True
    """
    if len(line) < 4 or not line[:3].isdigit() or not line[:3].isascii() \
            or not line[3].isspace():
        return None
    text = hex_unquote(line[4:])
    if text is None:
        return None
    return int(line[:3]), text


class _TooLong(Exception):
    pass


def _read_line(reader: BinaryIO) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if not line.endswith(b"\n"):
        if len(line) > MAX_LINE:
            raise _TooLong()
        raise Disconnected("unexpected EOF")
    return line[:-1]


class TcpTable:
    """A ``tcp:host:port`` table (``name`` is ``host:port``).

    Keys go out as given, %-quoted (Postfix does not fold them for this
    type). A connection that fails or breaks is tried again up to
    ``max_tries`` times, ``retry_delay`` seconds apart (Postfix: 10 tries,
    1 s); a ``400`` reply or a malformed one is an error at once.

    >>> t = TcpTable("127.0.0.1:1", max_tries=2, retry_delay=0)
    >>> t.get("joe")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: tcp:127.0.0.1:1: lookup error: connect to TCP map 127.0.0.1:1: Connection refused
    """

    def __init__(self, name: str, *, timeout: float = 100.0, max_tries: int = 10,
                 retry_delay: float = 1.0, max_idle: float = 10.0, max_ttl: float = 100.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self.pool = ConnectionPool(f"inet:{name}", timeout=timeout, max_idle=max_idle,
                                   max_ttl=max_ttl)
        self.max_tries = max_tries
        self.retry_delay = retry_delay
        self._sleep = sleep

    @classmethod
    def open(cls, name: str, config: Any = None, **_: Any) -> "TcpTable":
        """The opener registered for ``tcp:`` (options such as fold are ignored)."""
        return cls(name)

    def _exchange(self, key: str) -> bytes:
        request = f"get {hex_quote(key)}\n".encode("ascii")
        why = ""
        for attempt in range(self.max_tries):
            if attempt:
                self._sleep(self.retry_delay)
            try:
                return self.pool.exchange(request, _read_line)
            except OSError as exc:
                why = f"connect to TCP map {self.name}: {exc.strerror or exc}"
            except (Disconnected, ReplyTimeout):
                why = f"read TCP map reply from {self.name}: unexpected EOF"
            except _TooLong:
                why = f"read TCP map reply from {self.name}: text longer than {MAX_LINE}"
            log.warning("%s", why)
        raise TableError(f"tcp:{self.name}: lookup error: {why}")

    def get(self, key: str) -> str | None:
        line = self._exchange(key).decode("utf-8", "replace")
        reply = parse_reply(line)
        printable = "".join(c if c.isprintable() else "_" for c in line[:100])
        if reply is None:
            self.pool.discard()
            raise TableError(f"tcp:{self.name}: read TCP map reply from {self.name}: "
                             f"malformed reply: {printable}")
        code, text = reply
        if code // 100 == 2:
            return found(f"tcp:{self.name}", key, text)
        if code // 100 == 5:
            return None
        self.pool.discard()
        if code // 100 == 4:
            raise TableError(f"table tcp:{self.name}: query error: server replied {printable}")
        raise TableError(f"tcp:{self.name}: read TCP map reply from {self.name}: "
                         f"bad status code: {printable}")

    def close(self) -> None:
        """Close the idle connections."""
        self.pool.close()

    def __repr__(self) -> str:
        return f"TcpTable({self.name!r})"
