"""docs/howto/content-filter.md runs as written, on top of the gateway of
docs/howto/replace-postfix.md.

The gateway's files are written first and its tables built; this page's
main.cf and master.cf lines are appended to them, and its filter program
is written where master.cf runs it (every path mapped into a scratch
directory, ports 25, 10025 and 10026 replaced by free loopback ports).
Then the page's commands run in order, the daemon and swaks included, and
print what the page shows: the message reaches the mailbox with the
filter's header, after passing through the pipe agent and the
re-injection listener. The SMTP-filter variant runs with an aiosmtpd
filter that adds its own header.
"""

from __future__ import annotations

import shutil
import smtplib
import sys

import pytest

from .guide import Guide  # first: it puts tests/e2e on sys.path
from e2e_helpers import free_port, maildir_messages, wait_until  # noqa: E402  (tests/e2e)

PAGE = "docs/howto/content-filter.md"
TEST = "tests/docs/test_howto_content_filter.py"
BASE = "docs/howto/replace-postfix.md"
BASE_TEST = "tests/docs/test_howto_replace_postfix.py"


def mapping(tmp, smtpd_port: int, reinject_port: int, scan_port: int) -> dict[str, str]:
    return {
        "/var/mail/vhosts": str(tmp / "vhosts"),
        "/var/log/mailflow.log": str(tmp / "mailflow.log"),
        "/usr/local/bin/mailfilter": str(tmp / "bin" / "mailfilter"),
        "#!/usr/bin/env python3": f"#!{sys.executable}",
        "127.0.0.1:25 ": f"127.0.0.1:{smtpd_port} ",
        "smtp      inet": f"127.0.0.1:{smtpd_port} inet",
        "127.0.0.1:10026": f"127.0.0.1:{reinject_port}",
        '"127.0.0.1", 10026': f'"127.0.0.1", {reinject_port}',
        "[127.0.0.1]:10025": f"[127.0.0.1]:{scan_port}",
    }


@pytest.fixture
def guides(tmp_path):
    """(the gateway guide, this guide), configured in the same scratch directory."""
    replace = mapping(tmp_path, free_port(), free_port(), free_port())
    base = Guide(BASE, BASE_TEST, tmp_path, replace)
    base.write_files(extra_main_cf=f"queue_directory = {tmp_path}/spool\n")
    base.run_steps(until="explain")       # postmap the tables, check
    page = Guide(PAGE, TEST, tmp_path, replace)
    yield base, page
    page.stop()


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
def test_the_pipe_filter_adds_its_header_as_the_page_says(guides):
    _base, page = guides
    page.write_files(append=True)
    page.run_steps()
    [mail] = maildir_messages(page.tmp / "vhosts" / "alice" / "Maildir")
    text = mail.read_bytes()
    assert text.count(b"X-Content-Filter:") == 1          # filtered once, not in a loop
    assert b"\nReceived: from " in text


def test_an_smtp_filter_as_the_variant_says(guides):
    """content_filter = scan:[127.0.0.1]:10025 and the scan service of the
    page's variant; the filter (aiosmtpd) re-injects on the same listener."""
    controller = pytest.importorskip("aiosmtpd.controller")
    base, page = guides
    page.write_files(append=True)
    variant = {b.title: b.text for b in page.blocks if b.title in ("main.cf", "master.cf")}
    scan_port = int(page.mapped("[127.0.0.1]:10025").rsplit(":", 1)[1])
    reinject = int(page.mapped("127.0.0.1:10026").rsplit(":", 1)[1])
    main_cf = page.etc / "main.cf"
    main_cf.write_text(main_cf.read_text().replace("content_filter = filter:dummy\n",
                                                   page.mapped(variant["main.cf"])))
    with open(page.etc / "master.cf", "a") as f:
        f.write(page.mapped(variant["master.cf"]))

    class Scanner:
        async def handle_DATA(self, server, session, envelope):
            with smtplib.SMTP("127.0.0.1", reinject, timeout=10) as smtp:
                smtp.sendmail(envelope.mail_from, envelope.rcpt_tos,
                              b"X-Scanned: clean\r\n" + envelope.original_content)
            return "250 2.0.0 Ok: passed on"

    scanner = controller.Controller(Scanner(), hostname="127.0.0.1", port=scan_port)
    scanner.start()
    try:
        assert page.run("mailflow -c /etc/mailflow start") == "mailflow: starting the mail system\n"
        with smtplib.SMTP("127.0.0.1", int(page.mapped("127.0.0.1:25 ").split(":")[1]),
                          timeout=10) as client:
            client.sendmail("someone@example.net", ["bob@example.com"],
                            b"Subject: via scan\r\n\r\nhello\r\n")
        maildir = page.tmp / "vhosts" / "bob" / "Maildir"
        [mail] = wait_until(lambda: maildir_messages(maildir), "mail in bob's Maildir")
    finally:
        scanner.stop()
    assert mail.read_bytes().count(b"X-Scanned: clean") == 1
    assert f"relay=127.0.0.1[127.0.0.1]:{scan_port}" in page.log()
    assert "relay=filter" not in page.log()
