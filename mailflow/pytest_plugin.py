"""The pytest plugin: mailflow's test fixtures, there as soon as mailflow is installed.

This module owns the fixtures and the ``mailflow`` marker that pytest loads
through the ``pytest11`` entry point (or with ``-p mailflow.pytest_plugin``):

``mail_system``
    a :class:`~mailflow.testing.MailSystem`: the real cleanup and queue
    manager over an in-memory spool, with a fake clock and the fake DNS of
    ``dns_records``; ``mail_system_factory(**params)`` makes more of them.
``dns_records``
    a :class:`~mailflow.testing.StaticResolver` that ``mail_system`` (its
    real smtp/lmtp agents) and ``smtp_server`` (its DNS-based restrictions)
    ask instead of the network.
``smtp_server``
    a :class:`~mailflow.testing.SmtpServerThread`: mailflow's smtpd on a
    free port of 127.0.0.1, recording the messages it accepts.
``mailflow_daemon``
    a :class:`MailflowDaemon`: ``mailflow -c DIR start`` in a temporary
    directory with its own spool, stopped after the test, with a check that
    none of its processes is left.

``@pytest.mark.mailflow(name=value, ...)`` gives main.cf parameters to all
of them (the marker nearest the test wins), e.g.
``@pytest.mark.mailflow(relayhost="[smarthost.example]")``.

It never reads the machine's mail configuration and never listens on
anything but 127.0.0.1. Loading it imports nothing of mailflow: the
fixtures import what they use, so pytest starts as fast with mailflow
installed as without.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

import pytest

if TYPE_CHECKING:
    from mailflow.testing import MailSystem, SmtpServerThread, StaticResolver

__all__ = ["MailflowDaemon", "MAIL_SYSTEM_DEFAULTS", "marker_params", "mail_system",
           "mail_system_factory", "dns_records", "smtp_server", "mailflow_daemon"]

T = TypeVar("T")

#: Parameters every ``mail_system`` starts from (the marker and the factory
#: override them): fixed names, since the defaults come from the machine's.
MAIL_SYSTEM_DEFAULTS = {"myhostname": "mail.example.com", "mydomain": "example.com"}

# MailSystem keywords that are not main.cf parameters: the smtpd and the
# daemon fixtures leave them out.
_HARNESS_KEYWORDS = frozenset({"config", "store", "clock", "agents", "real", "pipeline",
                               "resolver"})

# Long enough for a loaded 2-core machine; every wait polls its condition,
# so a test that passes never waits this long.
_DEADLINE = 30.0


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``mailflow`` marker, so that ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers", "mailflow(**params): main.cf parameters for mailflow's fixtures "
                   "(mail_system, smtp_server, mailflow_daemon)")


def marker_params(node: Any) -> dict[str, Any]:
    """The parameters of every ``mailflow`` marker on ``node`` (module, class,
    function), the nearest winning. A marker with positional arguments is an
    error: parameters are always ``name=value``.

    >>> from types import SimpleNamespace as Mark
    >>> class Node:                      # markers come nearest first, as pytest gives them
    ...     def iter_markers(self, name):
    ...         return iter([Mark(args=(), kwargs={"relayhost": "[b]"}),
    ...                      Mark(args=(), kwargs={"relayhost": "[a]", "mydestination": ""})])
    >>> marker_params(Node())
    {'relayhost': '[b]', 'mydestination': ''}
    """
    params: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("mailflow"))):   # farthest first
        if mark.args:
            raise pytest.UsageError(f"@pytest.mark.mailflow takes main.cf parameters as "
                                    f"name=value, not {mark.args!r}")
        params.update(mark.kwargs)
    return params


def _main_cf_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in _HARNESS_KEYWORDS}


# ---------------------------------------------------------------- in memory
@pytest.fixture
def dns_records() -> StaticResolver:
    """A fake DNS for the test: ``dns_records.add("example.net", "MX", "10 mx.example.net")``.

    ``mail_system`` and ``smtp_server`` use it; nothing asks the real DNS.
    """
    from mailflow.testing import StaticResolver
    return StaticResolver()


@pytest.fixture
def mail_system_factory(request: pytest.FixtureRequest,
                        dns_records: StaticResolver) -> Callable[..., MailSystem]:
    """Makes :class:`~mailflow.testing.MailSystem` objects:
    ``mail_system_factory(**params)``, with ``params`` over the marker's over
    :data:`MAIL_SYSTEM_DEFAULTS`; each has its own fake clock and shares
    ``dns_records``."""
    base = {**MAIL_SYSTEM_DEFAULTS, **marker_params(request.node)}

    def make(**params: Any) -> MailSystem:
        from mailflow.testing import MailSystem
        merged = {**base, **params}
        merged.setdefault("resolver", dns_records)
        return MailSystem(**merged)

    return make


@pytest.fixture
def mail_system(mail_system_factory: Callable[..., MailSystem]) -> MailSystem:
    """A :class:`~mailflow.testing.MailSystem` configured by ``@pytest.mark.mailflow(...)``."""
    return mail_system_factory()


# ---------------------------------------------------------------- smtpd
@pytest.fixture
def smtp_server(request: pytest.FixtureRequest,
                dns_records: StaticResolver) -> Iterator[SmtpServerThread]:
    """mailflow's smtpd on a free port of 127.0.0.1 (``host``, ``port``),
    recording the messages it accepts (``messages``); stopped after the test."""
    from mailflow.testing import SmtpServerThread
    server = SmtpServerThread(dns=dns_records, **_main_cf_params(marker_params(request.node)))
    with server:
        yield server


# ---------------------------------------------------------------- the daemon
def _free_port() -> int:
    # The port is free now; the daemon binds it a moment later. Another
    # program taking it in between makes start fail loudly, not wrongly.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/spool
maillog_file = {d}/maillog
myhostname = mail.example.com
mydomain = example.com
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain, localhost
inet_interfaces = 127.0.0.1
smtpd_peername_lookup = no
alias_maps =
alias_database =
mail_spool_directory = {d}/mailspool
virtual_mailbox_domains = example.com
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = regexp:{d}/etc/virtual_mailboxes
default_transport = error:5.4.4 this test mail system does not deliver to the network
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
"""

_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
"""

# Every user of example.com has a Maildir under virtual_mailbox_base.
_VIRTUAL_MAILBOXES = "/^([^@]+)@example\\.com$/ $1/Maildir/\n"


class MailflowDaemon:
    """A real mailflow daemon in ``directory``: ``etc/`` (main.cf,
    master.cf), ``spool/``, ``maillog``, and ``mail/USER/Maildir`` for the
    virtual domain ``example.com``. smtpd listens on 127.0.0.1:\\ :attr:`port`;
    other domains go to the ``error`` transport unless ``params`` say
    otherwise (``relayhost``, ``transport_maps``, ...). Every command runs
    as ``python -m mailflow -c etc COMMAND``, as a user would run it.

    >>> daemon = MailflowDaemon("/tmp/x", relayhost="[127.0.0.1]:2525")
    >>> daemon.config_dir.as_posix(), daemon.params["relayhost"]
    ('/tmp/x/etc', '[127.0.0.1]:2525')
    """

    host = "127.0.0.1"

    def __init__(self, directory: str | os.PathLike, **params: Any) -> None:
        self.directory = Path(directory)
        self.config_dir = self.directory / "etc"
        self.queue_directory = self.directory / "spool"
        self.maillog = self.directory / "maillog"
        self.mail_directory = self.directory / "mail"
        self.params = dict(params)
        self.port = 0
        self._master_pids: set[int] = set()

    def __repr__(self) -> str:
        return f"<MailflowDaemon {self.directory} port={self.port}>"

    # ------------------------------------------------------------ set-up
    def write_config(self) -> None:
        """Write main.cf (the base with :attr:`params` in place of its values)
        and master.cf, and make the directories."""
        for d in (self.config_dir, self.directory / "mailspool", self.mail_directory):
            d.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = _free_port()
        # One line per parameter: a second line for the same name would make
        # every command warn "overriding earlier entry", as Postfix does.
        lines = {name.strip(): value.strip() for name, _, value in
                 (line.partition("=") for line in _MAIN_CF.format(d=self.directory).splitlines())}
        lines.update((name, str(value)) for name, value in self.params.items())
        (self.config_dir / "main.cf").write_text(
            "".join(f"{name} = {value}".rstrip() + "\n" for name, value in lines.items()))
        (self.config_dir / "master.cf").write_text(_MASTER_CF.format(port=self.port))
        (self.config_dir / "virtual_mailboxes").write_text(_VIRTUAL_MAILBOXES)

    def configure(self, **params: Any) -> None:
        """Change main.cf parameters. A running daemon is stopped and started
        again (mail in the spool stays), so that every service has the new
        values when this returns."""
        self.params.update(params)
        running = self.running
        if running:
            self.stop()
        self.write_config()
        if running:
            self.start()

    # ------------------------------------------------------------ commands
    def cli(self, *args: str, input: bytes | str = b"", check: bool = False,
            timeout: float = _DEADLINE) -> subprocess.CompletedProcess:
        """Run ``mailflow -c etc ARGS`` as a child process; output as text.
        ``check=True`` fails the test with the output when it exits non-zero."""
        data = input.encode() if isinstance(input, str) else input
        env = dict(os.environ)
        env.pop("MAILFLOW_CONFIG_DIR", None)
        # The child imports the same mailflow as this process, installed or not.
        import mailflow
        package_root = str(Path(mailflow.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        proc = subprocess.run([sys.executable, "-m", "mailflow", "-c", str(self.config_dir),
                               *args], input=data, capture_output=True, env=env,
                              cwd=str(self.directory), timeout=timeout)
        result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                             proc.stdout.decode(errors="replace"),
                                             proc.stderr.decode(errors="replace"))
        if check and result.returncode != 0:
            raise AssertionError(f"mailflow {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stderr}{result.stdout}")
        return result

    def start(self) -> int:
        """``mailflow start`` (returns once every service listens); the master's pid."""
        if not (self.config_dir / "main.cf").exists():
            self.write_config()
        self.cli("start", check=True)
        pid = self.pid
        if pid is None:
            raise AssertionError(f"mailflow start returned but wrote no master.pid\n{self.log()}")
        self._master_pids.add(pid)
        return pid

    def stop(self) -> None:
        """``mailflow stop``, then check that no process of this mail system is
        left (killing the master's process group if one is, and failing)."""
        if self.running:
            stopped = self.cli("stop")
            if stopped.returncode != 0 and self.running:
                self._kill()
                raise AssertionError(f"mailflow stop failed: {stopped.stderr}")
        deadline = time.monotonic() + 10
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.05)
        if left:
            self._kill()
            raise AssertionError(f"processes left behind by the mail system: {left}")

    def _kill(self) -> None:
        for pid in self._master_pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    @property
    def running(self) -> bool:
        """The master whose pid is in master.pid is alive (what ``mailflow
        status`` checks, without starting a process to ask)."""
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @property
    def pid(self) -> int | None:
        """The master's pid from ``$queue_directory/pid/master.pid``, if there."""
        try:
            return int((self.queue_directory / "pid" / "master.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def sendmail(self, message: bytes | str, sender: str, *recipients: str) -> None:
        """``mailflow sendmail -f SENDER RCPT...`` with ``message`` on stdin; must exit 0."""
        self.cli("sendmail", "-f", sender, *recipients, input=message, check=True)

    # ------------------------------------------------------------ looking
    def log(self) -> str:
        """The maillog so far."""
        return self.maillog.read_text() if self.maillog.exists() else ""

    def wait_for(self, condition: Callable[[], T], what: str, timeout: float = _DEADLINE) -> T:
        """Poll ``condition()`` until it returns something true, and return it;
        fail naming ``what`` and showing the log after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; "
                                     f"the maillog:\n{self.log()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def wait_for_log(self, text: str, timeout: float = _DEADLINE) -> str:
        """Wait for a maillog line containing ``text``; return that line."""
        def line() -> str | None:
            return next((x for x in self.log().splitlines() if text in x), None)
        return self.wait_for(line, f"a log line with {text!r}", timeout)

    def maildir(self, user: str) -> list[Path]:
        """The messages in ``user@example.com``'s Maildir (new/ and cur/)."""
        box = self.mail_directory / user / "Maildir"
        return sorted(p for sub in ("new", "cur") if (box / sub).is_dir()
                      for p in (box / sub).iterdir())

    def wait_for_mail(self, user: str, count: int = 1, timeout: float = _DEADLINE) -> list[Path]:
        """Wait until ``user@example.com``'s Maildir holds ``count`` messages; return them."""
        return self.wait_for(lambda: len(m := self.maildir(user)) >= count and m,
                             f"{count} message(s) for {user}@example.com", timeout)

    def queue_ids(self, *queues: str) -> list[str]:
        """Queue IDs in the given spool queues (default: all that hold mail)."""
        names = queues or ("maildrop", "incoming", "active", "deferred", "hold")
        found = []
        for queue in names:
            for _dir, _subdirs, files in os.walk(self.queue_directory / queue):
                found += [f for f in files if not f.startswith(".")]
        return sorted(found)

    def leftovers(self) -> list[str]:
        """Live processes of this mail system: in a master's process group or
        with its directory on their command line."""
        found = []
        needle = os.fsencode(str(self.directory))
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue                 # it exited while we looked
            fields = stat[stat.rindex(b")") + 2:].split()   # "pid (comm) state ppid pgrp"
            if fields[0] == b"Z":
                continue                 # a zombie holds nothing
            if needle in cmdline or int(fields[2]) in self._master_pids:
                args = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry}: {args}")
        return found


@pytest.fixture
def mailflow_daemon(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailflowDaemon]:
    """A running :class:`MailflowDaemon` configured by ``@pytest.mark.mailflow(...)``;
    stopped after the test, failing it if a process is left."""
    # A short path of its own: the spool holds the master's unix sockets,
    # whose path must stay under the kernel's 108-byte limit.
    daemon = MailflowDaemon(tmp_path_factory.mktemp("mf"),
                            **_main_cf_params(marker_params(request.node)))
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()

