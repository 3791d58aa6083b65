"""smtpd with STARTTLS, implicit TLS and AUTH, driven by real clients.

smtplib and aiosmtplib talk to a real SmtpServer on 127.0.0.1 with
throw-away certificates made by ``openssl`` (tests/tls/certs.py).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl

import pytest

from mailflow.smtpd.sasl import hash_password

from .server_harness import ServerThread

try:
    from tls.certs import have_openssl, make_certs
except ImportError:                       # run from another rootdir
    from tests.tls.certs import have_openssl, make_certs   # type: ignore[no-redef]

pytestmark = pytest.mark.skipif(not have_openssl(), reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_params(certs, tmp_path):
    passwords = tmp_path / "sasl_passwd"
    passwords.write_text(f"ann {hash_password('secret', iterations=1000)}\n")
    return dict(smtpd_tls_security_level="may", smtpd_tls_cert_file=str(certs.server_cert),
                smtpd_tls_key_file=str(certs.server_key), smtpd_sasl_auth_enable="yes",
                smtpd_sasl_type="mailflow", smtpd_sasl_password_maps=f"texthash:{passwords}",
                smtpd_tls_auth_only="yes", smtpd_tls_received_header="yes",
                smtpd_sasl_authenticated_header="yes")


def client_context(certs) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    return ctx


def test_starttls_then_auth_then_mail(tmp_path, certs, tls_params):
    with ServerThread(tmp_path, mynetworks="192.0.2.0/24", **tls_params) as server:
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.ehlo("client.example")
            assert client.has_extn("starttls")
            assert not client.has_extn("auth")          # smtpd_tls_auth_only
            client.starttls(context=client_context(certs))
            client.ehlo("client.example")
            assert not client.has_extn("starttls")
            assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
            assert client.login("ann", "secret")[0] == 235
            # Authenticated: relaying is permitted (permit_sasl_authenticated).
            client.sendmail("ann@client.example", ["x@remote.example"], b"Subject: t\r\n\r\nhi\r\n")
        [qid] = server.queued()
        data = server.read(qid).message.data
        head = data.split(b"\n\tby ", 1)[0]
        assert head.startswith(b"Received: from client.example (unknown [127.0.0.1])\n\t(using TLSv1.")
        assert b"\n\t(No client certificate requested)\n\t(Authenticated sender: ann)" in head
        assert b"with ESMTPSA id " + qid.encode() in data
        server.log.wait_for("Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1.")
        server.log.wait_for(f"{qid}: client=unknown[127.0.0.1], sasl_method=PLAIN, sasl_username=ann")


def test_wrong_password_is_535_and_relay_stays_closed(tmp_path, certs, tls_params):
    with ServerThread(tmp_path, mynetworks="192.0.2.0/24", **tls_params) as server:
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.starttls(context=client_context(certs))
            client.ehlo("client.example")
            with pytest.raises(smtplib.SMTPAuthenticationError) as err:
                client.login("ann", "wrong")
            assert err.value.smtp_code == 535
            client.mail("ann@client.example")
            code, text = client.rcpt("x@remote.example")
            assert (code, text) == (454, b"4.7.1 <x@remote.example>: Relay access denied")
        server.log.wait_for("SASL LOGIN authentication failed: authentication failure")


def test_auth_login_with_aiosmtplib(tmp_path, certs, tls_params):
    aiosmtplib = pytest.importorskip("aiosmtplib")
    with ServerThread(tmp_path, mynetworks="192.0.2.0/24", **tls_params) as server:
        async def send() -> None:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False,
                                     tls_context=client_context(certs))
            await client.connect()
            await client.starttls()
            await client.ehlo()
            await client.auth_login("ann", "secret")
            await client.sendmail("ann@client.example", ["x@remote.example"],
                                  b"Subject: a\r\n\r\nhi\r\n")
            await client.quit()
        asyncio.run(send())
        assert len(server.queued()) == 1


def test_encrypt_level_requires_starttls_before_mail(tmp_path, certs, tls_params):
    params = {**tls_params, "smtpd_tls_security_level": "encrypt"}
    with ServerThread(tmp_path, **params) as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        assert c.command(b"MAIL FROM:<a@client.example>") == [
            "530 5.7.0 Must issue a STARTTLS command first"]


def test_plaintext_pipelined_after_starttls_is_discarded(tmp_path, certs, tls_params):
    with ServerThread(tmp_path, **tls_params) as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        # CVE-2011-0411: the injected command must not be answered inside TLS.
        c.send(b"STARTTLS\r\nRSET\r\n")
        assert c.reply() == ["220 2.0.0 Ready to start TLS"]
        tls = client_context(certs).wrap_socket(c.sock, server_hostname="mx.example.test")
        tls.sendall(b"NOOP\r\n")
        assert tls.recv(100) == b"250 2.0.0 Ok\r\n"
        tls.close()
        server.log.wait_for("improper command pipelining after STARTTLS from unknown[127.0.0.1]: "
                            "RSET\\r\\n")


def test_tls_handshake_of_garbage_ends_only_that_session(tmp_path, certs, tls_params):
    with ServerThread(tmp_path, smtpd_starttls_timeout="5s", **tls_params) as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        assert c.command(b"STARTTLS") == ["220 2.0.0 Ready to start TLS"]
        c.send(b"\x16\x03\x01\x00\x05garbage-garbage-garbage\r\n")
        assert c.closed()
        server.log.wait_for("TLS handshake failed from unknown[127.0.0.1]")
        other = server.connect()
        assert other.reply() == ["220 mx.example.test ESMTP mailflow"]


def test_implicit_tls_wrappermode(tmp_path, certs, tls_params):
    params = {**tls_params, "smtpd_tls_wrappermode": "yes", "smtpd_tls_auth_only": "no"}
    with ServerThread(tmp_path, mynetworks="192.0.2.0/24", **params) as server:
        with smtplib.SMTP_SSL("127.0.0.1", server.port, context=client_context(certs),
                              timeout=10) as client:
            client.ehlo("client.example")
            assert not client.has_extn("starttls")
            client.login("ann", "secret")
            client.sendmail("ann@client.example", ["x@remote.example"], b"Subject: w\r\n\r\nhi\r\n")
        [qid] = server.queued()
        assert b"with ESMTPSA id" in server.read(qid).message.data


def test_auth_not_offered_without_tls_when_auth_only(tmp_path, certs, tls_params):
    with ServerThread(tmp_path, **tls_params) as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        assert c.command(b"AUTH PLAIN AGFubgBzZWNyZXQ=") == [
            "504 5.5.4 Encryption required for requested authentication mechanism"]


def test_client_that_never_finishes_the_handshake_times_out(tmp_path, certs, tls_params):
    with ServerThread(tmp_path, smtpd_starttls_timeout="1s", **tls_params) as server:
        c = server.connect()
        c.reply()
        c.command(b"EHLO client.example")
        c.command(b"STARTTLS")
        c.sock.settimeout(10)
        assert c.closed()            # the server gave up on its own
        assert isinstance(c.sock, socket.socket)
