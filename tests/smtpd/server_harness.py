"""A real smtpd on 127.0.0.1 for tests: its own event loop in a thread.

Clients in the tests are real ones (smtplib, aiosmtplib, raw sockets,
swaks, smtp-source) talking over loopback to an :class:`SmtpServer` whose
mail goes through cleanup into a file spool under tmp_path, exactly as in
the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.services.smtpd import SmtpServer

BASE = dict(myhostname="mx.example.test", mydomain="example.test",
            mydestination="mx.example.test, localhost", smtpd_peername_lookup="no",
            alias_maps="")


class LogLines(logging.Handler):
    """The smtpd log lines, as text."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            time.sleep(0.01)
        raise AssertionError(f"no log line with {text!r} in {self.lines}")


class ServerThread:
    """An SmtpServer in a thread; ``port`` is where it listens."""

    def __init__(self, tmp: Path, *, handler: Any = None, **params: str) -> None:
        self.store = FileQueueStore(tmp / "spool")
        self.cfg = Config(**{**BASE, "queue_directory": str(tmp / "spool"), **params})
        self.handler = handler
        self.loop = asyncio.new_event_loop()
        self.log = LogLines()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._clients: list[RawClient] = []

    def __enter__(self) -> "ServerThread":
        logger = logging.getLogger("mailflow")
        logger.addHandler(self.log)
        self._old_level = logger.level
        logger.setLevel(logging.INFO)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test server did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._error: BaseException | None = None
        try:
            self.server = SmtpServer(self.cfg, store=self.store, handler=self.handler)
            addrs = self.loop.run_until_complete(self.server.start("127.0.0.1", 0))
            self.port = addrs[0][1]
        except BaseException as exc:     # reported to the test thread, then raised there
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.stop(grace=2))
        self.loop.close()

    def __exit__(self, *exc: Any) -> None:
        for client in self._clients:
            client.close()
        if self._error is None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        logger = logging.getLogger("mailflow")
        logger.removeHandler(self.log)
        logger.setLevel(self._old_level)

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def queued(self, queue: QueueName = QueueName.INCOMING) -> list[str]:
        return sorted(self.store.ids(queue))

    def read(self, queue_id: str) -> Any:
        return self.store.read(queue_id)

    def connect(self) -> "RawClient":
        client = RawClient(self.port)
        self._clients.append(client)
        return client


class RawClient:
    """A byte-level SMTP client for the cases real clients will not send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> list[str]:
        """The next complete reply's lines."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed; got {lines} {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode()
            lines.append(text)
            if text[3:4] != "-":
                return lines

    def command(self, line: bytes) -> list[str]:
        self.send(line + b"\r\n")
        return self.reply()

    def closed(self) -> bool:
        """True when the server has closed the connection."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.sock.close()
