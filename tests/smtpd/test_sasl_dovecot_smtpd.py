"""smtpd with ``smtpd_sasl_type = dovecot``: smtplib logs in, Dovecot's real auth server decides."""

from __future__ import annotations

import smtplib

import pytest

from .server_harness import ServerThread
from .test_sasl_dovecot import DOVECOT, Dovecot

pytestmark = pytest.mark.skipif(DOVECOT is None, reason="dovecot is not installed")


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory):
    d = Dovecot(tmp_path_factory.mktemp("dovecot"))
    d.start()
    yield d
    d.stop()


def close_authenticator(server: ServerThread) -> None:
    """Close the Dovecot connection on the server's loop (SmtpServer.stop does not)."""
    server.call(server.server.authenticator.close())


def params(socket_path) -> dict:
    return dict(smtpd_sasl_auth_enable="yes", smtpd_sasl_type="dovecot",
                smtpd_sasl_path=str(socket_path), mynetworks="192.0.2.0/24")


def test_dovecot_login_opens_the_relay(tmp_path, dovecot):
    """A password Dovecot accepts: 235, relaying permitted, Postfix's client= log line."""
    with ServerThread(tmp_path, **params(dovecot.socket)) as server:
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.ehlo("client.example")
            assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
            assert client.login("alice", "wonderland")[0] == 235
            client.sendmail("alice@client.example", ["x@remote.example"], b"Subject: t\r\n\r\nhi\r\n")
        [qid] = server.queued()
        server.log.wait_for(f"{qid}: client=unknown[127.0.0.1], sasl_method=PLAIN, "
                            "sasl_username=alice")
        close_authenticator(server)


def test_dovecot_refusal_is_535(tmp_path, dovecot):
    """A password Dovecot refuses: 535 5.7.8 and Postfix's warning, relay still closed."""
    with ServerThread(tmp_path, **params(dovecot.socket)) as server:
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.ehlo("client.example")
            code, text = client.docmd("AUTH", "PLAIN AGFsaWNlAHJhYmJpdA==")  # alice / rabbit
            assert (code, text) == (535, b"5.7.8 Error: authentication failed: "
                                         b"authentication failure")
            client.mail("alice@client.example")
            code, _ = client.rcpt("x@remote.example")
            assert code == 454  # defer_unauth_destination
        server.log.wait_for("SASL PLAIN authentication failed: authentication failure, "
                            "sasl_username=alice")
        close_authenticator(server)


def test_dovecot_down_is_454(tmp_path):
    """No Dovecot on the socket: 454 4.7.0, never a login."""
    with ServerThread(tmp_path, **params(tmp_path / "no-such-socket")) as server:
        with smtplib.SMTP("127.0.0.1", server.port) as client:
            client.ehlo("client.example")
            code, text = client.docmd("AUTH", "PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=")
            assert (code, text) == (454, b"4.7.0 Temporary authentication failure: "
                                         b"Can't connect to authentication server")
        server.log.wait_for("SASL: Connect to Dovecot auth socket")
