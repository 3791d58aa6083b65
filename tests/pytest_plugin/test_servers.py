"""The fixtures with real sockets and processes: smtp_server and mailflow_daemon."""

from __future__ import annotations

import os
from pathlib import Path

pytest_plugins = ["pytester"]


def test_smtp_server_records_what_it_accepts(run):
    """smtp_server listens on 127.0.0.1 and records each message with its envelope."""
    result = run('''
import smtplib

def test_it(smtp_server):
    assert smtp_server.host == "127.0.0.1" and smtp_server.port > 0
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        code, banner = client.ehlo("client.example.org")
        assert code == 250 and banner.startswith(b"mx.example.com")
        client.sendmail("a@example.org", ["b@example.net", "c@example.net"],
                        "Subject: one\\r\\n\\r\\nhello\\r\\n")
        client.sendmail("", ["d@example.net"], "Subject: two\\r\\n\\r\\nhello\\r\\n")
    first, second = smtp_server.messages
    assert (first.sender, first.recipients, first.email["Subject"]) == (
        "a@example.org", ["b@example.net", "c@example.net"], "one")
    assert (second.sender, second.recipients) == ("", ["d@example.net"])
''')
    result.assert_outcomes(passed=1)


def test_smtp_server_takes_the_marker_and_a_handler(run):
    """The marker's parameters configure smtpd (a size limit gives Postfix's 552);
    a handler's Reply is what the client gets."""
    result = run('''
import smtplib
import pytest
from mailflow.smtp.reply import Reply

@pytest.mark.mailflow(message_size_limit="2000")
def test_size_limit(smtp_server):
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a@example.org", ["b@example.net"], "x" * 5000)
    assert refused.value.smtp_code == 552
    assert b"5.3.4 Message size exceeds fixed limit" in refused.value.smtp_error
    assert smtp_server.messages == []

def test_handler(smtp_server):
    smtp_server.handler = lambda envelope, message: Reply.of(554, "Transaction failed", "5.7.1")
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("a@example.org", ["b@example.net"], "Subject: x\\r\\n\\r\\nx\\r\\n")
    assert refused.value.smtp_code == 554
    assert [m.recipients for m in smtp_server.messages] == [["b@example.net"]]
''')
    result.assert_outcomes(passed=2)


def test_smtp_server_uses_dns_records_for_restrictions(run):
    """smtpd's DNS-based restrictions ask dns_records: an unknown sender domain is refused."""
    result = run('''
import smtplib
import pytest

@pytest.mark.mailflow(smtpd_sender_restrictions="reject_unknown_sender_domain")
def test_it(smtp_server, dns_records):
    dns_records.nxdomain("nowhere.example")
    dns_records.add("example.org", "MX", "10 mx.example.org")
    with smtplib.SMTP(smtp_server.host, smtp_server.port) as client:
        client.sendmail("a@example.org", ["b@example.net"], "Subject: x\\r\\n\\r\\nx\\r\\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("a@nowhere.example", ["b@example.net"], "Subject: x\\r\\n\\r\\nx\\r\\n")
    (code, text), = refused.value.recipients.values()
    # unknown_address_reject_code is 450 by default, as in Postfix.
    assert code == 450 and b"4.1.8 <a@nowhere.example>: Sender address rejected: Domain not found" in text
    assert [m.sender for m in smtp_server.messages] == ["a@example.org"]
''')
    result.assert_outcomes(passed=1)


def test_mailflow_daemon_runs_and_is_stopped(run, pytester):
    """mailflow_daemon is a running daemon: SMTP and sendmail mail reach the Maildirs,
    configure() makes it relay to smtp_server, a wait that times out shows the
    maillog; after the test no process of it is left."""
    result = run('''
import smtplib
import pytest

@pytest.mark.mailflow(mydestination="")
def test_it(mailflow_daemon, smtp_server):
    with open("daemon_dir", "w") as f:
        f.write(str(mailflow_daemon.directory))
    assert mailflow_daemon.cli("status").returncode == 0
    assert "mydestination =" in (mailflow_daemon.config_dir / "main.cf").read_text()
    with smtplib.SMTP(mailflow_daemon.host, mailflow_daemon.port) as client:
        client.sendmail("a@example.org", ["ann@example.com"], "Subject: by smtp\\r\\n\\r\\nhi\\r\\n")
    mailflow_daemon.sendmail(b"Subject: by sendmail\\n\\nhi\\n", "a@example.org", "bob@example.com")
    [ann] = mailflow_daemon.wait_for_mail("ann")
    [bob] = mailflow_daemon.wait_for_mail("bob")
    assert b"Subject: by smtp" in ann.read_bytes()
    assert b"Subject: by sendmail" in bob.read_bytes()
    mailflow_daemon.wait_for_log("status=sent")

    mailflow_daemon.configure(relayhost=f"[{smtp_server.host}]:{smtp_server.port}",
                              default_transport="smtp")
    mailflow_daemon.sendmail(b"Subject: out\\n\\nhi\\n", "a@example.org", "carl@example.net")
    mailflow_daemon.wait_for(lambda: smtp_server.messages, "the relayed message")
    assert smtp_server.messages[0].recipients == ["carl@example.net"]

    with pytest.raises(AssertionError) as failed:
        mailflow_daemon.wait_for_mail("ann", count=2, timeout=0.5)
    assert str(failed.value).startswith(
        "timed out after 0.5s waiting for 2 message(s) for ann@example.com; the maillog:")
    assert "status=sent" in str(failed.value)
''')
    result.assert_outcomes(passed=1)
    directory = (pytester.path / "daemon_dir").read_text()
    needle = os.fsencode(directory)
    alive = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle in Path(f"/proc/{entry}/cmdline").read_bytes():
                alive.append(entry)
        except OSError:
            continue
    assert alive == []
    assert not (Path(directory) / "spool" / "pid" / "master.pid").exists()

