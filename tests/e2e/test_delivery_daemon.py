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
    assert msg.get_payload() == ">From me\n"          # mbox "From " quoting, as Postfix


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


def _complete_json(path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True


@HOW
def test_pipe_program(shared, how):
    """A master.cf pipe service runs its argv with the expansions and the message on stdin."""
    subject = token()
    submit(shared, how, "a@example.com", ["u@pipe.example"], message(subject))

    def delivered():
        # The program writes stdin.N first, then argv.N: wait for both.
        found = [p for p in shared.pipe_dir.glob("stdin.*") if subject.encode() in p.read_bytes()]
        argv = [shared.pipe_dir / p.name.replace("stdin", "argv") for p in found]
        return found if found and all(_complete_json(a) for a in argv) else []
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


# ---------------------------------------------------------------- state-changing tests
@pytest.fixture
def closed_pipe(make_mta) -> Mta:
    """A running mail system whose pipe program defers (exit 75) until reopened."""
    mta = make_mta(transport="pipe.example pipeit:\n", start=False)
    (mta.pipe_dir / "closed").write_text("")
    mta.start()
    return mta


def deferred_listing(mta: Mta) -> str:
    """Wait until the message is in deferred/ and return postqueue -p's listing."""
    wait_until(lambda: mta.queue_ids("deferred"), "a message in deferred/")
    return mta.cli("postqueue", "-p", check=True).stdout


def pipe_runs(mta: Mta) -> list[Path]:
    return sorted(mta.pipe_dir.glob("stdin.*"))


def test_pipe_tempfail_defers_then_flush_delivers(closed_pipe):
    """A pipe exiting 75 defers with its output as reason; after it recovers, postqueue -f delivers."""
    closed_pipe.sendmail("a@example.com", "u@pipe.example", data=message("retry me"))
    listing = deferred_listing(closed_pipe)
    [reason] = [line.strip() for line in listing.splitlines() if line.strip().startswith("(")]
    assert reason.endswith(")") and "mailbox is closed for maintenance" in reason
    assert "u@pipe.example" in listing
    (closed_pipe.pipe_dir / "closed").unlink()
    closed_pipe.cli("postqueue", "-f", check=True)
    [stdin] = wait_until(lambda: pipe_runs(closed_pipe), "the pipe program to deliver")
    assert b"Subject: retry me" in stdin.read_bytes()
    wait_until(closed_pipe.queue_is_empty, "the queue to be empty")


def test_held_message_waits_until_released(closed_pipe):
    """postsuper -h keeps a message from delivery even after a flush; postsuper -H lets it go."""
    from mailflow.config import Config
    from mailflow.submit import submit as api_submit
    api_submit(message("hold me"), "a@example.com", ["u@pipe.example"],
               config=Config.from_directory(str(closed_pipe.etc)))
    deferred_listing(closed_pipe)
    [qid] = closed_pipe.queue_ids("deferred")
    held = closed_pipe.cli("postsuper", "-h", qid, check=True)
    assert "postsuper: Placed on hold: 1 message" in held.stderr
    assert f"{qid}!" in closed_pipe.cli("postqueue", "-p", check=True).stdout
    (closed_pipe.pipe_dir / "closed").unlink()
    closed_pipe.cli("postqueue", "-f", check=True)
    # A flush scans deferred/ only; a held message is not there to be scanned.
    assert closed_pipe.queue_ids("hold") == [qid] and pipe_runs(closed_pipe) == []
    released = closed_pipe.cli("postsuper", "-H", qid, check=True)
    assert "postsuper: Released from hold: 1 message" in released.stderr
    closed_pipe.cli("postqueue", "-f", check=True)
    wait_until(lambda: pipe_runs(closed_pipe), "the released message to be delivered")
    wait_until(closed_pipe.queue_is_empty, "the queue to be empty")


def test_expired_message_bounces(make_mta):
    """With maximal_queue_lifetime = 0 a deferred message is returned at once, Action: failed."""
    mta = make_mta(transport="pipe.example pipeit:\n", start=False,
                   main_extra="maximal_queue_lifetime = 0\n")
    (mta.pipe_dir / "closed").write_text("")
    mta.start()
    mta.sendmail("a@example.com", "u@pipe.example", data=message("too late"))
    notice = email.message_from_bytes(wait_in_maildir(mta.maildir("a"), "too late"),
                                      policy=email.policy.default)
    _human, status, _original = notice.get_payload()
    _per_message, per_recipient = status.get_payload()
    assert per_recipient["Action"] == "failed"
    # Expired mail bounces with the last temporary status (qmgr(8)).
    assert per_recipient["Status"].startswith("4.")
    assert "mailbox is closed for maintenance" in per_recipient["Diagnostic-Code"]
    wait_until(mta.queue_is_empty, "the queue to be empty")
    assert "status=expired, returned to sender" in mta.log_text()
