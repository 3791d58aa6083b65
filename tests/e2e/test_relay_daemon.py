"""Relaying out of the running daemon: sendmail -> smtp agent -> smtp-sink,
an MX found through dnsmasq, a 5xx that comes back as a bounce with the
remote server's words, and local mail handed to Dovecot over LMTP."""

from __future__ import annotations

import email
import email.policy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "delivery"))
from dovecot_peer import dovecot  # noqa: E402
from smtp_peers import dnsmasq, smtp_sink  # noqa: E402

from e2e_helpers import maildir_messages, wait_until  # noqa: E402

SMTP_SERVICE = "smtp      unix  -       -       n       -       -       smtp\n"
LMTP_SERVICE = "lmtp      unix  -       -       n       -       -       lmtp\n"


def test_sendmail_relays_through_relayhost_to_smtp_sink(make_mta, tmp_path):
    with smtp_sink(tmp_path, "-D", "dump") as port:
        mta = make_mta(main_extra=f"default_transport = smtp\nrelayhost = [127.0.0.1]:{port}\n",
                       master_extra=SMTP_SERVICE)
        mta.sendmail("a@example.com", "someone@remote.example",
                     data=b"Subject: relayed\n\n.dotted\nbody\n")
        wait_until(lambda: "status=sent" in mta.log_text(), "a sent line in the maillog")
        wait_until(mta.queue_is_empty, "an empty queue")
    dump = (tmp_path / "dump").read_bytes().replace(b"\r\n", b"\n")
    assert b"X-Rcpt-Args: <someone@remote.example>" in dump
    assert b"Subject: relayed" in dump and b"\n.dotted\nbody\n" in dump
    [line] = [ln for ln in mta.log_text().splitlines() if "status=sent" in ln]
    assert "/smtp[" in line
    assert f"to=<someone@remote.example>, relay=127.0.0.1[127.0.0.1]:{port}, " in line
    assert "dsn=2.0.0, status=sent (250 2.0.0 Ok)" in line


def test_remote_5xx_becomes_a_bounce_with_remote_mta_and_diagnostic(make_mta, tmp_path):
    with smtp_sink(tmp_path, "-f", "RCPT") as port:
        mta = make_mta(main_extra=f"default_transport = smtp\nrelayhost = [127.0.0.1]:{port}\n",
                       master_extra=SMTP_SERVICE)
        mta.sendmail("a@example.com", "gone@remote.example", data=b"Subject: doomed\n\nx\n")
        [path] = wait_until(lambda: maildir_messages(mta.maildir("a")), "the bounce in a's Maildir")
        wait_until(mta.queue_is_empty, "an empty queue")
    notice = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = notice.as_string()
    assert "Remote-MTA: dns; 127.0.0.1" in text
    assert "Diagnostic-Code: smtp; 500 5.3.0 Error: command failed" in text
    assert "Status: 5.3.0" in text
    assert ("host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed "
            "(in reply to RCPT TO command)") in mta.log_text()


def test_remote_domain_resolved_by_mx_through_dnsmasq(make_mta, tmp_path):
    """transport_maps sends remote.test to smtp:remote.test:PORT; the MX
    record (found on dnsmasq via dns_nameservers) names 127.0.0.2."""
    with smtp_sink(tmp_path, "-D", "dump", host="127.0.0.2") as port, \
            dnsmasq(["--mx-host=remote.test,mx.remote.test,10",
                     "--host-record=mx.remote.test,127.0.0.2"]) as dns_port:
        mta = make_mta(main_extra=(f"dns_nameservers = 127.0.0.1:{dns_port}\n"
                                   "inet_protocols = ipv4\n"),
                       master_extra=SMTP_SERVICE,
                       transport=f"remote.test smtp:remote.test:{port}\n")
        mta.sendmail("a@example.com", "user@remote.test", data=b"Subject: by mx\n\nhi\n")
        wait_until(lambda: "status=sent" in mta.log_text(), "a sent line in the maillog")
    assert f"relay=mx.remote.test[127.0.0.2]:{port}" in mta.log_text()
    assert b"X-Rcpt-Args: <user@remote.test>" in (tmp_path / "dump").read_bytes()


def test_local_mail_to_dovecot_over_lmtp(make_mta, tmp_path):
    with dovecot(tmp_path, {"b": "pw"}) as server:
        mta = make_mta(master_extra=LMTP_SERVICE,
                       transport=f"example.com lmtp:unix:{server.lmtp_socket}\n")
        mta.sendmail("a@example.org", "b@example.com", data=b"Subject: to dovecot\n\nhi b\n")
        [path] = wait_until(lambda: maildir_messages(server.maildir("b")), "mail in Dovecot")
        assert b"Subject: to dovecot" in path.read_bytes()
        wait_until(lambda: "status=sent" in mta.log_text(), "a sent line")
    [line] = [ln for ln in mta.log_text().splitlines() if "status=sent" in ln]
    assert f"relay={server.lmtp_socket}, " in line and "/lmtp[" in line


def test_unreachable_relayhost_defers_with_postfix_text(make_mta):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mta = make_mta(main_extra=f"default_transport = smtp\nrelayhost = [127.0.0.1]:{port}\n",
                   master_extra=SMTP_SERVICE)
    mta.sendmail("a@example.com", "someone@remote.example", data=b"Subject: later\n\nx\n")
    wait_until(lambda: "status=deferred" in mta.log_text(), "a deferred line")
    [line] = [ln for ln in mta.log_text().splitlines() if "status=deferred" in ln][:1]
    assert ("relay=none" in line and "dsn=4.4.1" in line
            and f"(connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused)" in line)
    wait_until(lambda: mta.queue_ids("deferred"), "the message in the deferred queue")
