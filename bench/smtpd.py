"""Benchmark: mail over SMTP into a running daemon, mailflow against Postfix.

Run from the project directory::

    python bench/smtpd.py [--count N] [--count-large M] [--sessions 1,10,50]
                          [--targets discard,maildir] [--skip-postfix]

Postfix's own load generator, ``smtp-source``, sends messages to the smtpd
of a running mail system, one message per SMTP session, S sessions at a
time, for S in 1, 10 and 50, with 1 KB (N messages, default 2,000) and
100 KB (M messages, default 200) bodies, into two destinations:

- ``discard``: a ``transport_maps`` entry sends the domain to the discard
  agent; smtpd, cleanup and the queue file are the work;
- ``maildir``: a virtual(8) mailbox (one Maildir), so every message is also
  delivered and fsynced a second time.

The same runs go to mailflow (``mailflow -c DIR start`` with an smtpd line
in master.cf) and, in the same invocation, to a private Postfix instance
(bench/postfix_peer.py; needs root and Postfix, skipped with the reason
otherwise, or with ``--skip-postfix``). Per run it prints:

- accepted/s: messages / the seconds until ``smtp-source`` exits (every
  message answered ``250``, so durable in the queue);
- delivered/s (maildir only): messages / the seconds until the last one is
  in the Maildir's ``new/``;
- CPU ms per message: utime + stime of the daemon and every process under
  it (``/proc/PID/stat``, including reaped children), from before the run
  until the queue is empty again, divided by the messages;
- peak memory, sampled every 0.2 s during the run over the daemon and every
  process under it (``/proc/PID/smaps_rollup``): the largest sum of RSS,
  which counts pages shared by several processes once per process (Postfix
  runs one smtpd process per session), and the largest sum of PSS, which
  divides each shared page among the processes sharing it;

and then mailflow's rate as a multiple of Postfix's for each run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import count_maildir, wait_until  # noqa: E402
from common import _children  # noqa: E402

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SINK_DOMAIN = "sink.example"
VIRTUAL_DOMAIN = "virt.example"
SENDER = "bench@example.org"
TARGETS = {"discard": f"user@{SINK_DOMAIN}", "maildir": f"user0@{VIRTUAL_DOMAIN}"}


class Run(NamedTuple):
    """One run's figures."""

    system: str
    target: str
    sessions: int
    size: int
    count: int
    accept_seconds: float
    deliver_seconds: float | None
    cpu_seconds: float
    peak_rss_kb: int
    peak_pss_kb: int

    @property
    def accepted_rate(self) -> float:
        return self.count / self.accept_seconds

    @property
    def delivered_rate(self) -> float | None:
        return self.count / self.deliver_seconds if self.deliver_seconds else None

    @property
    def rate(self) -> float:
        """The rate that counts for the run: delivered/s into Maildirs, else accepted/s."""
        return self.delivered_rate or self.accepted_rate


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its descendants, plus what their reaped
    children used (cutime + cstime), in seconds."""
    ticks = 0
    for p in _children(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue                        # exited while we looked
        # After the command name: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
        ticks += sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KB summed over ``pid`` and its descendants, now."""
    rss = pss = 0
    for p in _children(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            continue                        # exited while we looked
    return rss, pss


class MemoryPeak(threading.Thread):
    """Samples :func:`tree_memory_kb` every ``interval`` seconds until stopped;
    ``peak`` holds the largest RSS and PSS sums seen."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = (0, 0)
        self._done = threading.Event()

    def run(self) -> None:
        while True:
            rss, pss = tree_memory_kb(self.pid)
            self.peak = (max(self.peak[0], rss), max(self.peak[1], pss))
            if self._done.wait(self.interval):
                return

    def stop(self) -> tuple[int, int]:
        self._done.set()
        self.join()
        rss, pss = tree_memory_kb(self.pid)
        return max(self.peak[0], rss), max(self.peak[1], pss)


def queue_files(spool: Path) -> int:
    """Messages still in the spool's queues."""
    return sum(len(files) for queue in ("maildrop", "incoming", "active", "deferred")
               for _, _, files in os.walk(spool / queue))


# ------------------------------------------------------------------ the mail systems
class Mailflow:
    """A mailflow daemon with an smtpd on ``port``, on a fresh directory."""

    name = "mailflow"

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.etc, self.spool, self.mail = root / "etc", root / "spool", root / "vmail"
        self.env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.env.pop("MAILFLOW_CONFIG_DIR", None)
        self.pid: int | None = None

    def mailflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mailflow", "-c", str(self.etc), *args]

    def start(self) -> None:
        self.etc.mkdir(parents=True)
        self.mail.mkdir()
        (self.etc / "main.cf").write_text(
            "compatibility_level = 3.6\n"
            f"queue_directory = {self.spool}\nmaillog_file = {self.root / 'maillog'}\n"
            "myhostname = mx.example.test\nmydomain = example.test\nmydestination =\n"
            "inet_interfaces = 127.0.0.1\nalias_maps =\nalias_database =\n"
            f"virtual_mailbox_domains = {VIRTUAL_DOMAIN}\nvirtual_mailbox_base = {self.mail}\n"
            f"virtual_mailbox_maps = inline:{{ user0@{VIRTUAL_DOMAIN}=user0/ }}\n"
            f"transport_maps = inline:{{ {SINK_DOMAIN}=discard: }}\n")
        (self.etc / "master.cf").write_text(
            f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
            "cleanup   unix  n       -       n       -       0       cleanup\n"
            "qmgr      unix  n       -       n       300     1       qmgr\n"
            "virtual   unix  -       n       n       -       -       virtual\n"
            "discard   unix  -       -       n       -       -       discard\n"
            "error     unix  -       -       n       -       -       error\n"
            "bounce    unix  -       -       n       -       0       bounce\n")
        subprocess.run(self.mailflow("start"), check=True, env=self.env, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        self.pid = int((self.spool / "pid" / "master.pid").read_text().split()[0])

    def stop(self) -> None:
        subprocess.run(self.mailflow("stop"), env=self.env, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Postfix:
    """A private Postfix with its smtpd on ``port`` (bench/postfix_peer.py)."""

    name = "postfix"

    def __init__(self, root: Path, port: int) -> None:
        from postfix_peer import PostfixPeer
        self.peer = PostfixPeer(root, port=port)
        self.port = port
        self.spool = self.peer.spool
        self.mail = root / "vmail"
        self.pid: int | None = None

    def start(self) -> None:
        from deliver import _unprivileged_owner
        from postfix_peer import unchroot
        peer = self.peer
        peer.setup()
        self.mail.mkdir()
        uid, gid = _unprivileged_owner()
        shutil.chown(self.mail, uid, gid)
        peer.postconf("-e", f"virtual_mailbox_domains = {VIRTUAL_DOMAIN}",
                      f"virtual_mailbox_base = {self.mail}",
                      f"virtual_mailbox_maps = inline:{{ user0@{VIRTUAL_DOMAIN}=user0/ }}",
                      f"virtual_uid_maps = static:{uid}", f"virtual_gid_maps = static:{gid}",
                      f"transport_maps = inline:{{ {SINK_DOMAIN}=discard: }}")
        unchroot(peer.etc / "master.cf")
        peer.start()
        self.pid = int((self.spool / "pid" / "master.pid").read_text().split()[0])
        # The peer's smtpd answers once master has bound it; wait for that.
        import socket
        wait_until(lambda: _answers(socket, self.port), 30, lambda: "Postfix's smtpd port")

    def stop(self) -> None:
        self.peer.close()


def _answers(socket, port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(4).startswith(b"220")
    except OSError:
        return False


# ------------------------------------------------------------------ one run
def run_once(system, target: str, sessions: int, size: int, count: int,
             timeout: float) -> Run:
    """smtp-source ``count`` messages of ``size`` body bytes at ``sessions``;
    wait for delivery (Maildir) and an empty queue; measure."""
    assert system.pid is not None
    before_mail = count_maildir(system.mail)
    memory = MemoryPeak(system.pid)
    memory.start()
    cpu_before = tree_cpu_seconds(system.pid)
    start = time.perf_counter()
    try:
        sent = subprocess.run([SMTP_SOURCE, "-s", str(sessions), "-m", str(count), "-l", str(size),
                               "-f", SENDER, "-t", TARGETS[target], "-M", "client.example.org",
                               f"127.0.0.1:{system.port}"],
                              capture_output=True, text=True, timeout=timeout)
        accepted = time.perf_counter() - start
        if sent.returncode != 0 or sent.stderr:
            raise RuntimeError(f"smtp-source into {system.name} exited {sent.returncode}: "
                               f"{sent.stderr[-2000:]}")
        delivered = None
        if target == "maildir":
            wait_until(lambda: count_maildir(system.mail) - before_mail >= count, timeout,
                       lambda: f"{count_maildir(system.mail) - before_mail} of {count} delivered")
            delivered = time.perf_counter() - start
        wait_until(lambda: queue_files(system.spool) == 0, timeout,
                   lambda: f"{queue_files(system.spool)} messages still queued")
        cpu = tree_cpu_seconds(system.pid) - cpu_before
    finally:
        rss, pss = memory.stop()
    return Run(system.name, target, sessions, size, count, accepted, delivered, cpu, rss, pss)


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ output
def format_runs(runs: list[Run]) -> str:
    """One row per run, then mailflow's rate against Postfix's for each pair."""
    lines = [f"{'system':9} {'target':8} {'sess':>4} {'size':>6} {'msgs':>6} {'accepted/s':>10} "
             f"{'delivered/s':>11} {'CPU ms/msg':>10} {'RSS MB':>7} {'PSS MB':>7}"]
    for r in runs:
        delivered = f"{r.delivered_rate:11.0f}" if r.delivered_rate else f"{'-':>11}"
        lines.append(f"{r.system:9} {r.target:8} {r.sessions:4d} {_size(r.size):>6} {r.count:6d} "
                     f"{r.accepted_rate:10.0f} {delivered} "
                     f"{1000 * r.cpu_seconds / r.count:10.2f} "
                     f"{r.peak_rss_kb / 1024:7.1f} {r.peak_pss_kb / 1024:7.1f}")
    pairs = {(r.target, r.sessions, r.size): r for r in runs if r.system == "postfix"}
    compared = [(r, pairs[(r.target, r.sessions, r.size)]) for r in runs
                if r.system == "mailflow" and (r.target, r.sessions, r.size) in pairs]
    if compared:
        lines += ["", f"{'target':8} {'sess':>4} {'size':>6} {'mailflow/s':>10} {'postfix/s':>10} "
                      f"{'ratio':>6}"]
        for m, p in compared:
            lines.append(f"{m.target:8} {m.sessions:4d} {_size(m.size):>6} {m.rate:10.0f} "
                         f"{p.rate:10.0f} {m.rate / p.rate:5.2f}x")
    return "\n".join(lines)


def _size(size: int) -> str:
    return f"{size // 1024} KB" if size >= 1024 else f"{size} B"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="1 KB messages per run (default 2000)")
    ap.add_argument("--count-large", type=int, default=200,
                    help="100 KB messages per run (default 200)")
    ap.add_argument("--sessions", type=_ints, default=[1, 10, 50],
                    help="comma-separated session counts (default 1,10,50)")
    ap.add_argument("--sizes", type=_ints, default=[1024, 102400],
                    help="comma-separated body sizes in bytes (default 1024,102400)")
    ap.add_argument("--targets", default="discard,maildir",
                    help="comma-separated: discard, maildir (default both)")
    ap.add_argument("--skip-postfix", action="store_true", help="do not run the Postfix peer")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds to wait for one run (default 600)")
    args = ap.parse_args(argv)
    if not os.access(SMTP_SOURCE, os.X_OK):
        print("bench/smtpd.py needs Postfix's smtp-source (apt-get install postfix)",
              file=sys.stderr)
        return 1
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    kinds = [Mailflow]
    if not args.skip_postfix:
        from postfix_peer import why_unavailable
        reason = why_unavailable()
        if reason is None:
            kinds.append(Postfix)
        else:
            print(f"  skipping the Postfix peer: {reason}", file=sys.stderr)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp:
        os.chmod(tmp, 0o755)
        for kind in kinds:
            system = kind(Path(tmp) / kind.name, _free_port())
            system.start()
            try:
                for target in targets:
                    for size in args.sizes:
                        count = args.count if size <= 1024 else args.count_large
                        for sessions in args.sessions:
                            run = run_once(system, target, sessions, size, count, args.timeout)
                            runs.append(run)
                            print(f"  done: {kind.name} {target} {sessions} sessions "
                                  f"{_size(size)}: {run.rate:.0f}/s", file=sys.stderr)
            finally:
                system.stop()
    load = os.getloadavg()[0]
    print(f"smtp-source -> smtpd, one message per session, on {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at the end; peak memory of all the daemon's processes")
    print(format_runs(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
