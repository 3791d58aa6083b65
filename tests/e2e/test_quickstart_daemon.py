"""The quickstart configuration run as a real daemon: start, sendmail, postqueue, stop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from e2e_helpers import (ROOT, Mta, free_port, mail_processes, maildir_messages, shut_down,
                         wait_until)


@pytest.fixture
def quickstart(tmp_path: Path):
    """examples/quickstart copied to tmp_path (its spool is $config_directory/spool), started."""
    mta = Mta(tmp_path)
    # Only the configuration: never a spool left by someone who ran it in place.
    shutil.copytree(ROOT / "examples" / "quickstart", mta.etc,
                    ignore=shutil.ignore_patterns("spool", "maillog"))
    main_cf = mta.etc / "main.cf"
    lines = [line for line in main_cf.read_text().splitlines()
             if not line.startswith("maillog_file")]     # a second entry would draw a warning
    main_cf.write_text("\n".join(lines + [f"maillog_file = {mta.maillog}"]) + "\n")
    # Another run on this machine may hold the shipped smtpd port (2525).
    master_cf = mta.etc / "master.cf"
    master_cf.write_text(master_cf.read_text().replace("127.0.0.1:2525",
                                                       f"127.0.0.1:{free_port()}"))
    mta.spool = mta.etc / "spool"
    mta.mail = mta.spool / "mailboxes"
    mta.start()
    yield mta
    shut_down(mta)


def test_sendmail_message_reaches_the_maildir(quickstart):
    """A message piped to sendmail is listed by postqueue -p or already delivered to b's Maildir."""
    quickstart.sendmail("a@example.com", "b@example.com", data="Subject: hi\n\nhello\n")
    listing = quickstart.cli("postqueue", "-p", check=True).stdout
    maildir = quickstart.mail / "b" / "Maildir"
    assert "b@example.com" in listing or maildir_messages(maildir), listing
    [path] = quickstart.wait_for_mail(maildir)
    text = path.read_text()
    assert "Subject: hi" in text and text.rstrip().endswith("hello")
    wait_until(quickstart.queue_is_empty, "the queue to be empty")


def test_undeliverable_message_is_listed_with_its_reason(quickstart):
    """Mail for a remote domain waits in the deferred queue and postqueue -p shows why."""
    quickstart.sendmail("a@example.com", "someone@elsewhere.example", data="Subject: far\n\nx\n")
    listing = wait_until(lambda: (out := quickstart.cli("postqueue", "-p").stdout)
                         and "(no network delivery in the quickstart)" in out and out,
                         "the deferral reason in postqueue -p")
    lines = listing.splitlines()
    assert "Queue ID" in lines[0]
    assert "a@example.com" in lines[1]
    assert lines[-1].startswith("-- ") and lines[-1].endswith(" in 1 Request.")
    assert any(line.strip() == "someone@elsewhere.example" for line in lines)


def test_stop_leaves_no_process_behind(quickstart):
    """After stop, status says not running and no process of the mail system is alive."""
    pid = quickstart.master_pid()
    assert quickstart.cli("status").stderr.strip() == \
        f"mailflow: the mail system is running: PID: {pid}"
    assert mail_processes(quickstart.etc, pid) != []       # the check sees a live daemon
    quickstart.stop()
    status = quickstart.cli("status")
    assert (status.returncode, status.stderr.strip()) == \
        (1, "mailflow: the mail system is not running")
    assert mail_processes(quickstart.etc, pid) == []
