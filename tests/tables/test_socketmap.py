"""socketmap: tables against a real server on 127.0.0.1 (and a unix socket),
scripted to answer, stall, garble or hang up; and Postfix's postmap against
the same server."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from typing import Callable

import pytest

from mailflow.errors import TableError
from mailflow.tables import open_table
from mailflow.tables.socketmap import SocketmapTable, netstring, read_netstring


class ScriptedServer:
    """A threaded server whose replies come from ``answer(request) -> bytes``.

    ``mode`` changes what it does with the next requests: ``ok`` answers,
    ``slow`` answers after ``delay`` seconds, ``garbage`` sends ``garbage``
    bytes, ``drop`` closes the connection without a reply, ``close`` answers
    and then closes the connection (a server restart seen by an idle client).
    """

    def __init__(self, read_request: Callable, answer: Callable[[bytes], bytes],
                 unix_path: str | None = None) -> None:
        self.read_request = read_request
        self.answer = answer
        self.mode = "ok"
        self.delay = 1.0
        self.garbage = b"garbage\n"
        self.requests: list[bytes] = []
        self.connections = 0
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                outer.connections += 1
                while True:
                    try:
                        request = outer.read_request(self.rfile)
                    except (EOFError, OSError):
                        return
                    outer.requests.append(request)
                    mode = outer.mode
                    if mode == "drop":
                        return
                    if mode == "garbage":
                        self.wfile.write(outer.garbage)
                        return
                    if mode == "slow":
                        time.sleep(outer.delay)
                    try:
                        self.wfile.write(outer.answer(request))
                    except OSError:
                        return
                    if mode == "close":
                        return

        if unix_path is None:
            base = socketserver.ThreadingTCPServer
            address: object = ("127.0.0.1", 0)
        else:
            base = socketserver.ThreadingUnixStreamServer  # type: ignore[assignment]
            address = unix_path

        class Server(base):  # type: ignore[misc, valid-type]
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that went away mid-reply is part of the script

        self.server = Server(address, Handler)
        self.address = self.server.server_address
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.address[1]  # type: ignore[index]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def read_netstring_request(rfile) -> bytes:
    from mailflow.tables.netclient import Disconnected
    try:
        return read_netstring(rfile)
    except Disconnected:
        raise EOFError from None


DATA = {
    "joe@example.com": "joe@mail.example.com",
    "multi@example.com": "a@example.com,b@example.com",
    "with space": "spaced value",
    "josé@exämple.org": "utf8 ok",
    "Mixed@Example.COM": "case kept",
}


def socketmap_answer(request: bytes) -> bytes:
    """The map ``aliases`` from DATA; keys starting with a status word get it."""
    mapname, _, key = request.decode().partition(" ")
    if mapname != "aliases":
        return netstring(b"PERM no such map")
    for word in ("TEMP", "TIMEOUT", "PERM", "BOGUS"):
        if key.startswith(word.lower()):
            return netstring(f"{word} {key} failed".encode())
    if key == "empty":
        return netstring(b"OK ")
    if key == "huge":
        return netstring(b"OK " + b"x" * 100001)
    if key in DATA:
        return netstring(b"OK " + DATA[key].encode())
    return netstring(b"NOTFOUND ")


@pytest.fixture
def server():
    srv = ScriptedServer(read_netstring_request, socketmap_answer)
    yield srv
    srv.close()


@pytest.fixture
def table(server):
    t = SocketmapTable(f"inet:127.0.0.1:{server.port}:aliases", timeout=0.5)
    yield t
    t.close()


@pytest.mark.parametrize("key", sorted(DATA))
def test_found_keys_return_the_server_value(table, key):
    """A key the server has comes back as its OK data, unfolded and unquoted."""
    assert table.get(key) == DATA[key]


def test_unknown_key_is_not_found(table, server):
    """NOTFOUND is a miss, and the request is ``NAME KEY``."""
    assert table.get("nobody@example.com") is None
    assert server.requests[-1] == b"aliases nobody@example.com"


def test_key_case_is_sent_as_given(table, server):
    """Postfix does not fold socketmap keys; neither do we."""
    assert table.get("mixed@example.com") is None
    assert table.get("Mixed@Example.COM") == "case kept"


def test_unix_socket_endpoint(tmp_path):
    """socketmap:unix:/path:name talks over a unix-domain socket."""
    path = str(tmp_path / "map.sock")
    srv = ScriptedServer(read_netstring_request, socketmap_answer, unix_path=path)
    try:
        t = open_table(f"socketmap:unix:{path}:aliases")
        assert t.get("joe@example.com") == "joe@mail.example.com"
        assert t.get("x") is None
        t.close()
    finally:
        srv.close()


def test_open_table_spec(server):
    """open_table("socketmap:inet:host:port:name") opens a SocketmapTable."""
    t = open_table(f"socketmap:inet:127.0.0.1:{server.port}:aliases")
    assert isinstance(t, SocketmapTable)
    assert t.get("multi@example.com") == "a@example.com,b@example.com"
    t.close()


def test_name_without_map_name_is_an_error():
    """A name with no map part is refused at open, as Postfix does."""
    with pytest.raises(TableError, match="requires server:socketmap argument"):
        open_table("socketmap:nomap")


def test_connection_is_reused(table, server):
    """Many lookups go over one connection."""
    for _ in range(20):
        table.get("joe@example.com")
    assert server.connections == 1 and len(server.requests) == 20


def test_server_closing_an_idle_connection_is_transparent(table, server):
    """A server that hangs up between lookups (a restart) costs a reconnect, not an error."""
    server.mode = "close"
    assert table.get("joe@example.com") == "joe@mail.example.com"
    assert table.get("joe@example.com") == "joe@mail.example.com"
    assert server.connections == 2


def test_idle_connection_is_replaced_after_max_idle(server):
    """A connection idle longer than max_idle is closed, not reused."""
    t = SocketmapTable(f"inet:127.0.0.1:{server.port}:aliases", timeout=1, max_idle=0.05)
    t.get("joe@example.com")
    time.sleep(0.1)
    t.get("joe@example.com")
    t.close()
    assert server.connections == 2


@pytest.mark.parametrize("key, text", [
    ("temp-1", "socketmap server temporary error: temp-1 failed"),
    ("timeout-1", "socketmap server timeout error: timeout-1 failed"),
    ("perm-1", "socketmap server permanent error: perm-1 failed"),
    ("bogus-1", "socketmap server unknown error: bogus-1 failed"),
])
def test_error_replies_raise_table_error(table, key, text):
    """TEMP, TIMEOUT, PERM and unknown replies are lookup errors, never misses."""
    with pytest.raises(TableError) as info:
        table.get(key)
    assert str(info.value) == f"socketmap:{table.name} {text}"


def test_error_reply_keeps_the_connection(table, server):
    """An error reply is a well-formed answer: the connection stays usable."""
    with pytest.raises(TableError):
        table.get("temp")
    assert table.get("joe@example.com") == "joe@mail.example.com"
    assert server.connections == 1


def test_refused_connection_is_an_error():
    """Nobody listening: a lookup error naming the table."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = SocketmapTable(f"inet:127.0.0.1:{port}:aliases", timeout=0.5)
    with pytest.raises(TableError, match=rf"table socketmap:inet:127.0.0.1:{port}:aliases "
                                         "lookup error: Connection refused"):
        t.get("joe@example.com")


def test_slow_server_times_out(table, server):
    """A server slower than the timeout is an error after about the timeout."""
    server.mode, server.delay = "slow", 2.0
    start = time.monotonic()
    with pytest.raises(TableError, match="time limit exceeded"):
        table.get("joe@example.com")
    assert time.monotonic() - start < 1.5


def test_slow_server_recovers(table, server):
    """After a timeout, the next lookup uses a fresh connection and succeeds."""
    server.mode, server.delay = "slow", 1.0
    with pytest.raises(TableError):
        table.get("joe@example.com")
    server.mode = "ok"
    assert table.get("joe@example.com") == "joe@mail.example.com"


def test_garbage_reply_is_an_error(table, server):
    """A reply that is not a netstring is an input format error."""
    server.mode = "garbage"
    with pytest.raises(TableError, match="lookup error: input format error"):
        table.get("joe@example.com")


def test_dropped_connection_is_an_error(table, server):
    """A server that hangs up on every request is an error after one retry."""
    server.mode = "drop"
    with pytest.raises(TableError, match="lookup error: unexpected disconnect"):
        table.get("joe@example.com")


def test_oversized_reply_is_an_error(table):
    """A reply over 100000 bytes is refused (Postfix's limit)."""
    with pytest.raises(TableError, match="input exceeds size limit"):
        table.get("huge")


def test_empty_ok_reply_is_an_empty_answer(table, caplog):
    """``OK`` with empty data is the empty string, with Postfix's warning."""
    with caplog.at_level(logging.WARNING, "mailflow.tables"):
        assert table.get("empty") == ""
    assert "key empty: empty string result is not allowed" in caplog.text


def test_oversized_key_is_not_found(table, server, caplog):
    """A key over 10000 bytes is not sent; it is not found, with a warning."""
    with caplog.at_level(logging.WARNING, "mailflow.tables"):
        assert table.get("k" * 10001) is None
    assert "query too large" in caplog.text and server.requests == []


def test_concurrent_lookups_from_threads(table, server):
    """Threads share the table; every answer belongs to its own question."""
    keys = sorted(DATA) + ["nobody"]
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(40):
            key = keys[(n + i) % len(keys)]
            got = table.get(key)
            if got != DATA.get(key):
                errors.append(f"{key}: {got}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and len(server.requests) == 320
    assert server.connections <= 8


POSTMAP_KEYS = ["joe@example.com", "multi@example.com", "Mixed@Example.COM",
                "mixed@example.com", "nobody", "empty", "with space"]


def test_postmap_agrees_with_postfix(real_postfix, run_cli, config_dir, server):
    """Postfix's postmap -q and ours print the same for the same server."""
    spec = f"socketmap:inet:127.0.0.1:{server.port}:aliases"
    for key in POSTMAP_KEYS:
        theirs = real_postfix("postmap", "-q", key, spec)
        mine = run_cli("-c", config_dir, "postmap", "-q", key, spec)
        assert (key, mine.status, mine.out) == (key, theirs.returncode, theirs.stdout)


@pytest.mark.parametrize("key", ["temp-x", "perm-x"])
def test_postmap_error_status_agrees_with_postfix(real_postfix, run_cli, config_dir,
                                                  server, key):
    """A server error makes both postmaps fail with the server's reason on stderr."""
    spec = f"socketmap:inet:127.0.0.1:{server.port}:aliases"
    theirs = real_postfix("postmap", "-q", key, spec)
    mine = run_cli("-c", config_dir, "postmap", "-q", key, spec)
    assert (mine.status, mine.out) == (theirs.returncode, theirs.stdout) == (1, "")
    reason = f"{key} failed"
    assert reason in theirs.stderr and reason in mine.err
    assert "postmap: fatal: " in mine.err
