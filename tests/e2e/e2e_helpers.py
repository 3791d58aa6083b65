"""Helpers for end-to-end tests: a real ``mailflow start`` daemon per test.

Every test gets a configuration directory under tmp_path (spool, log,
mailboxes and tables all under tmp_path too), runs the ``mailflow`` command
as child processes (``python -m mailflow -c DIR ...``), and waits for
conditions with a deadline instead of sleeping a fixed time. When the test
ends the daemon is always stopped, and the fixture checks that no process
of the mail system is left: none in the master's process group and none
with the configuration directory on its command line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# Long enough for a loaded 2-core CI machine; a test that passes never waits
# this long, because every wait polls for its condition.
DEADLINE = 30.0

BASE_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {tmp}/spool
maillog_file = {tmp}/maillog
myhostname = mail.example.com
mydomain = example.com
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain, localhost
inet_interfaces = 127.0.0.1
virtual_mailbox_domains = example.com
virtual_mailbox_base = {tmp}/mail
virtual_mailbox_maps = texthash:{tmp}/etc/vmailbox
alias_maps = hash:{tmp}/etc/aliases
alias_database = hash:{tmp}/etc/aliases
mail_spool_directory = {tmp}/mailspool
forward_path = {tmp}/forward/$user
transport_maps = texthash:{tmp}/etc/transport
header_checks = regexp:{tmp}/etc/header_checks
default_transport = error:5.4.4 no network delivery in the tests
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
"""

BASE_MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
"""

# Virtual mailboxes (virtual_mailbox_maps): a path ending in "/" is a Maildir.
VMAILBOX = """\
a@example.com a/Maildir/
b@example.com b/Maildir/
fwd@example.com fwd/Maildir/
"""

# A pipe(8) program: writes its argv and stdin to files next to it; exits 75
# (EX_TEMPFAIL) with a reason while the file "closed" exists.
PIPE_SCRIPT = """\
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
if os.path.exists(os.path.join(here, "closed")):
    print("mailbox is closed for maintenance")
    sys.exit(75)
n = len([f for f in os.listdir(here) if f.startswith("stdin.")])
with open(os.path.join(here, "stdin.%d" % n), "wb") as f:
    f.write(sys.stdin.buffer.read())
with open(os.path.join(here, "argv.%d" % n), "w") as f:
    json.dump(sys.argv[1:], f)
"""

PIPE_SERVICE = ("pipeit    unix  -       n       n       -       -       pipe\n"
                "  flags=R argv={python} {tmp}/pipe/deliver.py ${{sender}} ${{recipient}}\n")


def wait_until(condition: Callable[[], T], what: str, timeout: float = DEADLINE) -> T:
    """Poll ``condition()`` until it returns something true and return that;
    fail naming ``what`` once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def maildir_messages(maildir: Path) -> list[Path]:
    """The files in a Maildir's new/ and cur/ (none when it does not exist yet)."""
    return sorted(p for sub in ("new", "cur") if (maildir / sub).is_dir()
                  for p in (maildir / sub).iterdir())


def mail_processes(config_dir: Path, pgid: int | None = None) -> list[str]:
    """Live processes with ``config_dir`` on their command line or in group ``pgid``."""
    found = []
    needle = os.fsencode(str(config_dir))
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue                    # exited while we looked
        # /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces.
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[0] == b"Z":
            continue                    # a zombie holds nothing
        group = int(fields[2])
        if needle in cmdline or (pgid is not None and group == pgid):
            args = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry}: {args}")
    return found


class Mta:
    """One mail system under test: its directories and its command line."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.etc = tmp / "etc"
        self.spool = tmp / "spool"
        self.maillog = tmp / "maillog"
        self.mail = tmp / "mail"
        self.pipe_dir = tmp / "pipe"
        self.master_pids: set[int] = set()

    # ---------------------------------------------------------------- commands
    def cli(self, *args: str, input: bytes | str = b"", check: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run ``mailflow -c ETC ARGS`` as a child process; text output."""
        data = input.encode() if isinstance(input, str) else input
        full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
        full_env.pop("MAILFLOW_CONFIG_DIR", None)
        proc = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(self.etc), *args],
                              input=data, capture_output=True, env=full_env, cwd=str(self.tmp),
                              timeout=DEADLINE)
        result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                             proc.stdout.decode(errors="replace"),
                                             proc.stderr.decode(errors="replace"))
        if check:
            assert result.returncode == 0, f"mailflow {' '.join(args)}: {result}"
        return result

    def sendmail(self, sender: str, *recipients: str, data: bytes | str) -> None:
        """``mailflow sendmail -f SENDER RCPT...`` with ``data`` on stdin; must exit 0."""
        self.cli("sendmail", "-f", sender, *recipients, input=data, check=True)

    def start(self) -> int:
        """``mailflow start``; returns the master's pid."""
        self.cli("start", check=True)
        pid = self.master_pid()
        assert pid is not None, "start returned but there is no master.pid"
        self.master_pids.add(pid)
        return pid

    def stop(self) -> None:
        """``mailflow stop``; must exit 0."""
        self.cli("stop", check=True)

    def master_pid(self) -> int | None:
        """The pid in ``$queue_directory/pid/master.pid``, if the file is there."""
        try:
            return int((self.spool / "pid" / "master.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def running(self) -> bool:
        """``mailflow status`` says the mail system is running."""
        return self.cli("status").returncode == 0

    # ---------------------------------------------------------------- looking
    def queue_ids(self, *queues: str) -> list[str]:
        """Queue IDs (file names) in the given spool queues, hashed subdirectories included."""
        ids = []
        for queue in queues:
            for _dirpath, _dirs, files in os.walk(self.spool / queue):
                ids += [f for f in files if not f.startswith(".")]
        return sorted(ids)

    def queue_is_empty(self) -> bool:
        """No message in any queue, and ``postqueue -p`` agrees."""
        if self.queue_ids("maildrop", "incoming", "active", "deferred", "hold"):
            return False
        return self.cli("postqueue", "-p").stdout.strip() == "Mail queue is empty"

    def maildir(self, user: str) -> Path:
        """A virtual user's Maildir (virtual_mailbox_base/USER/Maildir)."""
        return self.mail / user / "Maildir"

    def wait_for_mail(self, maildir: Path, count: int = 1) -> list[Path]:
        """Wait until ``maildir`` holds at least ``count`` messages; return them."""
        return wait_until(lambda: len(m := maildir_messages(maildir)) >= count and m,
                          f"{count} message(s) in {maildir}")

    def log_text(self) -> str:
        """The maillog_file so far."""
        return self.maillog.read_text() if self.maillog.exists() else ""

    def leftovers(self) -> list[str]:
        """Processes of this mail system still alive."""
        found: list[str] = []
        for pid in self.master_pids or {None}:
            found += [p for p in mail_processes(self.tmp, pid) if p not in found]
        return found


def write_config(tmp: Path, main_extra: str = "", master_extra: str = "",
                 aliases: str = "", transport: str = "", vmailbox: str = VMAILBOX,
                 header_checks: str = "", without: tuple[str, ...] = ()) -> Mta:
    """Write etc/{main.cf,master.cf,aliases,transport,vmailbox,header_checks}
    under ``tmp``; master.cf services named in ``without`` are left out."""
    mta = Mta(tmp)
    for d in (mta.etc, mta.pipe_dir, tmp / "forward", tmp / "mailspool"):
        d.mkdir(parents=True, exist_ok=True)
    (mta.pipe_dir / "deliver.py").write_text(PIPE_SCRIPT)
    fmt = {"tmp": tmp, "python": sys.executable}
    (mta.etc / "main.cf").write_text(BASE_MAIN_CF.format(**fmt) + main_extra.format(**fmt))
    master = [line for line in BASE_MASTER_CF.splitlines(keepends=True)
              if line.split()[0] not in without]
    (mta.etc / "master.cf").write_text("".join(master) + PIPE_SERVICE.format(**fmt)
                                       + master_extra.format(**fmt))
    (mta.etc / "header_checks").write_text(header_checks)
    (mta.etc / "aliases").write_text(aliases.format(**fmt))
    mta.cli("postalias", str(mta.etc / "aliases"), check=True)   # alias_maps = hash:...
    (mta.etc / "transport").write_text(transport.format(**fmt))
    (mta.etc / "vmailbox").write_text(vmailbox)
    return mta


def shut_down(mta: Mta) -> None:
    """Stop the daemon if it runs (SIGKILL its group if stop fails), then
    assert nothing of it is left."""
    if mta.master_pid() is not None and mta.running():
        stopped = mta.cli("stop")
        if stopped.returncode != 0:
            for pid in mta.master_pids:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise AssertionError(f"mailflow stop failed: {stopped.stderr}")
    deadline = time.monotonic() + 10
    while (left := mta.leftovers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {left}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtpd_line(port: int) -> str:
    """A master.cf line running smtpd on 127.0.0.1:``port``."""
    return f"127.0.0.1:{port} inet  n       -       n       -       -       smtpd\n"
