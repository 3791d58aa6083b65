"""smtpd through the running daemon, with real SMTP clients.

master.cf runs ``127.0.0.1:PORT inet n - n - - smtpd``; mail sent by
Python's smtplib, aiosmtplib and swaks reaches a virtual Maildir; the smtpd
log lines are Postfix's and pflogsumm counts them; the listener survives a
reload; a stop while a client is mid-DATA leaves no queue file behind and
loses nothing that was acknowledged.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from e2e_helpers import Mta, free_port, maildir_messages, smtpd_line, wait_until

MESSAGE = b"Subject: through the front door\r\n\r\nHello over SMTP.\r\n"


def _front_door(make_mta, main_extra: str = "", **kw: str) -> tuple[Mta, int]:
    port = free_port()
    return make_mta(master_extra=smtpd_line(port), main_extra=main_extra, **kw), port


def _greeting(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        return client.makefile("rb").readline()


def _body(path) -> bytes:
    return path.read_bytes().split(b"\n\n", 1)[1]


# ---------------------------------------------------------------- real clients
def test_start_returns_only_when_the_port_answers(make_mta):
    """The first connection right after ``mailflow start`` returns gets Postfix's greeting."""
    port = free_port()
    mta = make_mta(master_extra=smtpd_line(port), start=False)
    mta.start()
    assert _greeting(port) == b"220 mail.example.com ESMTP mailflow\r\n"


def test_smtplib_message_reaches_a_virtual_maildir(make_mta):
    """smtplib's sendmail is answered 250 and the message lands in a@'s Maildir with a Received: header."""
    mta, port = _front_door(make_mta)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=10) as c:
        assert c.sendmail("x@example.org", ["a@example.com"], MESSAGE) == {}
    [path] = mta.wait_for_mail(mta.maildir("a"))
    text = path.read_bytes()
    assert _body(path) == b"Hello over SMTP.\n"
    assert re.search(rb"^Received: from client\.example\.org \(localhost \[127\.0\.0\.1\]\)\n"
                     rb"\tby mail\.example\.com \(mailflow\) with ESMTP id \w+\n"
                     rb"\tfor <a@example\.com>; ", text, re.M), text
    wait_until(mta.queue_is_empty, "an empty queue")


def test_aiosmtplib_message_reaches_a_virtual_maildir(make_mta):
    """aiosmtplib sends to two recipients in one transaction; both Maildirs receive it."""
    aiosmtplib = pytest.importorskip("aiosmtplib")
    mta, port = _front_door(make_mta)

    async def send() -> tuple:
        return await aiosmtplib.send(MESSAGE, sender="x@example.org",
                                     recipients=["a@example.com", "b@example.com"],
                                     hostname="127.0.0.1", port=port, start_tls=False,
                                     timeout=10)

    errors, reply = asyncio.run(send())
    assert errors == {} and reply.startswith("2.0.0 Ok: queued as ")
    for user in ("a", "b"):
        [path] = mta.wait_for_mail(mta.maildir(user))
        assert _body(path) == b"Hello over SMTP.\n"


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_swaks_message_reaches_a_virtual_maildir(make_mta):
    """swaks (pipelining on) delivers to b@; its transcript shows Postfix's replies."""
    mta, port = _front_door(make_mta)
    run = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                          "--from", "x@example.org", "--to", "b@example.com",
                          "--helo", "swaks.example.org", "--pipeline",
                          "--header", "Subject: swaks", "--body", "From swaks."],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "<-  250 2.1.0 Ok" in run.stdout, run.stdout
    assert "<-  250 2.1.5 Ok" in run.stdout
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as \w+", run.stdout), run.stdout
    [path] = mta.wait_for_mail(mta.maildir("b"))
    assert b"Subject: swaks" in path.read_bytes()
    assert b"From swaks." in _body(path)


# ---------------------------------------------------------------- logs
def test_log_lines_are_postfix_smtpd_lines(make_mta):
    """connect from / client= / disconnect ... commands=N in maillog_file, the queue ID shared
    with cleanup, qmgr and virtual."""
    mta, port = _front_door(make_mta)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=10) as c:
        c.sendmail("x@example.org", ["a@example.com"], MESSAGE)
    mta.wait_for_mail(mta.maildir("a"))
    log = wait_until(lambda: "commands=5" in (t := mta.log_text()) and t, "smtpd's disconnect line")
    prefix = r"^\w{3} [ \d]\d \d\d:\d\d:\d\d mail mailflow/smtpd\[\d+\]: "
    assert re.search(prefix + r"connect from localhost\[127\.0\.0\.1\]$", log, re.M), log
    m = re.search(prefix + r"(\w+): client=localhost\[127\.0\.0\.1\]$", log, re.M)
    assert m, log
    assert re.search(prefix + r"disconnect from localhost\[127\.0\.0\.1\] "
                     r"ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$", log, re.M), log
    queue_id = m.group(1)
    wait_until(lambda: f"{queue_id}: removed" in mta.log_text(), "qmgr's removed line")
    log = mta.log_text()
    assert f"{queue_id}: from=<x@example.org>, size=" in log
    assert re.search(rf"mailflow/virtual\[\d+\]: {queue_id}: to=<a@example\.com>, relay=virtual, "
                     r".*status=sent \(delivered to maildir\)$", log, re.M), log


@pytest.mark.skipif(shutil.which("pflogsumm") is None, reason="pflogsumm is not installed")
def test_pflogsumm_counts_the_relay_reject_and_the_deliveries(make_mta):
    """With 127.0.0.1 outside mynetworks, RCPT to a foreign domain gets 454 4.7.1 (Postfix's
    defer_unauth_destination); pflogsumm counts it as a reject, and the two local deliveries."""
    mta, port = _front_door(make_mta, main_extra="mynetworks = 192.0.2.0/24\n")
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=10) as c:
        c.ehlo()
        c.mail("x@example.org")
        code, text = c.rcpt("someone@elsewhere.example.net")
        assert (code, text) == (454, b"4.7.1 <someone@elsewhere.example.net>: "
                                     b"Relay access denied")
        c.rset()
        assert c.sendmail("x@example.org", ["a@example.com", "b@example.com"], MESSAGE) == {}
    mta.wait_for_mail(mta.maildir("a"))
    mta.wait_for_mail(mta.maildir("b"))
    wait_until(lambda: ": removed" in mta.log_text() and "disconnect from" in mta.log_text(),
               "the whole transaction logged")
    log = mta.log_text()
    assert re.search(r"mailflow/smtpd\[\d+\]: NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: "
                     r"454 4\.7\.1 <someone@elsewhere\.example\.net>: Relay access denied; "
                     r"from=<x@example\.org> to=<someone@elsewhere\.example\.net> proto=ESMTP "
                     r"helo=<client\.example\.org>$", log, re.M), log
    out = subprocess.run(["pflogsumm", "--syslog-name=mailflow", str(mta.maillog)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    counts = {m.group(2): int(m.group(1))
              for m in re.finditer(r"^\s+(\d+)\s+(\w[\w ]*?)\s*$", out, re.M)}
    assert (counts["received"], counts["delivered"]) == (1, 2), out
    assert re.search(r"^\s+1\s+rejected \(33%\)$", out, re.M), out
    assert "Relay access denied" in out


# ---------------------------------------------------------------- life cycle
@pytest.mark.parametrize("how", ["sighup", "reload"])
def test_reload_keeps_the_port_answering(make_mta, how):
    """A session open across the reload finishes its mail; new sessions are greeted at once."""
    mta, port = _front_door(make_mta)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as across:
        across.ehlo()
        if how == "sighup":
            os.kill(mta.master_pid(), signal.SIGHUP)
        else:
            mta.cli("reload", check=True)
        wait_until(lambda: "mailflow/master" in mta.log_text()
                   and "reload -- version" in mta.log_text(), "the reload logged")
        assert _greeting(port).startswith(b"220 ")
        assert across.sendmail("x@example.org", ["a@example.com"], MESSAGE) == {}
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as after:
        assert after.sendmail("x@example.org", ["b@example.com"], MESSAGE) == {}
    mta.wait_for_mail(mta.maildir("a"))
    mta.wait_for_mail(mta.maildir("b"))
    assert mta.running()


def test_stop_mid_data_leaves_no_queue_file_and_keeps_what_was_acknowledged(make_mta):
    """A message acknowledged with 250 survives ``mailflow stop`` (deferred, then delivered after
    the next start); the message whose DATA was cut by the stop leaves no file in the spool."""
    mta, port = _front_door(make_mta, transport="held@example.com pipeit:\n",
                            vmailbox="a@example.com a/Maildir/\nheld@example.com held/\n")
    (mta.pipe_dir / "closed").write_text("")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        assert c.sendmail("x@example.org", ["held@example.com"], MESSAGE) == {}
    wait_until(lambda: mta.queue_ids("deferred"), "the acknowledged message deferred")
    [kept] = mta.queue_ids("deferred")

    cut = socket.create_connection(("127.0.0.1", port), timeout=10)
    replies = cut.makefile("rb")
    assert replies.readline().startswith(b"220 ")
    cut.sendall(b"HELO client.example.org\r\n")
    assert replies.readline().startswith(b"250 ")
    cut.sendall(b"MAIL FROM:<x@example.org>\r\n")
    assert replies.readline().startswith(b"250 ")
    cut.sendall(b"RCPT TO:<a@example.com>\r\n")
    assert replies.readline().startswith(b"250 ")
    cut.sendall(b"DATA\r\n")
    assert replies.readline().startswith(b"354 ")
    cut.sendall(b"Subject: cut\r\n\r\n" + b"x" * 2000 + b"\r\n")    # no end-of-data
    # The message is under way: smtpd has logged its queue ID (client=).
    wait_until(lambda: mta.log_text().count(": client=localhost[127.0.0.1]") == 2,
               "the cut message begun")
    begun = time.monotonic()
    mta.stop()
    assert time.monotonic() - begun < 20, "stop waited for the client"
    rest = replies.read()                  # whatever smtpd said before it closed
    cut.close()
    assert b"250 2.0.0" not in rest
    assert mta.queue_ids("maildrop", "incoming", "active", "hold", "corrupt") == []
    assert mta.queue_ids("deferred") == [kept]
    assert maildir_messages(mta.maildir("a")) == []

    (mta.pipe_dir / "closed").unlink()
    mta.start()
    mta.cli("postqueue", "-f", check=True)
    wait_until(lambda: list(mta.pipe_dir.glob("stdin.*")), "the kept message delivered")
    wait_until(mta.queue_is_empty, "an empty queue")
    assert b"Hello over SMTP." in (mta.pipe_dir / "stdin.0").read_bytes()
    assert maildir_messages(mta.maildir("a")) == []


# ---------------------------------------------------------------- STARTTLS and AUTH
def _tls_front_door(make_mta, tmp_path):
    try:
        from tls.certs import have_openssl, make_certs
    except ImportError:                   # run from another rootdir
        from tests.tls.certs import have_openssl, make_certs   # type: ignore[no-redef]
    if not have_openssl():
        pytest.skip("the openssl command is not installed")
    from mailflow.smtpd.sasl import hash_password
    certs = make_certs(tmp_path / "certs")
    passwords = tmp_path / "sasl_passwd"
    passwords.write_text(f"ann {hash_password('secret', iterations=1000)}\n")
    mta, port = _front_door(make_mta, transport="elsewhere.example discard:\n", main_extra=(
        "mynetworks = 192.0.2.0/24\n"
        "smtpd_tls_security_level = may\n"
        f"smtpd_tls_cert_file = {certs.server_cert}\nsmtpd_tls_key_file = {certs.server_key}\n"
        "smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = mailflow\nsmtpd_tls_auth_only = yes\n"
        f"smtpd_sasl_password_maps = texthash:{passwords}\n"))
    return mta, port, ssl.create_default_context(cafile=str(certs.ca))


def test_smtplib_starttls_and_auth_relay_through_the_daemon(make_mta, tmp_path):
    """Outside mynetworks: AUTH only after STARTTLS, relaying refused until AUTH; then a local
    and a relayed recipient are accepted, the Received: header says ESMTPSA, the log names ann."""
    mta, port, context = _tls_front_door(make_mta, tmp_path)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=10) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        assert not c.has_extn("auth")            # smtpd_tls_auth_only: not before TLS
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org", timeout=10) as c:
        c.starttls(context=context)
        c.ehlo()
        assert c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        c.mail("x@example.org")
        assert c.rcpt("far@elsewhere.example")[0] == 454
        c.rset()
        assert c.login("ann", "secret")[0] == 235
        assert c.sendmail("ann@example.org", ["a@example.com", "far@elsewhere.example"],
                          MESSAGE) == {}
    [path] = mta.wait_for_mail(mta.maildir("a"))
    text = path.read_bytes()
    # ESMTPSA: ESMTP with TLS and AUTH (smtpd_tls_received_header is off by default).
    assert re.search(rb"^Received: from client\.example\.org \(localhost \[127\.0\.0\.1\]\)\n"
                     rb"\tby mail\.example\.com \(mailflow\) with ESMTPSA id \w+", text, re.M), text
    wait_until(lambda: "relay=none" in mta.log_text(), "the relayed copy discarded")
    log = mta.log_text()
    assert re.search(r"mailflow/smtpd\[\d+\]: Anonymous TLS connection established from "
                     r"localhost\[127\.0\.0\.1\]: TLSv1\.[23] ", log), log
    assert re.search(r"mailflow/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\], "
                     r"sasl_method=PLAIN, sasl_username=ann$", log, re.M), log


def test_aiosmtplib_starttls_and_auth_through_the_daemon(make_mta, tmp_path):
    """aiosmtplib with start_tls and a login relays to a foreign domain and delivers locally."""
    aiosmtplib = pytest.importorskip("aiosmtplib")
    mta, port, context = _tls_front_door(make_mta, tmp_path)

    async def send() -> tuple:
        result = await aiosmtplib.send(MESSAGE, sender="ann@example.org",
                                       recipients=["b@example.com", "far@elsewhere.example"],
                                       hostname="127.0.0.1", port=port, start_tls=True,
                                       tls_context=context, username="ann", password="secret",
                                       timeout=10)
        # After QUIT over TLS, asyncio closes the plain transport under the TLS
        # one only once the TLS shutdown has run on the loop; let it run, or
        # the socket is left for the garbage collector (a ResourceWarning).
        await asyncio.sleep(0.2)
        return result

    errors, reply = asyncio.run(send())
    gc.collect()                # any client socket left behind shows up in this test
    assert errors == {} and reply.startswith("2.0.0 Ok: queued as ")
    [path] = mta.wait_for_mail(mta.maildir("b"))
    assert re.search(rb"with ESMTPSA id \w+", path.read_bytes())
    wait_until(lambda: "sasl_username=ann" in mta.log_text(), "the AUTH logged")
