"""Throw-away certificates for TLS tests, made with the ``openssl`` command.

:func:`make_certs` writes a private CA, a server certificate it signs (CN
``mx.example.test``, SANs ``mx.example.test``, ``*.wild.example.test``,
``localhost``, IP 127.0.0.1), a client certificate it signs (CN
``client.example.test``), a self-signed server certificate nobody trusts,
and a chain file (key, certificate, CA) for ``smtpd_tls_chain_files``.
EC P-256 keys keep generation fast. Tests call it once per session through
the ``certs`` fixture of tests/tls/conftest.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import attrs


@attrs.frozen
class Certs:
    """Paths of the PEM files :func:`make_certs` wrote."""

    ca: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    server_chain: Path       # key, certificate, then the CA: one smtpd_tls_chain_files entry
    client_cert: Path
    client_key: Path
    selfsigned_cert: Path
    selfsigned_key: Path


def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _key(name: str, cwd: Path) -> None:
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", name, cwd=cwd)


def _signed(name: str, cn: str, ext: str, cwd: Path) -> None:
    _key(f"{name}.key", cwd)
    _run("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}", "-out", f"{name}.csr",
         cwd=cwd)
    (cwd / f"{name}.ext").write_text(ext)
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
         "-out", f"{name}.pem", cwd=cwd)


def make_certs(directory: Path) -> Certs:
    """Write the CA, server, client and self-signed certificates into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _key("ca.key", d)
    _run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Mailflow Test CA",
         "-days", "2", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem", cwd=d)
    _signed("server", "mx.example.test",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            "subjectAltName=DNS:mx.example.test,DNS:*.wild.example.test,DNS:localhost,"
            "IP:127.0.0.1\n", d)
    _signed("client", "client.example.test",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n", d)
    _key("selfsigned.key", d)
    _run("req", "-x509", "-new", "-key", "selfsigned.key", "-subj", "/CN=mx.example.test",
         "-days", "2", "-addext", "subjectAltName=DNS:mx.example.test",
         "-out", "selfsigned.pem", cwd=d)
    chain = d / "server-chain.pem"
    chain.write_bytes((d / "server.key").read_bytes() + (d / "server.pem").read_bytes()
                      + (d / "ca.pem").read_bytes())
    return Certs(ca=d / "ca.pem", ca_key=d / "ca.key", server_cert=d / "server.pem",
                 server_key=d / "server.key", server_chain=chain,
                 client_cert=d / "client.pem", client_key=d / "client.key",
                 selfsigned_cert=d / "selfsigned.pem", selfsigned_key=d / "selfsigned.key")
