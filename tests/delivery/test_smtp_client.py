"""The sans-I/O client engine: reply parsing, EHLO extensions, transactions."""

from __future__ import annotations

import pytest

from mailflow.smtp.client import (MAX_LINE, MAX_REPLY_TEXT, Extensions, Reply, ReplyParser,
                                  Transaction)
from mailflow.smtp.errors import SmtpProtocolError


def ok(code=250, text="ok"):
    return Reply(code, [f"{code} {text}"])


def test_reply_split_across_reads_and_several_in_one_read():
    p = ReplyParser()
    assert p.feed(b"250-a\r\n25") == []
    replies = p.feed(b"0 b\r\n354 go\r\n221 bye\r\n")
    assert [(r.code, r.lines) for r in replies] == [(250, ("250-a", "250 b")), (354, ("354 go",)),
                                                   (221, ("221 bye",))]


def test_ten_thousand_line_reply_is_kept_bounded():
    p = ReplyParser()
    data = b"250-x\r\n" + b"250-" + b"y" * 100 + b"\r\n" * 1 + (b"250-" + b"z" * 50 + b"\r\n") * 10000
    [r] = p.feed(data + b"250 end\r\n")
    assert r.code == 250
    assert sum(len(line) + 1 for line in r.lines) <= MAX_REPLY_TEXT + 1


@pytest.mark.parametrize("data", [b"hello\r\n", b"25 short\r\n", b"250x\r\n",
                                  b"250-a\r\n550 b\r\n"])
def test_garbage_is_a_protocol_error(data):
    with pytest.raises(SmtpProtocolError):
        ReplyParser().feed(data)


def test_endless_line_is_a_protocol_error():
    p = ReplyParser()
    with pytest.raises(SmtpProtocolError, match="longer than"):
        for _ in range(MAX_LINE // 4096 + 2):
            p.feed(b"2" * 4096)


def test_bare_lf_and_bare_code_lines():
    [r] = ReplyParser().feed(b"250\n")
    assert (r.code, r.text) == (250, "")


def test_next_reply_leaves_the_rest_unparsed():
    p = ReplyParser()
    p.push(b"220 go ahead\r\n\x16\x03garbage")
    assert p.next_reply().code == 220
    p.discard()
    assert p.next_reply() is None


def test_enhanced_status_only_when_it_matches_the_class():
    assert Reply(550, ["550 5.7.1 no"]).dsn == "5.7.1"
    assert Reply(550, ["550 4.7.1 odd"]).dsn == "5.0.0"
    assert Reply(421, ["421 bye"]).dsn == "4.0.0"


def test_extensions():
    e = Extensions.from_reply(Reply(250, ["250-mx", "250-size 5000", "250-8BITMIME",
                                          "250-AUTH=LOGIN", "250-SMTPUTF8", "250 DSN"]))
    assert (e.size, e.eightbitmime, e.smtputf8, e.dsn, e.auth) == (5000, True, True, True, ("LOGIN",))
    assert Extensions.from_reply(Reply(250, ["250 mx"])).keywords == frozenset()


def test_one_command_at_a_time_without_pipelining():
    tx = Transaction("a@x", ["b@x", "c@x"], Extensions())
    sent = []
    while not tx.done:
        cmds = tx.next_commands()
        assert len(cmds) <= 1
        sent += [c.verb for c in cmds]
        if tx.send_content:
            tx.content_sent()
            continue
        verb = tx.waiting_for.verb
        tx.receive(ok(354) if verb == "DATA" else ok())
    assert sent == ["MAIL", "RCPT", "RCPT", "DATA"]
    assert {i: r.code for i, (r, c) in tx.results.items()} == {0: 250, 1: 250}


def test_rejected_mail_from_decides_every_recipient():
    tx = Transaction("a@x", ["b@x", "c@x"], Extensions(frozenset({"PIPELINING"})))
    tx.next_commands()
    for reply in (Reply(553, ["553 5.1.8 bad sender"]), Reply(503, ["503 no"]),
                  Reply(503, ["503 no"]), Reply(503, ["503 no"])):
        tx.receive(reply)
    assert tx.done and not tx.send_content
    assert {i: (r.code, c.reply_to) for i, (r, c) in tx.results.items()} == {
        0: (553, "MAIL FROM"), 1: (553, "MAIL FROM")}


def test_rejected_data_decides_accepted_recipients_only():
    tx = Transaction("a@x", ["b@x", "c@x"], Extensions(frozenset({"PIPELINING"})))
    tx.next_commands()
    for reply in (ok(), Reply(550, ["550 5.1.1 no"]), ok(), Reply(451, ["451 4.3.0 later"])):
        tx.receive(reply)
    assert {i: (r.code, c.verb) for i, (r, c) in tx.results.items()} == {
        0: (550, "RCPT"), 1: (451, "DATA")}


def test_dsn_and_utf8_parameters():
    ext = Extensions(frozenset({"DSN", "SMTPUTF8", "8BITMIME", "SIZE"}), size=100)
    tx = Transaction("ä@x", ["b@x"], ext, size=10, envid="e 1", ret="FULL",
                     notify=[["NEVER"]], orcpt=["rfc822;b@x"], body_8bit=True)
    mail, rcpt = tx.next_commands()[0], None
    assert mail.line == "MAIL FROM:<ä@x> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=e+201\r\n".encode()
    tx.receive(ok())
    rcpt = tx.next_commands()[0]
    assert rcpt.line == b"RCPT TO:<b@x> NOTIFY=NEVER ORCPT=rfc822;b@x\r\n"
    # Without DSN offered, none of it is sent.
    plain = Transaction("a@x", ["b@x"], Extensions(), envid="e", notify=[["NEVER"]])
    assert plain.next_commands()[0].line == b"MAIL FROM:<a@x>\r\n"


def test_unexpected_reply_is_a_protocol_error():
    tx = Transaction("a@x", ["b@x"], Extensions())
    with pytest.raises(SmtpProtocolError):
        tx.receive(ok())


def test_data_accepted_without_recipients_ends_an_empty_message():
    tx = Transaction("a@x", ["b@x"], Extensions(frozenset({"PIPELINING"})))
    tx.next_commands()
    for reply in (ok(), Reply(450, ["450 no"]), ok(354)):
        tx.receive(reply)
    assert not tx.done and not tx.send_content
    assert [c.line for c in tx.next_commands()] == [b".\r\n"]
    tx.receive(ok())
    assert tx.done and tx.results[0][0].code == 450
