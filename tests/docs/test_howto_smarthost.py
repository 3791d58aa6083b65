"""docs/howto/smarthost.md runs as written.

aiosmtpd on a free loopback port stands in for ``[smtp.provider.example]:587``:
it offers STARTTLS (a throw-away self-signed certificate), requires it,
and accepts mail only after AUTH with the page's user name and password.
The page's files are written into a scratch directory (paths and the
smarthost's address mapped), then its commands run in order, the daemon
included, and print what the page shows; the smarthost must have received
the message over TLS from the authenticated user.
"""

from __future__ import annotations

import ssl
import subprocess

import pytest

from .codeblocks import ROOT
from .guide import Guide  # first: it puts tests/e2e on sys.path
from e2e_helpers import free_port  # noqa: E402  (tests/e2e)

controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult  # noqa: E402

PAGE = "docs/howto/smarthost.md"
TEST = "tests/docs/test_howto_smarthost.py"
USER, PASSWORD = b"me@example.com", b"correct horse battery staple"


class Smarthost:
    """Keeps what arrives: (envelope, over TLS?, authenticated as)."""

    def __init__(self) -> None:
        self.received: list[tuple[object, bool, object]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope, session.ssl is not None, session.authenticated))
        return "250 2.0.0 Ok: queued as SMARTHOST1"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login, auth_data.password) == (USER, PASSWORD)
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@pytest.fixture
def smarthost(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    handler = Smarthost()
    server = controller.Controller(handler, hostname="127.0.0.1", port=free_port(),
                                   tls_context=context, require_starttls=True,
                                   authenticator=authenticate, auth_required=True,
                                   auth_require_tls=True)
    server.start()
    yield server.port, handler
    server.stop()


@pytest.fixture
def guide(tmp_path, smarthost):
    port, _handler = smarthost
    g = Guide(PAGE, TEST, tmp_path / "mta", {
        "/var/log/mailflow.log": str(tmp_path / "mta" / "mailflow.log"),
        "[smtp.provider.example]:587": f"[127.0.0.1]:{port}",
        "127.0.0.1:25 ": f"127.0.0.1:{free_port()} ",
    })
    yield g
    g.stop()


def test_mail_goes_through_the_smarthost_as_the_page_says(guide, smarthost):
    _port, handler = smarthost
    guide.write_files(extra_main_cf=f"queue_directory = {guide.tmp}/spool\n")
    guide.run_steps()
    [(envelope, over_tls, authenticated)] = handler.received
    assert over_tls and authenticated
    assert envelope.mail_from == "me@example.com"
    assert envelope.rcpt_tos == ["friend@example.net"]
    assert b"Subject: via the smarthost" in envelope.original_content


def test_a_wrong_password_defers_with_the_reason_the_page_gives(guide, smarthost):
    """The first row of the page's "When it does not work" table."""
    _port, handler = smarthost
    # The password file gets another password; commands and output read as on the page.
    guide.replace["battery staple"] = "battery stable"
    guide.write_files(extra_main_cf=f"queue_directory = {guide.tmp}/spool\n")
    guide.run_steps(until="postqueue -p")
    shown = "SASL authentication failed; server ... said: 535 ..."
    assert f"`{shown}`" in (ROOT / PAGE).read_text()
    block = guide.steps()[0][0]
    guide.check(block, "mailflow -c /etc/mailflow postqueue -p", f"...({shown})...")
    assert handler.received == []
