"""Large messages: past smtpd_message_memory_limit the content goes to an
unlinked file in the spool as it arrives and is copied into the queue file
at the end; the queue file is the same as for a message kept in memory."""

from __future__ import annotations

import os
import smtplib

import pytest

from mailflow.interfaces import QueueName

from .server_harness import ServerThread

LIMIT = "65536"


def _message(lines: int) -> bytes:
    body = b"".join(b"line %07d of a large message, with some text to fill it.\r\n" % n
                    for n in range(lines))
    return b"Subject: large\r\nFrom: bob@example.org\r\n\r\n" + body


def _send(port: int, data: bytes, rcpt: str = "root@mx.example.test") -> dict:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=30) as c:
        c.ehlo()
        c.esmtp_features.pop("size", None)      # no SIZE=: the limit is met during DATA
        return c.sendmail("bob@example.org", [rcpt], data)


def _spill_files(spool) -> list[str]:
    return [p.name for p in spool.rglob(".spill*")] + [p.name for p in spool.rglob(".tmp*")]


@pytest.mark.parametrize("lines", [10, 1_000, 100_000])   # in memory, just past, 6 MB
def test_a_spilled_message_is_queued_whole(tmp_path, lines):
    data = _message(lines)
    with ServerThread(tmp_path, smtpd_message_memory_limit=LIMIT) as server:
        assert _send(server.port, data) == {}
        [queue_id] = server.queued(QueueName.INCOMING)
        queued = server.read(queue_id)
    content = queued.message.data
    headers, body = content.split(b"\n\n", 1)
    assert body == data.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")
    assert headers.startswith(b"Received: from client.example.org")
    assert b"\nSubject: large" in headers and b"\nMessage-Id: " in headers
    assert queued.size == len(content)
    assert _spill_files(tmp_path / "spool") == []


def test_the_limit_counts_the_spilled_part_and_memory_stays_bounded(tmp_path):
    data = _message(20_000)           # about 1.2 MB
    with ServerThread(tmp_path, smtpd_message_memory_limit=LIMIT,
                      message_size_limit=str(len(data) // 2)) as server:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(server.port, data)
        assert refused.value.smtp_code == 552
        assert server.queued(QueueName.INCOMING) == []
    assert _spill_files(tmp_path / "spool") == []


def test_a_handler_gets_the_whole_message(tmp_path):
    got = []
    data = _message(5_000)
    with ServerThread(tmp_path, handler=lambda env, msg: got.append(msg.data),
                      smtpd_message_memory_limit=LIMIT) as server:
        assert _send(server.port, data) == {}
    assert got == [data.replace(b"\r\n", b"\n")]


@pytest.mark.parametrize("limit", [LIMIT, "10000000"])
def test_a_client_that_vanishes_mid_data_leaves_nothing(tmp_path, limit):
    import socket
    with ServerThread(tmp_path, smtpd_message_memory_limit=limit) as server:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        f = s.makefile("rb")
        f.readline()
        for cmd in (b"EHLO c.example\r\n", b"MAIL FROM:<bob@example.org>\r\n",
                    b"RCPT TO:<root@mx.example.test>\r\n", b"DATA\r\n"):
            s.sendall(cmd)
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    break
        s.sendall(_message(20_000)[:1_000_000])   # well past the memory limit
        f.close()
        s.close()
        server.log.wait_for("disconnect from")
        assert server.queued(QueueName.INCOMING) == []
    assert _spill_files(tmp_path / "spool") == []
    assert os.listdir(tmp_path / "spool" / "incoming") == []
