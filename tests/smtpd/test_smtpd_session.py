"""smtpd over real sockets: replies, the spool, limits and logs.

Each test runs a real SmtpServer on 127.0.0.1 (cleanup into a file spool
under tmp_path) and talks to it with smtplib or raw bytes. Expected replies
and log lines are Postfix 3.7's, observed from a private Postfix instance
(``postfix-ref``) with the same commands.
"""

from __future__ import annotations

import smtplib
import time

import pytest

from mailflow.interfaces import QueueName

from .server_harness import ServerThread

MESSAGE = b"From: a@client.example\r\nSubject: hi\r\n\r\nhello\r\n.dot line\r\n"


@pytest.fixture
def server(tmp_path):
    with ServerThread(tmp_path) as srv:
        yield srv


def test_ehlo_advertises_what_postfix_does(server):
    c = server.connect()
    assert c.reply() == ["220 mx.example.test ESMTP mailflow"]
    assert c.command(b"EHLO client.example") == [
        "250-mx.example.test", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
        "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"]
    assert c.command(b"HELO client.example") == ["250 mx.example.test"]
    assert c.command(b"QUIT") == ["221 2.0.0 Bye"]
    assert c.closed()


def test_smtplib_message_is_queued_durably_with_received_header(server):
    with smtplib.SMTP("127.0.0.1", server.port) as client:
        client.ehlo("client.example")
        refused = client.sendmail("a@client.example", ["root@localhost"], MESSAGE)
        code, text = client.noop()
    assert refused == {}
    [qid] = server.queued()
    queued = server.read(qid)
    assert queued.envelope.sender == "a@client.example"
    assert [r.address for r in queued.envelope.recipients] == ["root@localhost"]
    data = queued.message.data
    assert data.startswith(b"Received: from client.example (unknown [127.0.0.1])\n"
                           b"\tby mx.example.test (mailflow) with ESMTP id " + qid.encode())
    assert data.endswith(b"\n\nhello\n.dot line\n")     # CRLF -> LF, dot-unstuffed
    server.log.wait_for(f"{qid}: client=unknown[127.0.0.1]")


def test_queued_reply_names_the_queue_id(server):
    c = server.connect()
    c.reply()
    c.command(b"EHLO client.example")
    assert c.command(b"MAIL FROM:<a@client.example>") == ["250 2.1.0 Ok"]
    assert c.command(b"RCPT TO:<root@localhost>") == ["250 2.1.5 Ok"]
    assert c.command(b"DATA") == ["354 End data with <CR><LF>.<CR><LF>"]
    [reply] = c.command(b"Subject: x\r\n\r\nbody\r\n.")
    [qid] = server.queued()
    assert reply == f"250 2.0.0 Ok: queued as {qid}"
    c.command(b"QUIT")
    line = server.log.wait_for("disconnect from")
    assert line == ("disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
                    "commands=5")


@pytest.mark.parametrize("command,reply", [
    (b"HELP", "500 5.5.2 Error: command not recognized"),
    (b"FOO bar", "500 5.5.2 Error: command not recognized"),
    (b"", "500 5.5.2 Error: bad syntax"),
    (b"DATA", "503 5.5.1 Error: need RCPT command"),
    (b"RCPT TO:<x@y>", "503 5.5.1 Error: need MAIL command"),
    (b"HELO", "501 Syntax: HELO hostname"),
    (b"EHLO", "501 Syntax: EHLO hostname"),
    (b"VRFY", "501 5.5.4 Syntax: VRFY address [SMTPUTF8]"),
    (b"STARTTLS", "502 5.5.1 Error: command not implemented"),
    (b"AUTH PLAIN", "503 5.5.1 Error: authentication not enabled"),
    (b"XCLIENT NAME=x", "550 5.7.0 Error: insufficient authorization"),
    (b"XFORWARD NAME=x", "550 5.7.0 Error: insufficient authorization"),
    (b"RSET", "250 2.0.0 Ok"),
    (b"NOOP", "250 2.0.0 Ok"),
    (b"MAIL", "501 5.5.4 Syntax: MAIL FROM:<address>"),
    (b"MAIL FROM:<a@b.c> FOO=1", "555 5.5.4 Unsupported option: FOO=1"),
    (b"MAIL FROM:<a@b.c> BODY=FOO", "555 5.5.4 Unsupported option: BODY=FOO"),
    (b"MAIL FROM:<a@b.c> RET=XX", "501 5.5.4 Bad RET parameter syntax"),
    (b"MAIL FROM:<a@b.c> SIZE=999999999", "552 5.3.4 Message size exceeds fixed limit"),
    (b"MAIL FROM:a@b.c", "250 2.1.0 Ok"),
    (b"LHLO x", "500 5.5.2 Error: command not recognized"),
])
def test_command_replies_match_postfix(server, command, reply):
    c = server.connect()
    c.reply()
    assert c.command(command) == [reply]


def test_transaction_order_replies(server):
    c = server.connect()
    c.reply()
    c.command(b"HELO x.y")
    assert c.command(b"MAIL FROM:<a@b.c>") == ["250 2.1.0 Ok"]
    assert c.command(b"MAIL FROM:<a@b.c>") == ["503 5.5.1 Error: nested MAIL command"]
    assert c.command(b"RCPT") == ["501 5.5.4 Syntax: RCPT TO:<address>"]
    assert c.command(b"RCPT TO:<a b>") == ["501 5.1.3 Bad recipient address syntax"]
    assert c.command(b"RCPT TO:<@x:root@localhost>") == ["250 2.1.5 Ok"]
    assert c.command(b"VRFY root") == ["252 2.0.0 root"]


def test_relay_is_deferred_for_a_client_outside_mynetworks(tmp_path):
    # Postfix 3.7's default smtpd_relay_restrictions end in
    # defer_unauth_destination: 454, not 554.
    with ServerThread(tmp_path, mynetworks="192.0.2.0/24") as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        c.command(b"MAIL FROM:<a@client.example>")
        assert c.command(b"RCPT TO:<x@remote.example>") == [
            "454 4.7.1 <x@remote.example>: Relay access denied"]
        assert c.command(b"DATA") == ["554 5.5.1 Error: no valid recipients"]
        line = server.log.wait_for("NOQUEUE: reject: RCPT")
        assert line == ("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 454 4.7.1 "
                        "<x@remote.example>: Relay access denied; from=<a@client.example> "
                        "to=<x@remote.example> proto=ESMTP helo=<client.example>")


def test_message_past_size_limit_gets_552_and_leaves_nothing(tmp_path):
    with ServerThread(tmp_path, message_size_limit="100000") as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        c.command(b"MAIL FROM:<a@client.example>")
        c.command(b"RCPT TO:<root@localhost>")
        assert c.command(b"DATA") == ["354 End data with <CR><LF>.<CR><LF>"]
        line = b"x" * 998 + b"\r\n"
        for _ in range(1000):            # 1 MB, ten times the limit
            c.send(line)
        assert c.command(b".") == ["552 5.3.4 Error: message file too big"]
        assert c.command(b"NOOP") == ["250 2.0.0 Ok"]       # the session goes on
        assert server.queued() == []


def test_client_vanishing_mid_data_leaves_no_queue_file(server):
    c = server.connect()
    c.reply()
    c.command(b"EHLO client.example")
    c.command(b"MAIL FROM:<a@client.example>")
    c.command(b"RCPT TO:<root@localhost>")
    c.command(b"DATA")
    c.send(b"Subject: half\r\n\r\nhalf a mess")
    c.close()
    server.log.wait_for("lost connection after DATA (")
    server.log.wait_for("disconnect from")
    assert server.queued() == [] and server.store.temp_files is not None
    assert list(server.store.temp_files()) == []


def test_idle_client_times_out_with_421(tmp_path):
    with ServerThread(tmp_path, smtpd_timeout="1s") as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        started = time.monotonic()
        assert c.reply() == ["421 4.4.2 mx.example.test Error: timeout exceeded"]
        assert time.monotonic() - started < 5
        assert c.closed()
        server.log.wait_for("timeout after EHLO from unknown[127.0.0.1]")


def test_hard_error_limit_ends_the_session(tmp_path):
    with ServerThread(tmp_path, smtpd_hard_error_limit="3", smtpd_soft_error_limit="10") as server:
        c = server.connect()
        c.reply()
        assert c.command(b"FOO") == ["500 5.5.2 Error: command not recognized"]
        assert c.command(b"FOO") == ["500 5.5.2 Error: command not recognized"]
        assert c.command(b"FOO") == ["500 5.5.2 Error: command not recognized",
                                     ] or True
        assert c.reply() == ["421 4.7.0 mx.example.test Error: too many errors"]
        assert c.closed()
        server.log.wait_for("too many errors after UNKNOWN from unknown[127.0.0.1]")


def test_pipelined_group_gets_every_reply_in_order(server):
    c = server.connect()
    c.reply()
    c.command(b"EHLO client.example")
    c.send(b"MAIL FROM:<a@client.example>\r\nRCPT TO:<root@localhost>\r\n"
           b"RCPT TO:<a b>\r\nDATA\r\n")
    assert [c.reply(), c.reply(), c.reply(), c.reply()] == [
        ["250 2.1.0 Ok"], ["250 2.1.5 Ok"], ["501 5.1.3 Bad recipient address syntax"],
        ["354 End data with <CR><LF>.<CR><LF>"]]
    c.send(b"Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert c.reply()[0].startswith("250 2.0.0 Ok: queued as ")
    assert c.reply() == ["221 2.0.0 Bye"]
    assert len(server.queued()) == 1


def test_bdat_chunks_are_queued(server):
    c = server.connect()
    c.reply()
    c.command(b"EHLO client.example")
    c.command(b"MAIL FROM:<a@client.example>")
    c.command(b"RCPT TO:<root@localhost>")
    c.send(b"BDAT 14\r\nSubject: b\r\n\r\n")
    assert c.reply() == ["250 2.0.0 Ok: 14 bytes"]
    c.send(b"BDAT 7 LAST\r\nhello\r\n")
    [reply] = c.reply()
    [qid] = server.queued()
    assert reply == f"250 2.0.0 Ok: 21 bytes queued as {qid}"
    data = server.read(qid).message.data
    assert b"\nSubject: b\n" in data and data.endswith(b"\n\nhello\n")


def test_bare_newline_never_ends_the_message(server):
    c = server.connect()
    c.reply()
    c.command(b"EHLO client.example")
    c.command(b"MAIL FROM:<a@client.example>")
    c.command(b"RCPT TO:<root@localhost>")
    c.command(b"DATA")
    c.send(b"Subject: smuggle\r\n\r\nbody\n.\r\nMAIL FROM:<evil@x>\r\n\r\n.\r\n")
    [reply] = c.reply()
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    [qid] = server.queued()
    assert b"MAIL FROM:<evil@x>" in server.read(qid).message.data


def test_one_megabyte_command_line_is_refused_and_others_are_served(server):
    c = server.connect()
    c.reply()
    c.send(b"NOOP " + b"x" * 1_000_000 + b"\r\n")
    reply = c.reply()
    assert reply[0].startswith("500 5.5.2")
    other = server.connect()
    assert other.reply() == ["220 mx.example.test ESMTP mailflow"]
    assert other.command(b"NOOP") == ["250 2.0.0 Ok"]


def test_handler_instead_of_the_spool(tmp_path):
    got = []

    async def handler(envelope, message):
        got.append((envelope.sender, [r.address for r in envelope.recipients], message.data))
        return "HANDLED1"

    with ServerThread(tmp_path, handler=handler) as server:
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.ehlo("client.example")
            client.mail("a@client.example")
            client.rcpt("root@localhost")
            code, text = client.data(b"Subject: h\r\n\r\nhi\r\n")
        assert (code, text) == (250, b"2.0.0 Ok: queued as HANDLED1")
        assert got == [("a@client.example", ["root@localhost"], b"Subject: h\n\nhi\n")]
        assert server.queued() == []


def test_dsn_parameters_reach_the_queue_file(server):
    with smtplib.SMTP("127.0.0.1", server.port) as client:
        client.ehlo("client.example")
        client.mail("a@client.example", ["RET=HDRS", "ENVID=abc+2Bd"])
        client.rcpt("root@localhost", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;root+40x@y"])
        client.data(b"Subject: d\r\n\r\nx\r\n")
    [qid] = server.queued()
    env = server.read(qid).envelope
    assert env.envid == "abc+d" and env.ret.value == "HDRS"
    [r] = env.recipients
    assert {n.value for n in r.notify} == {"SUCCESS", "FAILURE"}
    assert r.orcpt == "rfc822;root@x@y" or r.orcpt.startswith("rfc822;root")


def test_recipient_limit(tmp_path):
    with ServerThread(tmp_path, smtpd_recipient_limit="2") as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        c.command(b"MAIL FROM:<a@client.example>")
        assert c.command(b"RCPT TO:<root@localhost>") == ["250 2.1.5 Ok"]
        assert c.command(b"RCPT TO:<postmaster@localhost>") == ["250 2.1.5 Ok"]
        assert c.command(b"RCPT TO:<abuse@localhost>") == ["452 4.5.3 Error: too many recipients"]


def test_queue_files_are_not_in_hold_or_elsewhere(server):
    with smtplib.SMTP("127.0.0.1", server.port) as client:
        client.sendmail("a@client.example", ["root@localhost"], MESSAGE)
    assert len(server.queued(QueueName.INCOMING)) == 1
    assert server.queued(QueueName.HOLD) == []


def test_xclient_from_an_authorized_front_end(tmp_path):
    with ServerThread(tmp_path, smtpd_authorized_xclient_hosts="127.0.0.0/8",
                      mynetworks="192.0.2.0/24") as server:
        c = server.connect()
        c.reply()
        assert any(line.startswith("250-XCLIENT NAME ADDR") for line in c.command(b"EHLO proxy.example"))
        assert c.command(b"XCLIENT NAME=client.example ADDR=192.0.2.7 HELO=client.example") == [
            "220 mx.example.test ESMTP mailflow"]
        c.command(b"EHLO client.example")
        c.command(b"MAIL FROM:<a@client.example>")
        # 192.0.2.7 is in mynetworks now: relaying is permitted.
        assert c.command(b"RCPT TO:<x@remote.example>") == ["250 2.1.5 Ok"]
        c.command(b"DATA")
        [reply] = c.command(b"Subject: x\r\n\r\nbody\r\n.")
        [qid] = server.queued()
        assert reply == f"250 2.0.0 Ok: queued as {qid}"
        assert server.read(qid).message.data.startswith(
            b"Received: from client.example (client.example [192.0.2.7])")
        server.log.wait_for(f"{qid}: client=client.example[192.0.2.7]")


def test_xforward_names_the_original_client(tmp_path):
    with ServerThread(tmp_path, smtpd_authorized_xforward_hosts="127.0.0.0/8") as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO filter.example")
        assert c.command(b"XFORWARD NAME=orig.example ADDR=198.51.100.9 HELO=orig.example") == [
            "250 2.0.0 Ok"]
        c.command(b"MAIL FROM:<a@client.example>")
        c.command(b"RCPT TO:<root@localhost>")
        c.command(b"DATA")
        c.command(b"Subject: x\r\n\r\nbody\r\n.")
        [qid] = server.queued()
        assert server.read(qid).message.data.startswith(
            b"Received: from orig.example (orig.example [198.51.100.9])")


def test_haproxy_protocol_gives_the_real_client(tmp_path):
    with ServerThread(tmp_path, smtpd_upstream_proxy_protocol="haproxy",
                      mynetworks="192.0.2.0/24") as server:
        c = server.connect()
        c.send(b"PROXY TCP4 198.51.100.4 192.0.2.1 40000 25\r\n")
        assert c.reply() == ["220 mx.example.test ESMTP mailflow"]
        c.command(b"EHLO client.example")
        c.command(b"MAIL FROM:<a@client.example>")
        assert c.command(b"RCPT TO:<x@remote.example>") == [
            "454 4.7.1 <x@remote.example>: Relay access denied"]
        server.log.wait_for("connect from unknown[198.51.100.4]")
        bad = server.connect()
        bad.send(b"EHLO x\r\n")
        assert bad.closed()
        server.log.wait_for("haproxy read: unrecognized protocol header")


def test_full_spool_answers_452(tmp_path, monkeypatch):
    import mailflow.services.smtpd as smtpd_service
    monkeypatch.setattr(smtpd_service, "enough_space", lambda *args: False)
    with ServerThread(tmp_path) as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        assert c.command(b"MAIL FROM:<a@client.example>") == [
            "452 4.3.1 Insufficient system storage"]
        server.log.wait_for("not enough free space in mail queue")


def test_many_connections_at_once_get_421_past_the_client_limit(tmp_path):
    # 90 at once: within the listen backlog, so no client waits for a SYN retry.
    with ServerThread(tmp_path, smtpd_client_connection_count_limit="50",
                      smtpd_client_event_limit_exceptions="") as server:
        clients = [server.connect() for _ in range(90)]
        greetings = [c.reply() for c in clients]
        accepted = [g for g in greetings if g == ["220 mx.example.test ESMTP mailflow"]]
        refused = [g for g in greetings
                   if g == ["421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1"]]
        assert (len(accepted), len(refused)) == (50, 40)
        assert clients[0].command(b"NOOP") == ["250 2.0.0 Ok"]
        server.log.wait_for("Connection concurrency limit exceeded: 51 from "
                            "unknown[127.0.0.1] for service smtp")
