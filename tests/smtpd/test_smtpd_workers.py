"""smtpd as worker processes (smtpd_worker_processes): a real daemon, real
sockets, real processes. Mail through two workers lands in the spool; the
workers share maxproc, reload reaches them, one that dies is started again,
and none outlives a master that was killed outright."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailflow.services.workers import shares, worker_count

ROOT = Path(__file__).resolve().parents[2]
PID = re.compile(r"mailflow/smtpd\[(\d+)\]: connect from")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mailflow(etc: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mailflow", "-c", str(etc), *args],
                          capture_output=True, text=True, env=env, timeout=60, cwd=str(ROOT))


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def workers_of(master: int) -> list[int]:
    """Live worker processes whose parent is ``master``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master and fields[0] != "Z" and b"mailflow.services.workers" in cmdline:
            found.append(int(entry))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Daemon:
    def __init__(self, tmp_path: Path, maxproc: int = 2) -> None:
        self.etc = tmp_path / "etc"
        self.etc.mkdir()
        self.spool = tmp_path / "spool"
        self.maillog = tmp_path / "maillog"
        self.port = free_port()
        (self.etc / "main.cf").write_text(
            f"queue_directory = {self.spool}\nmaillog_file = {self.maillog}\n"
            "myhostname = mx.example.test\nmydestination = $myhostname\n"
            "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
            "alias_maps =\nsmtpd_peername_lookup = no\nsmtpd_worker_processes = 2\n")
        # No queue manager: accepted mail stays in incoming/.
        (self.etc / "master.cf").write_text(
            f"127.0.0.1:{self.port} inet n - n - {maxproc} smtpd\n")

    def start(self) -> int:
        result = mailflow(self.etc, "start")
        assert result.returncode == 0, result.stderr
        self.master = int((self.spool / "pid" / "master.pid").read_text())
        return self.master

    def log(self) -> str:
        return self.maillog.read_text() if self.maillog.exists() else ""


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    if (d.spool / "pid" / "master.pid").exists():
        mailflow(d.etc, "stop")
    for pid in workers_of(getattr(d, "master", -1)):
        os.kill(pid, signal.SIGKILL)


def banner(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock, sock.makefile("rb").readline()


def send(port: int, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        for i in range(count):
            client.sendmail("bob@example.org", ["root@mx.example.test"],
                            f"Subject: {i}\r\n\r\nbody {i}\r\n")


def test_the_pool_splits_maxproc_and_reads_its_count():
    """Each worker gets its share of maxproc; the count is smtpd_worker_processes."""
    from mailflow.config import Config
    assert shares(7, 2) == [4, 3] and sum(shares(100, 3)) == 100
    assert worker_count(Config(smtpd_worker_processes="3"), "smtpd") == 3
    assert worker_count(Config(), "smtpd") == 2          # the default
    assert worker_count(Config(smtpd_worker_processes="0"), "smtpd") == 0


def test_mail_through_two_worker_processes_lands_in_the_spool(daemon):
    """Two workers, maxproc 2: two sessions at once are served by two processes,
    and every message accepted is a durable file in incoming/."""
    master = daemon.start()
    assert len(workers_of(master)) == 2
    first, line1 = banner(daemon.port)
    second, line2 = banner(daemon.port)      # the first worker is full (its share is 1)
    assert line1.startswith(b"220 ") and line2.startswith(b"220 ")
    first.close()
    second.close()
    wait_for(lambda: len(set(PID.findall(daemon.log()))) == 2)
    assert {int(p) for p in PID.findall(daemon.log())} == set(workers_of(master))
    send(daemon.port, 5)
    send(daemon.port, 5)
    wait_for(lambda: len(os.listdir(daemon.spool / "incoming")) == 10)
    queued = re.findall(r"smtpd\[\d+\]: (\w+): client=", daemon.log())
    assert sorted(queued) == sorted(os.listdir(daemon.spool / "incoming"))


def test_killing_the_master_kills_the_workers(daemon):
    """A master killed outright (SIGKILL) takes its workers with it."""
    master = daemon.start()
    workers = workers_of(master)
    assert len(workers) == 2
    os.kill(master, signal.SIGKILL)
    wait_for(lambda: not any(alive(pid) for pid in workers))
    with pytest.raises(OSError):
        banner(daemon.port)


def test_a_worker_that_dies_is_started_again(daemon):
    """A worker killed by a signal is replaced, with the master's warning, and serves."""
    master = daemon.start()
    victim = workers_of(master)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(workers_of(master)) == 2 and victim not in workers_of(master))
    # The new worker can be seen before the master's warning reaches the log file.
    warning = f"service 127.0.0.1:{daemon.port}: worker process {victim} exited with status -9"
    wait_for(lambda: warning in daemon.log())
    assert warning in daemon.log()
    send(daemon.port, 2)
    wait_for(lambda: len(os.listdir(daemon.spool / "incoming")) == 2)


def test_reload_reaches_the_workers(daemon):
    """After `mailflow reload`, new sessions in every worker see the new main.cf."""
    master = daemon.start()
    main_cf = daemon.etc / "main.cf"
    main_cf.write_text(main_cf.read_text() + "smtpd_banner = $myhostname ESMTP reloaded\n")
    assert mailflow(daemon.etc, "reload").returncode == 0

    def both_reloaded() -> bool:
        socks = [banner(daemon.port) for _ in range(2)]
        for sock, _ in socks:
            sock.close()
        return all(line == b"220 mx.example.test ESMTP reloaded\r\n" for _, line in socks)
    wait_for(both_reloaded)
    assert len(workers_of(master)) == 2


def test_zero_workers_runs_smtpd_in_the_master(daemon):
    """smtpd_worker_processes = 0 (here as a master.cf -o override): no worker
    processes, and the master's own smtpd takes the mail."""
    (daemon.etc / "master.cf").write_text(
        f"127.0.0.1:{daemon.port} inet n - n - 2 smtpd -o smtpd_worker_processes=0\n")
    master = daemon.start()
    assert workers_of(master) == []
    send(daemon.port, 2)
    wait_for(lambda: len(os.listdir(daemon.spool / "incoming")) == 2)
    assert set(PID.findall(daemon.log())) == {str(master)}


def test_stop_ends_the_workers(daemon):
    """`mailflow stop` stops the workers with the master."""
    master = daemon.start()
    workers = workers_of(master)
    assert mailflow(daemon.etc, "stop").returncode == 0
    assert not any(alive(pid) for pid in workers + [master])


def test_a_worker_that_cannot_start_fails_the_start_with_its_reason(daemon):
    """A bad setting the worker finds (a missing certificate) stops `mailflow
    start` with the worker's own error, and leaves no process behind."""
    main_cf = daemon.etc / "main.cf"
    main_cf.write_text(main_cf.read_text() + "smtpd_tls_security_level = may\n"
                       "smtpd_tls_cert_file = /nonexistent/cert.pem\n"
                       "smtpd_tls_key_file = /nonexistent/cert.pem\n")
    result = mailflow(daemon.etc, "start")
    assert result.returncode == 1
    assert "cannot start: worker process did not start: ConfigError: smtpd_tls_cert_file = " \
           "/nonexistent/cert.pem: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (daemon.spool / "pid" / "master.pid").exists()
