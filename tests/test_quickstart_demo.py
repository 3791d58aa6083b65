"""The README's run command: examples/quickstart/demo.sh works as shipped."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quickstart_demo_delivers_both_messages(tmp_path):
    """demo.sh starts the daemon, delivers two messages to Maildirs, explains a route, and stops."""
    demo = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", demo,
                    ignore=shutil.ignore_patterns("spool"))
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "mailflow").write_text(f"#!/bin/sh\nexec {sys.executable} -m mailflow \"$@\"\n")
    (shim / "mailflow").chmod(0o755)
    env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run(["sh", str(demo / "demo.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    delivered = sorted(p.relative_to(demo / "spool" / "mailboxes").parts[0]
                       for p in (demo / "spool" / "mailboxes").glob("*/Maildir/new/*"))
    assert delivered == ["alice", "b"]
    assert "class virtual_mailbox, transport virtual" in run.stdout
    assert "status=sent (delivered to maildir)" in run.stdout
    status = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(demo), "status"],
                            env=env, capture_output=True, text=True)
    assert status.returncode == 1, "the demo must leave the daemon stopped"
