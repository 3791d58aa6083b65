"""ESMTP parameters, xtext and EHLO capabilities, with Postfix's replies for refused parameters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailflow.smtp.errors import ParameterError
from mailflow.smtp.esmtp import (
    Extensions, MailParams, RcptParams, ehlo_lines, parse_mail_params, parse_rcpt_params,
    xtext_decode, xtext_encode,
)
from mailflow.smtp.reply import Reply


# --- xtext ------------------------------------------------------------------

@pytest.mark.parametrize("plain, coded", [
    ("", ""), ("abc", "abc"), ("a+b", "a+2Bb"), ("a=b", "a+3Db"), ("a b", "a+20b"),
    ("\t", "+09"), ("~!", "~!"), ("ü", "+C3+BC"),
])
def test_xtext_encode(plain, coded):
    """'+', '=', space, controls and non-ASCII are hex-encoded (RFC 3461 4)."""
    assert xtext_encode(plain) == coded


@pytest.mark.parametrize("coded, plain", [
    ("a+2Bb", "a+b"), ("a+2bb", "a+b"), ("+3D+3d", "=="), ("+C3+BC", "ü"), ("x", "x"),
])
def test_xtext_decode(coded, plain):
    """+XX decodes in either case of hex digit."""
    assert xtext_decode(coded) == plain


@pytest.mark.parametrize("coded", ["+", "a+2", "+GG", "+2", "+FF"],
                         ids=["lone-plus", "one-digit", "not-hex", "short", "not-utf8"])
def test_xtext_decode_rejects_bad_input(coded):
    """A '+' without two hex digits (or bytes that are not UTF-8) is a ValueError."""
    with pytest.raises(ValueError):
        xtext_decode(coded)


@given(st.text())
def test_xtext_round_trips(text):
    """Decoding an encoding gives the text back; the encoding is plain printable ASCII."""
    coded = xtext_encode(text)
    assert all(33 <= ord(c) <= 126 for c in coded) and "=" not in coded
    assert xtext_decode(coded) == text


# --- MAIL FROM --------------------------------------------------------------

@pytest.mark.parametrize("tokens, expected", [
    ([], MailParams()),
    (["SIZE=0"], MailParams(size=0)),
    (["size=12345"], MailParams(size=12345)),
    (["SIZE=1", "SIZE=2"], MailParams(size=2)),
    (["BODY=7bit"], MailParams(body="7BIT")),
    (["body=8BITMIME"], MailParams(body="8BITMIME")),
    (["smtputf8"], MailParams(smtputf8=True)),
    (["RET=full"], MailParams(ret="FULL")),
    (["RET=HDRS"], MailParams(ret="HDRS")),
    (["ENVID=abc+2Bdef"], MailParams(envid="abc+def")),
    (["AUTH=<>"], MailParams(auth="<>")),
    (["AUTH=joe+40example.com"], MailParams(auth="joe@example.com")),
    (["AUTH=not+xtext"], MailParams(auth="not+xtext")),
    (["SIZE=9", "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=id1"],
     MailParams(size=9, body="8BITMIME", smtputf8=True, ret="HDRS", envid="id1")),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_mail_params_accepted(tokens, expected):
    """Each supported MAIL FROM parameter is parsed, case-insensitively."""
    assert parse_mail_params(tokens) == expected


# Replies as Postfix 3.7's smtpd.c mail_cmd() words them.
@pytest.mark.parametrize("tokens, reply", [
    (["SIZE=abc"], "501 5.5.4 Bad message size syntax"),
    (["SIZE="], "501 5.5.4 Bad message size syntax"),
    (["SIZE=-1"], "501 5.5.4 Bad message size syntax"),
    (["SIZE=٣"], "501 5.5.4 Bad message size syntax"),
    (["SIZE=99999999999999999999"], "552 5.3.4 Message size exceeds file system imposed limit"),
    (["BODY=BINARYMIME"], "555 5.5.4 Unsupported option: BODY=BINARYMIME"),
    (["BODY=9BIT"], "555 5.5.4 Unsupported option: BODY=9BIT"),
    (["RET=NONE"], "501 5.5.4 Bad RET parameter syntax"),
    (["RET=FULL", "RET=FULL"], "501 5.5.4 Bad RET parameter syntax"),
    (["ENVID=a+zz"], "501 5.5.4 Bad ENVID parameter syntax"),
    (["ENVID=a+01"], "501 5.5.4 Bad ENVID parameter syntax"),
    (["ENVID=a", "ENVID=b"], "501 5.5.4 Bad ENVID parameter syntax"),
    (["AUTH=<>", "AUTH=<>"], "503 5.5.4 Error: multiple AUTH= options"),
    (["SMTPUTF8=yes"], "555 5.5.4 Unsupported option: SMTPUTF8=yes"),
    (["XVERP"], "555 5.5.4 Unsupported option: XVERP"),
    (["FOO"], "555 5.5.4 Unsupported option: FOO"),
    (["SIZE"], "555 5.5.4 Unsupported option: SIZE"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_mail_params_refused_with_postfix_reply(tokens, reply):
    """A refused parameter raises ParameterError carrying Postfix's reply."""
    with pytest.raises(ParameterError) as info:
        parse_mail_params(tokens)
    assert str(info.value.reply) == reply


def test_mail_params_follow_offered_extensions():
    """DSN parameters need DSN offered; SMTPUTF8 needs smtputf8; BINARYMIME needs binarymime."""
    with pytest.raises(ParameterError, match="501 5.7.1 DSN support is disabled"):
        parse_mail_params(["RET=FULL"], dsn=False)
    with pytest.raises(ParameterError, match="501 5.7.1 DSN support is disabled"):
        parse_mail_params(["ENVID=x"], dsn=False)
    with pytest.raises(ParameterError, match="Unsupported option: SMTPUTF8"):
        parse_mail_params(["SMTPUTF8"], smtputf8=False)
    assert parse_mail_params(["BODY=binarymime"], binarymime=True).body == "BINARYMIME"


@given(st.builds(MailParams,
                 size=st.one_of(st.none(), st.integers(0, 2**40)),
                 body=st.sampled_from([None, "7BIT", "8BITMIME"]),
                 smtputf8=st.booleans(),
                 ret=st.sampled_from([None, "FULL", "HDRS"]),
                 envid=st.one_of(st.none(), st.text(st.characters(min_codepoint=32,
                                                                  max_codepoint=126))),
                 auth=st.one_of(st.none(), st.just("<>"), st.text(min_size=1))))
def test_mail_params_format_then_parse(params):
    """What the client writes, the server reads back the same."""
    assert parse_mail_params(params.tokens()) == params


# --- RCPT TO ----------------------------------------------------------------

@pytest.mark.parametrize("tokens, expected", [
    ([], RcptParams()),
    (["NOTIFY=NEVER"], RcptParams(notify={"NEVER"})),
    (["notify=success,failure,delay"], RcptParams(notify={"SUCCESS", "FAILURE", "DELAY"})),
    (["NOTIFY=FAILURE,,DELAY"], RcptParams(notify={"FAILURE", "DELAY"})),
    (["ORCPT=rfc822;bob+2Bx@example.com"], RcptParams(orcpt="rfc822;bob+x@example.com")),
    (["ORCPT=utf-8;j+C3+B6ran@example.se"], RcptParams(orcpt="utf-8;jöran@example.se")),
    (["ORCPT=x-local;a;b"], RcptParams(orcpt="x-local;a;b")),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_rcpt_params_accepted(tokens, expected):
    """NOTIFY and ORCPT are parsed as RFC 3461 defines them."""
    assert parse_rcpt_params(tokens) == expected


# Replies as Postfix 3.7's smtpd.c rcpt_cmd() words them.
@pytest.mark.parametrize("tokens, reply", [
    (["NOTIFY="], "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
    (["NOTIFY=NEVER,SUCCESS"], "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
    (["NOTIFY=ALWAYS"], "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
    (["NOTIFY=DELAY", "NOTIFY=DELAY"], "501 5.5.4 Error: Bad NOTIFY parameter syntax"),
    (["ORCPT=rfc822"], "501 5.5.4 Error: Bad ORCPT parameter syntax"),
    (["ORCPT=;bob@example.com"], "501 5.5.4 Error: Bad ORCPT parameter syntax"),
    (["ORCPT=rfc822;bob+zz"], "501 5.5.4 Error: Bad ORCPT parameter syntax"),
    (["ORCPT=rfc822;a+00b"], "501 5.5.4 Error: Bad ORCPT parameter syntax"),
    (["ORCPT=rfc822;a", "ORCPT=rfc822;b"], "501 5.5.4 Error: Bad ORCPT parameter syntax"),
    (["SIZE=10"], "555 5.5.4 Unsupported option: SIZE=10"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_rcpt_params_refused_with_postfix_reply(tokens, reply):
    """A refused parameter raises ParameterError carrying Postfix's reply."""
    with pytest.raises(ParameterError) as info:
        parse_rcpt_params(tokens)
    assert str(info.value.reply) == reply


def test_rcpt_params_need_dsn():
    """NOTIFY and ORCPT are refused when DSN is not offered."""
    for tokens in (["NOTIFY=NEVER"], ["ORCPT=rfc822;a@b"]):
        with pytest.raises(ParameterError, match="501 5.7.1 DSN support is disabled"):
            parse_rcpt_params(tokens, dsn=False)


@given(st.builds(RcptParams,
                 notify=st.one_of(st.just(frozenset({"NEVER"})),
                                  st.sets(st.sampled_from(["SUCCESS", "FAILURE", "DELAY"]))),
                 orcpt=st.one_of(st.none(), st.text(st.characters(min_codepoint=1,
                                                                  exclude_categories=("Cs",)),
                                                    min_size=1)
                                 .map(lambda a: "rfc822;" + a))))
def test_rcpt_params_format_then_parse(params):
    """What the client writes, the server reads back the same."""
    assert parse_rcpt_params(params.tokens()) == params


def test_format_joins_tokens():
    """format() is the tokens joined by spaces; empty when nothing is set."""
    assert MailParams().format() == "" and RcptParams().format() == ""
    assert RcptParams(notify={"DELAY", "NEVER"} - {"NEVER"}).format() == "NOTIFY=DELAY"


# --- EHLO -------------------------------------------------------------------

POSTFIX_EHLO = Reply.of(250, "\n".join([
    "mx.example.com", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS",
    "AUTH PLAIN LOGIN", "AUTH=PLAIN LOGIN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
    "SMTPUTF8", "CHUNKING"]))


def test_extensions_from_a_postfix_ehlo_reply():
    """Every capability Postfix 3.7 advertises is recognised."""
    ext = Extensions.parse(POSTFIX_EHLO)
    assert (ext.pipelining, ext.size, ext.dsn, ext.smtputf8, ext.eightbitmime, ext.chunking,
            ext.starttls, ext.enhancedstatuscodes) == (True, 10240000) + (True,) * 6
    assert ext.auth == {"PLAIN", "LOGIN"}
    assert ext.keywords["VRFY"] == "" and "ETRN" in ext.keywords


def test_extensions_of_a_plain_server():
    """A server offering nothing gives no capabilities; SIZE without a number is 0."""
    ext = Extensions.parse(Reply.of(250, "mx"))
    assert (ext.pipelining, ext.size, ext.auth, ext.chunking) == (False, None, frozenset(), False)
    assert Extensions.parse(Reply.of(250, "mx\nSIZE")).size == 0
    assert Extensions.parse(Reply.of(250, "mx\nsize 100\nauth=cram-md5")).size == 100
    assert Extensions.parse(Reply.of(250, "mx\nauth=cram-md5")).auth == {"CRAM-MD5"}


def test_ehlo_lines_builds_the_server_reply():
    """The EHLO reply is 250, the hostname first, one keyword a line, no enhanced code."""
    r = ehlo_lines("mx.example.com", ["PIPELINING", "SIZE 10240000"])
    assert r.format() == b"250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n"
    assert Extensions.parse(r).size == 10240000
