"""Benchmark: relaying end to end, mailflow against Postfix.

Run from the project directory::

    python bench/relay.py [--count N] [--sessions S] [--workers W] [--skip-postfix]

Pushes N (default 10,000) 1 KB messages through a relay and out again:
Postfix's ``smtp-source`` (S sessions in parallel, default 10; one message
per session, as it does by default) → the mail system's smtpd on
127.0.0.1 → its queue → its smtp client (``default_transport = smtp``,
``relayhost = [127.0.0.1]:SINKPORT``) → Postfix's ``smtp-sink``. Two runs,
each on a fresh configuration, spool and sink:

1. **mailflow**: ``mailflow -c DIR start`` with an ``smtp inet`` service
   (``smtpd_worker_processes`` = W, default 2) and the ``smtp`` agent;
2. **postfix**: a private Postfix (bench/postfix_peer.py: needs root and
   Postfix, otherwise skipped with the reason) with the same relayhost,
   nothing chrooted.

The clock runs from the start of ``smtp-source`` until the last message has
left the queue (incoming, active, deferred and hold all empty); a message
left deferred fails the run. Both mail systems fsync every message before
smtpd says 250 (their defaults). Prints seconds, messages/second, peak
memory of the daemon and its children, and the ratio to the Postfix run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Result, daemon_memory, format_table, wait_until  # noqa: E402

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SENDER, RCPT = "bench@example.com", "sink@relay.example"
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 30.0) -> None:
    """Until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def queue_files(spool: Path) -> dict[str, int]:
    """Files per queue directory (recursing into hashed subdirectories)."""
    return {q: sum(len(f) for _, _, f in os.walk(spool / q)) for q in QUEUES}


class Sink:
    """Postfix's smtp-sink on 127.0.0.1, accepting everything."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        # smtp-sink refuses to run as root without -u.
        user = ["-u", "root"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen([SMTP_SINK, *user, f"127.0.0.1:{self.port}", "256"],
                                     cwd=workdir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_listening(self.port)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def smtp_source(port: int, count: int, sessions: int) -> None:
    """smtp-source: ``count`` 1 KB messages, ``sessions`` at a time; raise when it fails."""
    argv = [SMTP_SOURCE, "-s", str(sessions), "-m", str(count), "-l", "1024",
            "-f", SENDER, "-t", RCPT, "-M", "source.example", f"127.0.0.1:{port}"]
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(f"smtp-source exited {p.returncode}: {p.stderr.decode(errors='replace')}")


def drained(spool: Path, count: int, what: str) -> tuple[Callable[[], bool], Callable[[], str]]:
    """(done, progress) for :func:`common.wait_until`: every queue empty;
    a deferred message is a failure, not something to wait for."""
    def done() -> bool:
        files = queue_files(spool)
        if files["deferred"]:
            raise RuntimeError(f"{what}: {files['deferred']} message(s) deferred")
        return not any(files.values())

    def progress() -> str:
        return f"{what}: still queued {queue_files(spool)} of {count}"
    return done, progress


# ------------------------------------------------------------------ mailflow
MAILFLOW_MASTER_CF = (
    "{port} inet  n       -       n       -       -       smtpd\n"
    "pickup    unix  n       -       n       60      1       pickup\n"
    "cleanup   unix  n       -       n       -       0       cleanup\n"
    "qmgr      unix  n       -       n       300     1       qmgr\n"
    "smtp      unix  -       -       n       -       -       smtp\n"
    "error     unix  -       -       n       -       -       error\n"
    "bounce    unix  -       -       n       -       0       bounce\n"
    "defer     unix  -       -       n       -       0       bounce\n"
)


class MailflowDaemon:
    """A mailflow relay on a fresh config directory under ``root``."""

    def __init__(self, root: Path, sink_port: int, workers: int) -> None:
        self.root = root
        self.etc = root / "etc"
        self.spool = root / "spool"
        self.port = free_port()
        self.pid: int | None = None
        self.env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.env.pop("MAILFLOW_CONFIG_DIR", None)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        self.etc.mkdir(parents=True)
        (self.etc / "main.cf").write_text(
            f"queue_directory = {self.spool}\n"
            f"maillog_file = {root / 'maillog'}\n"
            "myhostname = relay.example.test\nmydomain = example.test\n"
            "mydestination =\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
            "mynetworks = 127.0.0.0/8\n"
            "default_transport = smtp\n"
            f"relayhost = [127.0.0.1]:{sink_port}\n"
            f"smtpd_worker_processes = {workers}\n")
        (self.etc / "master.cf").write_text(MAILFLOW_MASTER_CF.format(port=f"127.0.0.1:{self.port}"))

    def mailflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mailflow", "-c", str(self.etc), *args]

    def start(self) -> int:
        subprocess.run(self.mailflow("start"), check=True, env=self.env, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = int((self.spool / "pid" / "master.pid").read_text().split()[0])
        wait_listening(self.port)
        return self.pid

    def stop(self) -> None:
        subprocess.run(self.mailflow("stop"), env=self.env, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # If the stop command itself failed, never leave the daemon running.
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def bench_mailflow(root: Path, count: int, sessions: int, workers: int,
                   timeout: float) -> Result:
    root.mkdir(parents=True)
    sink = Sink(root)
    try:
        daemon = MailflowDaemon(root, sink.port, workers)
        pid = daemon.start()
        try:
            done, progress = drained(daemon.spool, count, "mailflow")
            start = time.perf_counter()
            smtp_source(daemon.port, count, sessions)
            wait_until(done, timeout, progress)
            seconds = time.perf_counter() - start
            memory = daemon_memory(pid)
            sent = (root / "maillog").read_text().count("status=sent")
            if sent != count:
                raise RuntimeError(f"mailflow: {sent} status=sent lines for {count} messages")
        finally:
            daemon.stop()
    finally:
        sink.close()
    return Result(seconds, memory)


# ------------------------------------------------------------------ Postfix
def bench_postfix(root: Path, count: int, sessions: int, timeout: float) -> Result:
    from postfix_peer import PostfixPeer, unchroot
    root.mkdir(parents=True)
    sink = Sink(root)
    try:
        with PostfixPeer(root / "postfix", port=free_port()) as peer:
            peer.postconf("-e", "mynetworks = 127.0.0.0/8", "default_transport = smtp",
                          f"relayhost = [127.0.0.1]:{sink.port}")
            # Chrooted services need a populated chroot; the peer runs none chrooted.
            unchroot(peer.etc / "master.cf")
            peer.start()
            try:
                wait_listening(peer.port)
                pid = int((peer.spool / "pid" / "master.pid").read_text().split()[0])
                done, progress = drained(peer.spool, count, "postfix")
                start = time.perf_counter()
                smtp_source(peer.port, count, sessions)
                wait_until(done, timeout, progress)
                seconds = time.perf_counter() - start
                memory = daemon_memory(pid)
            finally:
                peer.stop()
    finally:
        sink.close()
    return Result(seconds, memory)


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000, help="messages per run (default 10000)")
    ap.add_argument("--sessions", type=int, default=10,
                    help="parallel smtp-source sessions (default 10)")
    ap.add_argument("--workers", type=int, default=2,
                    help="mailflow smtpd_worker_processes (default 2)")
    ap.add_argument("--skip-postfix", action="store_true", help="do not run the Postfix peer")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds to wait for the queue to drain (default 600)")
    args = ap.parse_args(argv)
    for program in (SMTP_SOURCE, SMTP_SINK):
        if not os.path.exists(program):
            print(f"{program} is missing (apt-get install postfix)", file=sys.stderr)
            return 2
    rows: list[tuple[str, Result]] = []
    mailflow_name = f"mailflow, smtpd_worker_processes = {args.workers}"
    postfix_name = "postfix"
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp:
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o755)
        rows.append((mailflow_name, bench_mailflow(tmp_path / "mailflow", args.count,
                                                   args.sessions, args.workers, args.timeout)))
        print(f"  done: {mailflow_name}", file=sys.stderr)
        if not args.skip_postfix:
            from postfix_peer import why_unavailable
            reason = why_unavailable()
            if reason is None:
                rows.append((postfix_name, bench_postfix(tmp_path / "postfix", args.count,
                                                         args.sessions, args.timeout)))
                print(f"  done: {postfix_name}", file=sys.stderr)
            else:
                print(f"  skipping the Postfix peer: {reason}", file=sys.stderr)
    print(f"{args.count} messages of 1024 bytes each, smtp-source ({args.sessions} sessions) "
          f"-> relay -> smtp-sink, on {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(format_table(rows, args.count, postfix_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
