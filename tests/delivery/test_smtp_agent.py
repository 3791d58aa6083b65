"""The smtp agent against real peers on 127.0.0.1: Postfix's smtp-sink and
scripted servers that accept, reject, stall, babble and hang up."""

from __future__ import annotations

import asyncio
import time

import pytest
from delivery_helpers import make_request
from smtp_peers import ScriptedServer, answer_session, read_command, smtp_sink

from mailflow.config import Config
from mailflow.delivery.smtp import SmtpAgent
from mailflow.model import DeliveryRequest, Envelope, Message, Notify, Recipient, Ret
from mailflow.testing import StaticResolver


def agent(**params):
    resolver = params.pop("resolver", StaticResolver())
    return SmtpAgent(Config(**params), None, resolver=resolver, my_addresses=[],
                     shuffle=lambda group: None)


def run(coro):
    return asyncio.run(coro)


async def send(a, request):
    try:
        return list(await a.deliver(request))
    finally:
        await a.aclose()


def request_to(port, *rcpts, data=b"Subject: test\n\nhello\n", **kw):
    return make_request(*(rcpts or ("rcpt@example.net",)), transport="smtp",
                        nexthop=f"[127.0.0.1]:{port}", data=data, **kw)


def test_delivers_to_smtp_sink(tmp_path):
    """Mail with a dot-leading line reaches smtp-sink intact; the outcome
    carries the server's reply and relay=name[addr]:port."""
    with smtp_sink(tmp_path, "-D", "dump") as port:
        body = b"Subject: relay\n\n.leading dot\nbye\n"
        [o] = run(send(agent(), request_to(port, data=body)))
    assert o.status.code == "2.0.0"
    assert o.status.text == "250 2.0.0 Ok"          # smtp-sink's end-of-data reply
    assert o.relay == f"127.0.0.1[127.0.0.1]:{port}"
    dump = (tmp_path / "dump").read_bytes()
    assert b"X-Rcpt-Args: <rcpt@example.net>" in dump
    assert b"\n.leading dot\n" in dump.replace(b"\r\n", b"\n")


def test_smtp_sink_rejecting_rcpt_bounces_with_postfix_text(tmp_path):
    with smtp_sink(tmp_path, "-f", "RCPT") as port:
        [o] = run(send(agent(), request_to(port)))
    assert o.status.code == "5.3.0"
    assert o.status.text == (f"host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed "
                             f"(in reply to RCPT TO command)")
    assert o.diagnostic == "smtp; 500 5.3.0 Error: command failed"
    assert o.remote_mta == "127.0.0.1"


def test_smtp_sink_soft_reject_of_data_defers(tmp_path):
    with smtp_sink(tmp_path, "-r", "DATA") as port:
        outcomes = run(send(agent(), request_to(port, "a@example.net", "b@example.net")))
    assert {o.status.code for o in outcomes} == {"4.3.0"}
    assert outcomes[0].status.text.endswith("(in reply to DATA command)")


def test_connection_refused_defers_as_4_4_1():
    port = _closed_port()
    [o] = run(send(agent(), request_to(port)))
    assert (o.status.code, o.status.text, o.relay) == (
        "4.4.1", f"connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused", "none")


def _closed_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_next_mx_after_connection_failure(tmp_path):
    """The best MX refuses; the next one takes the mail."""
    dns = StaticResolver({("example.test", "MX"): ["10 down.example.test.", "20 up.example.test."],
                          ("down.example.test", "A"): ["127.0.0.3"],
                          ("up.example.test", "A"): ["127.0.0.1"]})
    with smtp_sink(tmp_path) as port:
        req = make_request("x@example.test", transport="smtp", nexthop=f"example.test:{port}")
        [o] = run(send(agent(resolver=dns, inet_protocols="ipv4"), req))
    assert o.status.code == "2.0.0"
    assert o.relay == f"up.example.test[127.0.0.1]:{port}"


def test_some_recipients_rejected_others_accepted():
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {
            b"RCPT": lambda line: (b"550 5.1.1 <bad@example.net>: Recipient address rejected: "
                                   b"User unknown\r\n" if b"bad@" in line else b"250 2.1.5 Ok\r\n")},
            log=log)

    async def go():
        async with ScriptedServer(script) as port:
            return await send(agent(), request_to(port, "good@example.net", "bad@example.net"))
    good, bad = run(go())
    assert good.status.code == "2.0.0"
    assert bad.status.code == "5.1.1"
    assert bad.status.text == ("host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bad@example.net>: "
                               "Recipient address rejected: User unknown (in reply to RCPT TO command)")
    # PIPELINING: MAIL, both RCPTs and DATA went out before the first reply was read.
    assert [line.split()[0] for line in log[:5]] == [b"EHLO", b"MAIL", b"RCPT", b"RCPT", b"DATA"]


def test_without_pipelining_no_data_when_every_recipient_is_rejected():
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {b"RCPT": lambda l: b"554 5.7.1 no\r\n"},
                             ehlo=b"250 mx.test\r\n", log=log)

    async def go():
        async with ScriptedServer(script) as port:
            return await send(agent(), request_to(port, "a@example.net"))
    [o] = run(go())
    assert o.status.code == "5.7.1"
    assert b"DATA\r\n" not in log


def test_ehlo_refused_falls_back_to_helo():
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {b"EHLO": lambda l: b"502 5.5.2 what?\r\n"}, log=log)

    async def go():
        async with ScriptedServer(script) as port:
            return await send(agent(smtp_helo_name="client.example"), request_to(port))
    [o] = run(go())
    assert o.status.code == "2.0.0"
    assert log[:2] == [b"EHLO client.example\r\n", b"HELO client.example\r\n"]


def test_dsn_and_size_parameters_when_offered():
    log = []
    ehlo = b"250-mx.test\r\n250-DSN\r\n250-SIZE 100000\r\n250 PIPELINING\r\n"

    async def script(reader, writer):
        await answer_session(reader, writer, {}, ehlo=ehlo, log=log)

    rcpt = Recipient("b@example.net", orcpt="rfc822;B+x@example.net",
                     notify=frozenset({Notify.SUCCESS, Notify.FAILURE}))
    env = Envelope("a@example.org", (rcpt,), envid="id=1", ret=Ret.HDRS)
    req = DeliveryRequest("Q1", "smtp", "", env, (rcpt,), Message(b"Subject: x\n\nhi\n"))

    async def go():
        async with ScriptedServer(script) as port:
            r = DeliveryRequest("Q1", "smtp", f"[127.0.0.1]:{port}", env, (rcpt,), req.message)
            return await send(agent(), r)
    [o] = run(go())
    assert o.status.code == "2.0.0"
    assert log[1] == b"MAIL FROM:<a@example.org> SIZE=15 RET=HDRS ENVID=id+3D1\r\n"
    assert log[2] == b"RCPT TO:<b@example.net> NOTIFY=FAILURE,SUCCESS ORCPT=rfc822;B+2Bx@example.net\r\n"


def test_message_larger_than_server_size_bounces_before_mail():
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {}, ehlo=b"250-mx.test\r\n250 SIZE 10\r\n", log=log)

    async def go():
        async with ScriptedServer(script) as port:
            return await send(agent(), request_to(port))
    [o] = run(go())
    assert (o.status.code, o.status.text) == (
        "5.3.4", "message size 21 exceeds size limit 10 of server 127.0.0.1[127.0.0.1]")
    assert not any(line.startswith(b"MAIL") for line in log)


def test_4xx_greeting_tries_next_mx():
    """The best MX greets with 421: its text is kept, and the next MX
    (another address, same port) takes the mail."""
    async def busy(reader, writer):
        writer.write(b"421 4.3.2 busy, try later\r\n")
        await writer.drain()

    async def good(reader, writer):
        await answer_session(reader, writer, {})

    dns = StaticResolver({("example.test", "MX"): ["10 busy.example.test", "20 good.example.test"],
                          ("busy.example.test", "A"): ["127.0.0.2"],
                          ("good.example.test", "A"): ["127.0.0.1"]})

    async def go():
        async with ScriptedServer(busy, "127.0.0.2") as port:
            only = await send(agent(), make_request("x@example.test", transport="smtp",
                                                    nexthop=f"[127.0.0.2]:{port}"))
            async with ScriptedServer(good, "127.0.0.1", port):
                req = make_request("x@example.test", transport="smtp", nexthop=f"example.test:{port}")
                both = await send(agent(resolver=dns, inet_protocols="ipv4"), req)
        return only, both
    [only], [both] = run(go())
    assert (only.status.code, only.status.text) == (
        "4.3.2", "host 127.0.0.2[127.0.0.2] refused to talk to me: 421 4.3.2 busy, try later")
    assert both.status.code == "2.0.0"
    assert both.relay.startswith("good.example.test[127.0.0.1]:")


def test_garbage_reply_defers_cleanly():
    async def script(reader, writer):
        writer.write(b"220 mx.test\r\n")
        await read_command(reader)
        writer.write(b"hello there, I am not SMTP\r\n")
        await writer.drain()
        await reader.read()

    async def go():
        async with ScriptedServer(script) as port:
            return await send(agent(), request_to(port))
    [o] = run(go())
    assert o.status.code == "4.5.0"
    assert o.status.text == ("Protocol error: host 127.0.0.1[127.0.0.1] said: "
                             "hello there, I am not SMTP")


def test_ten_thousand_line_reply_is_read_and_truncated():
    async def script(reader, writer):
        writer.write(b"220 mx.test\r\n")
        await read_command(reader)
        writer.write(b"250-mx.test\r\n" + b"250-X-FILLER padding padding\r\n" * 10000
                     + b"250 PIPELINING\r\n")
        await answer_session_after_ehlo(reader, writer)

    async def go():
        async with ScriptedServer(script) as port:
            return await send(agent(), request_to(port))
    [o] = run(go())
    assert o.status.code == "2.0.0"


async def answer_session_after_ehlo(reader, writer):
    while True:
        line = await read_command(reader)
        if line.startswith(b"DATA"):
            writer.write(b"354 go\r\n")
            await reader.readuntil(b"\r\n.\r\n")
            writer.write(b"250 2.0.0 Ok: queued as Y\r\n")
        elif line.startswith(b"QUIT"):
            writer.write(b"221 Bye\r\n")
            return
        else:
            writer.write(b"250 Ok\r\n")
        await writer.drain()


@pytest.mark.parametrize("stage, where", [
    ("greeting", "receiving the initial server greeting"),
    ("EHLO", "performing the EHLO handshake"),
    ("MAIL", "sending MAIL FROM"),
    ("RCPT", "sending RCPT TO"),
    ("DATA", "sending DATA command"),
    (".", "sending end of data -- message may be sent more than once"),
])
def test_server_that_stops_answering_times_out_per_stage(stage, where):
    """Each stage has its own time limit; the text says where it stalled."""
    async def script(reader, writer):
        if stage == "greeting":
            await reader.read()
            return
        writer.write(b"220 mx.test\r\n")
        while True:
            line = await read_command(reader)
            verb = line.split()[0].decode()
            if verb == stage:
                await reader.read()
                return
            if verb == "DATA":
                writer.write(b"354 go\r\n")
                await writer.drain()
                await reader.readuntil(b"\r\n.\r\n")
                if stage == ".":
                    await reader.read()
                    return
                writer.write(b"250 ok\r\n")
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()

    params = {f"smtp_{n}_timeout": "1s" for n in ("helo", "mail", "rcpt", "data_init", "data_done")}

    async def go():
        async with ScriptedServer(script) as port:
            return await send(agent(**params), request_to(port))
    [o] = run(go())
    assert (o.status.code, o.status.text) == (
        "4.4.2", f"conversation with 127.0.0.1[127.0.0.1] timed out while {where}")


def test_drop_mid_data_defers_then_delivers_once_on_retry():
    """The server hangs up in the middle of the message: deferred; the
    next attempt delivers, and the message arrives exactly once."""
    delivered = []
    attempts = []

    async def script(reader, writer):
        attempts.append(1)
        writer.write(b"220 mx.test\r\n")
        while True:
            line = await read_command(reader)
            if line.startswith(b"DATA"):
                writer.write(b"354 go\r\n")
                await writer.drain()
                if len(attempts) == 1:
                    await reader.read(10)
                    return            # hang up mid-DATA
                delivered.append(await reader.readuntil(b"\r\n.\r\n"))
                writer.write(b"250 2.0.0 Ok: queued as Z\r\n")
            elif line.startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()

    big = b"Subject: big\n\n" + b"x" * 200 + b"\n"

    async def go():
        async with ScriptedServer(script) as port:
            first = await send(agent(), request_to(port, data=big))
            second = await send(agent(), request_to(port, data=big))
            return first, second
    [first], [second] = run(go())
    assert first.status.code == "4.4.2"
    assert first.status.text.startswith("lost connection with 127.0.0.1[127.0.0.1] while ")
    assert second.status.code == "2.0.0"
    assert len(delivered) == 1


def test_connection_is_reused_with_rset_between_messages(tmp_path):
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {}, log=log)

    async def go():
        a = agent()
        async with ScriptedServer(script) as port:
            try:
                for i in range(3):
                    [o] = await a.deliver(request_to(port, f"r{i}@example.net"))
                    assert o.status.code == "2.0.0"
            finally:
                await a.aclose()
            # The agent does not wait for QUIT's reply: give the server the
            # moment it needs to read it before the server goes away.
            for _ in range(200):
                if log and log[-1].startswith(b"QUIT"):
                    break
                await asyncio.sleep(0.01)
            return port
    run(go())
    verbs = [line.split()[0] for line in log if not line.endswith(b"\r\n.\r\n")]
    assert verbs.count(b"EHLO") == 1
    assert verbs.count(b"MAIL") == 3
    assert verbs.count(b"RSET") == 3
    assert verbs[-1] == b"QUIT"


def test_no_reuse_when_cache_is_off():
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {}, log=log)

    async def go():
        a = agent(smtp_connection_cache_on_demand="no")
        async with ScriptedServer(script) as port:
            for i in range(2):
                await send(a, request_to(port))
    run(go())
    assert [line.split()[0] for line in log].count(b"EHLO") == 2


def test_idle_cached_connection_is_closed_with_quit_after_the_time_limit():
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {}, log=log)

    async def go():
        a = agent(smtp_connection_cache_time_limit="1s")
        async with ScriptedServer(script) as port:
            [o] = await a.deliver(request_to(port))
            assert o.status.code == "2.0.0"
            assert log[-1] == b"RSET\r\n"            # parked, still open
            for _ in range(100):
                if log[-1] == b"QUIT\r\n":
                    break
                await asyncio.sleep(0.05)
            await a.aclose()
    run(go())
    assert log[-1] == b"QUIT\r\n"


def test_fallback_relay_after_the_destination_fails(tmp_path):
    with smtp_sink(tmp_path) as port:
        a = agent(smtp_fallback_relay=f"[127.0.0.1]:{_closed_port()}, [127.0.0.1]:{port}")
        [o] = run(send(a, request_to(_closed_port())))
    assert o.status.code == "2.0.0"
    assert o.relay == f"127.0.0.1[127.0.0.1]:{port}"


def test_mx_session_limit_counts_sessions_that_got_a_greeting():
    greeted = []

    async def busy(reader, writer):
        greeted.append(1)
        writer.write(b"421 4.3.2 busy\r\n")
        await writer.drain()

    dns = StaticResolver({("example.test", "MX"): ["10 a.example.test", "20 b.example.test",
                                                   "30 c.example.test"],
                          ("a.example.test", "A"): ["127.0.0.1"],
                          ("b.example.test", "A"): ["127.0.0.2"],
                          ("c.example.test", "A"): ["127.0.0.3"]})

    async def go():
        async with ScriptedServer(busy, "127.0.0.1") as port:
            async with ScriptedServer(busy, "127.0.0.2", port), \
                    ScriptedServer(busy, "127.0.0.3", port):
                req = make_request("x@example.test", transport="smtp", nexthop=f"example.test:{port}")
                return await send(agent(resolver=dns, smtp_mx_session_limit="2"), req)
    [o] = run(go())
    assert len(greeted) == 2
    assert o.status.text.startswith("host b.example.test[127.0.0.2] refused to talk to me")


def test_dns_outcomes_reach_the_recipients():
    dns = StaticResolver({("null.test", "MX"): ["0 ."]}).fail("down.test", "MX")
    a = agent(resolver=dns)
    [null] = run(send(a, make_request("x@null.test", transport="smtp", nexthop="null.test")))
    [down] = run(send(a, make_request("x@down.test", transport="smtp", nexthop="down.test")))
    assert (null.status.code, null.relay) == ("5.1.10", "none")
    assert null.status.text == "Domain null.test does not accept mail (nullMX)"
    assert down.status.code == "4.4.3"
    # A diagnostic is always set, so the queue manager never takes a DNS
    # deferral for one of cleanup's own.
    assert down.diagnostic.startswith("X-Postfix; Host or domain name not found.")


def test_recipient_deferred_by_one_mx_is_offered_to_the_next():
    """The primary MX says 450 for one recipient; the backup takes it in
    the same attempt; the one the primary accepted is not sent twice."""
    first, second = [], []

    async def primary(reader, writer):
        await answer_session(reader, writer, {
            b"RCPT": lambda l: b"450 4.2.0 greylisted\r\n" if b"grey@" in l else b"250 ok\r\n"},
            log=first)

    async def backup(reader, writer):
        await answer_session(reader, writer, {}, log=second)

    dns = StaticResolver({("example.test", "MX"): ["10 a.example.test", "20 b.example.test"],
                          ("a.example.test", "A"): ["127.0.0.1"],
                          ("b.example.test", "A"): ["127.0.0.2"]})

    async def go():
        async with ScriptedServer(primary, "127.0.0.1") as port:
            async with ScriptedServer(backup, "127.0.0.2", port):
                req = make_request("ok@example.test", "grey@example.test", transport="smtp",
                                   nexthop=f"example.test:{port}")
                return await send(agent(resolver=dns), req)
    ok, grey = run(go())
    assert ok.status.code == grey.status.code == "2.0.0"
    assert ok.relay.startswith("a.example.test[") and grey.relay.startswith("b.example.test[")
    assert [line for line in second if line.startswith(b"RCPT")] == [b"RCPT TO:<grey@example.test>\r\n"]


def test_deferred_everywhere_keeps_the_last_servers_words():
    async def grey(reader, writer):
        await answer_session(reader, writer, {b"RCPT": lambda l: b"450 4.2.0 greylisted\r\n"})

    async def go():
        async with ScriptedServer(grey) as port:
            return await send(agent(), request_to(port))
    [o] = run(go())
    assert (o.status.code, o.status.text) == (
        "4.2.0", "host 127.0.0.1[127.0.0.1] said: 450 4.2.0 greylisted (in reply to RCPT TO command)")


def test_quit_reply_is_not_awaited_by_default():
    """smtp_skip_quit_response = yes: a server that never answers QUIT does
    not hold the delivery up for smtp_quit_timeout."""
    async def mute_quit(reader, writer):
        await answer_session(reader, writer, {b"QUIT": lambda l: b""})
        await reader.read()

    async def go(**params):
        async with ScriptedServer(mute_quit) as port:
            a = agent(smtp_connection_cache_on_demand="no", smtp_quit_timeout="1s", **params)
            start = time.monotonic()
            [o] = await send(a, request_to(port))
            return o, time.monotonic() - start
    o, took = run(go())
    assert o.status.code == "2.0.0" and took < 0.9
    o, took = run(go(smtp_skip_quit_response="no"))
    assert o.status.code == "2.0.0" and took >= 0.9     # waited for the reply until the limit


def test_parked_connection_closed_by_the_server_is_replaced():
    """The server hangs up on the reused connection at the next MAIL
    without a reply: the client opens a new one and delivers once."""
    sessions = []
    delivered = []

    async def script(reader, writer):
        sessions.append(1)
        writer.write(b"220 mx.test\r\n")
        messages = 0
        while True:
            line = await read_command(reader)
            if line.startswith(b"MAIL") and messages == 1:
                return                       # drop the parked connection silently
            if line.startswith(b"DATA"):
                writer.write(b"354 go\r\n")
                await writer.drain()
                delivered.append(await reader.readuntil(b"\r\n.\r\n"))
                messages += 1
                writer.write(b"250 2.0.0 Ok\r\n")
            elif line.startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()

    async def go():
        a = agent()
        async with ScriptedServer(script) as port:
            try:
                [one] = await a.deliver(request_to(port, "one@example.net"))
                [two] = await a.deliver(request_to(port, "two@example.net"))
            finally:
                await a.aclose()
        return one, two
    one, two = run(go())
    assert one.status.code == two.status.code == "2.0.0"
    assert len(sessions) == 2 and len(delivered) == 2


def test_eight_bit_content_is_declared_when_8bitmime_is_offered():
    log = []

    async def script(reader, writer):
        await answer_session(reader, writer, {}, ehlo=b"250-mx.test\r\n250 8BITMIME\r\n", log=log)

    async def go(data):
        async with ScriptedServer(script) as port:
            return await send(agent(), request_to(port, data=data))
    run(go("Subject: café\n\nnaïve\n".encode()))
    run(go(b"Subject: plain\n\nascii\n"))
    mails = [line for line in log if line.startswith(b"MAIL")]
    assert mails == [b"MAIL FROM:<sender@example.org> BODY=8BITMIME\r\n",
                     b"MAIL FROM:<sender@example.org>\r\n"]
