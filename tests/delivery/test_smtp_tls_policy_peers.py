"""smtp_tls_policy_maps against aiosmtpd STARTTLS servers on 127.0.0.1 with a
test certificate: per-destination levels, match=, fingerprint, protocols,
exclude, servername, dane fallbacks, and a bad entry that defers."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import subprocess

import pytest
from delivery_helpers import make_request
from smtp_peers import free_port

from mailflow.config import Config
from mailflow.delivery.lmtp import LmtpAgent
from mailflow.delivery.smtp import SmtpAgent
from mailflow.testing import StaticResolver

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for localhost, and its DER form."""
    d = tmp_path_factory.mktemp("cert")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    der = ssl.PEM_cert_to_DER_cert((d / "cert.pem").read_text())
    return d / "cert.pem", d / "key.pem", der


class Handler:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(session.ssl is not None)
        return "250 2.0.0 Ok: queued as T1"


class LmtpController(aiosmtpd.Controller):
    def factory(self):
        from aiosmtpd.lmtp import LMTP
        return LMTP(self.handler, **self.SMTP_kwargs)


class Peer:
    """An aiosmtpd server offering STARTTLS; ``sni`` collects the names clients sent."""

    def __init__(self, cert, *, max_version=None, lmtp=False):
        self.handler = Handler()
        self.sni: list = []
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        if max_version is not None:
            ctx.maximum_version = max_version
        ctx.sni_callback = lambda obj, name, c: self.sni.append(name)
        cls = LmtpController if lmtp else aiosmtpd.Controller
        self.controller = cls(self.handler, hostname="127.0.0.1", port=free_port(),
                              tls_context=ctx)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def port(self):
        return self.controller.port


def fp(der, public_key=False):
    if public_key:
        from mailflow.adapters.tls import _spki
        der = _spki(der)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def send(nexthop, *, lmtp=False, **params):
    dns = StaticResolver({("localhost", "A"): ["127.0.0.1"]})
    cls = LmtpAgent if lmtp else SmtpAgent
    a = cls(Config(**params), None, resolver=dns, my_addresses=[])
    req = make_request("rcpt@example.net", transport="lmtp" if lmtp else "smtp", nexthop=nexthop)

    async def run():
        try:
            return list(await a.deliver(req))
        finally:
            await a.aclose()
    [o] = asyncio.run(run())
    return o


def tls_lines(caplog):
    return [r.getMessage() for r in caplog.records if "TLS connection established" in r.getMessage()]


def test_the_table_raises_the_level_for_one_destination_only(cert, caplog):
    """Global none; the table says encrypt for [127.0.0.1]:PORT only."""
    with Peer(cert) as peer, caplog.at_level(logging.INFO, logger="mailflow.smtp"):
        hop = f"[127.0.0.1]:{peer.port}"
        table = f"inline:{{{{ {hop} = encrypt }}}}"
        ok = send(hop, smtp_tls_policy_maps=table)
        plain = send(f"[localhost]:{peer.port}", smtp_tls_policy_maps=table)
    assert ok.status.code == plain.status.code == "2.0.0"
    assert peer.handler.messages == [True, False]
    assert len(tls_lines(caplog)) == 1


def test_secure_with_match_names_from_the_table(cert, caplog):
    """secure match=...: the certificate must name one of them (after the chain verifies)."""
    with Peer(cert) as peer, caplog.at_level(logging.INFO, logger="mailflow.smtp"):
        hop = f"[localhost]:{peer.port}"
        good = send(hop, smtp_tls_CAfile=str(cert[0]),
                    smtp_tls_policy_maps=f"inline:{{{{ {hop} = secure match=nowhere:localhost }}}}")
        bad = send(hop, smtp_tls_CAfile=str(cert[0]),
                   smtp_tls_policy_maps=f"inline:{{{{ {hop} = secure match=mx.example.com }}}}")
    assert good.status.code == "2.0.0"
    assert tls_lines(caplog)[0].startswith(f"Verified TLS connection established to "
                                           f"localhost[127.0.0.1]:{peer.port}: TLS")
    assert (bad.status.code, bad.status.text) == (
        "4.7.5", "Server certificate not verified (host localhost[127.0.0.1] presented none "
                 "of: mx.example.com)")
    assert peer.handler.messages == [True]


@pytest.mark.parametrize("public_key", [False, True], ids=["certificate", "public-key"])
def test_fingerprint_level_accepts_the_pinned_certificate_only(cert, caplog, public_key):
    """No CA is needed: the sha256 digest of the certificate (or its key) decides."""
    with Peer(cert) as peer, caplog.at_level(logging.INFO, logger="mailflow.smtp"):
        hop = f"[127.0.0.1]:{peer.port}"
        pinned = send(hop, smtp_tls_policy_maps=f"inline:{{{{ {hop} = fingerprint "
                                                f"match=00:11|{fp(cert[2], public_key)} }}}}")
        other = send(hop, smtp_tls_security_level="fingerprint",
                     smtp_tls_fingerprint_cert_match="AA:BB:CC")
    assert pinned.status.code == "2.0.0"
    assert tls_lines(caplog)[0].startswith("Verified TLS connection established to 127.0.0.1")
    assert other.status.code == "4.7.5"
    assert other.status.text.startswith("Server certificate not verified")
    assert peer.handler.messages == [True]


def test_main_cf_fingerprint_with_md5_digest(cert):
    """smtp_tls_fingerprint_digest chooses the digest."""
    md5 = ":".join(f"{b:02X}" for b in hashlib.md5(cert[2]).digest())
    with Peer(cert) as peer:
        o = send(f"[127.0.0.1]:{peer.port}", smtp_tls_security_level="fingerprint",
                 smtp_tls_fingerprint_digest="md5", smtp_tls_fingerprint_cert_match=md5)
    assert o.status.code == "2.0.0"


def test_protocols_attribute(cert, caplog):
    """A TLSv1.2-only server: protocols=TLSv1.3 cannot be met (deferred,
    encrypt never falls back to plaintext); protocols=TLSv1.2 can."""
    with Peer(cert, max_version=ssl.TLSVersion.TLSv1_2) as peer, \
            caplog.at_level(logging.INFO, logger="mailflow.smtp"):
        hop = f"[127.0.0.1]:{peer.port}"
        v13 = send(hop, smtp_tls_policy_maps=f"inline:{{{{ {hop} = encrypt protocols=TLSv1.3 }}}}")
        v12 = send(hop, smtp_tls_policy_maps=f"inline:{{{{ {hop} = encrypt "
                                             f"protocols=!TLSv1.3 exclude=AESGCM:CHACHA20 }}}}")
    assert v13.status.code == "4.7.5" and "handshake failure" in v13.status.text
    assert v12.status.code == "2.0.0"
    [line] = tls_lines(caplog)
    assert ": TLSv1.2 with cipher " in line
    cipher = line.split(" with cipher ")[1]
    assert "GCM" not in cipher and "CHACHA" not in cipher
    assert peer.handler.messages == [True]


def test_servername(cert):
    """No SNI by default (Postfix's empty smtp_tls_servername); servername=hostname
    sends the server's name."""
    with Peer(cert) as peer:
        hop = f"[localhost]:{peer.port}"
        send(hop, smtp_tls_security_level="may")
        send(hop, smtp_tls_policy_maps=f"inline:{{{{ {hop} = may servername=hostname }}}}")
        send(hop, smtp_tls_security_level="may", smtp_tls_servername="mail.example.com")
    assert peer.sni == [None, "localhost", "mail.example.com"]


def test_a_bad_entry_defers_with_a_warning_naming_table_and_key(cert, caplog):
    with Peer(cert) as peer, caplog.at_level(logging.WARNING, logger="mailflow.smtp"):
        hop = f"[127.0.0.1]:{peer.port}"
        o = send(hop, smtp_tls_security_level="may",
                 smtp_tls_policy_maps=f"inline:{{{{ {hop} = sometimes }}}}")
    assert (o.status.code, o.status.text) == ("4.7.5", "client TLS configuration problem")
    assert [r.getMessage() for r in caplog.records] == [
        f'smtp_tls_policy_maps, next-hop destination "{hop}": invalid security level "sometimes"',
        f"TLS policy lookup error for {hop}/127.0.0.1: client TLS configuration problem"]
    assert peer.handler.messages == []


def test_dane_is_may_and_dane_only_defers(cert, caplog):
    with Peer(cert) as peer, caplog.at_level(logging.INFO, logger="mailflow.smtp"):
        hop = f"[127.0.0.1]:{peer.port}"
        dane = send(hop, smtp_tls_policy_maps=f"inline:{{{{ {hop} = dane }}}}")
        only = send(hop, smtp_tls_security_level="dane-only")
    assert dane.status.code == "2.0.0"
    assert only.status == only.status.__class__("4.7.5", "client TLS configuration problem")
    assert f"{hop}: dane configured with dnssec lookups disabled" in caplog.messages
    assert f"{hop}: dane-only configured with dnssec lookups disabled" in caplog.messages
    assert peer.handler.messages == [True]


def test_lmtp_reads_lmtp_tls_parameters_only(cert):
    """lmtp_tls_CAfile, not smtp_tls_CAfile: with only the smtp one set the
    chain does not verify against the test CA."""
    with Peer(cert, lmtp=True) as peer:
        hop = f"inet:localhost:{peer.port}"
        smtp_ca = send(hop, lmtp=True, lmtp_tls_security_level="verify",
                       smtp_tls_CAfile=str(cert[0]))
        lmtp_ca = send(hop, lmtp=True, lmtp_tls_security_level="verify",
                       lmtp_tls_CAfile=str(cert[0]))
        table = send(hop, lmtp=True, lmtp_tls_CAfile=str(cert[0]),
                     lmtp_tls_policy_maps=f"inline:{{{{ localhost:{peer.port} = secure "
                                          f"match=localhost }}}}")
    assert smtp_ca.status.code == "4.7.5"
    assert "handshake failure" in smtp_ca.status.text
    assert lmtp_ca.status.code == table.status.code == "2.0.0"
    assert peer.handler.messages == [True, True]
