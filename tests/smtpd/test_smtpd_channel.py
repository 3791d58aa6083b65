"""StreamChannel's read timeouts over a real socket pair: one lazy timer per
connection, which must still expire each read on time."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mailflow.services.smtpd import StreamChannel


async def channel_pair() -> tuple[StreamChannel, socket.socket]:
    server, client = socket.socketpair()
    server.setblocking(False)
    loop = asyncio.get_running_loop()
    _transport, channel = await loop.connect_accepted_socket(StreamChannel, sock=server)
    return channel, client


def test_a_read_times_out_after_its_own_timeout():
    async def body() -> float:
        channel, client = await channel_pair()
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            await channel.read(0.2)
        took = loop.time() - start
        channel.close()
        client.close()
        return took
    assert 0.19 <= asyncio.run(body()) < 1.0


def test_a_shorter_timeout_after_a_long_one_is_not_late():
    """The timer armed for a 30 s read must not delay a later 0.2 s read."""
    async def body() -> float:
        channel, client = await channel_pair()
        client.sendall(b"EHLO x\r\n")
        assert await channel.read(30) == b"EHLO x\r\n"
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            await channel.read(0.2)
        took = loop.time() - start
        channel.close()
        client.close()
        return took
    assert asyncio.run(body()) < 1.0


def test_reads_that_get_data_in_time_do_not_time_out():
    """Each read moves the deadline: many reads, each within the timeout,
    spanning more than one timeout in total, all succeed."""
    async def body() -> bytes:
        channel, client = await channel_pair()
        got = b""
        for i in range(6):
            asyncio.get_running_loop().call_later(0.1, client.sendall, b"%d" % i)
            got += await channel.read(0.3)
        # No timeout pending for a read that is not waiting.
        await asyncio.sleep(0.4)
        client.sendall(b"!")
        got += await channel.read(0.3)
        channel.close()
        assert channel._timer is None
        client.close()
        return got
    assert asyncio.run(body()) == b"012345!"


def test_no_timeout_means_wait_for_data():
    async def body() -> bytes:
        channel, client = await channel_pair()
        client.sendall(b"a")
        assert await channel.read(0.1) == b"a"
        asyncio.get_running_loop().call_later(0.3, client.sendall, b"b")
        data = await channel.read(0)       # 0: no timeout, even past the old deadline
        channel.close()
        client.close()
        return data
    assert asyncio.run(body()) == b"b"
