"""Benchmark: end-to-end delivery into Maildirs, mailflow against Postfix.

Run from the project directory::

    python bench/deliver.py [--count N] [--parallel P] [--skip-postfix]

Pushes N (default 10,000) one-KB messages into Maildir delivery with
virtual(8)-style routing (``virtual_mailbox_domains``, a ``hash:``
``virtual_mailbox_maps`` built by the system's own ``postmap``, one Maildir
per recipient, spread over 10 mailboxes) and measures, per run:

- end-to-end messages/second: from the first submission to the moment the
  last message is present in the Maildirs' ``new/`` directories;
- peak memory: the daemon's ``VmHWM`` from ``/proc/PID/status``, summed over
  its processes (the master and every child), read just before it stops.

Runs:

1. ``mailflow sendmail``, one process per message, P at a time, into a
   running mailflow daemon (``mailflow -c DIR start`` on a temp config dir);
2. the Python API (:func:`mailflow.submit.submit`) from P threads into a
   running daemon;
3. Postfix's ``sendmail``, P processes at a time, into a private Postfix
   instance on the same machine delivering with virtual(8) to Maildirs
   (needs root and Postfix installed; skipped with the reason otherwise, or
   with ``--skip-postfix``).

Every path fsyncs each message at submission and each Maildir file at
delivery (both mail systems do by default). Prints a table with the ratio of
each mailflow run to Postfix.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (Result, count_maildir, daemon_memory, format_table, in_parallel,  # noqa: E402
                    make_message, run_process, wait_until)

SENDER = "bench@example.com"
DOMAIN = "virt.example"
MAILBOXES = 10


def recipients() -> list[str]:
    return [f"user{i}@{DOMAIN}" for i in range(MAILBOXES)]


def mailbox_map_text() -> str:
    return "".join(f"user{i}@{DOMAIN} user{i}/\n" for i in range(MAILBOXES))


# ------------------------------------------------------------------ mailflow
MAILFLOW_MASTER_CF = (
    "pickup    unix  n       -       n       60      1       pickup\n"
    "cleanup   unix  n       -       n       -       0       cleanup\n"
    "qmgr      unix  n       -       n       300     1       qmgr\n"
    "virtual   unix  -       n       n       -       -       virtual\n"
    "error     unix  -       -       n       -       -       error\n"
    "bounce    unix  -       -       n       -       0       bounce\n"
)


class MailflowDaemon:
    """A mailflow daemon on a fresh config directory under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.etc = root / "etc"
        self.spool = root / "spool"
        self.mail = root / "vmail"
        self.env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.env.pop("MAILFLOW_CONFIG_DIR", None)
        # Byte-compiled modules, as an installed package has them: without
        # them every sendmail process compiles mailflow from source first.
        # They go to a cache under the run's directory, not into the tree.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")

    def mailflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mailflow", "-c", str(self.etc), *args]

    def setup(self) -> None:
        self.etc.mkdir(parents=True)
        self.mail.mkdir()
        (self.etc / "vmailbox").write_text(mailbox_map_text())
        (self.etc / "main.cf").write_text(
            f"queue_directory = {self.spool}\n"
            f"maillog_file = {self.root / 'maillog'}\n"
            "myhostname = mx.example.test\nmydomain = example.test\nmydestination =\n"
            f"virtual_mailbox_domains = {DOMAIN}\n"
            f"virtual_mailbox_base = {self.mail}\n"
            f"virtual_mailbox_maps = hash:{self.etc / 'vmailbox'}\n")
        (self.etc / "master.cf").write_text(MAILFLOW_MASTER_CF)
        subprocess.run(self.mailflow("postmap", f"hash:{self.etc / 'vmailbox'}"),
                       check=True, env=self.env, cwd=ROOT)

    def start(self) -> int:
        self.pid = None
        subprocess.run(self.mailflow("start"), check=True, env=self.env, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Fill the byte-code cache before the clock starts.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mailflow")],
                       env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL)
        self.pid = int((self.spool / "pid" / "master.pid").read_text().split()[0])
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


def bench_mailflow(root: Path, count: int, workers: int, data: bytes, via: str,
                   timeout: float) -> Result:
    daemon = MailflowDaemon(root)
    daemon.setup()
    pid = daemon.start()
    rcpts = recipients()
    try:
        if via == "sendmail":
            def one(i: int) -> None:
                run_process(daemon.mailflow("sendmail", "-f", SENDER, rcpts[i % MAILBOXES]),
                            data, daemon.env)
        else:
            from mailflow.submit import submit
            qdir = str(daemon.spool)

            def one(i: int) -> None:
                submit(data, SENDER, [rcpts[i % MAILBOXES]], queue_directory=qdir)
        start = time.perf_counter()
        in_parallel(count, workers, one)
        wait_until(lambda: count_maildir(daemon.mail) >= count, timeout,
                   lambda: f"{count_maildir(daemon.mail)} of {count} delivered")
        seconds = time.perf_counter() - start
        memory = daemon_memory(pid)
    finally:
        daemon.stop()
    return Result(seconds, memory)


# ------------------------------------------------------------------ Postfix
def bench_postfix(root: Path, count: int, workers: int, data: bytes, timeout: float) -> Result:
    from postfix_peer import PostfixPeer, unchroot
    with PostfixPeer(root / "postfix", port=_free_port()) as peer:
        vmail = peer.root / "vmail"
        vmail.mkdir()
        owner = _unprivileged_owner()
        shutil.chown(vmail, owner[0], owner[1])
        (peer.etc / "vmailbox").write_text(mailbox_map_text())
        subprocess.run(["postmap", f"hash:{peer.etc / 'vmailbox'}"], check=True)
        peer.postconf("-e",
                      f"virtual_mailbox_domains = {DOMAIN}",
                      f"virtual_mailbox_base = {vmail}",
                      f"virtual_mailbox_maps = hash:{peer.etc / 'vmailbox'}",
                      f"virtual_uid_maps = static:{owner[0]}",
                      f"virtual_gid_maps = static:{owner[1]}")
        # Chrooted services need a populated chroot; the peer runs none chrooted.
        unchroot(peer.etc / "master.cf")
        peer.start()
        rcpts = recipients()
        try:
            pid = int((peer.spool / "pid" / "master.pid").read_text().split()[0])
            argv = [peer.sendmail_argv("-f", SENDER, r) for r in rcpts]
            start = time.perf_counter()
            in_parallel(count, workers, lambda i: run_process(argv[i % MAILBOXES], data))
            wait_until(lambda: count_maildir(vmail) >= count, timeout,
                       lambda: f"{count_maildir(vmail)} of {count} delivered")
            seconds = time.perf_counter() - start
            memory = daemon_memory(pid)
        finally:
            peer.stop()
    return Result(seconds, memory)


def _free_port() -> int:
    """A loopback port nobody listens on now, for the peer's smtpd."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_owner() -> tuple[int, int]:
    """A uid/gid virtual(8) accepts (not root, >= virtual_minimum_uid)."""
    import pwd
    for name in ("nobody", "postfix"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if pw.pw_uid >= 100:
            return pw.pw_uid, pw.pw_gid
    return 65534, 65534


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000, help="messages per run (default 10000)")
    ap.add_argument("--parallel", type=int, default=4,
                    help="concurrent sendmail processes / submit() threads (default 4)")
    ap.add_argument("--skip-postfix", action="store_true", help="do not run the Postfix peer")
    ap.add_argument("--only", choices=("sendmail", "api", "postfix"), action="append",
                    help="run only these (repeatable)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds to wait for the last delivery (default 600)")
    args = ap.parse_args(argv)
    only = set(args.only or ("sendmail", "api", "postfix"))
    data = make_message()
    rows: list[tuple[str, Result | None, str]] = []
    postfix_name = f"postfix sendmail, {args.parallel} processes"
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp:
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o755)
        for via, name in (("sendmail", f"mailflow sendmail, {args.parallel} processes"),
                          ("api", f"mailflow submit() API, {args.parallel} threads")):
            if via in only:
                result = bench_mailflow(tmp_path / via, args.count, args.parallel, data, via,
                                        args.timeout)
                rows.append((name, result, "mailflow"))
                print(f"  done: {name}", file=sys.stderr)
        if "postfix" in only and not args.skip_postfix:
            from postfix_peer import why_unavailable
            reason = why_unavailable()
            if reason is None:
                rows.append((postfix_name, bench_postfix(tmp_path, args.count, args.parallel,
                                                         data, args.timeout), "postfix"))
            else:
                print(f"  skipping the Postfix peer: {reason}", file=sys.stderr)
    print(f"{args.count} messages of {len(data)} bytes each to {MAILBOXES} Maildirs, "
          f"fsync on, on {os.cpu_count()} CPUs")
    print(format_table([(name, r) for name, r, _ in rows], args.count, postfix_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
