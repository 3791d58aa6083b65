"""local(8) delivery to ``home_mailbox = Maildir/`` with the daemon running.

The daemon is started by table_users_master.py, which gives local(8) its
users from a table (no real accounts, no root needed) and then runs
``mailflow start-fg`` in the same process.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from e2e_helpers import DEADLINE, ROOT, Mta, shut_down

HERE = Path(__file__).resolve().parent


def wait_ready(fd: int, timeout: float = DEADLINE) -> bytes:
    """Read the readiness pipe until EOF or ``timeout``: b"\\0" means every service is up."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def table_users(make_mta) -> Iterator[Mta]:
    """A running mail system whose local users are alice and bob, homes under tmp_path."""
    mta = make_mta(start=False, main_extra="home_mailbox = Maildir/\n")
    users = {name: str(mta.tmp / "home" / name) for name in ("alice", "bob")}
    for home in users.values():
        os.makedirs(home)
    (mta.tmp / "users.json").write_text(json.dumps(users))
    read_end, write_end = os.pipe()
    with open(mta.tmp / "master.stderr", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "table_users_master.py"), str(mta.tmp / "users.json"),
             "-c", str(mta.etc), "start-fg", "--ready-fd", str(write_end)],
            pass_fds=(write_end,), start_new_session=True, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=err, cwd=str(mta.tmp),
            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    os.close(write_end)
    mta.master_pids.add(proc.pid)
    try:
        answer = wait_ready(read_end)
    finally:
        os.close(read_end)
    try:
        assert answer == b"\0", (answer, (mta.tmp / "master.stderr").read_text())
        yield mta
    finally:
        shut_down(mta)
        proc.wait(DEADLINE)


def test_local_user_gets_mail_in_home_maildir(table_users):
    """Mail for a local user lands in HOME/Maildir/new with Delivered-To and Return-Path."""
    table_users.sendmail("someone@example.com", "alice@localhost", data="Subject: home\n\nhi\n")
    maildir = table_users.tmp / "home" / "alice" / "Maildir"
    [path] = table_users.wait_for_mail(maildir)
    assert path.parent.name == "new"
    data = path.read_bytes()
    assert data.startswith(b"Return-Path: <someone@example.com>\n")
    assert b"Delivered-To: alice@localhost\n" in data


def test_unknown_table_user_bounces(table_users):
    """A name the user table does not know bounces with 5.1.1 unknown user."""
    table_users.sendmail("a@example.com", "carol@localhost", data="Subject: who\n\nhi\n")
    [notice] = table_users.wait_for_mail(table_users.maildir("a"))
    assert b"Status: 5.1.1" in notice.read_bytes()
    assert 'unknown user: "carol"' in table_users.log_text()
