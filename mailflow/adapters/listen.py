"""Listening TCP sockets for master.cf's ``inet`` services, and the accept loop.

Owns the I/O half of master(8)'s listeners: resolve a hostname endpoint,
bind and listen (SO_REUSEADDR, IPV6_V6ONLY so that ``0.0.0.0`` and ``::``
share a port, non-blocking, close-on-exec), and :func:`serve_sessions`,
the accept loop a service runs over the sockets the master handed it. The
pure part (which addresses a service name means) is
:func:`mailflow.config.master_cf.parse_inet_endpoint`.

Why an accept loop of our own instead of :func:`asyncio.start_server`:
with ``maxproc`` sessions running, Postfix has no idle process to call
accept(2), so new clients wait in the kernel's listen queue rather than
being refused or accepted and left silent. :func:`serve_sessions` does the
same: while every slot is busy it does not read the listening sockets.

>>> import socket
>>> from mailflow.config.master_cf import Endpoint
>>> [s] = open_listeners([Endpoint("127.0.0.1", 0, socket.AF_INET)])
>>> s.getblocking(), s.get_inheritable(), s.getsockname()[0]
(False, False, '127.0.0.1')
>>> s.close()
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from typing import Any, Awaitable, Callable, Iterable, Sequence

from mailflow.config.master_cf import Endpoint

__all__ = ["ListenError", "open_listeners", "resolve_endpoint", "ipv6_available",
           "serve_sessions", "SessionServer", "socket_address", "duplicate"]

log = logging.getLogger("mailflow.master")

_ACCEPT_PAUSE = 0.1     # seconds: out of file descriptors, retry accept after this
_BUSY_WARN_INTERVAL = 1000.0    # seconds between "has reached its process limit" warnings


class ListenError(OSError):
    """An endpoint that cannot be bound; ``str()`` is
    ``cannot listen on 127.0.0.1:25: Permission denied``.

    >>> str(ListenError("cannot listen on 127.0.0.1:25: Permission denied"))
    'cannot listen on 127.0.0.1:25: Permission denied'
    """


def ipv6_available() -> bool:
    """Whether this host can open an IPv6 socket (Postfix's inet_proto_init probe).

    >>> isinstance(ipv6_available(), bool)
    True
    """
    if not socket.has_ipv6:
        return False
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
    except OSError:
        return False
    return True


def resolve_endpoint(endpoint: Endpoint, families: Sequence[int] = (socket.AF_INET,
                                                                   socket.AF_INET6)
                     ) -> list[Endpoint]:
    """An endpoint with a hostname → one endpoint per address of ``families``.

    An address endpoint is returned as is. A name that does not resolve is a
    :class:`ListenError` worded as Postfix's master.

    >>> resolve_endpoint(Endpoint("localhost", 25, 0), [socket.AF_INET])
    [Endpoint(host='127.0.0.1', port=25, family=<AddressFamily.AF_INET: 2>)]
    """
    if endpoint.family != socket.AF_UNSPEC:
        return [endpoint]
    try:
        infos = socket.getaddrinfo(endpoint.host, endpoint.port, socket.AF_UNSPEC,
                                   socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
    except socket.gaierror as exc:
        raise ListenError(f"bad hostname or network address: {endpoint.display}: "
                          f"{exc.strerror}") from None
    found: list[Endpoint] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        candidate = Endpoint(str(sockaddr[0]).split("%")[0], endpoint.port, family)
        if family in families and candidate not in found:
            found.append(candidate)
    if not found:
        raise ListenError(f"no valid IP address found: {endpoint.display}")
    return found


def _bind(endpoint: Endpoint, backlog: int) -> socket.socket:
    sock = socket.socket(endpoint.family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if endpoint.family == socket.AF_INET6:
            # One socket per protocol, as Postfix: "::" must not also claim
            # the IPv4 port that "0.0.0.0" listens on.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((endpoint.host, endpoint.port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def open_listeners(endpoints: Iterable[Endpoint], *, backlog: int = 100,
                   families: Sequence[int] = (socket.AF_INET, socket.AF_INET6)
                   ) -> list[socket.socket]:
    """Bind and listen on every endpoint (hostnames resolved within ``families``).

    All or nothing: when one endpoint fails, the sockets already opened are
    closed and a :class:`ListenError` names the endpoint and the reason.

    >>> from mailflow.config.master_cf import Endpoint
    >>> first = open_listeners([Endpoint("127.0.0.1", 0, socket.AF_INET)])
    >>> port = first[0].getsockname()[1]
    >>> open_listeners([Endpoint("127.0.0.1", port, socket.AF_INET)])
    Traceback (most recent call last):
    ...
    mailflow.adapters.listen.ListenError: cannot listen on 127.0.0.1:...: Address already in use
    >>> first[0].close()
    """
    opened: list[socket.socket] = []
    try:
        for endpoint in endpoints:
            for resolved in resolve_endpoint(endpoint, families):
                try:
                    opened.append(_bind(resolved, backlog))
                except OSError as exc:
                    reason = exc.strerror or str(exc)
                    error = ListenError(f"cannot listen on {resolved.display}: {reason}")
                    error.errno = exc.errno
                    raise error from None
    except BaseException:
        for sock in opened:
            sock.close()
        raise
    return opened


def socket_address(sock: socket.socket) -> str:
    """A listening socket's address as master.cf writes it.

    >>> s = socket.socket(); s.bind(("127.0.0.1", 0)); socket_address(s).startswith("127.0.0.1:")
    True
    >>> s.close()
    """
    host, port = sock.getsockname()[:2]
    return Endpoint(str(host), int(port), sock.family).display


# ---------------------------------------------------------------- serving
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[Any]]


class SessionServer:
    """The accept loop over a service's listening sockets (see :func:`serve_sessions`).

    ``active`` is the number of sessions running. :meth:`close` stops
    accepting and closes the service's sockets (the master keeps its own
    copies, so the port stays open); :meth:`wait_closed` waits for running
    sessions to end; :meth:`abort` cancels them.
    """

    def __init__(self, listeners: Sequence[socket.socket], handler: Handler, limit: int,
                 *, name: str | None = None, raw: bool = False) -> None:
        self.listeners = tuple(listeners)
        self.raw = raw
        self._fds = tuple(sock.fileno() for sock in self.listeners)
        self.handler = handler
        self.limit = limit
        self.name = name
        self._busy_warned = float("-inf")
        self.active = 0
        self._sessions: set[asyncio.Task[Any]] = set()
        self._slot_free = asyncio.Event()
        self._slot_free.set()
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        self._task = self._loop.create_task(self._accept_loop())
        self._task.add_done_callback(self._accept_loop_done)

    def _accept_loop_done(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("accept loop stopped: %s: %s", type(exc).__name__, exc, exc_info=exc)

    def set_limit(self, limit: int) -> None:
        """Change the session limit (a reloaded ``maxproc``); a higher limit
        lets waiting clients in at once."""
        if limit < 0:
            raise ValueError(f"bad session limit {limit}")
        self.limit = limit
        self._slot_free.set()

    def is_serving(self) -> bool:
        """True until :meth:`close`."""
        return not self._closed

    async def _readable(self) -> socket.socket:
        """Wait until one of the listening sockets has a client to accept."""
        ready: asyncio.Future[socket.socket] = self._loop.create_future()

        def wake(sock: socket.socket) -> None:
            if not ready.done():
                ready.set_result(sock)
        for fd, sock in zip(self._fds, self.listeners):
            self._loop.add_reader(fd, wake, sock)
        try:
            return await ready
        finally:
            if not self._closed:        # close() has removed them already
                for fd in self._fds:
                    self._loop.remove_reader(fd)

    async def _accept_loop(self) -> None:
        while not self._closed:
            if self.limit and self.active >= self.limit:
                # Every slot is busy: leave new clients in the kernel's
                # listen queue until a session ends (Postfix's behaviour).
                self._warn_busy()
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            sock = await self._readable()
            # Accept what is queued, as long as slots are free.
            while not self._closed and (not self.limit or self.active < self.limit):
                try:
                    conn, _addr = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        log.warning("accept connection: %s", exc.strerror)
                        await asyncio.sleep(_ACCEPT_PAUSE)
                    elif exc.errno not in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                        raise
                    break
                self._begin(conn)

    def _warn_busy(self) -> None:
        # master(8)'s warning, at most once per 1000 seconds per service.
        now = self._loop.time()
        if self.name is None or now - self._busy_warned < _BUSY_WARN_INTERVAL:
            return
        self._busy_warned = now
        where = ", ".join(socket_address(s) for s in self.listeners if s.fileno() >= 0)
        log.warning("service \"%s\" (%s) has reached its process limit \"%d\": "
                    "new clients may experience noticeable delays", self.name, where, self.limit)
        log.warning("to avoid this condition, increase the process count "
                    "in master.cf or reduce the service time per client")

    def _begin(self, conn: socket.socket) -> None:
        self.active += 1
        task = self._loop.create_task(self._session(conn))
        self._sessions.add(task)
        task.add_done_callback(self._session_done)

    async def _session(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        try:
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.raw:
                # The handler sets up its own transport (an asyncio
                # Protocol that can start TLS in place) and closes it.
                await self.handler(conn)     # type: ignore[call-arg]
                return
            reader, writer = await asyncio.open_connection(sock=conn)
        except OSError:
            conn.close()            # the client went away before we started
            return
        try:
            await self.handler(reader, writer)
        finally:
            writer.close()

    def _session_done(self, task: "asyncio.Task[None]") -> None:
        self._sessions.discard(task)
        self.active -= 1
        self._slot_free.set()
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("session handler failed: %s: %s", type(exc).__name__, exc,
                      exc_info=exc)

    def close(self) -> None:
        """Stop accepting and close this server's sockets; sessions go on."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        # Unregister before closing: the descriptor number may be reused at
        # once, and the accept loop only runs its cleanup later.
        for fd in self._fds:
            self._loop.remove_reader(fd)
        for sock in self.listeners:
            sock.close()

    async def wait_closed(self) -> None:
        """Wait for the accept loop and the running sessions to end."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        while True:
            # Done tasks leave the set from a callback that has not run
            # yet: wait for the unfinished ones only, or this never yields.
            pending = [task for task in self._sessions if not task.done()]
            if not pending:
                return
            await asyncio.wait(pending)

    async def abort(self) -> None:
        """Close, cancel the running sessions and wait for them."""
        self.close()
        for task in list(self._sessions):
            task.cancel()
        await self.wait_closed()


async def serve_sessions(listeners: Sequence[socket.socket], handler: Handler, *,
                         limit: int = 0, name: str | None = None,
                         raw: bool = False) -> SessionServer:
    """Serve ``handler(reader, writer)`` on the sockets, at most ``limit``
    sessions at once (0: no limit); returns the running :class:`SessionServer`.

    Meant for ``ctx.listeners`` with ``limit=ctx.maxproc``: while ``limit``
    sessions run, new clients wait in the listen queue (not refused). The
    writer is closed when the handler returns; a handler that raises is
    logged and its session ends. With ``name`` (the master.cf service name)
    a full service logs master(8)'s warning, at most every 1000 seconds:
    ``service "smtp" (0.0.0.0:25) has reached its process limit "100": new
    clients may experience noticeable delays``. With ``raw`` the handler
    gets the accepted socket itself, ``handler(conn)``, and owns it.

    >>> async def demo():
    ...     [sock] = open_listeners([Endpoint("127.0.0.1", 0, socket.AF_INET)])
    ...     async def hello(reader, writer):
    ...         writer.write(b"220 hello\\r\\n")
    ...         await writer.drain()
    ...     server = await serve_sessions([sock], hello, limit=2)
    ...     reader, writer = await asyncio.open_connection(*sock.getsockname())
    ...     line = await reader.readline()
    ...     writer.close()
    ...     server.close()
    ...     await server.wait_closed()
    ...     return line
    >>> asyncio.run(demo())
    b'220 hello\\r\\n'
    """
    if limit < 0:
        raise ValueError(f"bad session limit {limit}")
    server = SessionServer(listeners, handler, limit, name=name, raw=raw)
    server.start()
    return server


def duplicate(sock: socket.socket) -> socket.socket:
    """A second descriptor for the same listening socket (non-blocking,
    close-on-exec): what the master hands a service, so that the service may
    close its copy (asyncio's ``Server.close`` does) while the port stays open.

    >>> s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
    >>> d = duplicate(s)
    >>> d.getsockname() == s.getsockname(), d.fileno() != s.fileno(), d.getblocking()
    (True, True, False)
    >>> d.close(); s.close()
    """
    copy = sock.dup()
    copy.setblocking(False)
    os.set_inheritable(copy.fileno(), False)
    return copy
