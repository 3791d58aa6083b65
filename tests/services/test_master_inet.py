"""master.cf inet services: the master binds their sockets, keeps them across
reloads and restarts, and a service serves at most maxproc sessions at once."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import pytest

from mailflow.adapters.listen import ipv6_available, serve_sessions
from mailflow.config.master_cf import Endpoint, parse_inet_endpoint
from mailflow.errors import ConfigError
from mailflow.services.master import Master
from mailflow.services.skeleton import ServiceBase, register_service, unregister_service

V4, V6, NAME = socket.AF_INET, socket.AF_INET6, socket.AF_UNSPEC


class Greeter(ServiceBase):
    """An inet service: says hello, then waits for a line and says bye."""

    instances: list["Greeter"] = []

    async def start(self, ctx) -> None:
        await super().start(ctx)
        type(self).instances.append(self)
        self.ctx_listeners = ctx.listeners
        self.server = await serve_sessions(ctx.listeners, self.session, limit=ctx.maxproc,
                                           name=ctx.name)
        self.crash = asyncio.Event()
        ctx.spawn(self._watch())

    async def _watch(self) -> None:
        await self.crash.wait()
        raise RuntimeError("greeter crashed")

    def wake(self, message: bytes) -> None:
        if message == b"crash":
            self.crash.set()

    async def session(self, reader, writer) -> None:
        writer.write(b"220 greeter\r\n")
        await writer.drain()
        await reader.readline()
        writer.write(b"221 bye\r\n")
        await writer.drain()

    async def stop(self) -> None:
        self.server.close()
        try:
            await asyncio.wait_for(self.server.wait_closed(), 2)
        except asyncio.TimeoutError:
            await self.server.abort()
        await super().stop()


@pytest.fixture
def greeter():
    cls = type("Greeter", (Greeter,), {"instances": []})
    register_service("greeter", cls)
    yield cls
    unregister_service("greeter")


def free_port(host: str = "127.0.0.1", family: int = V4) -> int:
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def write_config(etc: Path, master_cf: str, main_extra: str = "") -> None:
    (etc / "master.cf").write_text(master_cf)
    main = (etc / "main.cf").read_text().split("# --\n")[0]
    (etc / "main.cf").write_text(main + "# --\n" + main_extra)


async def hello(host: str, port: int, timeout: float = 3.0) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        return await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()


def master_sockets(master: Master, name: str) -> list[socket.socket]:
    return [s for socks in master._running[name].sockets.values() for s in socks]


# ---------------------------------------------------------------- the pure part
@pytest.mark.parametrize("name, interfaces, protocols, want", [
    ("smtp", "all", "all", [("0.0.0.0", 25, V4), ("::", 25, V6)]),
    ("25", "all", "ipv4", [("0.0.0.0", 25, V4)]),
    ("2525", "loopback-only", "all", [("127.0.0.1", 2525, V4), ("::1", 2525, V6)]),
    ("2525", "loopback-only", "ipv6", [("::1", 2525, V6)]),
    ("submission", "192.0.2.1 [2001:db8::1]", "all",
     [("192.0.2.1", 587, V4), ("2001:db8::1", 587, V6)]),
    ("2525", "192.0.2.1, 2001:DB8::1", "ipv4", [("192.0.2.1", 2525, V4)]),
    ("2525", "mx.Example.com", "all", [("mx.example.com", 2525, NAME)]),
    ("127.0.0.1:2525", "all", "all", [("127.0.0.1", 2525, V4)]),
    ("[::1]:2525", "all", "all", [("::1", 2525, V6)]),
    (":2525", "loopback-only", "ipv4", [("127.0.0.1", 2525, V4)]),
    ("localhost:smtp", "all", "all", [("localhost", 25, NAME)]),
    ("2525", "127.0.0.1 127.0.0.1", "all", [("127.0.0.1", 2525, V4)]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_service_names_mean_the_addresses_of_master5(name, interfaces, protocols, want):
    """Each master.cf service-name form gives the addresses Postfix's master binds."""
    assert parse_inet_endpoint(name, interfaces, protocols) == [Endpoint(*w) for w in want]


def test_all_protocols_without_ipv6_in_the_kernel_is_ipv4_only():
    """inet_protocols = all on a host without IPv6 listens on IPv4 alone."""
    assert parse_inet_endpoint("25", "all", "all", ipv6_available=False) == [
        Endpoint("0.0.0.0", 25, V4)]


@pytest.mark.parametrize("name, interfaces, protocols, error", [
    ("127.0.0.1:0", "all", "all", "bad port number: 0"),
    ("127.0.0.1:70000", "all", "all", "bad port number: 70000"),
    ("127.0.0.1:", "all", "all", 'missing port number in "127.0.0.1:"'),
    ("no-such-service-x", "all", "all", "unknown service: no-such-service-x/tcp"),
    ("[::1:2525", "all", "all", 'missing "]" in "[::1:2525"'),
    ("::1:2525", "all", "all", 'an IPv6 address must be written [address]:port in "::1:2525"'),
    ("300.1.2.3:25", "all", "all", "bad hostname or network address: 300.1.2.3"),
    ("[host]:25", "all", "all", "bad hostname or network address: [host]"),
    ("[::1]:25", "all", "ipv4", "no valid IP address found: [::1]:25"),
    ("25", "192.0.2.1", "ipv6", "no valid IP address found: 25 (inet_interfaces = 192.0.2.1)"),
    ("25", "", "all", "service definition requires valid inet_interfaces"),
    ("25", "all", "ipx", 'bad inet_protocols value "ipx": expected all, ipv4 or ipv6'),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_service_names_are_precise_errors(name, interfaces, protocols, error):
    """A bad address, port or protocol list is a ValueError worded as Postfix's master."""
    with pytest.raises(ValueError) as info:
        parse_inet_endpoint(name, interfaces, protocols)
    assert str(info.value) == error


# ---------------------------------------------------------------- the master
def test_inet_service_gets_bound_listening_sockets(greeter, mf_config, run_master):
    """The service starts with a listening, non-blocking, close-on-exec socket; clients get served."""
    port = free_port()
    write_config(mf_config, f"127.0.0.1:{port} inet n - n - - greeter\n")

    async def body(master: Master) -> None:
        [svc] = greeter.instances
        [sock] = svc.ctx_listeners
        assert sock.getsockname() == ("127.0.0.1", port)
        assert not sock.getblocking() and not sock.get_inheritable()
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        assert await hello("127.0.0.1", port) == b"220 greeter\r\n"
    run_master(mf_config, body)


def test_non_inet_service_gets_no_listeners(greeter, mf_config, run_master):
    """A unix service's ctx.listeners is empty."""
    write_config(mf_config, "greeter unix n - n - 1 greeter\n")

    async def body(master: Master) -> None:
        assert greeter.instances[0].ctx_listeners == ()
    run_master(mf_config, body)


def test_port_name_listens_on_every_inet_interface(greeter, mf_config, run_master):
    """A bare port listens on each address of inet_interfaces."""
    port = free_port()
    write_config(mf_config, f"{port} inet n - n - - greeter\n",
                 "inet_interfaces = 127.0.0.1, localhost\ninet_protocols = ipv4\n")

    async def body(master: Master) -> None:
        names = sorted(s.getsockname() for s in greeter.instances[0].ctx_listeners)
        # localhost resolves to 127.0.0.1 too: bound once, not twice.
        assert names == [("127.0.0.1", port)]
        assert await hello("127.0.0.1", port) == b"220 greeter\r\n"
    run_master(mf_config, body)


@pytest.mark.skipif(not ipv6_available(), reason="this host has no IPv6")
def test_ipv6_loopback_listener(greeter, mf_config, run_master):
    """[::1]:port listens on IPv6 loopback."""
    try:
        port = free_port("::1", V6)
    except OSError as exc:
        pytest.skip(f"IPv6 loopback not usable: {exc}")
    write_config(mf_config, f"[::1]:{port} inet n - n - - greeter\n")

    async def body(master: Master) -> None:
        assert await hello("::1", port) == b"220 greeter\r\n"
    run_master(mf_config, body)


@pytest.mark.skipif(not ipv6_available(), reason="this host has no IPv6")
def test_loopback_only_listens_on_both_protocols_on_one_port(greeter, mf_config, run_master):
    """inet_interfaces = loopback-only binds 127.0.0.1 and ::1 on the same port (IPV6_V6ONLY)."""
    try:
        port = free_port("::1", V6)
    except OSError as exc:
        pytest.skip(f"IPv6 loopback not usable: {exc}")
    write_config(mf_config, f"{port} inet n - n - - greeter\n",
                 "inet_interfaces = loopback-only\ninet_protocols = all\n")

    async def body(master: Master) -> None:
        assert await hello("127.0.0.1", port) == b"220 greeter\r\n"
        assert await hello("::1", port) == b"220 greeter\r\n"
    run_master(mf_config, body)


def test_port_in_use_fails_start_naming_master_cf_line(greeter, mf_config, run_master):
    """A port that cannot be bound stops the start with master.cf's file and line."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        write_config(mf_config, "# the greeter\n"
                                f"127.0.0.1:{port} inet n - n - - greeter\n")
        with pytest.raises(ConfigError) as info:
            run_master(mf_config, lambda master: asyncio.sleep(0))
    assert str(info.value) == (f"{mf_config / 'master.cf'}, line 2: cannot listen on "
                               f"127.0.0.1:{port}: Address already in use")
    assert greeter.instances == []


def test_bad_address_fails_at_configuration_load(greeter, mf_config, run_master):
    """A malformed address is a ConfigError before anything starts."""
    write_config(mf_config, "300.1.2.3:25 inet n - n - - greeter\n")
    with pytest.raises(ConfigError) as info:
        run_master(mf_config, lambda master: asyncio.sleep(0))
    assert str(info.value) == (f"{mf_config / 'master.cf'}, line 1: "
                               "bad hostname or network address: 300.1.2.3")


def test_a_failed_bind_closes_the_sockets_already_opened(greeter, mf_config, run_master):
    """When the second entry cannot listen, the first entry's port is free again."""
    first = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        write_config(mf_config, f"127.0.0.1:{first} inet n - n - - greeter\n"
                                f"127.0.0.1:{busy.getsockname()[1]} inet n - n - - greeter\n")
        with pytest.raises(ConfigError):
            run_master(mf_config, lambda master: asyncio.sleep(0))
    with socket.socket() as again:
        again.bind(("127.0.0.1", first))        # would be EADDRINUSE if left open


def test_reload_keeps_the_socket_and_never_refuses_a_client(greeter, mf_config, run_master):
    """SIGHUP with the same address keeps the master's socket; a client connecting throughout is always served."""
    port = free_port()
    write_config(mf_config, f"127.0.0.1:{port} inet n - n - - greeter\n")

    async def body(master: Master) -> None:
        [before] = master_sockets(master, f"127.0.0.1:{port}")
        stop = asyncio.Event()
        greetings = []

        async def client() -> None:
            while not stop.is_set():
                greetings.append(await hello("127.0.0.1", port))
        task = asyncio.ensure_future(client())
        for n in range(3):
            write_config(mf_config, f"127.0.0.1:{port} inet n - n - - greeter\n",
                         f"smtpd_banner = reload {n}\n")
            await master.reload()
            await asyncio.sleep(0.02)
        stop.set()
        await task                          # a refused connect would raise here
        [after] = master_sockets(master, f"127.0.0.1:{port}")
        assert after is before and after.fileno() == before.fileno()
        assert len(greeter.instances) == 1  # reloaded, not restarted
        assert greetings and set(greetings) == {b"220 greeter\r\n"}
    run_master(mf_config, body)


def test_reload_with_a_new_address_moves_the_listener(greeter, mf_config, run_master):
    """A changed inet_interfaces binds the new address, closes the old, and restarts the service on it."""
    port = free_port()
    write_config(mf_config, f"{port} inet n - n - - greeter\n", "inet_interfaces = 127.0.0.1\n")

    async def body(master: Master) -> None:
        [old] = master_sockets(master, str(port))
        write_config(mf_config, f"{port} inet n - n - - greeter\n", "inet_interfaces = 127.0.0.2\n")
        await master.reload()
        [new] = master_sockets(master, str(port))
        assert new.getsockname() == ("127.0.0.2", port) and old.fileno() == -1
        assert await hello("127.0.0.2", port) == b"220 greeter\r\n"
        with pytest.raises(ConnectionRefusedError):
            await hello("127.0.0.1", port)
        assert len(greeter.instances) == 2
        assert [s.getsockname() for s in greeter.instances[1].ctx_listeners] == [
            ("127.0.0.2", port)]
    run_master(mf_config, body)


def test_reload_from_wildcard_to_a_specific_address_on_the_same_port(greeter, mf_config, run_master):
    """all → 127.0.0.1 on one port works although Linux refuses both bound at once."""
    port = free_port()
    write_config(mf_config, f"{port} inet n - n - - greeter\n", "inet_protocols = ipv4\n")

    async def body(master: Master) -> None:
        write_config(mf_config, f"{port} inet n - n - - greeter\n",
                     "inet_protocols = ipv4\ninet_interfaces = 127.0.0.1\n")
        await master.reload()
        assert [s.getsockname() for s in master_sockets(master, str(port))] == [
            ("127.0.0.1", port)]
        assert await hello("127.0.0.1", port) == b"220 greeter\r\n"
    run_master(mf_config, body)


def test_reload_removing_the_entry_closes_the_port(greeter, mf_config, run_master):
    """An inet entry removed from master.cf stops listening on reload."""
    port = free_port()
    write_config(mf_config, f"127.0.0.1:{port} inet n - n - - greeter\n")

    async def body(master: Master) -> None:
        [sock] = master_sockets(master, f"127.0.0.1:{port}")
        write_config(mf_config, "")
        await master.reload()
        assert sock.fileno() == -1
        with pytest.raises(ConnectionRefusedError):
            await hello("127.0.0.1", port)
    run_master(mf_config, body)


def test_reload_adding_an_entry_starts_listening(greeter, mf_config, run_master):
    """An inet entry added to master.cf listens after reload."""
    port = free_port()
    write_config(mf_config, "")

    async def body(master: Master) -> None:
        write_config(mf_config, f"127.0.0.1:{port} inet n - n - - greeter\n")
        await master.reload()
        assert await hello("127.0.0.1", port) == b"220 greeter\r\n"
    run_master(mf_config, body)


def test_restarted_service_gets_the_same_sockets(greeter, mf_config, run_master, until):
    """After the service's task dies, the restarted service serves the very same socket."""
    port = free_port()
    write_config(mf_config, f"127.0.0.1:{port} inet n - n - - greeter\n")

    async def body(master: Master) -> None:
        [sock] = master_sockets(master, f"127.0.0.1:{port}")
        greeter.instances[0].wake(b"crash")
        await until(lambda: len(greeter.instances) == 2 and master.services.get(
            f"127.0.0.1:{port}") is greeter.instances[1])
        assert master_sockets(master, f"127.0.0.1:{port}") == [sock] and sock.fileno() >= 0
        assert await hello("127.0.0.1", port) == b"220 greeter\r\n"
    run_master(mf_config, body)


def test_stop_closes_every_listener(greeter, mf_config, run_master):
    """After the master stops, nothing listens on the port."""
    port = free_port()
    write_config(mf_config, f"127.0.0.1:{port} inet n - n - - greeter\n")
    kept = []

    async def body(master: Master) -> None:
        kept.extend(master_sockets(master, f"127.0.0.1:{port}"))
        kept.extend(greeter.instances[0].ctx_listeners)
    run_master(mf_config, body)
    assert kept and all(s.fileno() == -1 for s in kept)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def test_maxproc_sessions_then_clients_wait_in_the_listen_queue(greeter, mf_config, run_master, caplog):
    """With maxproc 1 a second client is not refused: it waits and is served when the first leaves."""
    port = free_port()
    write_config(mf_config, f"127.0.0.1:{port} inet n - n - 1 greeter\n")

    async def body(master: Master) -> None:
        r1, w1 = await asyncio.open_connection("127.0.0.1", port)
        assert await r1.readline() == b"220 greeter\r\n"
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)   # connects: kernel queue
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(r2.readline(), 0.3)
        assert greeter.instances[0].server.active == 1
        w1.write(b"QUIT\r\n")
        assert await r1.readline() == b"221 bye\r\n"
        assert await asyncio.wait_for(r2.readline(), 3) == b"220 greeter\r\n"
        w1.close()
        w2.close()
    with caplog.at_level("WARNING", logger="mailflow.master"):
        run_master(mf_config, body)
    assert (f'service "127.0.0.1:{port}" (127.0.0.1:{port}) has reached its process limit "1": '
            "new clients may experience noticeable delays") in caplog.messages
