"""Delivery with the daemon running, through sendmail and through ``mailflow.submit``.

One daemon serves the whole module (the destinations do not interfere: each
test finds its own message by a unique token); tests that change the daemon's
state (a pipe that defers, expiry, hold) run their own daemon.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import mailbox
from pathlib import Path
from typing import Iterator

import pytest

from e2e_helpers import Mta, maildir_messages, shut_down, wait_until, write_config

# aliases(5) entries; {tmp} is the test's directory.
ALIASES = """\
sales: b@example.com
archive: {tmp}/files/archive.mbox
drop-box: {tmp}/files/dropbox/
"""

# forward_path = {tmp}/forward/$user: the .forward file of local user "nobody".
FORWARD = "fwd@example.com\n"

_serial = itertools.count()


def token() -> str:
    """A Subject text no other message of this module carries."""
    return f"e2e-token-{next(_serial)}"


def message(subject: str, body: str = "hello\n") -> bytes:
    return f"Subject: {subject}\n\n{body}".encode()


def submit(mta: Mta, how: str, sender: str, recipients: list[str], data: bytes) -> None:
    """Submit through the ``sendmail`` command or the Python API ``mailflow.submit``."""
    if how == "sendmail":
        mta.sendmail(sender, *recipients, data=data)
    else:
        from mailflow.config import Config
        from mailflow.submit import submit as api_submit
        api_submit(data, sender, recipients, config=Config.from_directory(str(mta.etc)))


def with_token(paths: list[Path], text: str) -> list[Path]:
    return [p for p in paths if text.encode() in p.read_bytes()]


def wait_in_maildir(maildir: Path, text: str) -> bytes:
    """Wait for the message carrying ``text`` in ``maildir``; return its bytes."""
    [path] = wait_until(lambda: with_token(maildir_messages(maildir), text),
                        f"a message with {text!r} in {maildir}")
    return path.read_bytes()


def wait_in_mbox(path: Path, text: str) -> email.message.Message:
    """Wait for the message carrying ``text`` in the mbox file ``path`` (read by mailbox.mbox)."""
    def found():
        if not path.exists():
            return None
        box = mailbox.mbox(str(path), create=False)
        try:
            return [m for m in box if text in str(m["Subject"])]
        finally:
            box.close()
    [msg] = wait_until(found, f"a message with {text!r} in {path}")
    return msg


HOW = pytest.mark.parametrize("how", ["sendmail", "submit"])


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[Mta]:
    """One running mail system for the tests that only deliver."""
    tmp = tmp_path_factory.mktemp("shared")
    mta = write_config(tmp, aliases=ALIASES, transport="pipe.example pipeit:\n")
    (tmp / "files").mkdir()
    (tmp / "forward" / "nobody").write_text(FORWARD)
    mta.start()
    yield mta
    shut_down(mta)


@HOW
def test_virtual_maildir(shared, how):
    """Mail for a virtual_mailbox_maps address lands in that Maildir with Delivered-To."""
    subject = token()
    submit(shared, how, "a@example.com", ["b@example.com"], message(subject))
    data = wait_in_maildir(shared.maildir("b"), subject)
    assert b"Delivered-To: b@example.com\n" in data
    assert b"Return-Path: <a@example.com>\n" in data


@HOW
def test_local_mbox(shared, how):
    """Mail for a local user without aliases is appended to mail_spool_directory/USER as mbox."""
    subject = token()
    submit(shared, how, "a@example.com", ["root@localhost"], message(subject, "From me\n"))
    msg = wait_in_mbox(shared.tmp / "mailspool" / "root", subject)
    assert msg.get_from().startswith("a@example.com ")
    assert msg["Delivered-To"] == "root@localhost"
    assert msg.get_payload() == ">From me\n"          # mboxo quoting, undone by nobody


@HOW
def test_alias_to_virtual_address(shared, how):
    """An alias to another address delivers to that address's mailbox, keeping the original."""
    subject = token()
    submit(shared, how, "a@example.com", ["sales@localhost"], message(subject))
    data = wait_in_maildir(shared.maildir("b"), subject)
    assert b"Delivered-To: b@example.com\n" in data


@HOW
def test_alias_to_mbox_file(shared, how):
    """An alias to /path/file appends to an mbox file that Python's mailbox.mbox reads."""
    subject = token()
    submit(shared, how, "a@example.com", ["archive@localhost"], message(subject))
    msg = wait_in_mbox(shared.tmp / "files" / "archive.mbox", subject)
    assert msg["Return-Path"] == "<a@example.com>"
    assert msg.get_payload() == "hello\n"


@HOW
def test_alias_to_maildir_path(shared, how):
    """An alias to /path/dir/ (ending in a slash) delivers into a Maildir there."""
    subject = token()
    submit(shared, how, "a@example.com", ["drop-box@localhost"], message(subject))
    data = wait_in_maildir(shared.tmp / "files" / "dropbox", subject)
    assert data.endswith(b"\n\nhello\n")


@HOW
def test_dot_forward(shared, how):
    """A local user's .forward file (forward_path) sends the mail on to the address in it."""
    subject = token()
    submit(shared, how, "a@example.com", ["nobody@localhost"], message(subject))
    data = wait_in_maildir(shared.maildir("fwd"), subject)
    assert b"Delivered-To: fwd@example.com\n" in data
    assert b"Delivered-To: nobody@localhost\n" in data   # prepend_delivered_header = forward


@HOW
def test_pipe_program(shared, how):
    """A master.cf pipe service runs its argv with the expansions and the message on stdin."""
    subject = token()
    submit(shared, how, "a@example.com", ["u@pipe.example"], message(subject))

    def delivered():
        return [p for p in shared.pipe_dir.glob("stdin.*") if subject.encode() in p.read_bytes()]
    [stdin] = wait_until(delivered, f"the pipe program to get {subject}")
    argv = json.loads((shared.pipe_dir / stdin.name.replace("stdin", "argv")).read_text())
    assert argv == ["a@example.com", "u@pipe.example"]
    assert stdin.read_bytes().endswith(b"\n\nhello\n")


@HOW
def test_unknown_local_user_bounces(shared, how):
    """Mail for an unknown local user comes back to the sender as an RFC 3464 report."""
    subject = token()
    submit(shared, how, "a@example.com", ["nosuchuser@localhost"], message(subject))
    notice = email.message_from_bytes(wait_in_maildir(shared.maildir("a"), subject),
                                      policy=email.policy.default)
    assert notice.get_content_type() == "multipart/report"
    assert notice.get_param("report-type") == "delivery-status"
    human, status, original = notice.get_payload()
    assert status.get_content_type() == "message/delivery-status"
    per_message, per_recipient = status.get_payload()
    assert per_recipient["Final-Recipient"] == "rfc822; nosuchuser@localhost"
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"] == "5.1.1"
    assert per_message["Reporting-MTA"] == "dns; mail.example.com"
    assert notice["From"].addresses[0].username == "MAILER-DAEMON"
    assert subject in original.as_string()
