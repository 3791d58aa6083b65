"""The queue manager under the master: sendmail -> pickup -> cleanup -> qmgr -> agents.

Each test runs a master in process from a config directory in tmp_path;
mail is submitted by the real ``mailflow sendmail`` command in a child
process, and the queue manager is woken only through the wake-up FIFOs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from pathlib import Path

import pytest

from mailflow.adapters.kick import FLUSH_REQUEST, kick
from mailflow.interfaces import QueueName

ROOT = Path(__file__).resolve().parents[2]

PIPE_SCRIPT = """\
import os, sys
# Defer (EX_TEMPFAIL) until the test creates the "open" file, then append.
here = os.path.dirname(os.path.abspath(__file__))
if not os.path.exists(os.path.join(here, "open")):
    print("mailbox is closed")
    sys.exit(75)
with open(os.path.join(here, "got"), "ab") as fh:
    fh.write(("%s\\n" % sys.argv[1]).encode() + sys.stdin.buffer.read())
"""


@pytest.fixture
def mta(tmp_path: Path) -> Path:
    """A config directory for a whole local MTA: pickup, cleanup, qmgr, virtual, a pipe."""
    etc = tmp_path / "etc"
    etc.mkdir()
    script = tmp_path / "pipe" / "deliver.py"
    script.parent.mkdir()
    script.write_text(PIPE_SCRIPT)
    (etc / "main.cf").write_text(
        f"queue_directory = {tmp_path / 'spool'}\n"
        "myhostname = mx.example.com\nmyorigin = example.com\nmydestination =\n"
        "virtual_mailbox_domains = virt.example\n"
        f"virtual_mailbox_base = {tmp_path / 'mail'}\n"
        "virtual_mailbox_maps = inline:{ u@virt.example=u/ }\n"
        "transport_maps = inline:{ pipe.example=pipeit: }\n"
        "default_transport = error:5.4.4 no route\n")
    (etc / "master.cf").write_text(
        "pickup    unix  n       -       n       60      1       pickup\n"
        "cleanup   unix  n       -       n       -       0       cleanup\n"
        "qmgr      unix  n       -       n       300     1       qmgr\n"
        "virtual   unix  -       n       n       -       -       virtual\n"
        "error     unix  -       -       n       -       -       error\n"
        "pipeit    unix  -       n       n       -       -       pipe\n"
        f"  flags=R argv={sys.executable} {script} ${{recipient}}\n")
    return etc


async def sendmail(config_dir: Path, *args: str, data: bytes) -> int:
    """Run ``mailflow -c DIR sendmail ARGS`` as a child process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mailflow", "-c", str(config_dir), "sendmail", *args,
        stdin=asyncio.subprocess.PIPE, env=env, cwd=str(ROOT))
    await proc.communicate(data)
    return proc.returncode


def queued(store, *queues: QueueName) -> int:
    """How many messages the queues hold."""
    return sum(1 for q in queues for _ in store.ids(q))


async def wait_for(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def test_sendmail_to_maildir_through_the_master(mta, tmp_path, run_master):
    """Mail from sendmail reaches a virtual Maildir, woken by cleanup's kick, and leaves the queue."""
    new = tmp_path / "mail" / "u" / "new"

    async def body(master):
        status = await sendmail(mta, "-f", "a@sender.example", "u@virt.example",
                                data=b"Subject: hello\n\nbody\n")
        assert status == 0
        await wait_for(lambda: new.is_dir() and len(list(new.iterdir())) == 1)
        await wait_for(lambda: queued(master.store, QueueName.INCOMING, QueueName.ACTIVE) == 0)
    run_master(mta, body)
    [path] = new.iterdir()
    text = path.read_bytes()
    assert b"Subject: hello" in text and b"Delivered-To: u@virt.example" in text


def test_pipe_tempfail_is_deferred_then_delivered_after_flush(mta, tmp_path, run_master):
    """A pipe exiting 75 defers the message with its output; a flush after it recovers delivers it."""
    got = tmp_path / "pipe" / "got"
    seen = {}

    async def body(master):
        assert await sendmail(mta, "-f", "a@sender.example", "p@pipe.example",
                              data=b"Subject: pipe\n\nbody\n") == 0
        store = master.store
        await wait_for(lambda: list(store.ids(QueueName.DEFERRED)))
        [qid] = store.ids(QueueName.DEFERRED)
        seen["reason"] = [o.status.text for o in store.read_log("defer", qid)]
        (tmp_path / "pipe" / "open").write_text("")
        assert kick(str(tmp_path / "spool"), "qmgr", FLUSH_REQUEST)
        await wait_for(got.exists)
        await wait_for(lambda: not list(store.ids(QueueName.DEFERRED)))
    run_master(mta, body)
    assert any("mailbox is closed" in text for text in seen["reason"])
    assert got.read_bytes().startswith(b"p@pipe.example\n")


def test_unrouted_recipient_bounce_is_queued_for_the_sender(mta, tmp_path, run_master, caplog):
    """A recipient the error transport refuses produces a notice that re-enters through cleanup."""
    caplog.set_level(logging.INFO)
    seen = {}

    async def body(master):
        assert await sendmail(mta, "-f", "a@other.example", "x@nowhere.example",
                              data=b"Subject: lost\n\nbody\n") == 0
        # The notice to a@other.example is itself unroutable (default_transport
        # is error:) and comes from <>: it is dropped, not bounced again.
        await wait_for(lambda: queued(master.store, *QueueName) == 0)
        seen["done"] = True
    run_master(mta, body)
    assert seen["done"]
    lines = [r.getMessage() for r in caplog.records]
    [notice] = [line.rsplit(": ", 1)[1] for line in lines if "sender non-delivery notification" in line]
    assert f"{notice}: from=<>, size=" in "\n".join(lines)
    assert any(line.startswith(f"{notice}: to=<a@other.example>") and "status=bounced" in line
               for line in lines)


# Postfix 3.7.11's log for the same case, from a private instance with the
# same main.cf routing (virtual_mailbox_maps, default_transport = error:5.4.4
# no route): `sendmail -f a@sender.example u@virt.example nobody@virt.example`,
# then the qmgr/virtual/bounce/error lines of its maillog with the
# "postfix/SERVICE[PID]: " prefix cut to "SERVICE: ". Queue IDs, sizes and
# delays are normalised below; the virtual agent's wording for an unknown
# user is its own business and is masked too.
POSTFIX_LINES = """\
qmgr: Q1: from=<a@sender.example>, size=N, nrcpt=2 (queue active)
virtual: Q1: to=<nobody@virt.example>, relay=virtual, delay=D, delays=D, dsn=5.1.1, status=bounced (TEXT)
virtual: Q1: to=<u@virt.example>, relay=virtual, delay=D, delays=D, dsn=2.0.0, status=sent (delivered to maildir)
bounce: Q1: sender non-delivery notification: Q2
qmgr: Q2: from=<>, size=N, nrcpt=1 (queue active)
qmgr: Q1: removed
error: Q2: to=<a@sender.example>, relay=none, delay=D, delays=D, dsn=5.4.4, status=bounced (no route)
qmgr: Q2: removed
"""


def normalise(lines: list[str]) -> list[str]:
    """Queue IDs become Q1, Q2... by first appearance; sizes, delays and bounce texts of virtual are masked."""
    ids: dict[str, str] = {}

    def qid(m):
        return ids.setdefault(m.group(0), f"Q{len(ids) + 1}")
    out = []
    for line in lines:
        line = re.sub(r"\b(?=[0-9A-Za-z]*\d)[0-9A-Za-z]{12,}\b", qid, line)
        line = re.sub(r"size=\d+", "size=N", line)
        line = re.sub(r"delay=[\d.]+, delays=[\d./]+", "delay=D, delays=D", line)
        if line.startswith("virtual:") and "status=bounced" in line:
            line = re.sub(r"\(.*\)$", "(TEXT)", line)
        out.append(line)
    return out


def test_log_lines_match_postfix(mta, tmp_path, run_master, caplog):
    """Delivery, bounce, notice and removal lines read as Postfix's for the same mail."""
    caplog.set_level(logging.INFO)

    async def body(master):
        assert await sendmail(mta, "-f", "a@sender.example", "u@virt.example", "nobody@virt.example",
                              data=b"Subject: t\n\nhello\n") == 0
        await wait_for(lambda: (tmp_path / "mail" / "u" / "new").is_dir())
        await wait_for(lambda: queued(master.store, *QueueName) == 0)
    run_master(mta, body)
    ours = [f"{r.name.split('.', 1)[1]}: {r.getMessage()}" for r in caplog.records
            if r.name in ("mailflow.qmgr", "mailflow.virtual", "mailflow.bounce", "mailflow.error")]
    assert sorted(normalise(ours)) == sorted(POSTFIX_LINES.splitlines())
