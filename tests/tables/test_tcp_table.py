"""tcp: tables against a real line server on 127.0.0.1, scripted to answer,
stall, garble or hang up; and Postfix's postmap against the same server."""

from __future__ import annotations

import socket
import time

import pytest

from mailflow.errors import TableError
from mailflow.tables import open_table
from mailflow.tables.tcp import TcpTable, hex_quote, hex_unquote

from .test_socketmap import ScriptedServer

DATA = {
    "joe@example.com": "joe@mail.example.com",
    "multi@example.com": "a@example.com, b@example.com",
    "with space": "spaced value",
    "50%off": "100% sure",
    "josé@exämple.org": "utf8 ok",
    "Mixed@Example.COM": "case kept",
}


def read_line(rfile) -> bytes:
    line = rfile.readline()
    if not line:
        raise EOFError
    return line


def tcp_answer(request: bytes) -> bytes:
    """``get KEY``: 200 with DATA's value, 400 for keys starting temp, else 500."""
    verb, _, quoted = request.decode("ascii").rstrip("\n").partition(" ")
    key = hex_unquote(quoted)
    if verb != "get" or key is None:
        return b"400 bad request\n"
    if key.startswith("temp"):
        return b"400 database%20down\n"
    if key == "bogus":
        return b"300 what\n"
    if key == "badquote":
        return b"200 bad%zz\n"
    if key == "empty":
        return b"200 \n"
    if key == "huge":
        return b"200 " + b"x" * 5000 + b"\n"
    if key in DATA:
        return f"200 {hex_quote(DATA[key])}\n".encode()
    return b"500 not%20found\n"


@pytest.fixture
def server():
    srv = ScriptedServer(read_line, tcp_answer)
    yield srv
    srv.close()


@pytest.fixture
def table(server):
    t = TcpTable(f"127.0.0.1:{server.port}", timeout=0.5, max_tries=2, retry_delay=0.01)
    yield t
    t.close()


@pytest.mark.parametrize("key", sorted(DATA))
def test_found_keys_return_the_server_value(table, key):
    """A 200 reply's %-quoted text comes back unquoted."""
    assert table.get(key) == DATA[key]


def test_request_line_is_hex_quoted(table, server):
    """White space, % and non-ASCII bytes in the key go out as %XX."""
    table.get("50%off")
    table.get("josé x")
    assert server.requests == [b"get 50%25off\n", b"get jos%C3%A9%20x\n"]


def test_500_is_not_found(table):
    """500 is a miss."""
    assert table.get("nobody@example.com") is None


def test_key_case_is_sent_as_given(table):
    """Postfix does not fold tcp keys; neither do we."""
    assert table.get("mixed@example.com") is None
    assert table.get("Mixed@Example.COM") == "case kept"


def test_open_table_spec(server):
    """open_table("tcp:host:port") opens a TcpTable."""
    t = open_table(f"tcp:127.0.0.1:{server.port}")
    assert isinstance(t, TcpTable) and t.get("joe@example.com") == "joe@mail.example.com"
    t.close()


def test_connection_is_reused(table, server):
    """Lookups, found or not, go over one connection."""
    for key in ["joe@example.com", "nobody", "with space"] * 5:
        table.get(key)
    assert server.connections == 1 and len(server.requests) == 15


def test_400_is_an_error(table):
    """400 means try again later: a lookup error, never a miss."""
    with pytest.raises(TableError, match=r"query error: server replied 400 database%20down"):
        table.get("temp-1")


@pytest.mark.parametrize("key, text", [
    ("bogus", "bad status code: 300 what"),
    ("badquote", "malformed reply: 200 bad%zz"),
])
def test_bad_replies_are_errors(table, key, text):
    """An unknown status or bad %-quoting is an error, worded as Postfix does."""
    with pytest.raises(TableError, match=text):
        table.get(key)


def test_overlong_reply_is_an_error(table):
    """A reply over 4096 bytes is refused (Postfix's limit)."""
    with pytest.raises(TableError, match="text longer than 4096"):
        table.get("huge")


def test_refused_connection_is_an_error_after_the_tries():
    """Nobody listening: max_tries attempts, retry_delay apart, then an error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    naps: list[float] = []
    t = TcpTable(f"127.0.0.1:{port}", max_tries=3, retry_delay=0.25, sleep=naps.append)
    with pytest.raises(TableError, match=f"connect to TCP map 127.0.0.1:{port}: "
                                         "Connection refused"):
        t.get("joe@example.com")
    assert naps == [0.25, 0.25]


def test_slow_server_times_out(table, server):
    """A server slower than the timeout is an error after the tries."""
    server.mode, server.delay = "slow", 2.0
    start = time.monotonic()
    with pytest.raises(TableError, match="unexpected EOF"):
        table.get("joe@example.com")
    assert time.monotonic() - start < 1.8


def test_garbage_is_an_error_and_recovers(table, server):
    """A garbled reply is an error; the next lookup uses a fresh connection."""
    server.mode, server.garbage = "garbage", b"\x00\x01 what\n"
    with pytest.raises(TableError, match="malformed reply"):
        table.get("joe@example.com")
    server.mode = "ok"
    assert table.get("joe@example.com") == "joe@mail.example.com"


def test_dropped_connection_is_an_error(table, server):
    """A server that hangs up without replying is an error after the tries."""
    server.mode = "drop"
    with pytest.raises(TableError, match="unexpected EOF"):
        table.get("joe@example.com")
    assert len(server.requests) == 2


def test_server_closing_an_idle_connection_is_transparent(table, server):
    """A server that hangs up between lookups costs a reconnect, not an error."""
    server.mode = "close"
    assert table.get("joe@example.com") == "joe@mail.example.com"
    assert table.get("with space") == "spaced value"
    assert server.connections == 2


POSTMAP_KEYS = ["joe@example.com", "multi@example.com", "with space", "50%off",
                "Mixed@Example.COM", "mixed@example.com", "nobody", "empty"]


def test_postmap_agrees_with_postfix(real_postfix, run_cli, config_dir, server):
    """Postfix's postmap -q and ours print the same for the same server."""
    spec = f"tcp:127.0.0.1:{server.port}"
    for key in POSTMAP_KEYS:
        theirs = real_postfix("postmap", "-q", key, spec)
        mine = run_cli("-c", config_dir, "postmap", "-q", key, spec)
        assert (key, mine.status, mine.out) == (key, theirs.returncode, theirs.stdout)


@pytest.mark.parametrize("key", ["temp-x", "bogus", "badquote"])
def test_postmap_error_status_agrees_with_postfix(real_postfix, run_cli, config_dir,
                                                  server, key):
    """A 400 or a bad reply makes both postmaps fail: exit 1, nothing printed."""
    spec = f"tcp:127.0.0.1:{server.port}"
    theirs = real_postfix("postmap", "-q", key, spec)
    mine = run_cli("-c", config_dir, "postmap", "-q", key, spec)
    assert (mine.status, mine.out) == (theirs.returncode, theirs.stdout) == (1, "")
    assert f"postmap: fatal: table tcp:{spec[4:]}: query error" in theirs.stderr
    assert "postmap: fatal: " in mine.err
