"""``mailflow start|start-fg|stop|reload|status|check|flush``: process control.

Owns the postfix(1)-style commands: daemonize the master and wait until
every service is up, signal it through ``$queue_directory/pid/master.pid``,
report its state in postfix-script's wording with mailflow as the name, and
check the configuration and spool. It never handles mail; the master and its
services do (:mod:`mailflow.services.master`).

Exit status: 0 on success; 1 when the mail system is (not) running as the
command needs (as postfix-script); 78 (EX_CONFIG) for a bad configuration;
69 (EX_UNAVAILABLE) when ``flush`` finds nobody listening (as postqueue -f).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from typing import Any

from mailflow.errors import ConfigError
from mailflow.cli.main import EX_CONFIG, EX_OK, EX_UNAVAILABLE, EX_USAGE, Context

HELP = "control the mail system: start, start-fg, stop, reload, status, check, flush"

_START_TIMEOUT = 60.0     # seconds the parent waits for the readiness byte
_STOP_TIMEOUT = 60.0      # seconds stop waits for the master to exit
_READY = b"\0"


def _say(text: str) -> None:
    print(f"mailflow: {text}", file=sys.stderr)


def _qdir(ctx: Context) -> str:
    return str(ctx.load_config().queue_directory)


def run(argv: list[str], ctx: Context) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(f"usage: mailflow [-c DIR] {ctx.command}" +
              (" [--ready-fd N] [--daemon]" if ctx.command == "start-fg" else ""))
        return EX_OK
    handler = _COMMANDS[ctx.command]
    return handler(argv, ctx)


# ---------------------------------------------------------------- start
def _start(argv: list[str], ctx: Context) -> int:
    if argv:
        print("usage: mailflow [-c DIR] start", file=sys.stderr)
        return EX_USAGE
    from mailflow.services.master import ensure_queue_directories, load_configuration, running_pid
    cfg, _entries = load_configuration(ctx.config_dir)       # fail fast, in the caller's terminal
    qdir = str(cfg.queue_directory)
    if running_pid(qdir) is not None:
        _say("fatal: the mail system is already running")
        return 1
    try:
        ensure_queue_directories(qdir)
    except OSError as exc:
        _say(f"fatal: cannot create queue directories under {qdir}: {exc.strerror}")
        return 1
    _say("starting the mail system")
    read_end, write_end = os.pipe()
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "mailflow", "-c", os.path.abspath(ctx.config_dir),
           "start-fg", "--daemon", "--ready-fd", str(write_end)]
    # A new session (setsid): the daemon outlives this command and the
    # terminal; its services and any worker processes share its group.
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, pass_fds=(write_end,),
                             start_new_session=True, env=env, close_fds=True, cwd="/")
    os.close(write_end)
    try:
        answer = _read_all(read_end, _START_TIMEOUT)
    finally:
        os.close(read_end)
    if answer == _READY:
        return EX_OK
    status = child.poll()
    reason = answer.decode("utf-8", "replace").strip() if answer else (
        "timed out waiting for the services to start" if status is None
        else f"the master exited with status {status}")
    _say(f"fatal: the mail system did not start: {reason}")
    if status is None:
        child.terminate()
    return 1


def _read_all(fd: int, timeout: float) -> bytes:
    """Read until EOF (the daemon closes its end when ready or dead) or timeout."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return data
        chunk = os.read(fd, 4096)
        if not chunk:
            return data
        data += chunk


def _start_fg(argv: list[str], ctx: Context) -> int:
    ready_fd = None
    daemon = False
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag == "--ready-fd" and args:
            ready_fd = int(args.pop(0))
        elif flag == "--daemon":
            daemon = True
        else:
            print("usage: mailflow [-c DIR] start-fg", file=sys.stderr)
            return EX_USAGE
    try:
        return _run_master(ctx, ready_fd, daemon)
    except BaseException as exc:
        if ready_fd is not None and not isinstance(exc, SystemExit):
            _tell(ready_fd, _failure_text(exc).encode())
        raise


def _failure_text(exc: BaseException) -> str:
    from mailflow.errors import ConfigError
    if isinstance(exc, (ConfigError, RuntimeError, OSError)):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _tell(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
        os.close(fd)
    except OSError:
        pass


def _run_master(ctx: Context, ready_fd: int | None, daemon: bool) -> int:
    from mailflow.maillog import configure_logging, lean_log_records
    from mailflow.services.master import Master, load_configuration, running_pid
    cfg, _ = load_configuration(ctx.config_dir)
    if running_pid(str(cfg.queue_directory)) is not None:
        if ready_fd is not None:
            _tell(ready_fd, b"the mail system is already running")
        _say("fatal: the mail system is already running")
        return 1
    lean_log_records()
    def setup_logging(cfg) -> None:
        # A daemon with no maillog_file logs to syslog, as Postfix does.
        configure_logging(cfg, foreground=not daemon, syslog=daemon)
    master = Master(ctx.config_dir, on_config=setup_logging)
    told = []

    def ready() -> None:
        if ready_fd is not None:
            _tell(ready_fd, _READY)
        told.append(True)
    try:
        return master.serve(ready)
    except Exception as exc:
        logging.getLogger("mailflow.master").critical("%s", _failure_text(exc))
        if ready_fd is not None and not told:
            _tell(ready_fd, _failure_text(exc).encode())
            return 1
        if not daemon:
            return 1
        raise


# ---------------------------------------------------------------- signals
def _signal_master(ctx: Context, sig: int) -> int | None:
    from mailflow.services.master import running_pid
    pid = running_pid(_qdir(ctx))
    if pid is None:
        return None
    os.kill(pid, sig)
    return pid


def _stop(argv: list[str], ctx: Context) -> int:
    from mailflow.services.master import process_gone, running_pid
    qdir = _qdir(ctx)
    pid = running_pid(qdir)
    if pid is None:
        _say("fatal: the mail system is not running")
        return 1
    _say("stopping the mail system")
    os.kill(pid, signal.SIGTERM)
    # Gone means the pid-file lock is free (a zombie no longer holds it).
    deadline = time.monotonic() + _STOP_TIMEOUT
    while running_pid(qdir) is not None or not process_gone(pid):
        if time.monotonic() > deadline:
            _say(f"fatal: the mail system did not stop: PID: {pid}")
            return 1
        time.sleep(0.02)
    return EX_OK


def _reload(argv: list[str], ctx: Context) -> int:
    if _signal_master(ctx, signal.SIGHUP) is None:
        _say("fatal: the mail system is not running")
        return 1
    _say("refreshing the mail system")
    return EX_OK


def _status(argv: list[str], ctx: Context) -> int:
    from mailflow.services.master import running_pid
    pid = running_pid(_qdir(ctx))
    if pid is None:
        _say("the mail system is not running")
        return 1
    _say(f"the mail system is running: PID: {pid}")
    return EX_OK


# ---------------------------------------------------------------- check, flush
def _check(argv: list[str], ctx: Context) -> int:
    from mailflow.services.master import QUEUE_DIRECTORIES, ensure_queue_directories, service_plan
    cfg = ctx.load_config()
    from mailflow.plugins import check_plugins
    errors = cfg.validate() + check_plugins(cfg) + _service_errors(cfg)
    for error in errors:
        _say(f"error: {error}")
    if errors:
        return EX_CONFIG
    qdir = str(cfg.queue_directory)
    problems = 0
    try:
        created = ensure_queue_directories(qdir)
    except OSError as exc:
        _say(f"fatal: cannot create queue directories under {qdir}: {exc.strerror}")
        return 1
    for name in QUEUE_DIRECTORIES:
        path = os.path.join(qdir, name)
        if name in created:
            # postfix-script's wording for the same repair.
            _say(f"warning: creating missing mailflow {name} directory")
        elif not os.access(path, os.W_OK | os.X_OK):
            _say(f"warning: not writable: {path}")
            problems += 1
    for entry in service_plan(list(cfg.master))[1]:
        _say(f"warning: master.cf: {entry.service}/{entry.type}: "
             f"service {entry.command} is not implemented yet (skipped at start)")
    return 1 if problems else EX_OK


def _service_errors(cfg: Any) -> list[ConfigError]:
    """What would stop an inet service at start: a bad listen address, and
    for smtpd the restriction lists, TLS files and SASL settings."""
    from mailflow.services.master import inet_endpoints, service_plan
    errors: list[ConfigError] = []
    for entry, _spec in service_plan([e for e in cfg.master if e.type == "inet"])[0]:
        try:
            inet_endpoints(cfg, entry)
            if entry.command == "smtpd":
                _check_smtpd(cfg.for_service(entry) if entry.overrides else cfg)
        except ConfigError as exc:
            errors.append(exc)
    return errors


def _check_smtpd(cfg: Any) -> None:
    """Build what smtpd builds at start; its ConfigError names the parameter."""
    from mailflow.adapters.tls import server_context
    from mailflow.smtpd.restrictions import SmtpdRestrictions
    from mailflow.smtpd.sasl import authenticator_from_config
    from mailflow.smtpd.settings import SmtpdSettings
    settings = SmtpdSettings.from_config(cfg)
    SmtpdRestrictions.from_config(cfg)
    if settings.tls_security_level != "none" or settings.tls_wrappermode:
        server_context(cfg)
    if settings.sasl_auth_enable:
        authenticator_from_config(cfg)


def _flush(argv: list[str], ctx: Context) -> int:
    from mailflow.adapters.kick import FLUSH_REQUEST, kick
    if not kick(_qdir(ctx), "qmgr", FLUSH_REQUEST):
        # postqueue(1)'s wording and status (EX_UNAVAILABLE).
        print("mailflow/flush: fatal: Cannot flush mail queue - mail system is down",
              file=sys.stderr)
        return EX_UNAVAILABLE
    return EX_OK


_COMMANDS = {
    "start": _start, "start-fg": _start_fg, "stop": _stop, "reload": _reload,
    "status": _status, "check": _check, "flush": _flush,
}

__all__ = ["run", "HELP"]
