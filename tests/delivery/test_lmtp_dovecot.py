"""The lmtp agent against Dovecot's real LMTP server; mail read back over IMAP."""

from __future__ import annotations

import asyncio
import imaplib

from delivery_helpers import make_request
from dovecot_peer import dovecot
from smtp_peers import ScriptedServer, answer_session

from mailflow.config import Config
from mailflow.delivery.lmtp import LmtpAgent
from mailflow.delivery.registry import create_agent


async def send(agent, request):
    try:
        return list(await agent.deliver(request))
    finally:
        await agent.aclose()


def imap_messages(server, user, password):
    imap = imaplib.IMAP4("127.0.0.1", server.imap_port)
    try:
        imap.login(user, password)
        imap.select("INBOX")
        _, data = imap.search(None, "ALL")
        out = []
        for num in data[0].split():
            _, msg = imap.fetch(num, "(RFC822)")
            out.append(msg[0][1])
        return out
    finally:
        imap.logout()


def test_lmtp_over_unix_socket_into_dovecot_read_back_over_imap(tmp_path):
    with dovecot(tmp_path, {"alice": "secret", "bob": "secret"}) as server:
        agent = create_agent("lmtp", Config())
        req = make_request("alice@example.com", "nobody@example.com", "bob@example.com",
                           transport="lmtp", nexthop=f"unix:{server.lmtp_socket}",
                           data=b"Subject: over lmtp\n\n.dot line\nhello alice\n")
        alice, nobody, bob = asyncio.run(send(agent, req))
        assert alice.status.code == "2.0.0", alice
        assert bob.status.code == "2.0.0"
        assert alice.relay == server.lmtp_socket
        # One reply per recipient: the unknown user fails alone.
        assert nobody.status.code == "5.1.1"
        assert nobody.status.text.startswith(f"host {server.lmtp_socket} said: 550 5.1.1 ")
        assert nobody.status.text.endswith("(in reply to RCPT TO command)")
        [msg] = imap_messages(server, "alice", "secret")
        assert b"Subject: over lmtp" in msg
        assert b"\r\n.dot line\r\nhello alice\r\n" in msg
        assert len(imap_messages(server, "bob", "secret")) == 1


def test_lmtp_over_tcp_with_inet_nexthop(tmp_path):
    with dovecot(tmp_path, {"carol": "pw"}) as server:
        agent = LmtpAgent(Config())
        req = make_request("carol@example.com", transport="lmtp",
                           nexthop=f"inet:127.0.0.1:{server.lmtp_port}")
        [o] = asyncio.run(send(agent, req))
        assert o.status.code == "2.0.0"
        assert o.relay == f"127.0.0.1[127.0.0.1]:{server.lmtp_port}"
        assert len(list((server.maildir("carol") / "new").iterdir())) == 1


def test_lmtp_reply_per_recipient_after_data():
    """After the message an LMTP server answers once per accepted recipient;
    a 452 for one defers that one only."""
    finals = iter([b"250 2.0.0 <a@x> saved\r\n", b"452 4.2.2 <b@x> mailbox full\r\n"])
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {b".": lambda body: next(finals) + next(finals)},
                             ehlo=b"250-mx.test\r\n250 PIPELINING\r\n", log=log)

    async def go():
        async with ScriptedServer(script) as port:
            return await send(LmtpAgent(Config()), make_request("a@x", "b@x", transport="lmtp",
                                                                nexthop=f"127.0.0.1:{port}"))
    a, b = asyncio.run(go())
    assert log[0].startswith(b"LHLO ")
    assert a.status.code == "2.0.0" and a.status.text == "250 2.0.0 <a@x> saved"
    assert b.status.code == "4.2.2"
    assert b.status.text.endswith("said: 452 4.2.2 <b@x> mailbox full (in reply to end of DATA command)")
    assert b.diagnostic == "lmtp; 452 4.2.2 <b@x> mailbox full"
