"""Real peers for the smtp/lmtp client tests, started on 127.0.0.1.

``dnsmasq`` serving MX/A/null-MX records on a random port, Postfix's
``smtp-sink``, and helpers to pick free ports and wait for a listener. Every
starter is a context manager that kills what it started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, Sequence

import pytest

DNSMASQ = "/usr/sbin/dnsmasq"
SMTP_SINK = "/usr/sbin/smtp-sink"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nobody listens on right now (TCP, or UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port: int, deadline: float = 10.0, host: str = "127.0.0.1") -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def dnsmasq(records: Sequence[str]) -> Iterator[int]:
    """Run dnsmasq on 127.0.0.1:PORT serving ``records`` (dnsmasq options such
    as ``--mx-host=...``); every other name under ``.test`` is NXDOMAIN.
    Yields the port."""
    if not os.path.exists(DNSMASQ):
        pytest.skip("dnsmasq is not installed")
    for _ in range(5):
        port = free_port(socket.SOCK_DGRAM)
        proc = subprocess.Popen(
            [DNSMASQ, "--no-daemon", "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--conf-file=/dev/null", f"--port={port}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--local=/test/", "--log-facility=-", "--user=",
             "--pid-file=", *records],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if _udp_answers(port, proc):
            break
        _stop(proc)
    else:
        raise RuntimeError("dnsmasq did not start: " + (proc.stderr.read() or b"").decode())
    try:
        yield port
    finally:
        _stop(proc)
        proc.stderr.close()


def _udp_answers(port: int, proc: subprocess.Popen) -> bool:
    # A query for "." type A: any reply means the server is up.
    query = bytes.fromhex("abcd01000001000000000000" "00" "00010001")
    end = time.monotonic() + 5
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        while time.monotonic() < end and proc.poll() is None:
            try:
                s.sendto(query, ("127.0.0.1", port))
                s.recv(512)
                return True
            except OSError:
                continue
    return False


@contextlib.contextmanager
def smtp_sink(tmp: Path, *options: str, backlog: int = 100, host: str = "127.0.0.1") -> Iterator[int]:
    """Postfix's smtp-sink on 127.0.0.1:PORT with ``options`` (see smtp-sink(1)).
    Yields the port."""
    if not os.path.exists(SMTP_SINK):
        pytest.skip("smtp-sink is not installed")
    port = free_port()
    # smtp-sink refuses to run as root without -u; as root it stays root.
    user = ["-u", "root"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([SMTP_SINK, *user, *options, f"{host}:{port}", str(backlog)],
                            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_tcp(port, host=host)
        yield port
    finally:
        _stop(proc)


def have(program: str) -> bool:
    return shutil.which(program) is not None or os.path.exists(program)


class ScriptedServer:
    """A far end on 127.0.0.1 driven by a script: ``script(reader, writer)``
    is an async function that plays one session. Start it inside the test's
    event loop with ``async with ScriptedServer(script) as port``. Every
    session's received bytes are kept in :attr:`received`."""

    def __init__(self, script, host: str = "127.0.0.1", port: int = 0) -> None:
        self.script = script
        self.host = host
        self.port = port
        self.sessions = 0
        self.server = None
        self.tasks: set = set()

    async def __aenter__(self) -> int:
        import asyncio
        self.server = await asyncio.start_server(self._run, self.host, self.port)
        return self.server.sockets[0].getsockname()[1]

    async def _run(self, reader, writer) -> None:
        import asyncio
        self.sessions += 1
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await self.script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def __aexit__(self, *exc) -> None:
        import asyncio
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


async def read_command(reader) -> bytes:
    """One command line from the client (raises IncompleteReadError at EOF)."""
    return await reader.readuntil(b"\r\n")


async def read_data(reader) -> bytes:
    """The DATA content up to and including the final dot line."""
    lines = []
    while True:
        line = await reader.readuntil(b"\r\n")
        lines.append(line)
        if line == b".\r\n":
            return b"".join(lines)


async def answer_session(reader, writer, replies: dict, *, ehlo: bytes = b"250-mx.test\r\n250 PIPELINING\r\n",
                         greeting: bytes = b"220 mx.test ESMTP\r\n", log: list | None = None) -> None:
    """A plain server: ``replies`` maps a verb (b"RCPT") to a function of
    the command line returning the reply bytes; others get 250/354."""
    writer.write(greeting)
    while True:
        line = await read_command(reader)
        if log is not None:
            log.append(line)
        verb = line.split()[0].upper() if line.split() else b""
        if verb in replies:
            reply = replies[verb](line)
            if reply is None:
                writer.close()
                return
            writer.write(reply)
            if verb == b"DATA" and reply.startswith(b"354"):
                body = await read_data(reader)
                if log is not None:
                    log.append(body)
                writer.write(replies.get(b".", lambda _l: b"250 2.0.0 Ok: queued as X1\r\n")(body))
            continue
        if verb in (b"EHLO", b"LHLO"):
            writer.write(ehlo)
        elif verb == b"DATA":
            writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            body = await read_data(reader)
            if log is not None:
                log.append(body)
            writer.write(replies.get(b".", lambda _l: b"250 2.0.0 Ok: queued as X1\r\n")(body))
        elif verb == b"QUIT":
            writer.write(b"221 2.0.0 Bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"250 2.0.0 Ok\r\n")
        await writer.drain()
