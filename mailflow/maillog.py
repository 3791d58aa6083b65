"""Postfix-format log lines on top of the standard :mod:`logging` module.

Owns the rendering of a log record as Postfix writes it to ``maillog_file``
(postlogd(8), msg_logger.c)::

    Nov 29 13:24:03 mx mailflow/pickup[10819]: 4139C20C313: uid=0 from=<a@example.com>

and the choice of destination: ``maillog_file`` when set (appended;
``/dev/stdout`` and ``/dev/stderr`` allowed), else stderr under ``start-fg``.
Components only call ``logging.getLogger("mailflow.<service>")`` and log text
in Postfix's wording; the ``syslog_name/service[pid]:`` prefix and the
``warning:``/``error:``/``fatal:`` level prefixes are added here. This module
never decides *what* is logged, and it never touches the root logger's
handlers beyond the one it installs on the ``mailflow`` logger.

>>> import logging
>>> fmt = PostfixFormatter(hostname="mx.example.com", syslog_name="mailflow")
>>> rec = logging.LogRecord("mailflow.qmgr", logging.WARNING, __file__, 1,
...                         "%s: removed", ("4139C20C313",), None)
>>> fmt.format(rec).split(" ", 3)[3].split("]: ")[1]
'warning: 4139C20C313: removed'
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, Any

__all__ = ["PostfixFormatter", "SyslogFormatter", "configure_logging", "service_of", "level_prefix",
           "short_hostname", "LOGGER_NAME"]

LOGGER_NAME = "mailflow"

# Postfix's msg(3) levels: msg_info has no prefix, msg_warn "warning: ",
# msg_error "error: ", msg_fatal "fatal: ", msg_panic "panic: ".
_PREFIXES = {logging.WARNING: "warning: ", logging.ERROR: "error: ",
             logging.CRITICAL: "fatal: "}

_HANDLER_MARK = "_mailflow_maillog"


def level_prefix(levelno: int) -> str:
    """The Postfix text prefix for a logging level.

    >>> level_prefix(logging.INFO), level_prefix(logging.WARNING), level_prefix(logging.CRITICAL)
    ('', 'warning: ', 'fatal: ')
    """
    if levelno >= logging.CRITICAL:
        return _PREFIXES[logging.CRITICAL]
    if levelno >= logging.ERROR:
        return _PREFIXES[logging.ERROR]
    if levelno >= logging.WARNING:
        return _PREFIXES[logging.WARNING]
    return ""


def service_of(logger_name: str) -> str:
    """The service shown in ``syslog_name/SERVICE[pid]``: the first name below
    ``mailflow`` (``mailflow.qmgr.scheduler`` logs as ``qmgr``).

    >>> service_of("mailflow.pickup"), service_of("mailflow.qmgr.scheduler"), service_of("myapp")
    ('pickup', 'qmgr', 'myapp')
    >>> service_of("mailflow")
    'mailflow'
    """
    parts = logger_name.split(".")
    if parts[0] == LOGGER_NAME and len(parts) > 1:
        return parts[1]
    return parts[0]


def short_hostname(myhostname: str) -> str:
    """Postfix logs the first label of ``myhostname`` (``mx.example.test`` → ``mx``).

    >>> short_hostname("mx.example.test"), short_hostname("localhost")
    ('mx', 'localhost')
    """
    return myhostname.split(".", 1)[0] or "localhost"


class PostfixFormatter(logging.Formatter):
    """Render ``Mon DD HH:MM:SS HOST SYSLOG_NAME/SERVICE[PID]: TEXT``.

    The timestamp is local time in BSD syslog form (``%b %d %H:%M:%S``, as
    Postfix's msg_logger.c writes it). A record may carry ``tag`` (the whole
    ``name/service`` part, as ``postlog -t`` gives it) or ``service`` (to log
    as another service than the logger's name) in its ``extra`` fields.

    >>> fmt = PostfixFormatter(hostname="mx", syslog_name="mailflow", pid=42)
    >>> rec = logging.LogRecord("mailflow.pickup", logging.INFO, __file__, 1,
    ...                         "%s: uid=%d from=<%s>", ("ABC", 0, "a@example.com"), None)
    >>> rec.created = 0.0
    >>> line = fmt.format(rec)
    >>> line.split(" ", 4)[3:]
    ['mx', 'mailflow/pickup[42]: ABC: uid=0 from=<a@example.com>']
    """

    def __init__(self, hostname: str | None = None, syslog_name: str = "mailflow",
                 pid: int | None = None) -> None:
        super().__init__()
        self.hostname = short_hostname(hostname or os.uname().nodename)
        self.syslog_name = syslog_name
        self.pid = pid
        # A busy daemon logs many lines a second: the stamp is made once per
        # second and the tag once per logger name.
        self._stamp_second = -1
        self._stamp = ""
        self._tags: dict[str, str] = {}

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            # One logical line per event, as syslog has: fold the traceback.
            text += " " + " | ".join(self.formatException(record.exc_info).splitlines())
        tag = getattr(record, "tag", None)
        if not tag:
            service = getattr(record, "service", None)
            if service:
                tag = f"{self.syslog_name}/{service}"
            else:
                tag = self._tags.get(record.name)
                if tag is None:
                    tag = self._tags[record.name] = f"{self.syslog_name}/{service_of(record.name)}"
        pid = self.pid if self.pid is not None else (record.process or _pid())
        second = int(record.created)
        if second != self._stamp_second:
            self._stamp = time.strftime("%b %d %H:%M:%S", time.localtime(second))
            self._stamp_second = second
        return f"{self._stamp} {self.hostname} {tag}[{pid}]: {level_prefix(record.levelno)}{text}"


class _LineFileHandler(logging.StreamHandler):
    """Append lines to a file opened in append mode (or /dev/stdout); each
    line is one write(2) on an O_APPEND descriptor, so lines from several
    processes never interleave within a line."""

    def __init__(self, path: str) -> None:
        if path in ("/dev/stdout", "/dev/stderr"):
            stream: IO[str] = sys.stdout if path == "/dev/stdout" else sys.stderr
            self._owned = False
        else:
            stream = open(path, "a", encoding="utf-8", errors="surrogateescape")
            self._owned = True
        super().__init__(stream)

    def emit(self, record: logging.LogRecord) -> None:
        if not self._owned:
            super().emit(record)
            return
        try:
            line = (self.format(record) + "\n").encode("utf-8", "surrogateescape")
            # Straight to the descriptor: the text layer's write and flush
            # cost more than the line, and its buffer is never used.
            os.write(self.stream.fileno(), line)
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)

    def close(self) -> None:
        try:
            if self._owned:
                self.stream.close()
        finally:
            super().close()


_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


def _pid() -> int:
    return _PID[0]


def lean_log_records() -> None:
    """Make every log record cheaper to build, for a daemon process only.

    The records then carry no caller's file and line, thread or process
    fields (the Postfix line uses none of them; the pid comes from the
    formatter). It changes the :mod:`logging` module for the whole process,
    so a program that embeds mailflow should not call it.
    """
    logging._srcfile = None           # no stack walk to find the caller
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def _clear_installed(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            logger.removeHandler(handler)
            handler.close()


class SyslogFormatter(PostfixFormatter):
    """The line without time and host, which syslogd adds itself.

    >>> rec = logging.LogRecord("mailflow.qmgr", logging.INFO, __file__, 1, "x", (), None)
    >>> SyslogFormatter(syslog_name="mailflow", pid=3).format(rec)
    'mailflow/qmgr[3]: x'
    """

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).split(" ", 4)[4]


def _syslog_handler() -> logging.Handler | None:
    if not os.path.exists("/dev/log"):
        return None
    from logging.handlers import SysLogHandler
    try:
        return SysLogHandler("/dev/log", facility=SysLogHandler.LOG_MAIL)
    except OSError:
        return None


def configure_logging(cfg: Any, *, foreground: bool = False, stream: IO[str] | None = None,
                      level: int = logging.INFO, syslog: bool = False) -> logging.Handler | None:
    """Send ``mailflow.*`` loggers to the configured destination, Postfix style.

    Destination: ``maillog_file`` when set; else ``stream`` (default stderr)
    when ``foreground``; else syslog (``/dev/log``, facility mail) when
    ``syslog`` is true and a syslog daemon listens; else nothing is installed
    and records propagate to whatever the application configured (``None``
    is returned). Calling it again (e.g. on reload) replaces the handler it
    installed before.

    >>> import io
    >>> from mailflow.config import Config
    >>> buf = io.StringIO()
    >>> h = configure_logging(Config(myhostname="mx.example.com"), foreground=True, stream=buf)
    >>> logging.getLogger("mailflow.qmgr").info("%s: removed", "ABC")
    >>> buf.getvalue().split(" mx ")[1].split("]: ")[1]
    'ABC: removed\\n'
    >>> configure_logging(Config(), foreground=False) is None
    True
    """
    logger = logging.getLogger(LOGGER_NAME)
    _clear_installed(logger)
    path = str(cfg.maillog_file or "").strip()
    handler: logging.Handler
    if path:
        handler = _LineFileHandler(path)
    elif foreground:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    elif syslog and (found := _syslog_handler()) is not None:
        handler = found
        handler.setFormatter(SyslogFormatter(syslog_name=str(cfg.syslog_name)))
    else:
        logger.propagate = True
        return None
    if handler.formatter is None:
        handler.setFormatter(PostfixFormatter(hostname=str(cfg.myhostname),
                                              syslog_name=str(cfg.syslog_name)))
    setattr(handler, _HANDLER_MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level)
    # The line is complete here; the root logger must not print it again.
    logger.propagate = False
    return handler
