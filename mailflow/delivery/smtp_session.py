"""The smtp/lmtp clients' socket: connect, send, read replies, STARTTLS.

Owns the I/O of one client connection over asyncio and nothing else: every
wait runs under the time limit the caller gives (Postfix's per-stage
``smtp_*_timeout``), and every failure becomes one of three exceptions the
agent turns into Postfix's texts: :class:`ConnectFailed` ("connect to
mx[192.0.2.1]:25: Connection refused"), :class:`ConnectionLost` ("lost
connection with ... while ...") and :class:`ConversationTimeout`
("conversation with ... timed out while ..."). What to say and how to read
the replies is :mod:`mailflow.smtp.client`'s business.

>>> import asyncio
>>> from mailflow.delivery.smtp_route import Target
>>> async def refused():
...     try:
...         await Connection.open(Target("localhost", "127.0.0.1", 1), timeout=5)
...     except ConnectFailed as exc:
...         return str(exc)
>>> asyncio.run(refused())
'connect to localhost[127.0.0.1]:1: Connection refused'
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import time
from typing import Any, Awaitable, Callable, Optional

from mailflow.delivery.smtp_route import Target
from mailflow.errors import MailflowError
from mailflow.smtp.client import Reply, ReplyParser

__all__ = ["Connection", "ConnectFailed", "ConnectionLost", "ConversationTimeout",
           "TlsFailed", "call_later"]

READ_SIZE = 65536


class ConnectFailed(MailflowError):
    """The TCP or unix-socket connect did not succeed."""


class ConnectionLost(MailflowError):
    """The server closed the connection (or reset it) mid-conversation."""


class ConversationTimeout(MailflowError):
    """A stage's time limit ran out."""


class TlsFailed(MailflowError):
    """The TLS handshake after STARTTLS failed; the text says why."""


def call_later(delay: float, func: Callable[[], Awaitable[None]]) -> asyncio.TimerHandle:
    """Run the coroutine function ``func`` after ``delay`` seconds on the
    running loop (the connection cache's idle timer); cancel with the handle."""
    loop = asyncio.get_running_loop()

    def fire() -> None:
        task = loop.create_task(func())
        _pending.add(task)
        task.add_done_callback(_pending.discard)
    return loop.call_later(delay, fire)


_pending: set = set()      # expiry tasks in flight (a task needs a strong reference)


if sys.version_info >= (3, 11):
    async def _within(awaitable: Any, timeout: float | None) -> Any:
        """``await awaitable`` under ``timeout`` (TimeoutError), without the
        task that :func:`asyncio.wait_for` makes for every read."""
        async with asyncio.timeout(timeout):
            return await awaitable
else:                                   # Python 3.10 has no asyncio.timeout
    _within = asyncio.wait_for


async def _start_tls(writer: asyncio.StreamWriter, context: ssl.SSLContext,
                     server_hostname: Optional[str]) -> None:
    if hasattr(writer, "start_tls"):
        await writer.start_tls(context, server_hostname=server_hostname)
        return
    # Python 3.10 has no StreamWriter.start_tls: the same steps by hand,
    # on the private fields 3.10's streams keep their transport in.
    loop = asyncio.get_running_loop()
    protocol = writer.transport.get_protocol()
    await writer.drain()
    transport = await loop.start_tls(writer.transport, protocol, context,
                                     server_hostname=server_hostname)
    protocol._transport = transport         # type: ignore[attr-defined]
    protocol._over_ssl = True               # type: ignore[attr-defined]
    writer._transport = transport           # type: ignore[attr-defined]


def _limit(timeout: float | None) -> float | None:
    # 0 means "no limit of ours" (lmtp_connect_timeout = 0s: the kernel's).
    return timeout if timeout and timeout > 0 else None


class Connection:
    """One open connection to ``target``; build it with :meth:`open`."""

    def __init__(self, target: Target, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.target = target
        self.reader = reader
        self.writer = writer
        self.parser = ReplyParser()
        self.opened = time.monotonic()
        self.uses = 0
        self.replies_read = 0
        self.tls = False

    def __repr__(self) -> str:
        return f"Connection({self.target.relay!r})"

    @classmethod
    async def open(cls, target: Target, *, timeout: float | None) -> "Connection":
        """Connect to ``target`` (TCP or, with ``target.path``, a unix socket)."""
        where = (f"connect to {target.name}" if target.path
                 else f"connect to {target.name}[{target.address}]:{target.port}")
        try:
            if target.path:
                coro = asyncio.open_unix_connection(target.path, limit=READ_SIZE)
            else:
                coro = asyncio.open_connection(target.address, target.port, limit=READ_SIZE)
            reader, writer = await asyncio.wait_for(coro, _limit(timeout))
        except asyncio.TimeoutError:
            raise ConnectFailed(f"{where}: Connection timed out") from None
        except OSError as exc:
            # asyncio words errno as "Connect call failed (...)"; Postfix says %m.
            reason = os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc))
            raise ConnectFailed(f"{where}: {reason}") from exc
        return cls(target, reader, writer)

    @property
    def name(self) -> str:
        """``mx.example[192.0.2.1]`` (Postfix's namaddr), or the socket's name."""
        t = self.target
        return t.name if t.path else f"{t.name}[{t.address}]"

    async def send(self, data: bytes, *, timeout: float | None, where: str) -> None:
        """Write ``data`` and wait until the kernel took it."""
        try:
            self.writer.write(data)
            transport = self.writer.transport
            if transport is not None and not transport.get_write_buffer_size():
                return                  # the kernel took it all: nothing to wait for
            await _within(self.writer.drain(), _limit(timeout))
        except asyncio.TimeoutError:
            raise ConversationTimeout(f"conversation with {self.name} timed out while {where}") from None
        except (ConnectionError, OSError) as exc:
            raise ConnectionLost(f"lost connection with {self.name} while {where}") from exc

    async def reply(self, *, timeout: float | None, where: str) -> Reply:
        """The next complete reply (replies that arrived together are queued).

        Raises :class:`mailflow.smtp.client.SmtpProtocolError` for garbage."""
        deadline = None if not _limit(timeout) else time.monotonic() + timeout
        while (reply := self.parser.next_reply()) is None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                data = await _within(self.reader.read(READ_SIZE), remaining)
            except asyncio.TimeoutError:
                raise ConversationTimeout(
                    f"conversation with {self.name} timed out while {where}") from None
            except (ConnectionError, OSError) as exc:
                raise ConnectionLost(f"lost connection with {self.name} while {where}") from exc
            if not data:
                raise ConnectionLost(f"lost connection with {self.name} while {where}")
            self.parser.push(data)
        self.replies_read += 1
        return reply

    async def starttls(self, context: ssl.SSLContext, server_hostname: Optional[str], *,
                       timeout: float | None) -> None:
        """Upgrade the connection to TLS (after a 220 to STARTTLS)."""
        # Whatever came after the 220 in plaintext is not trusted: an
        # attacker's injected replies (CVE-2011-0411) must not be read later.
        self.parser.discard()
        try:
            await asyncio.wait_for(_start_tls(self.writer, context, server_hostname),
                                   _limit(timeout))
        except asyncio.TimeoutError:
            raise TlsFailed("Cannot start TLS: handshake timed out") from None
        except (ssl.SSLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            raise TlsFailed(f"Cannot start TLS: handshake failure ({reason})") from exc
        self.tls = True

    def peer_certificate(self) -> dict | None:
        obj = self.writer.get_extra_info("ssl_object")
        return obj.getpeercert() if obj is not None else None

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """The TLS session after :meth:`starttls` (None before)."""
        return self.writer.get_extra_info("ssl_object")

    @property
    def at_eof(self) -> bool:
        return self.reader.at_eof() or self.writer.is_closing()

    async def close(self) -> None:
        """Close, never raising (the other side may already be gone)."""
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass  # closing a connection the peer already dropped
