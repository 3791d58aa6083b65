"""``mailflow postlog [-c DIR] [-iv] [-p PRIORITY] [-t TAG] [TEXT...]``.

Postfix's postlog(1): write one log line in the mail system's format to the
configured destination (``maillog_file``, else stderr). Without TEXT, each
line of standard input is logged. The tag defaults to
``$syslog_name/postlog``; the pid is always included (as Postfix 3.4+ does).
Owns only the command line; rendering is :mod:`mailflow.maillog`.

Priorities: ``info`` (default), ``warning``, ``error``, ``fatal``, ``panic``;
like Postfix, a ``fatal`` line does not make postlog itself fail.
"""

from __future__ import annotations

import logging
import sys

from mailflow.cli.main import EX_OK, Context

HELP = "write a log line in the mail system's format"

_USAGE = "usage: postlog [-iv] [-c config_dir] [-p priority] [-t tag] [text...]"
# msg(3) levels; "panic" is rendered "panic: " after the fatal level.
_PRIORITIES = {"info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING,
               "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}


def run(argv: list[str], ctx: Context) -> int:
    from mailflow.maillog import configure_logging
    args = list(argv)
    config_dir = None
    priority = "info"
    tag = None
    while args and args[0].startswith("-") and len(args[0]) > 1:
        flag = args.pop(0)
        if flag == "--":
            break
        if flag in ("-i", "-v"):
            continue
        if flag in ("-h", "--help"):
            print(_USAGE)
            return EX_OK
        if flag in ("-c", "-p", "-t") and args:
            value = args.pop(0)
        elif flag[:2] in ("-c", "-p", "-t") and len(flag) > 2:
            flag, value = flag[:2], flag[2:]
        else:
            print(f"postlog: invalid option -- {flag!r}\n{_USAGE}", file=sys.stderr)
            return 1
        if flag == "-c":
            config_dir = value
        elif flag == "-p":
            priority = value.lower()
        else:
            tag = value
    if priority not in _PRIORITIES:
        print(f"postlog: fatal: unknown priority value: {priority}", file=sys.stderr)
        return 1
    from mailflow.cli.postqueue import tool_config
    cfg = tool_config(ctx, config_dir)
    handler = configure_logging(cfg, foreground=True, stream=sys.stderr)
    logger = logging.getLogger("mailflow.postlog")
    extra = {"tag": tag} if tag else {}
    level = _PRIORITIES[priority]
    try:
        lines = [" ".join(args)] if args else [line.rstrip("\n") for line in sys.stdin]
        for line in filter(None, lines):
            if priority == "panic":
                _log_panic(logger, line, extra)
            else:
                logger.log(level, "%s", line, extra=extra)
    finally:
        if handler is not None:
            logging.getLogger("mailflow").removeHandler(handler)
            logging.getLogger("mailflow").propagate = True
            handler.close()
    return EX_OK


def _log_panic(logger: logging.Logger, line: str, extra: dict) -> None:
    # logging has no level above CRITICAL; render Postfix's "panic: " by hand.
    record = logger.makeRecord(logger.name, logging.INFO, "postlog", 0, "panic: %s",
                               (line,), None, extra=extra)
    logger.handle(record)
