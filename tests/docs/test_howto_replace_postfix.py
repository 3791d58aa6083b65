"""docs/howto/replace-postfix.md runs as written.

The page's files are written into a scratch directory (``/etc/mailflow``,
``/var/mail/vhosts`` and ``/var/log/mailflow.log`` mapped into it, port 25
replaced by a free loopback port, the spool under it too), then every
command of its console blocks runs in order, the daemon and swaks
included, and prints what the page shows.
"""

from __future__ import annotations

import shutil
import smtplib
import sys

import pytest

from .codeblocks import ROOT
from .guide import Guide  # first: it puts tests/e2e on sys.path
from e2e_helpers import free_port, wait_until  # noqa: E402  (tests/e2e)

PAGE = "docs/howto/replace-postfix.md"
TEST = "tests/docs/test_howto_replace_postfix.py"


@pytest.fixture
def guide(tmp_path):
    port = free_port()
    g = Guide(PAGE, TEST, tmp_path, {
        "/var/mail/vhosts": str(tmp_path / "vhosts"),
        "/var/log/mailflow.log": str(tmp_path / "mailflow.log"),
        "127.0.0.1:25 ": f"127.0.0.1:{port} ",
        "smtp      inet": f"127.0.0.1:{port} inet",
    })
    g.port = port
    yield g
    g.stop()


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_the_gateway_works_as_the_page_says(guide):
    guide.write_files(extra_main_cf=f"queue_directory = {guide.tmp}/spool\n")
    guide.run_steps(until="relay_recipients")     # the variant is the next test's
    # Delivered once to each mailbox of the alias, and the message is the one swaks sent.
    for user in ("alice", "bob"):
        [mail] = (guide.tmp / "vhosts" / user / "Maildir" / "new").iterdir()
        assert b"Subject: test " in mail.read_bytes()


def test_the_page_shows_every_file_and_step(tmp_path):
    """The guide keeps what it promises: main.cf, master.cf, both tables, start, swaks, postqueue."""
    g = Guide(PAGE, TEST, tmp_path, {})
    titles = {b.title for b in g.file_blocks()}
    assert titles == {"/etc/mailflow/main.cf", "/etc/mailflow/master.cf",
                      "/etc/mailflow/vmailbox", "/etc/mailflow/virtual", "/etc/mailflow/transport",
                      "/etc/mailflow/relay_recipients"}
    commands = " ".join(c for _, c, _ in g.steps())
    for word in ("postmap", "check", "explain", "start", "swaks", "postqueue -p"):
        assert word in commands, word


def test_the_relay_variant_sends_to_the_internal_server(tmp_path):
    """The variant: the same main.cf without the virtual_* lines, plus the
    variant's lines; mail for a listed recipient reaches the internal
    server (smtp-sink standing in for it), an unlisted one is refused."""
    sys.path.insert(0, str(ROOT / "tests" / "delivery"))
    from smtp_peers import smtp_sink

    port = free_port()
    with smtp_sink(tmp_path) as sink_port:
        g = Guide(PAGE, TEST, tmp_path, {
            "/var/mail/vhosts": str(tmp_path / "vhosts"),
            "/var/log/mailflow.log": str(tmp_path / "mailflow.log"),
            "smtp      inet": f"127.0.0.1:{port} inet",
            "[mail.internal.example.com]": f"[127.0.0.1]:{sink_port}",
        })
        try:
            g.write_files(extra_main_cf=f"queue_directory = {tmp_path}/spool\n")
            main_cf = g.etc / "main.cf"
            variant = next(b for b in g.blocks if b.title == "main.cf")
            kept = [line for line in main_cf.read_text().splitlines(keepends=True)
                    if not line.startswith("virtual_")]
            main_cf.write_text("".join(kept) + g.mapped(variant.text))
            assert g.run("mailflow -c /etc/mailflow start").startswith("mailflow: starting")
            steps = [s for s in g.steps() if s[0].line > variant.line]
            for block, command, expected in steps:
                g.check(block, command, expected)
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.ehlo("client.example.net")
                client.mail("someone@example.net")
                assert client.rcpt("carol@example.com")[0] == 550
                assert client.rcpt("alice@example.com")[0] == 250
                client.data(b"Subject: inside\r\n\r\nhello\r\n")
            wait_until(lambda: f"relay=127.0.0.1[127.0.0.1]:{sink_port}" in g.log()
                       and "status=sent" in g.log(), "delivery to the internal server")
        finally:
            g.stop()
