"""The README's run command: examples/quickstart/demo.sh works as shipped."""

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_quickstart_master_cf_runs_an_smtpd_on_loopback():
    """The shipped master.cf has the front door: smtpd on 127.0.0.1:2525."""
    lines = (REPO / "examples" / "quickstart" / "master.cf").read_text().splitlines()
    assert [line.split() for line in lines if " inet " in line] == \
        [["127.0.0.1:2525", "inet", "n", "-", "n", "-", "-", "smtpd"]]


def test_quickstart_demo_delivers_all_three_messages(tmp_path):
    """demo.sh starts the daemon, delivers two messages from sendmail and one from smtplib
    through the smtpd to Maildirs, explains a route, and stops."""
    demo = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", demo,
                    ignore=shutil.ignore_patterns("spool"))
    # Another run on this machine may hold 2525; the demo reads the port from master.cf.
    master_cf = demo / "master.cf"
    master_cf.write_text(master_cf.read_text().replace("127.0.0.1:2525",
                                                       f"127.0.0.1:{_free_port()}"))
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "mailflow").write_text(f"#!/bin/sh\nexec {sys.executable} -m mailflow \"$@\"\n")
    (shim / "mailflow").chmod(0o755)
    env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run(["sh", str(demo / "demo.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    mailboxes = demo / "spool" / "mailboxes"
    delivered = sorted(p.relative_to(mailboxes).parts[0]
                       for p in mailboxes.glob("*/Maildir/new/*"))
    assert delivered == ["alice", "b", "b"]
    over_smtp = [p for p in mailboxes.glob("b/Maildir/new/*") if b"Third message." in p.read_bytes()]
    assert len(over_smtp) == 1
    assert re.search(rb"^Received: from .*\n\tby mail\.example\.com \(mailflow\) with ESMTP id ",
                     over_smtp[0].read_bytes(), re.M)
    assert "class virtual_mailbox, transport virtual" in run.stdout
    assert "status=sent (delivered to maildir)" in run.stdout
    assert re.search(r"mailflow/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] "
                     r"ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5", run.stdout), run.stdout
    status = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(demo), "status"],
                            env=env, capture_output=True, text=True)
    assert status.returncode == 1, "the demo must leave the daemon stopped"
