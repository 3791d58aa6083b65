"""Reusable client connections for the network tables (``socketmap:``, ``tcp:``).

Owns parsing an endpoint (``inet:host:port``, ``unix:/path``, bare
``host:port``), connecting with a time limit, and keeping idle connections
for reuse: a lookup takes an idle connection or opens one, does one
request/reply exchange and puts the connection back. Like Postfix's
auto_clnt(3), a connection idle for more than ``max_idle`` seconds or older
than ``max_ttl`` seconds is closed instead of reused, so a restarted server
is picked up. It knows nothing about the protocols spoken over the
connection: each table passes a function that reads its reply.

>>> parse_endpoint("inet:127.0.0.1:9999")
('inet', ('127.0.0.1', 9999))
>>> parse_endpoint("unix:/run/map.sock")
('unix', '/run/map.sock')
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import BinaryIO, Callable, TypeVar

from mailflow.errors import TableError

__all__ = ["parse_endpoint", "ConnectionPool", "Disconnected", "ReplyTimeout", "found"]

R = TypeVar("R")
log = logging.getLogger("mailflow.tables")


def found(spec: str, key: str, value: str) -> str:
    """``value``, with Postfix's two warnings when it is empty (a server
    should say "not found" instead; Postfix still answers the empty string).

    >>> found("tcp:127.0.0.1:9", "joe", "x")
    'x'
    """
    if not value:
        log.warning("table %s: key %s: empty string result is not allowed", spec, key)
        log.warning("table %s should return NO RESULT in case of NOT FOUND", spec)
    return value


class Disconnected(Exception):
    """The server closed the connection before its reply was complete."""


class ReplyTimeout(Exception):
    """No complete reply within the time limit."""


def parse_endpoint(address: str) -> tuple[str, "tuple[str, int] | str"]:
    """Split ``inet:host:port``, ``unix:/path`` or ``host:port`` (inet).

    An IPv6 host is written in brackets, ``inet:[::1]:9999``. A port that is
    not a number is looked up as a service name.

    >>> parse_endpoint("[::1]:25")
    ('inet', ('::1', 25))
    >>> parse_endpoint("localhost")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: localhost: endpoint needs the form host:port
    """
    kind, sep, rest = address.partition(":")
    if sep and kind == "unix":
        if not rest:
            raise TableError(f"{address}: missing socket path")
        return "unix", rest
    if not (sep and kind == "inet"):
        rest = address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port:
        raise TableError(f"{address}: endpoint needs the form host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if port.isdigit():
        number = int(port)
    else:
        try:
            number = socket.getservbyname(port, "tcp")
        except OSError:
            raise TableError(f"{address}: unknown service: {port}") from None
    return "inet", (host, number)


class _Connection:
    """One connected socket with a buffered reader and its age."""

    def __init__(self, sock: socket.socket, now: float) -> None:
        self.sock = sock
        self.reader: BinaryIO = sock.makefile("rb")
        self.born = now
        self.used = now

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class ConnectionPool:
    """Idle connections to one endpoint, shared by the threads that look up.

    ``exchange(data, read)`` sends ``data`` and returns ``read(reader)``.
    A connection that was reused and turns out closed by the server
    (:class:`Disconnected` before any reply byte) is retried once on a new
    connection, so a server restart is not an error; any other failure
    closes the connection and propagates: ``OSError`` from connecting,
    :class:`ReplyTimeout`, :class:`Disconnected`, or whatever ``read``
    raises for a malformed reply.

    >>> pool = ConnectionPool("inet:127.0.0.1:1", timeout=1)
    >>> try:
    ...     pool.exchange(b"x", lambda r: r.read(1))
    ... except OSError as exc:
    ...     print(exc.strerror)
    Connection refused
    """

    def __init__(self, address: str, *, timeout: float = 100.0, max_idle: float = 10.0,
                 max_ttl: float = 100.0, max_pooled: int = 8,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.address = address
        self.kind, self.target = parse_endpoint(address)
        self.timeout = timeout
        self.max_idle = max_idle
        self.max_ttl = max_ttl
        self.max_pooled = max_pooled
        self._clock = clock
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> _Connection:
        family = socket.AF_UNIX if self.kind == "unix" else None
        if family is not None:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.target)
            except OSError:
                sock.close()
                raise
        else:
            try:
                sock = socket.create_connection(self.target, timeout=self.timeout)  # type: ignore[arg-type]
            except socket.timeout:
                raise TimeoutError(110, "Connection timed out") from None
        return _Connection(sock, self._clock())

    def _take(self) -> "_Connection | None":
        now = self._clock()
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if now - conn.used <= self.max_idle and now - conn.born <= self.max_ttl:
                    return conn
                conn.close()
        return None

    def _give_back(self, conn: _Connection) -> None:
        conn.used = self._clock()
        with self._lock:
            if len(self._idle) < self.max_pooled:
                self._idle.append(conn)
                return
        conn.close()

    def exchange(self, data: bytes, read: Callable[[BinaryIO], R]) -> R:
        """Send one request and read its reply (see the class docstring)."""
        conn = self._take()
        reused = conn is not None
        while True:
            if conn is None:
                conn = self._connect()
            try:
                conn.sock.sendall(data)
                result = read(conn.reader)
            except (Disconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                conn = None
                if reused:
                    reused = False  # the server may have closed an idle connection: once more
                    continue
                if isinstance(exc, Disconnected):
                    raise
                raise Disconnected(str(exc)) from None
            except socket.timeout:
                conn.close()
                raise ReplyTimeout() from None
            except BaseException:
                conn.close()
                raise
            self._give_back(conn)
            return result

    def discard(self) -> None:
        """Close every idle connection (the next lookup connects again)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    close = discard

    def __del__(self) -> None:
        for conn in getattr(self, "_idle", []):
            conn.close()
