"""docs/howto/replace-postfix.md runs as written.

The page's files are written into a scratch directory (``/etc/mailflow``,
``/var/mail/vhosts`` and ``/var/log/mailflow.log`` mapped into it, port 25
replaced by a free loopback port, the spool under it too), then every
command of its console blocks runs in order, the daemon and swaks
included, and prints what the page shows.
"""

from __future__ import annotations

import shutil

import pytest

from .guide import Guide  # first: it puts tests/e2e on sys.path
from e2e_helpers import free_port  # noqa: E402  (tests/e2e)

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
    guide.run_steps()
    # Delivered once to each mailbox of the alias, and the message is the one swaks sent.
    for user in ("alice", "bob"):
        [mail] = (guide.tmp / "vhosts" / user / "Maildir" / "new").iterdir()
        assert b"Subject: test " in mail.read_bytes()


def test_the_page_shows_every_file_and_step(tmp_path):
    """The guide keeps what it promises: main.cf, master.cf, both tables, start, swaks, postqueue."""
    g = Guide(PAGE, TEST, tmp_path, {})
    titles = {b.title for b in g.file_blocks()}
    assert titles == {"/etc/mailflow/main.cf", "/etc/mailflow/master.cf",
                      "/etc/mailflow/vmailbox", "/etc/mailflow/virtual", "/etc/mailflow/transport"}
    commands = " ".join(c for _, c, _ in g.steps())
    for word in ("postmap", "check", "explain", "start", "swaks", "postqueue -p"):
        assert word in commands, word
