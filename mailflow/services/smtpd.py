"""smtpd: the SMTP front door as a master.cf service and an embeddable server.

Owns the network edge of mail reception: accepting connections on the
sockets the master bound (or on a host and port a program gives), looking
up the client's name, running one :class:`~mailflow.smtpd.session.SmtpdSession`
per connection within the service's ``maxproc`` bound, and the default
:class:`~mailflow.smtpd.session.MessageSink` that hands accepted mail to
cleanup, which makes it durable in ``incoming/`` before the session says
``250``. Protocol, decisions and logging are the session's; grammar is the
engine's.

Embedded in a program's own event loop, with a handler instead of the
spool (what aiosmtpd users do)::

    async def handler(envelope, message):
        print(envelope.sender, [r.address for r in envelope.recipients])
        return None                        # 250 2.0.0 Ok

    server = SmtpServer(Config(mynetworks="127.0.0.0/8"), handler=handler)
    await server.start("127.0.0.1", 2525)
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable

import ssl

import attrs

from mailflow.adapters.kick import kick
from mailflow.adapters.listen import open_listeners, serve_sessions
from mailflow.adapters.tls import server_context
from mailflow.cleanup.result import DISCARD, HOLD, QUEUE
from mailflow.config.master_cf import Endpoint
from mailflow.model import Envelope, Message, Recipient
from mailflow.queue.store_api import QueueIdSource
from mailflow.services.cleanup import CleanupService
from mailflow.services.skeleton import ServiceBase, ServiceContext
from mailflow.services.smtpd_session import (ClientEndpoint, SinkResult,
                                             SmtpdSession, Transaction)
from mailflow.smtp.reply import Reply
from mailflow.services.flush import flush_site
from mailflow.smtp.replies import WRITE_ERROR
from mailflow.queue.space import enough_space, shortage_text
from mailflow.smtpd.anvil import Anvil, ClientLimits
from mailflow.smtpd.proxy import ProxyProtocolError, parse_proxy_header
from mailflow.smtpd.restrictions import SmtpdRestrictions
from mailflow.smtpd.sasl import authenticator_from_config, server_mechanisms
from mailflow.smtpd.settings import SmtpdSettings

__all__ = ["SmtpdService", "SmtpServer", "CleanupSink", "HandlerSink", "StreamChannel",
           "ClientNames"]

log = logging.getLogger("mailflow.smtpd")

_READ_BUFFER_LIMIT = 256 * 1024    # bytes received and not yet parsed before reading pauses
#: Threads writing queue files for one smtpd service (see CleanupSink).
WRITER_THREADS = 32


# ---------------------------------------------------------------- the byte stream
class StreamChannel(asyncio.Protocol):
    """One client connection as a :class:`~mailflow.smtpd.session.Channel`.

    A plain asyncio Protocol (not streams) so that STARTTLS can upgrade the
    transport in place on every supported Python (``loop.start_tls``), and
    so that reading is one buffer join per wake-up. Reading pauses when
    more than 256 KB wait unparsed, so a client cannot make the server
    buffer without bound.
    """

    def __init__(self) -> None:
        self.transport: Any = None
        self._chunks: collections.deque = collections.deque()
        self._buffered = 0
        self._eof = False
        self._waiter: asyncio.Future | None = None
        self._write_paused = False
        self._drain_waiter: asyncio.Future | None = None
        self._paused = False
        self._loop = asyncio.get_running_loop()
        # One lazy timer per connection instead of one per read: a read only
        # moves the deadline, and the timer, when it fires early, re-arms
        # itself for what is left (a session reads ~8 times per message).
        self._deadline = float("inf")
        self._timer: asyncio.TimerHandle | None = None
        self.connected = self._loop.create_future()

    # asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if not self.connected.done():
            self.connected.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _READ_BUFFER_LIMIT and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._eof = True
        self._wake()
        self._cancel_timer()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _arm(self, timeout: float) -> None:
        loop = self._loop
        if timeout <= 0:
            self._deadline = float("inf")
            return
        self._deadline = loop.time() + timeout
        timer = self._timer
        if timer is not None and timer.when() > self._deadline:
            timer.cancel()      # a shorter timeout than the last read's
            timer = None
        if timer is None:
            self._timer = loop.call_at(self._deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done() or self._deadline == float("inf"):
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)
        else:
            _expire(waiter)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # Channel
    async def read(self, timeout: float) -> bytes:
        if not self._chunks and not self._eof:
            self._waiter = self._loop.create_future()
            self._arm(timeout)
            try:
                await self._waiter
            finally:
                self._waiter = None
        if not self._chunks:
            return b""
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused:
            self._paused = False
            self.transport.resume_reading()
        return data

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        if self._write_paused and self.transport is not None and not self.transport.is_closing():
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    async def start_tls(self, context: Any, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        self._chunks.clear()
        self._buffered = 0
        transport = await loop.start_tls(self.transport, self, context, server_side=True,
                                         ssl_handshake_timeout=timeout or None)
        if transport is None:
            raise ConnectionResetError("TLS handshake failed")
        self.transport = transport
        return transport.get_extra_info("ssl_object")

    def close(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


# ---------------------------------------------------------------- client names
class ClientNames:
    """The client's name as Postfix's smtpd finds it: the PTR name, kept as
    ``client_name`` only when a forward lookup of it gives the address back
    (else ``unknown``), and the PTR name itself as ``reverse_name``.

    Answers are cached for a minute: a client opening many connections
    (a relay, smtp-source) costs one lookup, not one per connection.
    """

    def __init__(self, *, ttl: float = 60.0, enabled: bool = True) -> None:
        self.ttl = ttl
        self.enabled = enabled
        self._cache: dict[str, tuple[float, str, str]] = {}

    async def lookup(self, address: str) -> tuple[str, str]:
        """``(client_name, reverse_name)`` for ``address``."""
        if not self.enabled:
            return "unknown", "unknown"
        now = time.monotonic()
        hit = self._cache.get(address)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        name, reverse = await asyncio.to_thread(_forward_confirmed, address)
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[address] = (now + self.ttl, name, reverse)
        return name, reverse


def _forward_confirmed(address: str) -> tuple[str, str]:
    try:
        reverse = socket.getnameinfo((address, 0), socket.NI_NAMEREQD)[0]
    except (OSError, UnicodeError):
        return "unknown", "unknown"
    try:
        infos = socket.getaddrinfo(reverse, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "unknown", reverse
    if any(info[4][0] == address for info in infos):
        return reverse, reverse
    return "unknown", reverse


# ---------------------------------------------------------------- where mail goes
class CleanupSink:
    """The default sink: cleanup, then the spool.

    Cleanup runs on the event loop (pure work) and writes the queue file in
    a worker thread (the fsync); the reply comes back only when the file is
    durable. Restriction actions are applied here: HOLD puts the message in
    ``hold/``, DISCARD accepts and drops it, FILTER sets its content filter,
    REDIRECT replaces its recipients (``original`` kept).
    """

    def __init__(self, cleanup: CleanupService, *, on_queued: Callable[[], None] | None = None,
                 writers: ThreadPoolExecutor | None = None) -> None:
        self.cleanup = cleanup
        self.on_queued = on_queued
        self._ids = QueueIdSource()
        # Queue-file writes wait mostly on fsync. Run side by side, the file
        # system commits them together (one journal commit for many
        # messages), which is what Postfix gets from its cleanup processes;
        # a pool of their own keeps them from queueing behind other work.
        self._writers = writers

    def new_queue_id(self) -> str:
        return self._ids.next()

    @property
    def spill_directory(self) -> str | None:
        """Where smtpd puts the part of a large message past its memory
        limit: the queue directory (same file system as the queue file)."""
        return getattr(self.cleanup.store, "queue_directory", None)

    def has_room(self) -> bool:
        """Whether the spool may take a message now (``queue_minfree`` and
        1.5 x ``message_size_limit`` free, Postfix's rule); a store without a
        directory always may."""
        directory = getattr(self.cleanup.store, "queue_directory", None)
        if not directory:
            return True
        cfg = self.cleanup.cfg
        minfree = int(cfg["queue_minfree"]) if cfg is not None else 0
        limit = int(cfg["message_size_limit"]) if cfg is not None else 0
        if enough_space(directory, minfree, limit):
            return True
        log.warning("%s", shortage_text(directory))
        return False

    async def deliver(self, envelope: Envelope, message: Message,
                      transaction: Transaction) -> SinkResult:
        if transaction.discard is not None:
            log.info("%s: discard: %s", envelope.queue_id, transaction.discard)
            return SinkResult(envelope.queue_id, Reply.of(
                250, f"Ok: queued as {envelope.queue_id}", "2.0.0"))
        if transaction.redirect:
            envelope = envelope.with_recipients(
                Recipient(transaction.redirect, original=r.original, orcpt=r.orcpt, notify=r.notify)
                for r in envelope.recipients)
        spilled = transaction.content if transaction.content is not None \
            and transaction.content.spilled else None
        more = spilled.tail_size if spilled is not None else 0
        result = self.cleanup.process(envelope, message, origin="smtpd", more_size=more)
        if transaction.hold is not None and result.action == QUEUE:
            log.info("%s: hold: %s", envelope.queue_id, transaction.hold)
            result = attrs.evolve(result, action=HOLD)
        reply = await self.cleanup.commit_async(result, self._writers, tail=spilled,
                                                tail_size=more)
        if reply.action == "defer" and reply.status.code == "4.3.0":
            return SinkResult(None, WRITE_ERROR)
        if not reply.accepted:
            code = 451 if reply.status.is_temporary else 550
            return SinkResult(None, Reply.of(code, reply.status.text, reply.status.code))
        if self.on_queued is not None and reply.action == QUEUE:
            self.on_queued()
        return SinkResult(reply.queue_id, Reply.of(250, f"Ok: queued as {reply.queue_id}", "2.0.0"))


class HandlerSink:
    """A sink that calls a program's own handler instead of the spool.

    ``handler(envelope, message)`` may be a coroutine function; it returns
    None (``250 2.0.0 Ok``), a queue ID string (``250 2.0.0 Ok: queued as
    ID``) or a :class:`~mailflow.smtp.reply.Reply` to send as it is. The
    handler gets the whole message in memory (a large one waits in a
    temporary file while it arrives).
    """

    def __init__(self, handler: Callable[[Envelope, Message], Any]) -> None:
        self.handler = handler

    async def deliver(self, envelope: Envelope, message: Message,
                      transaction: Transaction) -> SinkResult:
        content = transaction.content
        if content is not None and content.spilled:
            message = Message(message.data + content.read_tail())
        answer = self.handler(envelope, message)
        if asyncio.iscoroutine(answer) or isinstance(answer, Awaitable):
            answer = await answer
        if isinstance(answer, Reply):
            return SinkResult(envelope.queue_id, answer)
        if isinstance(answer, str):
            return SinkResult(answer, Reply.of(250, f"Ok: queued as {answer}", "2.0.0"))
        return SinkResult(envelope.queue_id, Reply.of(250, "Ok", "2.0.0"))


# ---------------------------------------------------------------- the server
class SmtpServer:
    """An SMTP server: sessions on listening sockets, mail to a sink.

    ``cfg`` is a :class:`~mailflow.config.Config` (main.cf plus the
    service's ``-o`` overrides); ``sink`` where accepted mail goes (default:
    cleanup into ``store``), or ``handler`` as a shortcut for a
    :class:`HandlerSink`; ``maxproc`` bounds concurrent sessions (0 = no
    bound): when all are busy, new connections wait in the kernel's listen
    queue, as with Postfix's process limit. ``dns`` is a
    :class:`~mailflow.interfaces.DnsResolver` for the DNS-based
    restrictions (default: the dnspython adapter on ``dns_nameservers``).
    """

    def __init__(self, cfg: Any, *, store: Any = None, sink: Any = None,
                 handler: Callable[[Envelope, Message], Any] | None = None,
                 restrictions: Any = None, dns: Any = None, maxproc: int = 0,
                 service: str = "smtp", lmtp: bool = False,
                 on_queued: Callable[[], None] | None = None,
                 on_etrn: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.lmtp = lmtp
        self.maxproc = maxproc
        self.on_etrn = on_etrn
        self.clock = clock
        self._servers: list[Any] = []
        self._dns = dns
        self._on_queued = on_queued
        self._store = store
        self._custom_sink = sink if sink is not None else (HandlerSink(handler) if handler else None)
        self._restrictions = restrictions
        self._writers: ThreadPoolExecutor | None = None
        self.anvil = Anvil(clock)
        self.configure(cfg)

    def configure(self, cfg: Any) -> None:
        """(Re)read the configuration; sessions already running keep theirs.
        A bad TLS or SASL setting raises ConfigError naming the parameter."""
        self.cfg = cfg
        self.settings = SmtpdSettings.from_config(cfg)
        self.restrictions = self._restrictions or SmtpdRestrictions.from_config(
            cfg, dns=self._dns if self._dns is not None else _default_dns(cfg))
        self.names = ClientNames(enabled=self.settings.peername_lookup)
        if self._custom_sink is not None:
            self.sink = self._custom_sink
        else:
            if self._store is None:
                raise ValueError("SmtpServer needs a store, a sink or a handler")
            if self._writers is None:
                self._writers = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="smtpd-write")
            self.sink = CleanupSink(CleanupService(cfg, self._store, wake=False),
                                    on_queued=self._on_queued, writers=self._writers)
        self.tls_context = None
        if self.settings.tls_security_level != "none" or self.settings.tls_wrappermode:
            self.tls_context = server_context(cfg)
        old = getattr(self, "authenticator", None)
        self.authenticator = (authenticator_from_config(cfg, offload=asyncio.to_thread)
                              if self.settings.sasl_auth_enable else None)
        self.sasl_mechanisms: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        if self.authenticator is not None:
            offered = list(self.authenticator.mechanisms())
            self.sasl_mechanisms = (tuple(server_mechanisms(cfg, offered, tls=False)),
                                    tuple(server_mechanisms(cfg, offered, tls=True)))
        if old is not None and old is not self.authenticator:
            _close_later(old)
        self.limits = ClientLimits.from_config(cfg)
        for server in self._servers:
            server.set_limit(self.maxproc)

    async def start(self, host: str = "127.0.0.1", port: int = 25) -> list[tuple[str, int]]:
        """Listen on ``host``:``port`` (port 0: any free port); return the
        ``(address, port)`` pairs listened on."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sockets = open_listeners([Endpoint(host, port, family)])
        await self.serve(sockets)
        return [s.getsockname()[:2] for s in sockets]

    async def serve(self, sockets: Any, *, warn_when_full: bool = True) -> None:
        """Serve already-listening sockets (the master's). With
        ``warn_when_full``, reaching ``maxproc`` logs master(8)'s warning."""
        if sockets:
            self._servers.append(await serve_sessions(
                list(sockets), self._connection, limit=self.maxproc,
                name=self.service if warn_when_full else None, raw=True))

    async def _connection(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        wrapper = self.tls_context if self.settings.tls_wrappermode else None
        try:
            _transport, channel = await loop.connect_accepted_socket(
                StreamChannel, sock=conn, ssl=wrapper,
                ssl_handshake_timeout=self.settings.tls_handshake_timeout if wrapper else None)
        except (OSError, ssl.SSLError) as exc:
            # A TLS handshake of garbage, or a client that left at once.
            log.info("connect from %s: %s", conn_label(conn), exc)
            conn.close()
            return
        peer = channel.transport.get_extra_info("peername") or ("unknown", 0)
        local = channel.transport.get_extra_info("sockname") or ("", 0)
        initial = b""
        if self.settings.upstream_proxy_protocol == "haproxy":
            try:
                proxied, initial = await _read_proxy_header(
                    channel, self.settings.upstream_proxy_timeout)
            except (ProxyProtocolError, TimeoutError, ConnectionError) as exc:
                text = exc.warning if isinstance(exc, ProxyProtocolError) else \
                    f"haproxy read: {type(exc).__name__}"
                log.warning("%s from %s", text, conn_label(conn))
                channel.close()
                return
            if not proxied.local:
                peer = (proxied.client_address, proxied.client_port)
                local = (proxied.server_address, proxied.server_port)
        address = _plain_address(peer[0])
        name, reverse = await self.names.lookup(address)
        anvil = self.anvil.connect(self.limits, self.service, address, name)
        session = SmtpdSession(
            channel, self.settings, ClientEndpoint(address, peer[1], name, reverse),
            restrictions=self.restrictions, sink=self.sink,
            tls_context=None if wrapper else self.tls_context,
            authenticator=self.authenticator, sasl_mechanisms=self.sasl_mechanisms,
            anvil=anvil, service=self.service,
            lmtp=self.lmtp, on_etrn=self.on_etrn, clock=self.clock,
            server_address=(_plain_address(local[0]), local[1]), initial_data=initial)
        if wrapper is not None:
            session.tls = channel.transport.get_extra_info("ssl_object")
            session.protocol = session._protocol_name()
        await session.run()

    @property
    def sessions(self) -> int:
        """Sessions running now."""
        return sum(server.active for server in self._servers)

    async def stop(self, *, grace: float = 10.0) -> None:
        """Stop listening, let sessions finish for ``grace`` seconds, then
        end the rest (a message not yet acknowledged is the client's to retry)."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            try:
                await asyncio.wait_for(server.wait_closed(), grace)
            except asyncio.TimeoutError:
                await server.abort()
        if self._writers is not None:
            writers, self._writers = self._writers, None
            await asyncio.get_running_loop().run_in_executor(None, writers.shutdown)
        closer = getattr(self.authenticator, "close", None)
        if closer is not None:
            await closer()


def _close_later(authenticator: Any) -> None:
    # A replaced authenticator (reload) may hold a connection to Dovecot:
    # close it once the sessions using it are done with this loop turn.
    closer = getattr(authenticator, "close", None)
    if closer is None:
        return
    try:
        asyncio.get_running_loop().create_task(closer())
    except RuntimeError:        # configured outside an event loop: nothing is connected yet
        pass


async def _read_proxy_header(channel: "StreamChannel", timeout: float) -> tuple[Any, bytes]:
    """Read the HAProxy PROXY header (v1 or v2); return it and the bytes after it."""
    data = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        info, used = parse_proxy_header(data)
        if info is not None:
            return info, data[used:]
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError
        chunk = await channel.read(left)
        if not chunk:
            raise ConnectionResetError("lost connection")
        data += chunk


def _plain_address(address: str) -> str:
    """An IPv4-mapped IPv6 address as the IPv4 address Postfix logs."""
    if address.startswith("::ffff:") and "." in address:
        return address[7:]
    return address


def conn_label(conn: socket.socket) -> str:
    """``[address]`` of an accepted socket, for a line before the session starts."""
    try:
        return f"unknown[{_plain_address(conn.getpeername()[0])}]"
    except OSError:
        return "unknown[unknown]"


def _default_dns(cfg: Any) -> Any:
    from mailflow.adapters.dns import resolver_from_config
    return resolver_from_config(cfg)


# ---------------------------------------------------------------- master.cf service
class SmtpdService(ServiceBase):
    """The master.cf ``smtpd`` service: serves the sockets the master bound.

    Accepted mail goes through cleanup into the master's store, and the
    queue manager running in the same process is woken with a call; in a
    worker process (``smtpd_worker_processes``, see
    :mod:`mailflow.services.workers`) it is woken through ``public/qmgr``.
    """

    server: SmtpServer
    #: True in a worker process (``smtpd_worker_processes``), set before start.
    worker: bool = False

    async def start(self, ctx: ServiceContext) -> None:
        await super().start(ctx)
        self._loop = asyncio.get_running_loop()
        self._wake_pending = False
        self._flushes: set[asyncio.Task] = set()
        self._flush_domains = _flush_domains(ctx.config)
        lmtp = False
        self.server = SmtpServer(ctx.config, store=ctx.store, maxproc=ctx.maxproc,
                                 service=ctx.name, lmtp=lmtp, on_queued=self._queued,
                                 on_etrn=self._etrn)
        # A worker process serves its share of maxproc; one worker being full
        # says nothing of the service, whose other workers take the next
        # clients, so only a whole smtpd warns.
        await self.server.serve(ctx.listeners, warn_when_full=not self.worker)

    def reload(self, cfg: Any) -> None:
        super().reload(cfg)
        self.server.configure(cfg)
        self._flush_domains = _flush_domains(cfg)

    async def stop(self) -> None:
        await super().stop()
        await self.server.stop()

    def _queued(self) -> None:
        # The queue manager runs in this process: one pending wake-up call at
        # a time (it scans all of incoming/), not a FIFO write per message.
        if self._wake_pending:
            return
        self._wake_pending = True
        self._loop.call_soon(self._wake_qmgr)

    def _wake_qmgr(self) -> None:
        self._wake_pending = False
        qmgr = self.ctx.services.get("qmgr")
        if qmgr is not None:
            qmgr.wake(b"I")
        else:
            self.server.sink.cleanup._kick()

    def _etrn(self, domain: str) -> bool:
        """An accepted ETRN: False (459) unless ``domain`` is in
        ``fast_flush_domains``; else its deferred mail is made due in a
        thread and the queue manager asked for a scan of due mail."""
        if not self._flush_domains.match(domain):
            return False
        task = self._loop.create_task(self._flush(domain))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)
        return True

    async def _flush(self, domain: str) -> None:
        if self.ctx.store is not None:
            count = await asyncio.to_thread(flush_site, self.ctx.store, domain)
            log.info("flush %s: %d deferred message(s) due now", domain, count)
        qmgr = self.ctx.services.get("qmgr")
        if qmgr is not None:
            qmgr.wake(b"D")
        elif self.ctx.queue_directory:
            # A worker process: the queue manager runs in the master.
            kick(self.ctx.queue_directory, "qmgr", b"D")


def _flush_domains(cfg: Any) -> Any:
    """``fast_flush_domains`` compiled, with parent matching as
    parent_domain_matches_subdomains says."""
    from mailflow.address.resolve import DomainList, split_list
    from mailflow.address.rewrite import config_value
    parent = "fast_flush_domains" in split_list(config_value(cfg, "parent_domain_matches_subdomains"))
    return DomainList.compile(config_value(cfg, "fast_flush_domains"), cfg, parent=parent)
