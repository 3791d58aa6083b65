"""TLS contexts from main.cf, checked by real handshakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
import subprocess
import sys

import attrs
import pytest

from mailflow.adapters.tls import (ccert_fingerprint, client_context, client_match_names,
                                   describe_tls, peer_name_matches, protocol_range,
                                   server_context, server_tls_level, smtpd_received_tls_info)
from mailflow.config import Config
from mailflow.errors import ConfigError

LINE = re.compile(r"(?P<grade>\w+) TLS connection established (?P<dir>from|to) (?P<peer>\S+): "
                  r"(?P<proto>TLSv1\.[23]) with cipher (?P<cipher>\S+) "
                  r"\((?P<use>\d+)/(?P<alg>\d+) bits\)$")


def server_cfg(certs, **params) -> Config:
    base = {"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": str(certs.server_cert),
            "smtpd_tls_key_file": str(certs.server_key)}
    return Config(**{**base, **params})


@attrs.frozen
class Session:
    """What each side saw of one TLS session."""

    server_line: str
    client_line: str
    received: tuple[str, ...]
    fingerprint: str | None
    pkey_fingerprint: str | None
    client_cert: dict
    protocol: str


async def _handshake(sctx, cctx, server_hostname, ask_ccert, verified_names):
    seen: asyncio.Future = asyncio.get_running_loop().create_future()

    async def serve(reader, writer):
        obj = writer.get_extra_info("ssl_object")
        seen.set_result((describe_tls(obj, "client.example.test[127.0.0.1]"),
                         smtpd_received_tls_info(obj, ask_ccert=ask_ccert),
                         ccert_fingerprint(obj), ccert_fingerprint(obj, public_key=True)))
        writer.write(b"220 ok\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=sctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=cctx, server_hostname=server_hostname)
        try:
            greeting = await reader.readline()
            if not greeting:  # TLSv1.3: the server checks our certificate after the handshake
                raise ConnectionResetError("the server closed the TLS session")
            assert greeting == b"220 ok\r\n"
            obj = writer.get_extra_info("ssl_object")
            cert = obj.getpeercert()
            verified = bool(verified_names and peer_name_matches(cert, verified_names))
            client_line = describe_tls(obj, f"{server_hostname}[127.0.0.1]", verified=verified)
            server_line, received, fp, pfp = await asyncio.wait_for(seen, 5)
            return Session(server_line, client_line, received, fp, pfp, cert, obj.version())
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
    finally:
        server.close()
        await server.wait_closed()


def handshake(sctx, cctx, *, server_hostname="mx.example.test", ask_ccert=False,
              verified_names=()) -> Session:
    return asyncio.run(_handshake(sctx, cctx, server_hostname, ask_ccert, verified_names))


# --- server_context ---------------------------------------------------

def test_level_none_gives_no_context():
    """With smtpd_tls_security_level empty (Postfix's default) smtpd has no TLS."""
    assert server_context(Config()) is None


@pytest.mark.parametrize("params,level", [
    ({}, "none"), ({"smtpd_use_tls": "yes"}, "may"), ({"smtpd_enforce_tls": "yes"}, "encrypt"),
    ({"smtpd_tls_security_level": "may", "smtpd_enforce_tls": "yes"}, "may"),
    ({"smtpd_tls_security_level": "may", "smtpd_tls_wrappermode": "yes"}, "encrypt"),
    ({"smtpd_tls_security_level": "verify"}, "encrypt"),
], ids=["default", "use_tls", "enforce_tls", "level-wins", "wrappermode", "verify-is-encrypt"])
def test_server_level(params, level):
    """The level comes from smtpd_tls_security_level, else the obsolete booleans."""
    assert server_tls_level(Config(**params)) == level


def test_unknown_server_level_is_a_config_error():
    """A level that is not a word Postfix knows names the parameter."""
    with pytest.raises(ConfigError, match="smtpd_tls_security_level = maybe: unknown"):
        server_tls_level(Config(smtpd_tls_security_level="maybe"))


@pytest.mark.parametrize("level", ["may", "encrypt"])
def test_no_certificate_disables_tls_with_postfix_warning(level, caplog):
    """Without a certificate smtpd runs without TLS and warns as Postfix does."""
    with caplog.at_level(logging.WARNING, "mailflow.tls"):
        assert server_context(Config(smtpd_tls_security_level=level)) is None
    assert caplog.messages == ["No server certs available. TLS won't be enabled"]


def test_missing_cert_file_names_parameter_and_file(tmp_path):
    """A certificate file that does not exist is a ConfigError naming both."""
    missing = tmp_path / "x.pem"
    with pytest.raises(ConfigError) as err:
        server_context(Config(smtpd_tls_security_level="may", smtpd_tls_cert_file=str(missing)))
    assert str(err.value) == f"smtpd_tls_cert_file = {missing}: No such file or directory"


def test_missing_key_file_names_the_key_parameter(certs, tmp_path):
    """A missing key file is reported against smtpd_tls_key_file."""
    missing = tmp_path / "k.pem"
    with pytest.raises(ConfigError) as err:
        server_context(server_cfg(certs, smtpd_tls_key_file=str(missing)))
    assert str(err.value) == f"smtpd_tls_key_file = {missing}: No such file or directory"


def test_key_that_does_not_match_the_certificate(certs):
    """A key of another certificate is a ConfigError, not a crash at the first STARTTLS."""
    with pytest.raises(ConfigError, match=r"^smtpd_tls_cert_file = .*cannot load certificate"):
        server_context(server_cfg(certs, smtpd_tls_key_file=str(certs.client_key)))


def test_missing_cafile_is_a_config_error(certs, tmp_path):
    """smtpd_tls_CAfile that does not exist is named."""
    with pytest.raises(ConfigError, match=r"^smtpd_tls_CAfile = .*: No such file or directory$"):
        server_context(server_cfg(certs, smtpd_tls_CAfile=str(tmp_path / "ca.pem")))


def test_ask_ccert_without_ca_is_a_config_error(certs):
    """Asking for client certificates needs a CA list to check them against."""
    with pytest.raises(ConfigError, match="smtpd_tls_ask_ccert = yes: asking for client"):
        server_context(server_cfg(certs, smtpd_tls_ask_ccert="yes"))


def test_req_ccert_without_ca_names_req_ccert(certs):
    """Requiring client certificates without a CA list names smtpd_tls_req_ccert."""
    with pytest.raises(ConfigError, match="smtpd_tls_req_ccert = yes: asking for client"):
        server_context(server_cfg(certs, smtpd_tls_security_level="encrypt",
                                  smtpd_tls_req_ccert="yes"))


def test_req_ccert_at_may_warns_as_postfix(certs, caplog):
    """smtpd_tls_req_ccert without mandatory TLS is ignored with Postfix's warning."""
    with caplog.at_level(logging.WARNING, "mailflow.tls"):
        ctx = server_context(server_cfg(certs, smtpd_tls_req_ccert="yes"))
    assert ctx.verify_mode == ssl.CERT_NONE
    assert caplog.messages == ["Can't require client certs unless TLS is required"]


def test_unknown_cipher_grade_is_a_config_error(certs):
    """A cipher grade Postfix does not define is named with the expected words."""
    with pytest.raises(ConfigError, match="smtpd_tls_ciphers = strong: unknown cipher grade"):
        server_context(server_cfg(certs, smtpd_tls_ciphers="strong"))


# --- protocol lists ---------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    (">=TLSv1", ("TLSv1_2", "TLSv1_3")),
    ("", ("TLSv1_2", "TLSv1_3")),
    ("!SSLv2, !SSLv3", ("TLSv1_2", "TLSv1_3")),
    (">=TLSv1.3", ("TLSv1_3", "TLSv1_3")),
    ("<=TLSv1.2", ("TLSv1_2", "TLSv1_2")),
    ("TLSv1.2:TLSv1.3", ("TLSv1_2", "TLSv1_3")),
    ("TLSv1.2", ("TLSv1_2", "TLSv1_2")),
    ("!TLSv1.2 !TLSv1.1", ("TLSv1_3", "TLSv1_3")),
    ("tlsv1.3", ("TLSv1_3", "TLSv1_3")),
])
def test_protocol_list(value, expected):
    """Postfix's protocol syntax becomes Python's minimum and maximum version."""
    lo, hi = protocol_range(value)
    assert (lo.name, hi.name) == expected


@pytest.mark.parametrize("value,message", [
    (">=TLSv1.4", 'unknown TLS protocol "TLSv1.4"'),
    ("TLSv1", "no TLS protocol version that Python's ssl supports"),
    ("!TLSv1.2, !TLSv1.3", "no TLS protocol version"),
])
def test_bad_protocol_list(value, message):
    """A protocol list with an unknown name, or nothing Python can use, is an error."""
    with pytest.raises(ConfigError, match=re.escape(f"smtpd_tls_protocols = {value}: {message}")):
        protocol_range(value)


# --- handshakes -------------------------------------------------------

def test_opportunistic_handshake_log_lines(certs):
    """may/may: the server logs Anonymous, the client Untrusted (no verification)."""
    s = handshake(server_context(server_cfg(certs)), client_context(Config(), "may"))
    server, client = LINE.match(s.server_line), LINE.match(s.client_line)
    assert server and client, (s.server_line, s.client_line)
    assert server["grade"] == "Anonymous" and server["dir"] == "from"
    assert server["peer"] == "client.example.test[127.0.0.1]"
    assert client["grade"] == "Untrusted" and client["dir"] == "to"
    assert client["peer"] == "mx.example.test[127.0.0.1]"
    assert server["proto"] == s.protocol == "TLSv1.3"
    assert server["cipher"] == client["cipher"]


def test_log_line_bits_for_a_known_cipher(certs):
    """TLSv1.2 with a 256-bit AES-GCM cipher reads (256/256 bits), as Postfix logs."""
    cctx = client_context(Config(smtp_tls_protocols="TLSv1.2"), "may")
    cctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    s = handshake(server_context(server_cfg(certs)), cctx)
    assert s.server_line == ("Anonymous TLS connection established from "
                             "client.example.test[127.0.0.1]: TLSv1.2 with cipher "
                             "ECDHE-ECDSA-AES256-GCM-SHA384 (256/256 bits)")
    assert s.received == ("(using TLSv1.2 with cipher ECDHE-ECDSA-AES256-GCM-SHA384 "
                          "(256/256 bits))", "(No client certificate requested)")


def test_chain_files_serve_the_certificate(certs):
    """smtpd_tls_chain_files (key, certificate, CA in one file) is used instead of cert_file."""
    cfg = Config(smtpd_tls_security_level="may", smtpd_tls_chain_files=str(certs.server_chain))
    s = handshake(server_context(cfg), client_context(Config(), "verify", ca_file=str(certs.ca)),
                  verified_names=["mx.example.test"])
    assert s.client_line.startswith("Verified TLS connection established to mx.example.test")


def test_verify_level_accepts_the_ca_signed_server(certs):
    """verify: the chain verifies and the MX host name matches: "Verified"."""
    cfg = Config()
    names = client_match_names(cfg, "verify", hostname="mx.example.test", nexthop="example.test")
    s = handshake(server_context(server_cfg(certs)),
                  client_context(cfg, "verify", ca_file=str(certs.ca)), verified_names=names)
    assert s.client_line.startswith("Verified TLS connection established to ")


def test_verify_level_name_mismatch_is_trusted_not_verified(certs):
    """A good chain with another name is "Trusted": the caller must not send mail."""
    names = client_match_names(Config(), "verify", hostname="other.example", nexthop="example")
    s = handshake(server_context(server_cfg(certs)),
                  client_context(Config(), "verify", ca_file=str(certs.ca)),
                  verified_names=names)
    assert peer_name_matches(s.client_cert, names) is None
    assert s.client_line.startswith("Trusted TLS connection established to ")


def test_verify_level_rejects_an_unknown_ca(certs):
    """verify against a self-signed server certificate fails the handshake."""
    sctx = server_context(Config(smtpd_tls_security_level="may",
                                 smtpd_tls_cert_file=str(certs.selfsigned_cert),
                                 smtpd_tls_key_file=str(certs.selfsigned_key)))
    with pytest.raises(ssl.SSLCertVerificationError, match="self.signed certificate"):
        handshake(sctx, client_context(Config(), "verify", ca_file=str(certs.ca)))


def test_encrypt_level_accepts_the_self_signed_server(certs):
    """encrypt needs encryption only: any certificate will do ("Untrusted")."""
    sctx = server_context(Config(smtpd_tls_security_level="may",
                                 smtpd_tls_cert_file=str(certs.selfsigned_cert),
                                 smtpd_tls_key_file=str(certs.selfsigned_key)))
    s = handshake(sctx, client_context(Config(), "encrypt"))
    assert s.client_line.startswith("Untrusted TLS connection established to ")


def test_mandatory_protocols_apply_at_encrypt(certs):
    """encrypt uses smtpd_tls_mandatory_protocols; a TLSv1.2-only client is refused."""
    sctx = server_context(server_cfg(certs, smtpd_tls_security_level="encrypt",
                                     smtpd_tls_mandatory_protocols=">=TLSv1.3",
                                     smtpd_tls_protocols="TLSv1.2"))
    assert sctx.minimum_version == ssl.TLSVersion.TLSv1_3
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(sctx, client_context(Config(smtp_tls_protocols="TLSv1.2"), "may"))


def test_opportunistic_protocols_apply_at_may(certs):
    """may uses smtpd_tls_protocols: TLSv1.2 only is negotiated as such."""
    sctx = server_context(server_cfg(certs, smtpd_tls_protocols="!TLSv1.3",
                                     smtpd_tls_mandatory_protocols="TLSv1.3"))
    assert handshake(sctx, client_context(Config(), "may")).protocol == "TLSv1.2"


def test_excluded_ciphers_are_not_negotiated(certs):
    """smtpd_tls_exclude_ciphers removes ciphers from the TLSv1.2 list."""
    sctx = server_context(server_cfg(certs, smtpd_tls_protocols="TLSv1.2",
                                     smtpd_tls_exclude_ciphers="AES256, CHACHA20"))
    s = handshake(sctx, client_context(Config(), "may"))
    assert "TLSv1.2 with cipher" in s.server_line
    assert "AES256" not in s.server_line and "CHACHA20" not in s.server_line


# --- client certificates ------------------------------------------------

def client_with_cert(certs) -> ssl.SSLContext:
    return client_context(Config(smtp_tls_cert_file=str(certs.client_cert),
                                 smtp_tls_key_file=str(certs.client_key)), "may")


def test_client_certificate_is_trusted_and_described(certs):
    """ask_ccert with a CA: the server logs Trusted and the Received: comment names the CN."""
    sctx = server_context(server_cfg(certs, smtpd_tls_ask_ccert="yes",
                                     smtpd_tls_CAfile=str(certs.ca)))
    s = handshake(sctx, client_with_cert(certs), ask_ccert=True)
    assert s.server_line.startswith("Trusted TLS connection established from ")
    assert s.received[1] == ('(Client CN "client.example.test", Issuer "Mailflow Test CA" '
                             '(verified OK))')


def test_client_without_certificate_when_asked(certs):
    """ask_ccert and no client certificate: Anonymous, "Client did not present a certificate"."""
    sctx = server_context(server_cfg(certs, smtpd_tls_ask_ccert="yes",
                                     smtpd_tls_CAfile=str(certs.ca)))
    s = handshake(sctx, client_context(Config(), "may"), ask_ccert=True)
    assert s.server_line.startswith("Anonymous TLS connection established from ")
    assert s.received[1] == "(Client did not present a certificate)"
    assert s.fingerprint is None


def test_required_client_certificate_refuses_a_client_without_one(certs):
    """encrypt + smtpd_tls_req_ccert: a client with no certificate cannot connect."""
    sctx = server_context(server_cfg(certs, smtpd_tls_security_level="encrypt",
                                     smtpd_tls_req_ccert="yes",
                                     smtpd_tls_CAfile=str(certs.ca)))
    assert sctx.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises((ssl.SSLError, ConnectionError)):
        handshake(sctx, client_context(Config(), "may"))


def test_fingerprints_match_openssl(certs):
    """The certificate and public-key fingerprints equal what openssl computes."""
    sctx = server_context(server_cfg(certs, smtpd_tls_ask_ccert="yes",
                                     smtpd_tls_CAfile=str(certs.ca)))
    s = handshake(sctx, client_with_cert(certs), ask_ccert=True)
    out = subprocess.run(["openssl", "x509", "-in", str(certs.client_cert), "-noout",
                          "-fingerprint", "-sha256"], capture_output=True, text=True,
                         check=True).stdout
    assert s.fingerprint == out.strip().split("=", 1)[1]
    spki = subprocess.run(["openssl", "x509", "-in", str(certs.client_cert), "-noout",
                           "-pubkey"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=spki,
                         capture_output=True, check=True).stdout
    want = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert s.pkey_fingerprint == want


# --- STARTTLS ---------------------------------------------------------

@pytest.mark.skipif(sys.version_info < (3, 11), reason="StreamWriter.start_tls needs Python 3.11")
def test_starttls_upgrade(certs):
    """A plaintext session upgraded with STARTTLS logs the same line as wrapper mode."""
    sctx = server_context(server_cfg(certs))
    cctx = client_context(Config(), "encrypt")

    async def main():
        lines: list[str] = []

        async def serve(reader, writer):
            assert await reader.readline() == b"STARTTLS\r\n"
            writer.write(b"220 2.0.0 Ready to start TLS\r\n")
            await writer.drain()
            await writer.start_tls(sctx)
            lines.append(describe_tls(writer.get_extra_info("ssl_object"), "localhost[127.0.0.1]"))
            writer.write(b"250 ok\r\n")
            await writer.drain()
            await reader.read()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"STARTTLS\r\n")
        assert await reader.readline() == b"220 2.0.0 Ready to start TLS\r\n"
        await writer.start_tls(cctx, server_hostname="mx.example.test")
        assert await reader.readline() == b"250 ok\r\n"
        lines.append(describe_tls(writer.get_extra_info("ssl_object"), "mx.example.test[127.0.0.1]"))
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return lines

    server_line, client_line = asyncio.run(main())
    assert LINE.match(server_line)["grade"] == "Anonymous"
    assert LINE.match(client_line)["grade"] == "Untrusted"


# --- names ----------------------------------------------------------------

@pytest.mark.parametrize("names,expected", [
    (["mx.example.test"], "mx.example.test"),
    (["MX.Example.Test."], "mx.example.test"),
    (["a.wild.example.test"], "*.wild.example.test"),
    (["wild.example.test"], None),
    (["a.b.wild.example.test"], None),
    ([".example.test"], "mx.example.test"),
    ([".wild.example.test"], "*.wild.example.test"),
    (["example.test"], None),
    (["other.example"], None),
], ids=lambda v: str(v))
def test_peer_name_matching(names, expected):
    """Exact names, subdomain patterns and one-label wildcards, as Postfix matches them."""
    cert = {"subject": ((("commonName", "ignored.example"),),),
            "subjectAltName": (("DNS", "mx.example.test"), ("DNS", "*.wild.example.test"),
                               ("IP Address", "127.0.0.1"))}
    assert peer_name_matches(cert, names) == expected


def test_match_names_from_parameters():
    """smtp_tls_verify_cert_match words become names; literal names are kept."""
    cfg = Config(smtp_tls_verify_cert_match="hostname, nexthop, .corp.example")
    assert client_match_names(cfg, "verify", hostname="mx.a.example",
                              nexthop="[a.example]") == ["mx.a.example", "a.example",
                                                         ".corp.example"]


def test_client_level_none_and_unknown():
    """Client level none gives no context; an unknown level is a ConfigError."""
    assert client_context(Config(), "none") is None
    with pytest.raises(ConfigError, match="smtp_tls_security_level = dane: unsupported"):
        client_context(Config(), "dane")
