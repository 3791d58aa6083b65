"""The bytes written for a delivery: From line, envelope headers, quoting."""

import pytest

from mailflow.delivery.mailcopy import (
    CopyFlags, delivered_to, envelope_headers, from_line, quote_dots, quote_from, render,
)


def test_from_line_has_two_spaces_and_asctime_date():
    """Postfix writes "From %s  %.24s" (mail_copy.c format string)."""
    assert from_line("a@example.com", 86400 * 365, tz_utc=True) == \
        b"From a@example.com  Fri Jan  1 00:00:00 1971\n"


def test_null_sender_is_mailer_daemon_in_from_line():
    """The null sender shows as MAILER-DAEMON on the From line."""
    assert from_line("", 0, tz_utc=True).startswith(b"From MAILER-DAEMON  ")


def test_envelope_headers_follow_postfix_order():
    """Return-Path, X-Original-To, Delivered-To, in that order (strings of
    Postfix 3.7's libpostfix-global.so mail_copy() show this order)."""
    out = envelope_headers(CopyFlags.MBOX, "s@x", "orig@x", "rcpt@x")
    assert out == b"Return-Path: <s@x>\nX-Original-To: orig@x\nDelivered-To: rcpt@x\n"


@pytest.mark.parametrize("given,want", [
    (b"From me\n", b">From me\n"),
    (b"a\nFrom b\n", b"a\n>From b\n"),
    (b">From c\n", b">From c\n"),
    (b"Fromage\n", b"Fromage\n"),
    (b"x From y\n", b"x From y\n"),
], ids=["first-line", "later-line", "already-quoted", "no-space", "mid-line"])
def test_from_quoting(given, want):
    """Only lines starting with "From " get a ">" (mboxo style, as Postfix)."""
    assert quote_from(given) == want


def test_dot_quoting_doubles_leading_dots():
    """The "." flag doubles a dot at the start of every line."""
    assert quote_dots(b".\n..x\ny.\n") == b"..\n...x\ny.\n"


def test_render_adds_missing_final_newline_and_blank_line():
    """An unterminated last line is ended, then the mbox blank line follows."""
    out = render(b"Subject: x\n\nbody", sender="s@x", recipient="r@x", flags=CopyFlags.BLANK)
    assert out == b"Subject: x\n\nbody\n\n"


def test_render_with_crlf_eol():
    """eol=\\r\\n turns every line end into CRLF."""
    out = render(b"a\nb\n", sender="s", recipient="r", flags=CopyFlags.NONE, eol=b"\r\n")
    assert out == b"a\r\nb\r\n"


def test_delivered_to_reads_all_headers_case_insensitively():
    """Loop detection sees every Delivered-To header, lowercased."""
    assert delivered_to(b"DELIVERED-TO: Bob@X\nDelivered-To: c@x\n") == {"bob@x", "c@x"}


def test_flag_letters():
    """pipe(8) letters select the matching copy flags; others are ignored."""
    assert CopyFlags.from_letters("FR>Bhqu") == (CopyFlags.FROM | CopyFlags.RETURN_PATH
                                                 | CopyFlags.QUOTE | CopyFlags.BLANK)


# What Postfix 3.7.11 local(8) wrote to mail_spool_directory/root for
# `printf 'Subject: t\nFrom: x@example.org\n\nFrom here\nbody\n' |
#  sendmail -f sender@example.org root` on a private instance
# (myhostname = mx.example.test); the queued content is the same minus the
# first four lines and the final blank line.
POSTFIX_MBOX = (
    b"From sender@example.org  Sun Nov 29 13:31:18 2026\n"
    b"Return-Path: <sender@example.org>\n"
    b"X-Original-To: root\n"
    b"Delivered-To: root@mx.example.test\n"
    b"Received: by mx.example.test (Postfix, from userid 0)\n"
    b"\tid 570C720CE89; Sun, 29 Nov 2026 13:31:18 +0000 (UTC)\n"
    b"Subject: t\n"
    b"From: x@example.org\n"
    b"Message-Id: <20261129133118.570C720CE89@mx.example.test>\n"
    b"Date: Sun, 29 Nov 2026 13:31:18 +0000 (UTC)\n"
    b"\n"
    b">From here\n"
    b"body\n"
    b"\n"
)


def test_mbox_bytes_match_postfix_local():
    """local's mbox copy is byte for byte what Postfix's local(8) writes."""
    queued = POSTFIX_MBOX.split(b"\n", 4)[4][:-1].replace(b">From here", b"From here")
    import calendar
    import time
    when = calendar.timegm(time.strptime("Sun Nov 29 13:31:18 2026", "%a %b %d %H:%M:%S %Y"))
    out = render(queued, sender="sender@example.org", recipient="root@mx.example.test",
                 original="root", flags=CopyFlags.MBOX, now=when, tz_utc=True)
    assert out == POSTFIX_MBOX
