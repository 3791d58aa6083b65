"""Dovecot's authentication server as an SMTP AUTH backend (``smtpd_sasl_type = dovecot``).

Owns the client side of Dovecot's auth protocol, version 1 (what Postfix's
xsasl_dovecot_server.c speaks): connect to the auth socket
(``smtpd_sasl_path``, e.g. ``private/auth`` under ``queue_directory``, an
absolute path, or ``inet:host:port``), the handshake (we send ``VERSION``
and ``CPID``; Dovecot answers ``VERSION``, ``MECH`` lines, ``SPID``,
``CUID``, ``COOKIE``, ``DONE``), then one ``AUTH`` request per login with
the credentials as a PLAIN initial response, answered by ``OK``, ``FAIL``
or ``CONT`` with the request's id.

One connection is shared by every session of the process, and requests
are multiplexed on it by id: a failed login that Dovecot delays
(``auth_failure_delay``, 2 s by default) holds up nobody else. A lost
connection is made again on the next request. Anything that keeps an
answer from arriving -- no socket, a closed connection, a timeout, a
``FAIL`` marked ``temp`` -- raises
:class:`~mailflow.smtpd.sasl.AuthUnavailable` (the client gets
``454 4.7.0``), never a login.

The SASL exchange with the SMTP client stays in
:class:`~mailflow.smtpd.sasl.SaslExchange`; only the PLAIN and LOGIN
mechanisms that Dovecot also offers are announced.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from typing import Any, Sequence

from mailflow.errors import ConfigError
from mailflow.smtpd.sasl import SERVER_MECHANISMS, AuthUnavailable

__all__ = ["DovecotAuthenticator", "AUTH_TIMEOUT", "auth_socket_path"]

log = logging.getLogger("mailflow.smtpd")

#: Seconds to connect and to wait for each answer (Postfix's AUTH_TIMEOUT).
AUTH_TIMEOUT = 10.0
_MAJOR, _MINOR = 1, 0   # the protocol version Postfix announces
_LOST = "Connection lost to authentication server"
_NO_CONNECT = "Can't connect to authentication server"


def auth_socket_path(cfg: Any) -> str:
    """Where ``smtpd_sasl_path`` points: relative paths are under ``queue_directory``.

    >>> from mailflow.config import Config
    >>> auth_socket_path(Config(queue_directory="/var/spool/mailflow",
    ...                         smtpd_sasl_path="private/auth"))
    '/var/spool/mailflow/private/auth'
    >>> auth_socket_path(Config(smtpd_sasl_path="inet:127.0.0.1:12345"))
    'inet:127.0.0.1:12345'
    """
    path = cfg.expand("smtpd_sasl_path").strip()
    if path.startswith("unix:"):
        path = path[len("unix:"):]
    if not path:
        raise ConfigError("empty path to the Dovecot auth socket", name="smtpd_sasl_path",
                          value="")
    if path.startswith("inet:") or os.path.isabs(path):
        return path
    return os.path.join(cfg.expand("queue_directory"), path)


class _Connection:
    """One handshaken connection and the requests waiting on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 mechanisms: list[str]) -> None:
        self.reader, self.writer = reader, writer
        self.mechanisms = mechanisms
        self.pending: dict[int, asyncio.Future] = {}
        self.closed = False
        self.task = asyncio.get_running_loop().create_task(self._read_replies())

    async def _read_replies(self) -> None:
        try:
            while True:
                line = await self.reader.readline()
                if not line.endswith(b"\n"):
                    break  # EOF (possibly mid-line)
                fields = line.rstrip(b"\r\n").decode("utf-8", "replace").split("\t")
                if fields[0] in ("OK", "FAIL", "CONT") and len(fields) > 1 and fields[1].isdigit():
                    future = self.pending.pop(int(fields[1]), None)
                    if future is not None and not future.done():
                        future.set_result(fields)
                # other lines (e.g. a late reply to a timed-out request) are ignored
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass  # the connection is gone; fail what waits on it below
        finally:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for future in self.pending.values():
            if not future.done():
                future.set_exception(AuthUnavailable(_LOST))
        self.pending.clear()
        self.writer.close()
        current = asyncio.current_task()
        if self.task is not current:
            self.task.cancel()


class DovecotAuthenticator:
    """An :class:`~mailflow.smtpd.sasl.Authenticator` that asks Dovecot's auth server.

    ``path`` is the auth socket (``unix:`` prefix optional) or
    ``inet:host:port``; ``service`` the service name Dovecot sees
    (``smtpd_sasl_service``). Call :meth:`connect` at start to learn
    Dovecot's mechanisms early (optional: the first login connects), and
    :meth:`close` at the end.

    >>> DovecotAuthenticator("/var/spool/mailflow/private/auth")
    DovecotAuthenticator('/var/spool/mailflow/private/auth')
    """

    def __init__(self, path: str, *, service: str = "smtp", timeout: float = AUTH_TIMEOUT,
                 local_address: str = "") -> None:
        self.path = path
        self.service = service
        self.timeout = timeout
        self.local_address = local_address
        self.connects = 0        # handshakes made, for logs and tests
        self._conn: _Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._next_id = 0
        self._mechanisms: list[str] | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> "DovecotAuthenticator":
        """The authenticator main.cf describes (``smtpd_sasl_path``, ``smtpd_sasl_service``)."""
        return cls(auth_socket_path(cfg), service=cfg.expand("smtpd_sasl_service").strip()
                   or "smtp")

    def __repr__(self) -> str:
        return f"DovecotAuthenticator({self.path!r})"

    def mechanisms(self) -> Sequence[str]:
        """PLAIN and LOGIN as far as Dovecot offers them (both until it has said)."""
        if self._mechanisms is None:
            return SERVER_MECHANISMS
        return tuple(m for m in SERVER_MECHANISMS if m in self._mechanisms)

    async def connect(self) -> None:
        """Connect and handshake now (else the first login does); AuthUnavailable on failure."""
        await self._connection()

    async def close(self) -> None:
        """Drop the connection; a later login connects again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            try:
                await conn.writer.wait_closed()
            except OSError:
                pass
            try:
                await conn.task
            except asyncio.CancelledError:
                pass

    async def authenticate(self, username: str, password: str, *, service: str | None = None,
                           client_address: str = "", tls: bool = False) -> bool:
        """True: Dovecot said OK. False: FAIL. :class:`AuthUnavailable`: no answer."""
        resp = base64.b64encode(f"\0{username}\0{password}".encode("utf-8")).decode("ascii")
        for attempt in range(2):
            conn = await self._connection()
            self._next_id += 1
            request_id = self._next_id
            fields = ["AUTH", str(request_id), "PLAIN",
                      f"service={_field(service or self.service)}", "nologin"]
            if self.local_address:
                fields.append(f"lip={_field(self.local_address)}")
            if client_address:
                fields.append(f"rip={_field(client_address)}")
            if tls:
                fields.append("secured")
            fields.append(f"resp={resp}")
            future = asyncio.get_running_loop().create_future()
            conn.pending[request_id] = future
            try:
                conn.writer.write(("\t".join(fields) + "\n").encode("utf-8"))
                await asyncio.wait_for(conn.writer.drain(), self.timeout)
            except (OSError, asyncio.TimeoutError):
                conn.pending.pop(request_id, None)
                conn.close()
                if attempt == 0:
                    continue  # Postfix, too, reconnects once when the request cannot be sent
                raise AuthUnavailable(_NO_CONNECT) from None
            break
        try:
            reply = await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            conn.pending.pop(request_id, None)
            log.warning("SASL: no answer from Dovecot auth socket '%s' in %gs", self.path,
                        self.timeout)
            raise AuthUnavailable(_LOST) from None
        kind, args = reply[0], reply[2:]
        if kind == "OK":
            return True
        if kind == "FAIL":
            if "temp" in args:
                reason = next((a[len("reason="):] for a in args if a.startswith("reason=")),
                              "")
                raise AuthUnavailable(reason or "Dovecot auth temporary failure")
            return False
        # CONT after a complete PLAIN response: Dovecot wants more than PLAIN
        # can give. Postfix calls this "Authentication backend error".
        log.warning("SASL: unexpected Dovecot reply %s to a PLAIN request", kind)
        return False

    async def _connection(self) -> _Connection:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one handshake at a time
            if self._conn is not None and not self._conn.closed:
                return self._conn
            self._conn = await self._handshake()
            return self._conn

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.path.startswith("inet:"):
            host, _, port = self.path[len("inet:"):].rpartition(":")
            return await asyncio.open_connection(host.strip("[]"), int(port))
        return await asyncio.open_unix_connection(self.path)

    async def _handshake(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(self._open(), self.timeout)
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out" \
                if isinstance(exc, asyncio.TimeoutError) else str(exc)
            log.warning("SASL: Connect to Dovecot auth socket '%s' failed: %s", self.path, why)
            raise AuthUnavailable(_NO_CONNECT) from None
        try:
            writer.write(f"VERSION\t{_MAJOR}\t{_MINOR}\nCPID\t{os.getpid()}\n".encode())
            mechanisms = await asyncio.wait_for(self._read_handshake(reader), self.timeout)
        except (OSError, asyncio.TimeoutError, _HandshakeError) as exc:
            writer.close()
            why = str(exc) if isinstance(exc, _HandshakeError) else "handshake failed"
            log.warning("SASL: %s (Dovecot auth socket '%s')", why, self.path)
            raise AuthUnavailable(_NO_CONNECT) from None
        self.connects += 1
        self._mechanisms = mechanisms
        return _Connection(reader, writer, mechanisms)

    @staticmethod
    async def _read_handshake(reader: asyncio.StreamReader) -> list[str]:
        mechanisms: list[str] = []
        have_mech = False
        while True:
            line = await reader.readline()
            if not line.endswith(b"\n"):
                raise _HandshakeError("Dovecot closed the connection during the handshake")
            fields = line.rstrip(b"\r\n").decode("utf-8", "replace").split("\t")
            if fields[0] == "VERSION":
                if len(fields) < 3 or not fields[1].isdigit():
                    raise _HandshakeError("Protocol version error")
                if int(fields[1]) != _MAJOR:
                    raise _HandshakeError(f"Protocol version mismatch ({fields[1]} vs. {_MAJOR})")
            elif fields[0] == "MECH" and len(fields) > 1:
                have_mech = True
                if "private" not in (f.lower() for f in fields[2:]):
                    mechanisms.append(fields[1].upper())
            elif fields[0] == "SPID" and not have_mech:
                # auth-master and auth-userdb answer VERSION and SPID only.
                raise _HandshakeError("Connected to wrong auth socket "
                                      "(auth-master instead of auth-client)")
            elif fields[0] == "DONE":
                return mechanisms


class _HandshakeError(Exception):
    """The auth server's handshake was not one we can use."""


def _field(value: str) -> str:
    # TAB and LF end fields and lines in Dovecot's protocol.
    return value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
