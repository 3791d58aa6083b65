"""STARTTLS levels and SASL AUTH against aiosmtpd with a test certificate,
and TLS handshake failures against a scripted server."""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess

import pytest
from delivery_helpers import make_request
from smtp_peers import ScriptedServer, answer_session, free_port, read_command

from mailflow.config import Config
from mailflow.delivery.smtp import SmtpAgent
from mailflow.errors import ConfigError
from mailflow.testing import StaticResolver

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult  # noqa: E402


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for localhost and 127.0.0.1."""
    d = tmp_path_factory.mktemp("cert")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


class Handler:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope, session.ssl is not None, session.authenticated))
        return "250 2.0.0 Ok: queued as T1"


def start_aiosmtpd(cert=None, **kw):
    handler = Handler()
    ctx = None
    if cert is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    controller = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=free_port(),
                                     tls_context=ctx, **kw)
    controller.start()
    return controller, handler


def agent(**params):
    return SmtpAgent(Config(**params), None, resolver=StaticResolver(), my_addresses=[])


async def send(a, request):
    try:
        return list(await a.deliver(request))
    finally:
        await a.aclose()


def relay(port, **params):
    req = make_request("rcpt@example.net", transport="smtp", nexthop=f"[127.0.0.1]:{port}")
    return asyncio.run(send(agent(**params), req))


@pytest.mark.parametrize("level", ["may", "encrypt"])
def test_starttls_when_offered(cert, level, caplog):
    controller, handler = start_aiosmtpd(cert)
    try:
        with caplog.at_level(logging.INFO, logger="mailflow.smtp"):
            [o] = relay(controller.port, smtp_tls_security_level=level)
    finally:
        controller.stop()
    assert o.status.code == "2.0.0"
    assert handler.messages[0][1] is True            # the mail went over TLS
    assert any(r.getMessage().startswith(
        f"Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:{controller.port}: TLS")
        for r in caplog.records)


def test_verify_with_the_right_ca_and_with_the_wrong_one(cert, tmp_path, caplog):
    """verify: the chain must lead to smtp_tls_CAfile and the certificate
    must name the server (Postfix matches names, never addresses)."""
    controller, handler = start_aiosmtpd(cert)
    port = controller.port
    dns = StaticResolver({("localhost", "A"): ["127.0.0.1"]})

    def to(nexthop, **params):
        a = SmtpAgent(Config(**params), None, resolver=dns, my_addresses=[])
        req = make_request("rcpt@example.net", transport="smtp", nexthop=nexthop)
        return asyncio.run(send(a, req))
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=other", "-keyout", str(tmp_path / "k.pem"), "-out", str(other)],
                   check=True, capture_output=True)
    try:
        with caplog.at_level(logging.INFO, logger="mailflow.smtp"):
            [ok] = to(f"[localhost]:{port}", smtp_tls_security_level="verify",
                      smtp_tls_CAfile=str(cert[0]))
        [wrong_ca] = to(f"[localhost]:{port}", smtp_tls_security_level="verify",
                        smtp_tls_CAfile=str(other))
        [by_address] = to(f"[127.0.0.1]:{port}", smtp_tls_security_level="verify",
                          smtp_tls_CAfile=str(cert[0]))
    finally:
        controller.stop()
    assert ok.status.code == "2.0.0"
    assert any(r.getMessage().startswith(
        f"Verified TLS connection established to localhost[127.0.0.1]:{port}: TLS")
        for r in caplog.records)
    assert wrong_ca.status.code == "4.7.5"
    assert wrong_ca.status.text.startswith("Cannot start TLS: handshake failure")
    assert by_address.status.code == "4.7.5"
    assert by_address.status.text.startswith("Server certificate not verified")
    assert len(handler.messages) == 1


def test_encrypt_without_starttls_offered_defers():
    controller, handler = start_aiosmtpd(None)
    try:
        [o] = relay(controller.port, smtp_tls_security_level="encrypt")
    finally:
        controller.stop()
    assert (o.status.code, o.status.text) == (
        "4.7.4", "TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]")
    assert handler.messages == []


def _broken_tls_server(sessions):
    """Offers STARTTLS, says 220, then sends bytes that are not TLS."""
    async def script(reader, writer):
        sessions.append(1)
        writer.write(b"220 mx.test\r\n")
        await read_command(reader)
        writer.write(b"250-mx.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n")
        while True:
            line = await read_command(reader)
            if line.startswith(b"STARTTLS"):
                writer.write(b"220 go ahead\r\n" + b"this is not a TLS server hello\r\n" * 4)
                await writer.drain()
                await reader.read(100)
                return
            if line.startswith(b"MAIL"):
                writer.write(b"250 ok\r\n")
                await answer_rest(reader, writer)
                return
            writer.write(b"250 ok\r\n")
            await writer.drain()
    return script


async def answer_rest(reader, writer):
    while True:
        line = await read_command(reader)
        if line.startswith(b"DATA"):
            writer.write(b"354 go\r\n")
            await reader.readuntil(b"\r\n.\r\n")
            writer.write(b"250 2.0.0 Ok: queued as P1\r\n")
        elif line.startswith(b"QUIT"):
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()


def test_handshake_failure_under_may_falls_back_to_plaintext():
    sessions = []

    async def go():
        async with ScriptedServer(_broken_tls_server(sessions)) as port:
            req = make_request("r@example.net", transport="smtp", nexthop=f"[127.0.0.1]:{port}")
            return await send(agent(smtp_tls_security_level="may"), req)
    [o] = asyncio.run(go())
    assert o.status.code == "2.0.0"
    assert len(sessions) == 2


def test_handshake_failure_under_encrypt_defers():
    sessions = []

    async def go():
        async with ScriptedServer(_broken_tls_server(sessions)) as port:
            req = make_request("r@example.net", transport="smtp", nexthop=f"[127.0.0.1]:{port}")
            return await send(agent(smtp_tls_security_level="encrypt"), req)
    [o] = asyncio.run(go())
    assert o.status.code == "4.7.5"
    assert o.status.text.startswith("Cannot start TLS: handshake failure")
    assert len(sessions) == 1


def test_bad_tls_level_is_a_config_error():
    with pytest.raises(ConfigError, match="smtp_tls_security_level = sometimes"):
        agent(smtp_tls_security_level="sometimes")


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"relayuser" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


def test_sasl_plain_to_a_smarthost(tmp_path):
    controller, handler = start_aiosmtpd(None, authenticator=_authenticator,
                                         auth_require_tls=False)
    port = controller.port
    (tmp_path / "sasl").write_text(f"[127.0.0.1]:{port} relayuser:s3cret\n")
    try:
        [o] = relay(port, smtp_sasl_auth_enable="yes",
                    smtp_sasl_password_maps=f"texthash:{tmp_path}/sasl",
                    smtp_sasl_security_options="noanonymous")
        # Postfix's default security options forbid plaintext mechanisms.
        [refused] = relay(port, smtp_sasl_auth_enable="yes",
                          smtp_sasl_password_maps=f"texthash:{tmp_path}/sasl")
        (tmp_path / "sasl").write_text(f"[127.0.0.1]:{port} relayuser:wrong\n")
        [wrong] = relay(port, smtp_sasl_auth_enable="yes",
                        smtp_sasl_password_maps=f"texthash:{tmp_path}/sasl",
                        smtp_sasl_security_options="noanonymous")
    finally:
        controller.stop()
    assert o.status.code == "2.0.0"
    assert [authenticated for _e, _tls, authenticated in handler.messages] == [True]
    assert (refused.status.code, refused.status.text) == (
        "4.7.0", f"SASL authentication failed; cannot authenticate to server "
                 f"127.0.0.1[127.0.0.1]: no mechanism available")
    assert wrong.status.code.startswith("4.")
    assert wrong.status.text.startswith("SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535")
