"""``socketmap:`` tables: Sendmail's socketmap protocol (Postfix socketmap_table(5)).

Owns the netstring codec, the reply grammar (``OK data``, ``NOTFOUND``,
``TEMP``/``TIMEOUT``/``PERM reason``) and :class:`SocketmapTable`, which
asks a server ``NAME KEY`` over a reused connection
(:mod:`mailflow.tables.netclient`). A server that cannot answer (refused,
silent, disconnected, garbled or replying TEMP/TIMEOUT/PERM) raises
:class:`~mailflow.errors.TableError`, never "not found"; the messages are
Postfix's warnings for the same case.

>>> netstring(b"aliases joe")
b'11:aliases joe,'
>>> parse_reply("OK joe@example.com")
('OK', 'joe@example.com')
"""

from __future__ import annotations

import logging
from typing import Any, BinaryIO

from mailflow.errors import TableError
from mailflow.tables.netclient import ConnectionPool, Disconnected, ReplyTimeout, found

__all__ = ["SocketmapTable", "netstring", "read_netstring", "parse_reply", "NetstringError",
           "MAX_REPLY", "MAX_QUERY"]

log = logging.getLogger("mailflow.tables")

#: Postfix's limits (dict_sockmap.c): longer replies are an error, longer
#: keys are "not found" with a warning.
MAX_REPLY = 100000
MAX_QUERY = 10000


class NetstringError(Exception):
    """A reply that is not a netstring, or one over the size limit."""


def netstring(data: bytes) -> bytes:
    """``LEN:DATA,`` as in D. J. Bernstein's netstrings.

    >>> netstring(b"")
    b'0:,'
    """
    return b"%d:%s," % (len(data), data)


def read_netstring(reader: BinaryIO, limit: int = MAX_REPLY) -> bytes:
    """Read one netstring from ``reader``; its payload.

    :class:`~mailflow.tables.netclient.Disconnected` at end of input,
    :class:`NetstringError` for bad syntax (``input format error``) or a
    length over ``limit`` (``input exceeds size limit``).

    >>> import io
    >>> read_netstring(io.BytesIO(b"5:hello,"))
    b'hello'
    >>> read_netstring(io.BytesIO(b"5:hello;"))
    Traceback (most recent call last):
    ...
    mailflow.tables.socketmap.NetstringError: input format error
    >>> read_netstring(io.BytesIO(b"9:hello"))
    Traceback (most recent call last):
    ...
    mailflow.tables.netclient.Disconnected: unexpected disconnect
    """
    digits = b""
    while True:
        ch = reader.read(1)
        if not ch:
            raise Disconnected("unexpected disconnect")
        if ch == b":":
            break
        # A length longer than the limit's digits cannot be valid; stop early
        # rather than read an endless stream of digits.
        if not ch.isdigit() or len(digits) > len(str(limit)):
            raise NetstringError("input format error")
        digits += ch
    if not digits:
        raise NetstringError("input format error")
    length = int(digits)
    if limit and length > limit:
        raise NetstringError("input exceeds size limit")
    payload = reader.read(length + 1)
    if len(payload) < length + 1:
        raise Disconnected("unexpected disconnect")
    if payload[-1:] != b",":
        raise NetstringError("input format error")
    return payload[:-1]


def parse_reply(text: str) -> tuple[str, str]:
    """Split a socketmap reply into its status word and the rest.

    >>> parse_reply("NOTFOUND ")
    ('NOTFOUND', '')
    >>> parse_reply("TEMP  database restarting")
    ('TEMP', 'database restarting')
    """
    status, _, rest = text.partition(" ")
    if status != "OK":
        rest = rest.lstrip()
    return status, rest


_ERROR_CLASSES = {"TEMP": "temporary", "TIMEOUT": "timeout", "PERM": "permanent"}


class SocketmapTable:
    """A ``socketmap:inet:host:port:name`` or ``socketmap:unix:/path:name`` table.

    ``name`` is the table name without ``socketmap:``; the part after its
    last colon is the map name sent to the server. Keys go out as given
    (Postfix does not fold them for this type either). ``timeout`` limits
    connecting and each reply (Postfix: 100 s); idle connections are reused
    for ``max_idle`` seconds and at most ``max_ttl`` seconds in all.

    >>> t = SocketmapTable("inet:127.0.0.1:1:aliases", timeout=1)
    >>> t.mapname, t.endpoint
    ('aliases', 'inet:127.0.0.1:1')
    >>> t.get("joe")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: table socketmap:inet:127.0.0.1:1:aliases lookup error: Connection refused
    """

    def __init__(self, name: str, *, timeout: float = 100.0, max_idle: float = 10.0,
                 max_ttl: float = 100.0) -> None:
        endpoint, sep, mapname = name.rpartition(":")
        if not sep or not endpoint:
            raise TableError(f"socketmap:{name}: socketmap requires server:socketmap argument")
        self.name = name
        self.endpoint = endpoint
        self.mapname = mapname
        self.pool = ConnectionPool(endpoint, timeout=timeout, max_idle=max_idle,
                                   max_ttl=max_ttl)

    @classmethod
    def open(cls, name: str, config: Any = None, **_: Any) -> "SocketmapTable":
        """The opener registered for ``socketmap:`` (options such as fold are ignored)."""
        return cls(name)

    def _error(self, why: str) -> TableError:
        return TableError(f"table socketmap:{self.name} lookup error: {why}")

    def get(self, key: str) -> str | None:
        raw = key.encode("utf-8", "surrogateescape")
        if len(raw) > MAX_QUERY:
            log.warning("table socketmap:%s query too large: '%.100s', returning 'not found'",
                        self.name, key)
            return None
        request = netstring(self.mapname.encode("utf-8") + b" " + raw)
        try:
            reply = self.pool.exchange(request, read_netstring)
        except OSError as exc:
            raise self._error(exc.strerror or str(exc)) from None
        except Disconnected:
            raise self._error("unexpected disconnect") from None
        except ReplyTimeout:
            raise self._error("time limit exceeded") from None
        except NetstringError as exc:
            raise self._error(str(exc)) from None
        status, data = parse_reply(reply.decode("utf-8", "replace"))
        if status == "OK":
            return found(f"socketmap:{self.name}", key, data)
        if status == "NOTFOUND":
            return None
        error_class = _ERROR_CLASSES.get(status, "unknown")
        printable = "".join(c if c.isprintable() else "?" for c in data[:200])
        raise TableError(f"socketmap:{self.name} socketmap server {error_class} error"
                         + (f": {printable}" if printable else ""))

    def close(self) -> None:
        """Close the idle connections."""
        self.pool.close()

    def __repr__(self) -> str:
        return f"SocketmapTable({self.name!r})"
