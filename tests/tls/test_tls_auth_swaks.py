"""STARTTLS and AUTH with a real SMTP client (swaks) against the TLS and SASL modules.

The server here is the smallest SMTP responder that uses
:func:`server_context`, :func:`describe_tls` and :class:`SaslExchange` the way
the smtpd service does; swaks is the independent client that checks our
challenges, replies and TLS setup.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import sys

import pytest

from mailflow.adapters.tls import describe_tls, server_context
from mailflow.config import Config
from mailflow.smtpd.sasl import Challenge, SaslExchange, TableAuthenticator, Verify, hash_password

SWAKS = shutil.which("swaks")
pytestmark = [
    pytest.mark.skipif(SWAKS is None, reason="swaks is not installed"),
    pytest.mark.skipif(sys.version_info < (3, 11), reason="StreamWriter.start_tls needs Python 3.11"),
]


async def serve_session(reader, writer, ctx, auth, log):
    tls = authenticated = False

    async def say(text: str) -> None:
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    await say("220 mx.example.test ESMTP")
    while line := await reader.readline():
        command, _, args = line.decode().rstrip("\r\n").partition(" ")
        verb = command.upper()
        if verb == "EHLO":
            extra = [] if tls else ["STARTTLS"]
            extra += ["AUTH " + " ".join(auth.mechanisms())] if tls else []
            await say("\r\n".join(f"250-{x}" for x in ["mx.example.test", *extra]) + "\r\n250 8BITMIME")
        elif verb == "STARTTLS":
            await say("220 2.0.0 Ready to start TLS")
            try:
                await writer.start_tls(ctx)
            except (ssl.SSLError, ConnectionError) as exc:
                log.append(f"TLS handshake failed: {exc}")
                writer.close()
                return
            tls = True
            log.append(describe_tls(writer.get_extra_info("ssl_object"), "localhost[127.0.0.1]"))
        elif verb == "AUTH":
            exchange = SaslExchange(auth.mechanisms())
            event = exchange.command(args, tls_active=tls, tls_auth_only=True,
                                     authenticated=authenticated)
            while isinstance(event, Challenge):
                await say(str(event.reply))
                event = exchange.step((await reader.readline()).decode().rstrip("\r\n"))
            if isinstance(event, Verify):
                event = await exchange.authenticate(event, auth, client_address="127.0.0.1",
                                                    tls=tls)
            log.append(str(event.reply))
            authenticated = authenticated or str(event.reply).startswith("235")
            await say(str(event.reply))
        elif verb == "QUIT":
            await say("221 2.0.0 Bye")
            break
        else:
            await say("502 5.5.2 Error: command not recognized")
    writer.close()


def run_swaks(certs, *args: str) -> tuple[int, str, list[str]]:
    ctx = server_context(Config(smtpd_tls_security_level="may",
                                smtpd_tls_cert_file=str(certs.server_cert),
                                smtpd_tls_key_file=str(certs.server_key)))
    auth = TableAuthenticator({"alice": hash_password("wonderland", iterations=1000)})
    log: list[str] = []

    async def main():
        server = await asyncio.start_server(
            lambda r, w: serve_session(r, w, ctx, auth, log), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            proc = await asyncio.create_subprocess_exec(
                SWAKS, "--server", f"127.0.0.1:{port}", "--tls", "--quit-after", "AUTH",
                "--helo", "client.example.test", *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            return proc.returncode, out.decode(errors="replace")
        finally:
            server.close()
            await server.wait_closed()

    status, out = asyncio.run(main())
    return status, out, log


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_logs_in_over_starttls(certs, mechanism):
    """swaks upgrades with STARTTLS and authenticates with each mechanism."""
    status, out, log = run_swaks(certs, "--auth", mechanism, "--auth-user", "alice",
                                 "--auth-password", "wonderland")
    assert status == 0, out
    assert log[0].startswith("Anonymous TLS connection established from localhost[127.0.0.1]: "
                             "TLSv1.3 with cipher ")
    assert log[1] == "235 2.7.0 Authentication successful"
    if mechanism == "LOGIN":
        assert "334 VXNlcm5hbWU6" in out and "334 UGFzc3dvcmQ6" in out


def test_swaks_wrong_password(certs):
    """A wrong password reaches swaks as Postfix's 535 and swaks reports the failure."""
    status, out, log = run_swaks(certs, "--auth", "PLAIN", "--auth-user", "alice",
                                 "--auth-password", "rabbit")
    assert status != 0
    assert "535 5.7.8 Error: authentication failed: authentication failure" in out
    assert log[-1].startswith("535 5.7.8")


def test_swaks_verifies_our_certificate(certs):
    """swaks checking the server certificate against the test CA accepts it."""
    status, out, _ = run_swaks(certs, "--tls-verify", "--tls-ca-path", str(certs.ca),
                               "--auth", "PLAIN", "--auth-user", "alice",
                               "--auth-password", "wonderland")
    assert status == 0, out
    assert "235 2.7.0 Authentication successful" in out


def test_swaks_refuses_an_untrusted_certificate(certs, tmp_path):
    """swaks verifying against another CA refuses our server: verification is real."""
    other = tmp_path / "other-ca.pem"
    other.write_bytes(certs.selfsigned_cert.read_bytes())
    status, out, log = run_swaks(certs, "--tls-verify", "--tls-ca-path", str(other),
                                 "--auth", "PLAIN", "--auth-user", "alice",
                                 "--auth-password", "wonderland")
    assert status != 0
    assert "certificate verify failed" in out
    assert log[0].startswith("TLS handshake failed") and len(log) == 1
