"""serve_sessions: the accept loop an inet service runs over ctx.listeners."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mailflow.adapters.listen import ListenError, open_listeners, serve_sessions
from mailflow.config.master_cf import Endpoint


def listener() -> socket.socket:
    [sock] = open_listeners([Endpoint("127.0.0.1", 0, socket.AF_INET)])
    return sock


async def greeted(port: int, timeout: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()


def test_raising_the_limit_lets_a_waiting_client_in():
    """With limit 1 a second client waits; set_limit(2) serves it without the first leaving."""
    async def main() -> None:
        sock = listener()
        port = sock.getsockname()[1]
        release = asyncio.Event()

        async def handler(reader, writer):
            writer.write(b"hi\r\n")
            await writer.drain()
            await release.wait()
        server = await serve_sessions([sock], handler, limit=1)
        first = asyncio.ensure_future(greeted(port))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(greeted(port))
        done, _ = await asyncio.wait([second], timeout=0.3)
        assert not done and server.active == 1          # waiting in the listen queue
        server.set_limit(2)
        assert await second == b"hi\r\n" and await first == b"hi\r\n"
        release.set()
        server.close()
        await server.wait_closed()
    asyncio.run(main())


def test_a_failing_handler_is_logged_and_frees_its_slot(caplog):
    """A handler that raises ends its session with an error log; the next client is served."""
    async def main() -> None:
        sock = listener()
        port = sock.getsockname()[1]
        calls = []

        async def handler(reader, writer):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("boom")
            writer.write(b"ok\r\n")
            await writer.drain()
        server = await serve_sessions([sock], handler, limit=1)
        assert await greeted(port) == b""          # closed on the error
        assert await greeted(port) == b"ok\r\n"
        assert server.active == 0
        server.close()
        await server.wait_closed()
    with caplog.at_level("ERROR", logger="mailflow.master"):
        asyncio.run(main())
    assert "session handler failed: RuntimeError: boom" in caplog.messages


def test_abort_cancels_running_sessions():
    """abort() closes the listener and cancels sessions that would never end by themselves."""
    async def main() -> None:
        sock = listener()
        port = sock.getsockname()[1]
        cancelled = asyncio.Event()

        async def handler(reader, writer):
            writer.write(b"hi\r\n")
            await writer.drain()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise
        server = await serve_sessions([sock], handler)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await reader.readline() == b"hi\r\n"
        await asyncio.wait_for(server.abort(), 2)
        assert cancelled.is_set() and sock.fileno() == -1 and not server.is_serving()
        writer.close()
    asyncio.run(main())


def test_one_loop_serves_every_listener():
    """With two listening sockets and limit 1, a client on either socket is served once the slot is free."""
    async def main() -> None:
        a, b = listener(), listener()

        async def handler(reader, writer):
            writer.write(b"hi\r\n")
            await writer.drain()
        server = await serve_sessions([a, b], handler, limit=1)
        for sock in (b, a, b):
            assert await greeted(sock.getsockname()[1]) == b"hi\r\n"
        server.close()
        await server.wait_closed()
    asyncio.run(main())


def test_open_listeners_is_all_or_nothing():
    """When a later endpoint cannot be bound, the earlier sockets are closed and the error names the endpoint."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        free = socket.socket()
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
        free.close()
        with pytest.raises(ListenError) as info:
            open_listeners([Endpoint("127.0.0.1", port, socket.AF_INET),
                            Endpoint("127.0.0.1", busy.getsockname()[1], socket.AF_INET)])
        assert str(info.value) == (f"cannot listen on 127.0.0.1:{busy.getsockname()[1]}: "
                                   "Address already in use")
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_unresolvable_hostname_is_a_listen_error():
    """A hostname that does not resolve is a ListenError naming it."""
    with pytest.raises(ListenError, match=r"^bad hostname or network address: no-such-host\.invalid:25"):
        open_listeners([Endpoint("no-such-host.invalid", 25, socket.AF_UNSPEC)])


def test_negative_limit_is_refused():
    """A negative session limit is a ValueError."""
    async def main() -> None:
        with pytest.raises(ValueError):
            await serve_sessions([], lambda r, w: None, limit=-1)
    asyncio.run(main())
