"""ServerEngine: each command and refusal, DATA and BDAT in sessions, fed whole and bytewise.

The reply texts in REFUSED and the bare-newline behaviour were checked
against Postfix 3.7.11 on a private instance (a socket client sending these
lines, under smtpd_forbid_bare_newline = no, normalize and reject). Where
mailflow differs on purpose the test says so: an over-long line is refused
as later Postfix releases do (3.7.11 runs the truncated command), and a NUL
byte is refused (3.7.11 cuts the line at the NUL).
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.smtp.data import encode_bdat, encode_data
from mailflow.smtp.errors import SmtpProtocolError
from mailflow.smtp.esmtp import MailParams, RcptParams
from mailflow.smtp.events import (
    CLOSED, NEED_DATA, Auth, AuthResponse, BadCommand, Bdat, BdatChunkEnd, ConnectionClosed,
    Data, EndOfMessage, Etrn, Hello, Help, MailFrom, MessageData, Noop, Quit, RcptTo, Rset,
    StartTls, UnknownCommand, Vrfy, Xclient, Xforward,
)
from mailflow.smtp.server import ServerEngine, tokenize

CHUNKINGS = ["whole", "bytewise"]


def unpipelined(event):
    return attrs.evolve(event, pipelined=False) if hasattr(event, "pipelined") else event


def merged(events):
    """Consecutive MessageData joined, so that any chunking compares equal."""
    out = []
    for ev in events:
        if isinstance(ev, MessageData) and out and isinstance(out[-1], MessageData):
            out[-1] = MessageData(out[-1].data + ev.data)
        else:
            out.append(ev)
    return out


def drive(engine: ServerEngine, pieces, *, accept_data=True, close=True):
    """A minimal service: feed pieces, collect events, answer DATA with start_data()."""
    events = []
    for piece in [p for p in pieces if p] + ([b""] if close else []):
        engine.receive_data(piece)
        while True:
            ev = engine.next_event()
            if ev is NEED_DATA:
                break
            if ev is CLOSED:
                return merged(events)
            events.append(ev)
            if isinstance(ev, Data) and accept_data:
                engine.start_data()
    return merged(events)


def run(data: bytes, chunking: str = "whole", **options):
    pieces = [data] if chunking == "whole" else [data[i:i + 1] for i in range(len(data))]
    return drive(ServerEngine(**options), pieces)


def one(line: bytes, **options):
    events = run(line, **options)
    assert len(events) == 1, events
    return events[0]


# --- commands -------------------------------------------------------------------

COMMANDS = [
    (b"HELO client.example", Hello("HELO", "client.example")),
    (b"ehlo client.example", Hello("EHLO", "client.example")),
    (b"EHLO [192.0.2.1]", Hello("EHLO", "[192.0.2.1]")),
    (b"HELO two words", Hello("HELO", "two words")),
    (b"MAIL FROM:<a@example.com>", MailFrom("a@example.com", MailParams(), "<a@example.com>")),
    (b"mail from:<>", MailFrom("", MailParams(), "<>")),
    (b"MAIL FROM: <a@example.com>", MailFrom("a@example.com", MailParams(), "<a@example.com>")),
    (b"MAIL FROM:a@example.com", MailFrom("a@example.com", MailParams(), "a@example.com")),
    (b'MAIL FROM:<"a b"@example.com> SIZE=10 BODY=8BITMIME',
     MailFrom("a b@example.com", MailParams(size=10, body="8BITMIME"), '<"a b"@example.com>')),
    ("MAIL FROM:<jöran@exämple.se> SMTPUTF8".encode(),
     MailFrom("jöran@exämple.se", MailParams(smtputf8=True), "<jöran@exämple.se>")),
    (b"MAIL FROM:<@relay.example:a@example.com>",
     MailFrom("@relay.example:a@example.com", MailParams(), "<@relay.example:a@example.com>")),
    (b"RCPT TO:<bob@example.com>", RcptTo("bob@example.com", RcptParams(), "<bob@example.com>")),
    (b"RCPT TO:<postmaster>", RcptTo("postmaster", RcptParams(), "<postmaster>")),
    (b"RCPT TO:<bob@example.com> NOTIFY=NEVER ORCPT=rfc822;bob+40example.com",
     RcptTo("bob@example.com", RcptParams(frozenset({"NEVER"}), "rfc822;bob@example.com"),
            "<bob@example.com>")),
    (b"RSET", Rset()),
    (b"NOOP", Noop()),
    (b"NOOP anything at all", Noop()),
    (b"QUIT", Quit()),
    (b"QUIT now", Quit()),
    (b"VRFY bob", Vrfy("bob")),
    (b"VRFY Bob Smith", Vrfy("Bob Smith")),
    (b"ETRN example.com", Etrn("example.com")),
    (b"ETRN @example.com", Etrn("@example.com")),
    (b"STARTTLS", StartTls()),
    (b"auth plain", Auth("PLAIN", None)),
    (b"AUTH PLAIN AGJvYgBzZWNyZXQ=", Auth("PLAIN", "AGJvYgBzZWNyZXQ=")),
    (b"AUTH LOGIN =", Auth("LOGIN", "=")),
    (b"HELP", Help("")),
    (b"HELP mail", Help("mail")),
    (b"XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2 HELO=a+20b",
     Xclient({"NAME": "spike.porcupine.org", "ADDR": "168.100.189.2", "HELO": "a b"})),
    (b"xforward proto=ESMTP ident=raw+value+",
     Xforward({"PROTO": "ESMTP", "IDENT": "raw+value+"})),
    (b"FOO bar", UnknownCommand("FOO", b"FOO bar")),
    (b"LHLO client.example", UnknownCommand("LHLO", b"LHLO client.example")),
]


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("line, event", COMMANDS, ids=[c[0].decode("utf-8", "replace")[:40]
                                                        for c in COMMANDS])
def test_command_events(line, event, chunking):
    """Each command line gives its event, whether it arrives whole or byte by byte."""
    assert run(line + b"\r\n", chunking) == [event]


# Replies as Postfix's smtpd words them (smtpd.c, smtpd_sasl_proto.c).
REFUSED = [
    (b"", "500 5.5.2 Error: bad syntax"),
    (b"   \t", "500 5.5.2 Error: bad syntax"),
    (b"HELO", "501 Syntax: HELO hostname"),
    (b"EHLO", "501 Syntax: EHLO hostname"),
    (b"MAIL", "501 5.5.4 Syntax: MAIL FROM:<address>"),
    (b"MAIL FROM:", "501 5.5.4 Syntax: MAIL FROM:<address>"),
    (b"MAIL TO:<a@b>", "501 5.5.4 Syntax: MAIL FROM:<address>"),
    (b"MAIL FROM :<a@b>", "501 5.5.4 Syntax: MAIL FROM:<address>"),
    (b"MAIL FROM:<a@b", "501 5.1.7 Bad sender address syntax"),
    (b"MAIL FROM:<a b@example.com>", "501 5.1.7 Bad sender address syntax"),
    (b"MAIL FROM:<a@b> FOO", "555 5.5.4 Unsupported option: FOO"),
    (b"MAIL FROM:<a@b> SIZE=x", "501 5.5.4 Bad message size syntax"),
    (b"RCPT", "501 5.5.4 Syntax: RCPT TO:<address>"),
    (b"RCPT FROM:<a@b>", "501 5.5.4 Syntax: RCPT TO:<address>"),
    (b"RCPT TO:<>", "501 5.1.3 Bad recipient address syntax"),
    (b'RCPT TO:<"a@b>', "501 5.1.3 Bad recipient address syntax"),
    (b"RCPT TO:<a@b> NOTIFY=ALWAYS", "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
    (b"DATA now", "501 5.5.4 Syntax: DATA"),
    (b"RSET all", "501 5.5.4 Syntax: RSET"),
    (b"STARTTLS please", "501 5.5.4 Syntax: STARTTLS"),
    (b"VRFY", "501 5.5.4 Syntax: VRFY address [SMTPUTF8]"),
    (b"ETRN", "500 Syntax: ETRN domain"),
    (b"ETRN a b", "500 Syntax: ETRN domain"),
    (b"AUTH", "501 5.5.4 Syntax: AUTH mechanism"),
    (b"AUTH PLAIN a b", "501 5.5.4 Syntax: AUTH mechanism"),
    (b"XCLIENT", "501 5.5.4 Syntax: XCLIENT attribute=value..."),
    (b"XFORWARD", "501 5.5.4 Syntax: XFORWARD attribute=value..."),
    (b"XCLIENT NAME", "501 5.5.4 Error: attribute=value expected"),
    (b"XCLIENT NAME=", "501 5.5.4 Error: attribute=value expected"),
    (b"XCLIENT NAME=" + b"x" * 256, "501 5.5.4 Error: attribute value too long"),
    (b"NOOP\0", "500 5.5.2 Error: bad syntax"),
    (b"HELO \xff\xfe", "500 5.5.2 Error: bad UTF-8 syntax"),
    (b"VRFY " + b" x" * 40, "501 5.5.4 Error: too many parameters"),
]


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("line, reply", REFUSED, ids=[r[0][:30].decode("latin-1")
                                                      for r in REFUSED])
def test_refused_lines(line, reply, chunking):
    """A line the engine refuses is a BadCommand with Postfix's reply; the session goes on."""
    events = run(line + b"\r\nNOOP\r\n", chunking)
    assert [type(e) for e in events] == [BadCommand, Noop]
    assert str(events[0].reply) == reply
    assert not events[0].close
    assert events[0].line == line


atext = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
simple_paths = st.builds(
    lambda local, domain: f"<{local}@{domain}>",
    st.lists(st.text(atext, min_size=1, max_size=6), min_size=1, max_size=3).map(".".join),
    st.lists(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,5}[A-Za-z0-9])?", fullmatch=True),
             min_size=1, max_size=3).map(".".join))


@given(simple_paths)
def test_fast_path_agrees_with_the_address_parser(path):
    """The shortcut for <dot-atom@domain> gives what parse_path gives."""
    from mailflow.address.parse import parse_path
    from mailflow.smtp.server import _SIMPLE_PATH
    assert _SIMPLE_PATH.fullmatch(path)
    ev = one(f"MAIL FROM:{path}\r\n".encode())
    assert ev.address == parse_path(path)


def test_strict_rfc821_envelopes_needs_brackets():
    """With strict_rfc821_envelopes an address without <> is a bad address."""
    ev = one(b"MAIL FROM:a@example.com\r\n", strict_rfc821_envelopes=True)
    assert str(ev.reply) == "501 5.1.7 Bad sender address syntax"
    assert isinstance(one(b"MAIL FROM:<a@example.com>\r\n", strict_rfc821_envelopes=True),
                      MailFrom)


def test_discarded_extensions_refuse_their_parameters():
    """dsn=False and smtputf8=False refuse those parameters, as when Postfix discards them."""
    assert str(one(b"RCPT TO:<a@b> NOTIFY=NEVER\r\n", dsn=False).reply) == \
        "501 5.7.1 DSN support is disabled"
    assert str(one(b"MAIL FROM:<a@b> SMTPUTF8\r\n", smtputf8=False).reply) == \
        "555 5.5.4 Unsupported option: SMTPUTF8"


def test_lmtp_mode_takes_lhlo_and_refuses_helo():
    """In LMTP mode LHLO is the greeting and HELO/EHLO are not recognized."""
    assert one(b"LHLO client\r\n", lmtp=True) == Hello("LHLO", "client")
    for verb in (b"HELO", b"EHLO"):
        ev = one(verb + b" client\r\n", lmtp=True)
        assert isinstance(ev, BadCommand)
        assert str(ev.reply) == "500 5.5.2 Error: command not recognized"
    assert str(one(b"LHLO\r\n", lmtp=True).reply) == "501 Syntax: LHLO hostname"


def test_pipelined_flag_tells_whether_more_input_was_waiting():
    """A command followed by buffered input is pipelined; the last one of the read is not."""
    events = run(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n")
    assert [e.pipelined for e in events] == [True, True, False]
    assert [e.pipelined for e in run(b"NOOP\r\nNOOP\r\n", "bytewise")] == [False, False]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_bare_lf_command_accepted_under_normalize_and_no(chunking):
    """A command ending in bare LF is read as a line unless bare newlines are rejected."""
    for mode in ("normalize", "no"):
        events = run(b"NOOP\nQUIT\r\n", chunking, bare_newline=mode)
        assert [unpipelined(e) for e in events] == [Noop(), Quit()]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_bare_lf_command_rejected_and_closes_under_reject(chunking):
    """Under reject a bare-LF command gets 550 5.5.2 ... Error: bare <LF> received and a hang-up."""
    events = run(b"NOOP\n", chunking, bare_newline="reject", hostname="mx.example")
    assert len(events) == 1 and events[0].close
    assert str(events[0].reply) == "550 5.5.2 mx.example Error: bare <LF> received"


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_overlong_command_is_refused_after_its_end(chunking):
    """A line over line_length_limit is skipped to its end and refused; the next line is read."""
    line = b"VRFY " + b"x" * 200
    events = run(line + b"\r\nNOOP\r\n", chunking, line_length_limit=100, hostname="mx.example")
    assert [type(e) for e in events] == [BadCommand, Noop]
    assert str(events[0].reply) == "500 5.5.2 mx.example Error: command too long"
    assert events[0].verb == "VRFY" and events[0].line == line[:100]


def test_line_of_exactly_the_limit_is_accepted():
    """line_length_limit counts the line without its CRLF."""
    line = b"NOOP " + b"x" * 95
    assert run(line + b"\r\n", line_length_limit=100) == [Noop()]
    assert isinstance(run(line + b"x\r\n", line_length_limit=100)[0], BadCommand)


def test_megabyte_command_line_uses_bounded_memory():
    """A 1 MB command line costs at most line_length_limit bytes of buffer."""
    engine = ServerEngine(line_length_limit=2048)
    engine.receive_data(b"HELO ")
    for _ in range(1024):
        engine.receive_data(b"a" * 1024)
        assert engine.next_event() is NEED_DATA
        assert len(engine._buf) <= 2049 and len(engine._skipped) <= 2048
    engine.receive_data(b"\r\nQUIT\r\n")
    ev = engine.next_event()
    assert isinstance(ev, BadCommand) and ev.reply.code == 500 and ev.verb == "HELO"
    assert engine.next_event() == Quit()


def test_tokenizer_follows_postfix():
    """Words split at white space except inside <...> and quotes; FROM: and TO: end at the colon."""
    assert [w for w, _ in tokenize("MAIL FROM:<a@b>")] == ["MAIL", "FROM:", "<a@b>"]
    assert [w for w, _ in tokenize("RCPT TO: <a@b>  NOTIFY=NEVER")] == \
        ["RCPT", "TO:", "<a@b>", "NOTIFY=NEVER"]
    assert [w for w, _ in tokenize('x <"a >b"@c> y')] == ["x", '<"a >b"@c>', "y"]
    assert [w for w, _ in tokenize(r"a\ b c")] == [r"a\ b", "c"]
    assert [w for w, _ in tokenize("XFOO:bar")] == ["XFOO:bar"]
    assert tokenize('say "unterminated here') == [("say", False), ('"unterminated here', True)]
    assert tokenize("") == [] and tokenize(" \t ") == []


# --- AUTH and STARTTLS ----------------------------------------------------------

@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_auth_response_line_after_334(chunking):
    """After start_auth_response() the next line is an AuthResponse, even if it reads like QUIT."""
    engine = ServerEngine()
    pieces = [b"AUTH LOGIN\r\n", b"QUIT\r\n", b"QUIT\r\n"]
    if chunking == "bytewise":
        pieces = [bytes([b]) for p in pieces for b in p]
    events = []
    for piece in pieces:
        engine.receive_data(piece)
        while (ev := engine.next_event()) is not NEED_DATA:
            events.append(ev)
            if isinstance(ev, Auth):
                engine.start_auth_response()
    assert events == [Auth("LOGIN", None), AuthResponse("QUIT"), Quit()]


def test_auth_response_over_the_limit():
    """An AUTH response longer than smtpd_sasl_response_limit gets Postfix's 500 5.5.6."""
    engine = ServerEngine(auth_line_limit=50)
    engine.start_auth_response()
    engine.receive_data(b"A" * 80 + b"\r\nNOOP\r\n")
    ev = engine.next_event()
    assert str(ev.reply) == "500 5.5.6 SASL response limit exceeded"
    assert engine.next_event() == Noop()


def test_auth_response_may_be_longer_than_a_command():
    """AUTH responses have their own, larger limit (smtpd_sasl_response_limit)."""
    engine = ServerEngine(line_length_limit=100)
    engine.start_auth_response()
    engine.receive_data(b"B" * 5000 + b"\r\n")
    assert engine.next_event() == AuthResponse("B" * 5000)


def test_start_tls_discards_injected_commands():
    """Commands sent with STARTTLS before the handshake are dropped and returned (CVE-2011-0411)."""
    engine = ServerEngine()
    engine.receive_data(b"STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n")
    assert engine.next_event() == StartTls(pipelined=True)
    assert engine.start_tls() == b"MAIL FROM:<evil@example.com>\r\n"
    assert engine.next_event() is NEED_DATA
    engine.receive_data(b"EHLO again\r\n")
    assert engine.next_event() == Hello("EHLO", "again")


# --- DATA in a session ----------------------------------------------------------

@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_data_session(chunking):
    """DATA, start_data(), content, end marker, then the next command."""
    wire = (b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
            b"Subject: x\r\n\r\n..hidden\r\n.\r\nQUIT\r\n")
    events = [unpipelined(e) for e in run(wire, chunking)]
    assert events == [
        MailFrom("a@b", MailParams(), "<a@b>"), RcptTo("c@d", RcptParams(), "<c@d>"), Data(),
        MessageData(b"Subject: x\n\n.hidden\n"), EndOfMessage(20, False), Quit(),
    ]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_smuggling_attempt_stays_one_message(chunking):
    """<LF>.<CR><LF> does not end the message, so a smuggled transaction is content."""
    wire = (b"DATA\r\nfirst\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nevil\r\n.\r\n"
            b"QUIT\r\n")
    events = run(wire, chunking)
    assert [type(e) for e in events] == [Data, MessageData, EndOfMessage, Quit]
    assert events[1].data == b"first\nMAIL FROM:<evil@x>\nRCPT TO:<v@y>\nDATA\nevil\n"
    assert events[2].bare_newline


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_smuggling_ends_the_message_under_legacy(chunking):
    """bare_newline = no behaves as Postfix before 3.9: <LF>.<CR><LF> ends the message."""
    wire = b"DATA\r\nfirst\n.\r\nRSET\r\n"
    events = run(wire, chunking, bare_newline="no")
    assert [type(e) for e in events] == [Data, MessageData, EndOfMessage, Rset]


def test_data_refused_leaves_the_next_lines_as_commands():
    """When the service does not call start_data(), what follows is read as commands."""
    events = drive(ServerEngine(), [b"DATA\r\nSubject: x\r\n"], accept_data=False)
    assert events == [Data(pipelined=True), UnknownCommand("SUBJECT:", b"Subject: x")]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_stop_data_skips_content_but_reports_the_end(chunking):
    """After stop_data() content is skipped to the end marker; EndOfMessage says so."""
    engine = ServerEngine()
    wire = b"DATA\r\n" + b"line\r\n" * 100 + b".\r\nNOOP\r\n"
    pieces = [wire] if chunking == "whole" else [wire[i:i + 1] for i in range(len(wire))]
    events = []
    for piece in pieces:
        engine.receive_data(piece)
        while (ev := engine.next_event()) is not NEED_DATA:
            events.append(ev)
            if isinstance(ev, Data):
                engine.start_data()
                engine.stop_data()
    assert [type(e) for e in events] == [Data, EndOfMessage, Noop]
    assert events[1] == EndOfMessage(500, False, discarded=True)


def test_stop_data_midway_keeps_what_was_passed_on():
    """stop_data() after some content has been passed on skips only the rest."""
    engine = ServerEngine()
    engine.receive_data(b"DATA\r\n")
    assert isinstance(engine.next_event(), Data)
    engine.start_data()
    engine.receive_data(b"part one\r\n")
    assert engine.next_event() == MessageData(b"part one\n")
    engine.stop_data()
    engine.receive_data(b"part two\r\n.\r\n")
    assert engine.next_event() == EndOfMessage(18, False, discarded=True)


def test_stop_data_after_the_whole_message_was_read():
    """stop_data() on the first piece of a message that arrived in one read drops the rest."""
    engine = ServerEngine()
    engine.receive_data(b"DATA\r\n")
    engine.next_event()
    engine.start_data()
    engine.receive_data(b"x" * 100 + b"\r\n.\r\nNOOP\r\n")
    assert engine.next_event() == MessageData(b"x" * 100 + b"\n")
    engine.stop_data()
    assert engine.next_event() == EndOfMessage(101, False, discarded=True)
    assert engine.next_event() == Noop()
    with pytest.raises(RuntimeError):
        engine.stop_data()


def test_stop_data_on_a_bdat_chunk_already_read():
    """stop_data() after the chunk's bytes were all read still marks its end discarded."""
    engine = ServerEngine()
    engine.receive_data(b"BDAT 3 LAST\r\nabc")
    assert engine.next_event() == Bdat(3, True)
    assert engine.next_event() == MessageData(b"abc")
    engine.stop_data()
    assert engine.next_event() == BdatChunkEnd(True, 3, discarded=True)
    assert engine.next_event() == EndOfMessage(3, False, discarded=True)


def test_stop_data_outside_content_is_an_error():
    """stop_data() and start_data() are only valid at the right moment."""
    engine = ServerEngine()
    with pytest.raises(RuntimeError):
        engine.stop_data()
    engine.start_data()
    with pytest.raises(RuntimeError):
        engine.start_data()


# --- BDAT in a session ----------------------------------------------------------

@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_bdat_session(chunking):
    """BDAT chunks are read by count, CR/LF split over chunks, then EndOfMessage after LAST."""
    wire = b"BDAT 6\r\nab\r\nc\rBDAT 3 LAST\r\n\ndeNOOP\r\n"
    events = [unpipelined(e) for e in run(wire, chunking)]
    assert events[0] == Bdat(6, False)
    assert [type(e) for e in events] == [Bdat, MessageData, BdatChunkEnd, Bdat, MessageData,
                                         BdatChunkEnd, EndOfMessage, Noop]
    content = events[1].data + events[4].data
    assert content == b"ab\nc\nde"
    assert events[2] == BdatChunkEnd(False, 6)
    assert events[5] == BdatChunkEnd(True, 3)
    assert events[6] == EndOfMessage(7, False)


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_bdat_zero_last(chunking):
    """BDAT 0 LAST ends the message at once."""
    events = run(b"BDAT 0 LAST\r\nQUIT\r\n", chunking)
    assert [unpipelined(e) for e in events] == [
        Bdat(0, True), BdatChunkEnd(True, 0), EndOfMessage(0, False), Quit()]


def test_bdat_dots_and_commands_inside_are_content():
    """BDAT content is not dot-unstuffed and lines that look like commands are content."""
    events = run(b"BDAT 13 LAST\r\n.\r\nQUIT\r\n..\r\n")
    assert events[1] == MessageData(b".\nQUIT\n..\n")


def test_bdat_final_cr_is_content():
    """A CR ending the LAST chunk is content (no LF can follow it)."""
    events = run(b"BDAT 2 LAST\r\na\r")
    assert events[1:] == [MessageData(b"a\r"), BdatChunkEnd(True, 2), EndOfMessage(2, False)]


def test_bdat_pipelined_means_more_than_the_chunk_was_waiting():
    """The chunk's own bytes do not make BDAT pipelined; bytes after them do."""
    assert run(b"BDAT 2 LAST\r\nab")[0].pipelined is False
    assert run(b"BDAT 2 LAST\r\nabQUIT\r\n")[0].pipelined is True


@pytest.mark.parametrize("line", [b"BDAT", b"BDAT x", b"BDAT -1", b"BDAT 1 FIRST", b"BDAT 1 LAST x",
                                  b"BDAT 99999999999999999999"])
def test_bad_bdat_closes(line):
    """A malformed BDAT gets 521 5.5.4 Syntax: BDAT count [LAST] and a hang-up, as in Postfix."""
    ev = run(line + b"\r\n")[0]
    assert str(ev.reply) == "521 5.5.4 Syntax: BDAT count [LAST]" and ev.close


def test_stop_data_discards_one_bdat_chunk():
    """stop_data() after Bdat skips that chunk's bytes only."""
    engine = ServerEngine()
    engine.receive_data(b"BDAT 3\r\nabcBDAT 2 LAST\r\nde")
    events = []
    while (ev := engine.next_event()) is not NEED_DATA:
        events.append(ev)
        if ev == Bdat(3, False, pipelined=True):
            engine.stop_data()
    assert events[1:] == [BdatChunkEnd(False, 3, discarded=True), Bdat(2, True),
                          MessageData(b"de"), BdatChunkEnd(True, 2),
                          EndOfMessage(5, False, discarded=True)]


def test_rset_between_chunks_starts_a_new_message():
    """RSET ends a BDAT message: a CR held from its chunk does not join the next message."""
    events = run(b"BDAT 2\r\na\rRSET\r\nBDAT 2 LAST\r\n\nb")
    assert events[-1] == EndOfMessage(2, True)
    assert MessageData(b"\nb") in events


# --- closing --------------------------------------------------------------------

def test_close_gives_closed_for_good():
    """After b"" and the buffered input, next_event() returns CLOSED every time."""
    engine = ServerEngine()
    engine.receive_data(b"QUIT\r\n")
    engine.receive_data(b"")
    assert engine.next_event() == Quit()
    assert engine.next_event() is CLOSED
    assert engine.next_event() is CLOSED
    assert isinstance(CLOSED, ConnectionClosed) and engine.unfinished is None


@pytest.mark.parametrize("wire, unfinished", [
    (b"NOOP", "command"),
    (b"DATA\r\nhalf a message\r\n", "data"),
    (b"BDAT 10\r\nabc", "bdat"),
    (b"NOOP\r\n", None),
])
def test_close_reports_what_was_cut(wire, unfinished):
    """unfinished says whether the client hung up mid-command, mid-DATA or mid-BDAT."""
    engine = ServerEngine()
    drive(engine, [wire])
    assert engine.unfinished == unfinished
    assert engine.next_event() is CLOSED


def test_bytes_after_close_are_an_error():
    """receive_data() after b"" is a programming error in the service."""
    engine = ServerEngine()
    engine.receive_data(b"")
    engine.receive_data(b"")
    with pytest.raises(SmtpProtocolError):
        engine.receive_data(b"x")


def test_bad_options_are_refused():
    """An unknown bare_newline mode or a tiny line limit is a ValueError."""
    with pytest.raises(ValueError):
        ServerEngine(bare_newline="maybe")
    with pytest.raises(ValueError):
        ServerEngine(line_length_limit=3)


# --- properties -----------------------------------------------------------------

addresses = st.from_regex(r"[a-z0-9+_-]{1,8}(\.[a-z0-9+_-]{1,8}){0,2}@[a-z0-9]{1,10}\.example",
                          fullmatch=True)
bodies = st.lists(st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"\n", b"\r", b"\r\n", b".", b"\n.", b"\n..", b".\n", b"\n.\n", b"\n.\r\n",
                     b"\r.\r", b"\xff\xfe", b"y" * 5000]),
), max_size=16).map(b"".join)


def random_pieces(wire: bytes, cuts: list[int]) -> list[bytes]:
    cuts = sorted(c % (len(wire) + 1) for c in cuts)
    out, prev = [], 0
    for c in cuts + [len(wire)]:
        out.append(wire[prev:c])
        prev = c
    return out


def session_events(sender, recipients):
    return ([Hello("EHLO", "client.example"), MailFrom(sender, MailParams(), f"<{sender}>")]
            + [RcptTo(r, RcptParams(), f"<{r}>") for r in recipients])


@settings(max_examples=200, deadline=None)
@given(addresses, st.lists(addresses, min_size=1, max_size=4), bodies,
       st.lists(st.integers(0, 10**6), max_size=20))
def test_data_session_round_trip(sender, recipients, body, cuts):
    """Any envelope and body, DATA-encoded and fed in random pieces, come back as sent."""
    wire = (b"EHLO client.example\r\n" + f"MAIL FROM:<{sender}>\r\n".encode()
            + b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in recipients)
            + b"DATA\r\n" + encode_data(body) + b"QUIT\r\n")
    events = [unpipelined(e) for e in drive(ServerEngine(), random_pieces(wire, cuts))]
    expected_body = body if body == b"" or body.endswith(b"\n") else body + b"\n"
    content = [MessageData(expected_body)] if expected_body else []
    assert events == session_events(sender, recipients) + [
        Data(), *content, EndOfMessage(len(expected_body), False), Quit()]


@settings(max_examples=200, deadline=None)
@given(addresses, st.lists(addresses, min_size=1, max_size=4), bodies,
       st.lists(st.integers(0, 10**6), max_size=5), st.lists(st.integers(0, 10**6), max_size=20))
def test_bdat_session_round_trip(sender, recipients, body, chunk_cuts, cuts):
    """Any body sent as BDAT chunks of any sizes, fed in random pieces, comes back exactly."""
    chunks = random_pieces(encode_bdat(body), chunk_cuts)
    wire = (b"EHLO client.example\r\n" + f"MAIL FROM:<{sender}>\r\n".encode()
            + b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in recipients)
            + b"".join(f"BDAT {len(c)}{' LAST' if i == len(chunks) - 1 else ''}\r\n".encode() + c
                       for i, c in enumerate(chunks))
            + b"QUIT\r\n")
    events = [unpipelined(e) for e in drive(ServerEngine(), random_pieces(wire, cuts))]
    n = 2 + len(recipients)
    assert events[:n] == session_events(sender, recipients)
    assert b"".join(e.data for e in events if isinstance(e, MessageData)) == body
    assert [e.size for e in events if isinstance(e, Bdat)] == [len(c) for c in chunks]
    assert events[-2:] == [EndOfMessage(len(body), False), Quit()]
