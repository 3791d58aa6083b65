"""ETRN through the daemon: a destination of fast_flush_domains gets its
deferred mail tried again at once (and only its mail); another domain is
refused with 459, as Postfix's smtpd and flush answer."""

from __future__ import annotations

import smtplib

from e2e_helpers import free_port, smtpd_line, wait_until

MAIN = """\
relay_domains = relay.example
minimal_backoff_time = 1h
maximal_backoff_time = 2h
queue_run_delay = 1h
"""
TRANSPORT = "relay.example retry:4.4.1 site is down\nother.example retry:4.4.1 site is down\n"


def _attempts(mta, rcpt: str) -> int:
    return mta.log_text().count(f"to=<{rcpt}>,")


def test_etrn_flushes_only_the_named_destination(make_mta):
    port = free_port()
    mta = make_mta(master_extra=smtpd_line(port), main_extra=MAIN, transport=TRANSPORT)
    mta.sendmail("x@example.org", "b@relay.example", data="Subject: one\n\nhi\n")
    mta.sendmail("x@example.org", "c@other.example", data="Subject: two\n\nhi\n")
    wait_until(lambda: len(mta.queue_ids("deferred")) == 2, "two deferred messages")
    assert _attempts(mta, "b@relay.example") == _attempts(mta, "c@other.example") == 1

    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        # Postfix takes ETRN before HELO unless smtpd_helo_required.
        assert c.docmd("ETRN relay.example") == (250, b"Queuing started")
        assert c.docmd("ETRN other.example") == (459, b"<other.example>: service unavailable")
        assert c.docmd("ETRN") == (500, b"Syntax: ETRN domain")
    wait_until(lambda: _attempts(mta, "b@relay.example") == 2, "a second attempt for relay.example")
    assert _attempts(mta, "c@other.example") == 1
    assert "flush relay.example: 1 deferred message(s) due now" in mta.log_text()
