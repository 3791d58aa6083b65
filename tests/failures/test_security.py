"""Addresses with shell metacharacters, newlines or NULs never reach a shell
or a header unescaped; spool and mailbox files are not readable by others."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.delivery import ServiceEntry, create_agent
from mailflow.interfaces import QueueName
from mailflow.model import DeliveryRequest, DsnStatus, Envelope, Message, Outcome, Recipient

from mail_world import World

RECORD_ARGV = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


def request(rcpt: str, sender: str = "s@example.com", original: str | None = None) -> DeliveryRequest:
    r = Recipient(rcpt, original=original)
    env = Envelope(sender, (r,), queue_id="4ABC123")
    return DeliveryRequest("4ABC123", "p", "example.com", env, (r,), Message(b"Subject: t\n\nhello\n"))


def deliver(agent, req):
    import asyncio
    return list(asyncio.run(agent.deliver(req)))


def test_pipe_argv_gets_metacharacters_literally(tmp_path):
    """$(...), backquotes, ; | and newlines in ${recipient} and ${sender} arrive as one literal argument each; no shell runs them."""
    out = tmp_path / "argv.json"
    agent = create_agent("p", Config(), ServiceEntry("p", "pipe", (
        "flags=", f"argv={sys.executable}", "-c", RECORD_ARGV, str(out), "${recipient}", "${sender}")))
    evil = f"a;$(touch {tmp_path}/pwned)`touch {tmp_path}/pwned2`|x\nX-Evil: 1@example.com"
    sender = "s\n$(id)@example.com"
    [o] = deliver(agent, request(evil, sender))
    assert o.status.is_success
    assert json.loads(out.read_text()) == [evil, sender]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["argv.json"]


def test_pipe_argv_with_a_nul_is_deferred_not_a_crash(tmp_path):
    """A NUL cannot be passed in argv: the recipient is deferred with a reason, the agent does not raise."""
    agent = create_agent("p", Config(), ServiceEntry("p", "pipe", (
        "flags=", f"argv={sys.executable}", "-c", RECORD_ARGV, str(tmp_path / "o"), "${recipient}")))
    [o] = deliver(agent, request("nul\x00byte@example.com"))
    assert o.status.is_temporary and "null byte" in o.status.text


def _header_names(data: bytes) -> list[str]:
    head = data.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    return [line.split(":", 1)[0] for line in head.split("\n") if line and line[0] not in " \t"]


def test_newline_in_an_address_never_makes_a_header(tmp_path):
    """A sender or original recipient with a newline (a quoted local part) does not add a header line to the delivered message."""
    w = World(tmp_path)
    agent = w.agents()["localmd"]
    [o] = deliver(agent, request("bob@md.example", sender='"s\nX-Evil: 1"@example.com',
                                 original="bob@md.example\nX-Evil2: 2"))
    assert o.status.is_success
    [data] = w._maildir(w.homes["bob"] + "/Maildir")
    names = _header_names(data)
    assert "X-Evil" not in names and "X-Evil2" not in names, names


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_spool_and_queue_files_are_private(tmp_path):
    """Even with umask 0: queue directories are 0700 (hashed ones too), the top 0755, queue files and per-message logs 0600."""
    old = os.umask(0)
    try:
        store = FileQueueStore(tmp_path / "spool")
        qid = store.enqueue(QueueName.INCOMING, Envelope("a@x", (Recipient("b@x"),)), Message(b"x\n"))
        store.move(qid, QueueName.INCOMING, QueueName.DEFERRED)
        store.append_log("defer", qid, Outcome(Recipient("b@x"), DsnStatus("4.4.1", "refused")))
        store.append_log("bounce", qid, Outcome(Recipient("b@x"), DsnStatus("5.1.1", "unknown")))
    finally:
        os.umask(old)
    spool = tmp_path / "spool"
    assert _mode(spool) == 0o755                 # like Postfix's queue_directory: nobody else writes
    dirs = [Path(root) for root, _, _ in os.walk(spool)][1:]
    assert len(dirs) > 9 and {str(d): _mode(d) for d in dirs} == {str(d): 0o700 for d in dirs}
    files = [Path(root) / f for root, _, names in os.walk(spool) for f in names]
    assert len(files) == 3
    assert all(_mode(f) & 0o077 == 0 for f in files), {str(f): oct(_mode(f)) for f in files}


def test_sendmail_maildrop_file_and_maildir_are_private(tmp_path):
    """sendmail's maildrop file and a delivered Maildir file are not readable by group or others, even with umask 0."""
    w = World(tmp_path)
    old = os.umask(0)
    try:
        from test_fault_matrix import cli
        assert cli(w, "sendmail", "-f", "s@md.example", "bob@md.example", stdin=b"Subject: x\n\nx\n")[0] == 0
        [maildrop] = list((w.spool / "maildrop").iterdir())
        assert _mode(maildrop) & 0o077 == 0
        w.pickup()
        w.run_qmgr()
    finally:
        os.umask(old)
    files = [p for p in Path(w.homes["bob"], "Maildir").rglob("*") if p.is_file()]
    assert files and all(_mode(f) & 0o077 == 0 for f in files)
