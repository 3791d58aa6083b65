"""At least once: SIGKILL the daemon while it delivers, restart it, lose nothing.

The daemon (``mailflow start-fg``) runs as a child process; a few hundred
accepted messages wait in the spool; it is killed with SIGKILL once some
are delivered, started again, and every message must end in the Maildir.
Duplicates (deliveries under way at the kill) are allowed and reported.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName
from mailflow.model import Envelope, Message, Recipient

ROOT = Path(__file__).resolve().parents[2]
COUNT = 300


def subjects(maildir: Path) -> collections.Counter:
    """How often each test message arrived (complete files in new/ only)."""
    seen: collections.Counter = collections.Counter()
    new = maildir / "new"
    if new.is_dir():
        for path in new.iterdir():
            for line in path.read_bytes().splitlines():
                if line.startswith(b"Subject: msg "):
                    seen[line[len(b"Subject: "):].decode()] += 1
                    break
    return seen


def start(config_dir: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with log.open("ab") as err:          # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "mailflow", "-c", str(config_dir), "start-fg"],
                                cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)


def wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_delivery_loses_nothing(tmp_path):
    """Every accepted message is delivered after a SIGKILL and a restart; duplicates are only counted."""
    etc, spool, mail = tmp_path / "etc", tmp_path / "spool", tmp_path / "mail"
    etc.mkdir()
    (etc / "main.cf").write_text(
        f"queue_directory = {spool}\nmyhostname = mx.example.com\nmydestination =\n"
        f"virtual_mailbox_domains = virt.example\nvirtual_mailbox_base = {mail}\n"
        "virtual_mailbox_maps = inline:{ u@virt.example=u/ }\n")
    (etc / "master.cf").write_text(
        "pickup    unix  n       -       n       60      1       pickup\n"
        "cleanup   unix  n       -       n       -       0       cleanup\n"
        "qmgr      unix  n       -       n       300     1       qmgr\n"
        "virtual   unix  -       n       n       -       -       virtual\n")
    store = FileQueueStore(spool)
    for i in range(COUNT):
        store.enqueue(QueueName.MAILDROP, Envelope("a@example.com", (Recipient("u@virt.example"),)),
                      Message(b"Subject: msg %d\n\nbody %d\n" % (i, i)))
    log = tmp_path / "daemon.log"
    maildir = mail / "u"

    first = start(etc, log)
    try:
        assert wait(lambda: sum(subjects(maildir).values()) >= 20 or first.poll() is not None, 30)
        assert first.poll() is None, log.read_text()
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    killed_at = sum(subjects(maildir).values())

    second = start(etc, log)
    try:
        done = wait(lambda: len(subjects(maildir)) == COUNT or second.poll() is not None, 90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    seen = subjects(maildir)
    missing = sorted(set(f"msg {i}" for i in range(COUNT)) - set(seen))
    duplicates = {s: n for s, n in seen.items() if n > 1}
    print(f"killed after {killed_at} deliveries; duplicates after restart: {len(duplicates)}")
    assert done and missing == [], (missing[:10], log.read_text()[-2000:])
    assert all(n == 2 for n in duplicates.values())
    assert not [q for q in QueueName if q is not QueueName.CORRUPT and list(store.ids(q))]
