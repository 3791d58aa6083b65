"""No process outlives the master: its process group, and the parent-death signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def run_script(code: str) -> subprocess.Popen:
    """Start ``code`` in Python as a session leader; its stdout is a pipe."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            text=True, start_new_session=True, cwd=str(ROOT),
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_stopping_master_ends_the_rest_of_its_process_group(mf_config):
    """A child process in the master's group (a worker, a pipe command) ends with the master."""
    with run_script(f"""
        import asyncio, subprocess
        from mailflow.services.master import Master
        child = subprocess.Popen(["sleep", "60"])
        print(child.pid, flush=True)
        asyncio.run(Master({str(mf_config)!r}).run(lambda: print("ready", flush=True)))
        child.wait()
        """) as master:
        try:
            child = int(master.stdout.readline())
            assert master.stdout.readline() == "ready\n"
            master.send_signal(signal.SIGTERM)
            assert master.wait(10) == 0
            assert wait_gone(child)
        finally:
            master.kill()


def test_worker_with_parent_death_signal_dies_when_master_is_killed():
    """A worker started with die_with_parent ends even when the master gets SIGKILL."""
    with run_script("""
        import subprocess, time
        from mailflow.services.skeleton import die_with_parent
        worker = subprocess.Popen(["sleep", "60"], preexec_fn=die_with_parent,
                                  start_new_session=True)
        print(worker.pid, flush=True)
        time.sleep(60)
        """) as master:
        try:
            worker = int(master.stdout.readline())
            assert alive(worker)
            master.kill()
            master.wait(10)
            assert wait_gone(worker)
        finally:
            master.kill()
