"""ServerEngine behind a real socket, against real SMTP clients.

A minimal server (a thread per connection, blocking sockets) answers the
engine's events with fixed replies and records each message. Python's
smtplib, Postfix's smtp-source and swaks talk to it over 127.0.0.1, so the
engine is checked against the bytes real clients send: their dot-stuffing,
their pipelining and their line ends.
"""

from __future__ import annotations

import shutil
import smtplib
import socket
import subprocess
import threading

import attrs
import pytest

from mailflow.smtp import replies
from mailflow.smtp.esmtp import ehlo_lines
from mailflow.smtp.events import (
    CLOSED, NEED_DATA, BadCommand, Data, EndOfMessage, Hello, MailFrom, MessageData, Noop,
    Quit, RcptTo, Rset, UnknownCommand,
)
from mailflow.smtp.server import ServerEngine

HOST = "mx.test.example"


@attrs.define
class Received:
    sender: str
    recipients: list[str]
    content: bytes
    bare_newline: bool


class MiniServer:
    """Accepts every message; replies with Postfix's texts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.messages: list[Received] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._session, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _session(self, conn: socket.socket) -> None:
        engine = ServerEngine(hostname=HOST)
        sender, rcpts, content = "", [], []
        with conn:
            conn.sendall(b"220 " + HOST.encode() + b" ESMTP\r\n")
            while True:
                data = conn.recv(65536)
                engine.receive_data(data)
                out = []
                while True:
                    ev = engine.next_event()
                    if ev is NEED_DATA or ev is CLOSED:
                        break
                    if isinstance(ev, Hello):
                        out.append(ehlo_lines(HOST, ["PIPELINING", "SIZE 10240000", "8BITMIME",
                                                     "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8"]))
                    elif isinstance(ev, MailFrom):
                        sender, rcpts, content = ev.address, [], []
                        out.append(replies.MAIL_OK)
                    elif isinstance(ev, RcptTo):
                        rcpts.append(ev.address)
                        out.append(replies.RCPT_OK)
                    elif isinstance(ev, Data):
                        out.append(replies.START_DATA)
                        engine.start_data()
                    elif isinstance(ev, MessageData):
                        content.append(ev.data)
                    elif isinstance(ev, EndOfMessage):
                        with self.lock:
                            self.messages.append(Received(sender, rcpts, b"".join(content),
                                                          ev.bare_newline))
                        out.append(replies.queued(f"Q{len(self.messages)}"))
                    elif isinstance(ev, (Rset, Noop)):
                        out.append(replies.OK)
                    elif isinstance(ev, Quit):
                        out.append(replies.BYE)
                    elif isinstance(ev, BadCommand):
                        self.refused.append(str(ev.reply))
                        out.append(ev.reply)
                    elif isinstance(ev, UnknownCommand):
                        out.append(replies.NOT_RECOGNIZED)
                if out:
                    conn.sendall(b"".join(r.format() for r in out))
                if ev is CLOSED or any(r is replies.BYE for r in out):
                    return

    def close(self) -> None:
        self.sock.close()
        for t in self.threads:
            t.join(5)


@pytest.fixture
def server():
    s = MiniServer()
    yield s
    s.close()


def test_smtplib_message_arrives_in_spool_form(server):
    """smtplib's dot-stuffed CRLF content comes out as the original lines."""
    body = "Subject: dots\n\n.leading dot\n..two dots\n.\nlast\n"
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.sendmail("alice@example.com", ["bob@example.net", "carol@example.org"], body)
    [msg] = server.messages
    assert (msg.sender, msg.recipients) == ("alice@example.com",
                                            ["bob@example.net", "carol@example.org"])
    assert msg.content == body.encode()
    assert not msg.bare_newline


def test_smtplib_eight_bit_and_utf8_envelope(server):
    """8-bit content and an SMTPUTF8 envelope pass through unchanged."""
    body = "Subject: é\n\nnaïve ünïcode\n".encode()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        # smtplib sends bytes as they are: give it CRLF line ends.
        client.sendmail("jöran@exämple.se", ["bob@example.net"], body.replace(b"\n", b"\r\n"),
                        mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    assert server.messages[0].sender == "jöran@exämple.se"
    assert server.messages[0].content == body
    assert not server.messages[0].bare_newline


@pytest.mark.skipif(not shutil.which("smtp-source") and not shutil.which("/usr/sbin/smtp-source"),
                    reason="Postfix's smtp-source is not installed")
def test_smtp_source_pipelined_sessions(server):
    """Postfix's smtp-source, 4 sessions and 40 one-KB messages, all arrive whole."""
    tool = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    proc = subprocess.run([tool, "-s", "4", "-m", "40", "-l", "1024", "-f", "src@example.com",
                           "-t", "dst@example.net", f"127.0.0.1:{server.port}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(server.messages) == 40
    assert all(m.sender == "src@example.com" and m.recipients == ["dst@example.net"]
               for m in server.messages)
    assert all(len(m.content) >= 1024 for m in server.messages)
    assert server.refused == []


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks is not installed")
def test_swaks_with_pipelining(server):
    """swaks --pipeline sends MAIL/RCPT/DATA in one go; the engine reads them as three commands."""
    proc = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.port}", "--pipeline",
                           "--from", "a@example.com", "--to", "b@example.net,c@example.net",
                           "--body", "first\n.\n..\nlast", "--silent", "2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [msg] = server.messages
    assert msg.recipients == ["b@example.net", "c@example.net"]
    assert b"\n\nfirst\n.\n..\nlast\n" in msg.content
