"""smtpd through the running daemon under Postfix's own SMTP clients.

Postfix's ``smtp-source`` sends many messages at 10 and at 50 sessions into
the ``discard`` transport (and a smaller run into virtual Maildirs): no
errors, every message accounted for in the log or the Maildir, the queue
empty at the end. The default run sends 5,000 messages per session count;
``MAILFLOW_LONG_TESTS=1`` sends 20,000. Then a private Postfix relays into
mailflow (``relayhost = [127.0.0.1]:PORT``) and the message arrives in a
mailflow Maildir.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_helpers import Mta, free_port, maildir_messages, smtpd_line, wait_until

SMTP_SOURCE = "/usr/sbin/smtp-source"
LONG = os.environ.get("MAILFLOW_LONG_TESTS") == "1"
MESSAGES = 20_000 if LONG else 5_000
# Deliveries keep up with acceptance; the deadline only guards a hang on a
# loaded 2-core machine.
DRAIN = 600.0 if LONG else 300.0

needs_smtp_source = pytest.mark.skipif(not os.access(SMTP_SOURCE, os.X_OK),
                                       reason="Postfix's smtp-source is not installed")


def smtp_source(port: int, *, messages: int, sessions: int, to: str,
                size: int = 1000) -> subprocess.CompletedProcess:
    """Run smtp-source against 127.0.0.1:``port`` (one message per session, as
    smtp-source does by default: what a busy MX sees)."""
    return subprocess.run([SMTP_SOURCE, "-s", str(sessions), "-m", str(messages),
                           "-l", str(size), "-f", "load@example.org", "-t", to,
                           "-M", "client.example.org", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=DRAIN)


def count(log: str, pattern: str) -> int:
    return len(re.findall(pattern, log, re.M))


@needs_smtp_source
@pytest.mark.parametrize("sessions", [10, 50])
def test_smtp_source_into_discard_loses_nothing(make_mta, sessions):
    """Every message smtp-source sends is queued, discarded (status=sent), and removed."""
    port = free_port()
    mta = make_mta(master_extra=smtpd_line(port), transport="sink.example discard:\n")
    run = smtp_source(port, messages=MESSAGES, sessions=sessions, to="user@sink.example")
    assert (run.returncode, run.stderr) == (0, ""), run.stderr[-2000:]
    wait_until(lambda: count(mta.log_text(), r": removed$") >= MESSAGES,
               f"{MESSAGES} messages removed", timeout=DRAIN)
    wait_until(mta.queue_is_empty, "an empty queue")
    log = mta.log_text()
    assert count(log, r"mailflow/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\]$") == MESSAGES
    assert count(log, r"mailflow/discard\[\d+\]: \w+: to=<user@sink\.example>, relay=none, "
                      r".*status=sent \(sink\.example\)$") == MESSAGES
    assert count(log, r": removed$") == MESSAGES
    assert "reject:" not in log and "warning:" not in log and "lost connection" not in log


@needs_smtp_source
def test_smtp_source_into_virtual_maildirs(make_mta):
    """1,000 messages at 10 sessions become 1,000 files in the Maildir, and the queue empties."""
    port = free_port()
    mta = make_mta(master_extra=smtpd_line(port))
    run = smtp_source(port, messages=1000, sessions=10, to="a@example.com")
    assert (run.returncode, run.stderr) == (0, ""), run.stderr[-2000:]
    wait_until(lambda: len(maildir_messages(mta.maildir("a"))) >= 1000,
               "1000 messages in a@'s Maildir", timeout=DRAIN)
    wait_until(mta.queue_is_empty, "an empty queue")
    assert len(maildir_messages(mta.maildir("a"))) == 1000
    assert count(mta.log_text(), r"status=sent \(delivered to maildir\)$") == 1000


# ---------------------------------------------------------------- a Postfix peer
BENCH = Path(__file__).resolve().parents[2] / "bench"


def _postfix_peer_reason() -> str | None:
    sys.path.insert(0, str(BENCH))
    try:
        from postfix_peer import why_unavailable
    finally:
        sys.path.remove(str(BENCH))
    return why_unavailable()


def test_private_postfix_relays_into_mailflow(make_mta):
    """Postfix's sendmail -> Postfix's queue -> its smtp client -> mailflow's smtpd -> a Maildir."""
    reason = _postfix_peer_reason()
    if reason is not None:
        pytest.skip(reason)
    sys.path.insert(0, str(BENCH))
    try:
        from postfix_peer import PostfixPeer
    finally:
        sys.path.remove(str(BENCH))
    port = free_port()
    mta: Mta = make_mta(master_extra=smtpd_line(port))
    # Under a temp dir of its own: Postfix's unprivileged daemons cannot enter
    # pytest's tmp_path (mode 0700).
    with PostfixPeer(port=free_port()) as peer:
        peer.postconf("-e", f"relayhost = [127.0.0.1]:{port}", "smtp_tls_security_level = none",
                      "queue_run_delay = 1s", "minimal_backoff_time = 1s",
                      "maximal_backoff_time = 2s")
        peer.start()
        sent = subprocess.run(peer.sendmail_argv("-f", "ann@peer.example.test", "b@example.com"),
                              input=b"Subject: relayed by Postfix\n\nFrom the peer.\n",
                              capture_output=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        [path] = mta.wait_for_mail(mta.maildir("b"))
        peer_log = wait_until(lambda: "status=sent" in (t := _read(peer.root / "maillog")) and t,
                              "the peer's delivery logged")
    text = path.read_bytes()
    assert b"Subject: relayed by Postfix" in text
    assert b"From the peer." in text
    # Postfix's smtp client reports mailflow's 250 reply, and mailflow logs the peer's EHLO.
    m = re.search(r"postfix/smtp\[\d+\]: (\w+): to=<b@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]"
                  rf":{port}, .*status=sent \(250 2\.0\.0 Ok: queued as (\w+)\)", peer_log)
    assert m, peer_log
    assert re.search(rb"by mail\.example\.com \(mailflow\) with ESMTP id " + m.group(2).encode(), text)
    assert re.search(r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 "
                     r"quit=1 commands=5", mta.log_text())


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
