"""8-bit mail to a server that does not announce 8BITMIME: Postfix's
smtp-sink (-8) and a scripted LMTP server receive quoted-printable, with
MAIL FROM carrying neither SIZE= nor BODY=; disable_mime_output_conversion
sends it as is."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from delivery_helpers import make_request
from smtp_peers import ScriptedServer, answer_session, smtp_sink

from mailflow.config import Config
from mailflow.delivery.lmtp import LmtpAgent
from mailflow.delivery.smtp import SmtpAgent
from mailflow.testing import StaticResolver

MESSAGE = (b"Subject: test\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
           b"Content-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9 = coffee\n.leading dot\n")
CONVERTED = (b"Subject: test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =3D coffee\r\n"
             b".leading dot\r\n")


def deliver(agent, nexthop, data, transport="smtp"):
    req = make_request("rcpt@example.net", transport=transport, nexthop=nexthop, data=data)

    async def run():
        try:
            return list(await agent.deliver(req))
        finally:
            await agent.aclose()
    [o] = asyncio.run(run())
    return o


def dumps(directory: Path, n: int) -> list[bytes]:
    end = time.monotonic() + 10
    while len(os.listdir(directory)) < n and time.monotonic() < end:
        time.sleep(0.02)
    return [(directory / f).read_bytes() for f in sorted(os.listdir(directory))]


def agent(**params):
    return SmtpAgent(Config(**params), None, resolver=StaticResolver(), my_addresses=[])


def test_smtp_sink_without_8bitmime_receives_quoted_printable(tmp_path):
    out = tmp_path / "dump"
    out.mkdir()
    with smtp_sink(tmp_path, "-8", "-d", f"{out}/%H%M%S") as port:
        o = deliver(agent(), f"[127.0.0.1]:{port}", MESSAGE)
        [dump] = dumps(out, 1)
    assert o.status.code == "2.0.0"
    assert b"X-Mail-Args: <sender@example.org>\n" in dump      # no SIZE=, no BODY=
    assert CONVERTED.replace(b"\r\n", b"\n") in dump
    assert dump.isascii()


def test_with_8bitmime_the_message_goes_as_is(tmp_path):
    out = tmp_path / "dump"
    out.mkdir()
    with smtp_sink(tmp_path, "-d", f"{out}/%H%M%S") as port:
        deliver(agent(), f"[127.0.0.1]:{port}", MESSAGE)
        [dump] = dumps(out, 1)
    assert b"BODY=8BITMIME" in dump
    assert MESSAGE in dump


def test_disable_mime_output_conversion_sends_as_is(tmp_path):
    out = tmp_path / "dump"
    out.mkdir()
    with smtp_sink(tmp_path, "-8", "-d", f"{out}/%H%M%S") as port:
        o = deliver(agent(disable_mime_output_conversion="yes"), f"[127.0.0.1]:{port}", MESSAGE)
        [dump] = dumps(out, 1)
    assert o.status.code == "2.0.0"
    assert b"BODY=" not in dump
    assert MESSAGE in dump


def test_size_is_left_out_only_when_converting():
    """The converted size is not known in advance (Postfix sends no SIZE= then)."""
    log: list = []

    async def script(reader, writer):
        await answer_session(reader, writer, {}, log=log,
                             ehlo=b"250-mx.test\r\n250-SIZE 100000\r\n250 PIPELINING\r\n")

    async def run():
        async with ScriptedServer(script) as port:
            for data in (b"Subject: plain\n\nhello\n", MESSAGE):
                a = agent()
                req = make_request("r@example.net", transport="smtp",
                                   nexthop=f"[127.0.0.1]:{port}", data=data)
                try:
                    await a.deliver(req)
                finally:
                    await a.aclose()
    asyncio.run(run())
    assert [x for x in log if x.startswith(b"MAIL")] == [
        b"MAIL FROM:<sender@example.org> SIZE=22\r\n", b"MAIL FROM:<sender@example.org>\r\n"]


def _lmtp_server(log, ehlo):
    async def script(reader, writer):
        await answer_session(reader, writer, {}, ehlo=ehlo, log=log,
                             greeting=b"220 lmtp.test LMTP\r\n")
    return script


def test_lmtp_converts_too_and_smtputf8_counts_as_8bitmime(caplog):
    """An LMTP server without 8BITMIME gets quoted-printable; one that offers
    SMTPUTF8 (but not 8BITMIME) gets the mail as is, as Postfix does."""
    plain, utf8 = [], []

    async def run():
        async with ScriptedServer(_lmtp_server(plain, b"250-lmtp.test\r\n250 PIPELINING\r\n")) as p1, \
                ScriptedServer(_lmtp_server(utf8, b"250-lmtp.test\r\n250-PIPELINING\r\n"
                                                  b"250 SMTPUTF8\r\n")) as p2:
            out = []
            for port in (p1, p2):
                a = LmtpAgent(Config(), None, resolver=StaticResolver(), my_addresses=[])
                req = make_request("rcpt@example.net", transport="lmtp",
                                   nexthop=f"inet:127.0.0.1:{port}", data=MESSAGE)
                try:
                    out += await a.deliver(req)
                finally:
                    await a.aclose()
            return out
    with caplog.at_level(logging.INFO, logger="mailflow.smtp"):
        first, second = asyncio.run(run())
    assert first.status.code == second.status.code == "2.0.0"
    [body] = [x for x in plain if x.endswith(b"\r\n.\r\n")]
    assert body == CONVERTED.replace(b"\r\n.leading", b"\r\n..leading") + b".\r\n"
    [mail] = [x for x in utf8 if x.startswith(b"MAIL")]
    assert b"BODY=8BITMIME" in mail
    [body] = [x for x in utf8 if x.endswith(b"\r\n.\r\n")]
    assert b"caf\xc3\xa9 = coffee" in body
    assert "host 127.0.0.1[127.0.0.1] offers SMTPUTF8 support, but not 8BITMIME" in caplog.messages


def test_too_deep_mime_nesting_bounces(tmp_path):
    nested = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\nContent-Transfer-Encoding: "
                      b"8bit\n\n--b%d\n" % (i, i) for i in range(5))
    with smtp_sink(tmp_path, "-8") as port:
        o = deliver(agent(mime_nesting_limit="2"), f"[127.0.0.1]:{port}",
                    nested + b"Content-Transfer-Encoding: 8bit\n\n\xe9\n")
    assert (o.status.code, o.status.text) == ("5.6.0", "MIME nesting exceeds safety limit")
