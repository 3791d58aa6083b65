"""``mailflow postlock [-l lock_style] [-v] file command...``: run a command
while holding the lock local delivery takes on a mailbox (postlock(1)).

Owns only the command line: the locks come from
:mod:`mailflow.delivery.locking`. The command runs directly, without a
shell. Exit status: the command's, or 75 (EX_TEMPFAIL) when the file
cannot be locked or the arguments are wrong, as Postfix's postlock.
"""

from __future__ import annotations

import subprocess
import sys

HELP = "run a command while holding a mailbox lock"
EX_TEMPFAIL = 75
USAGE = "usage: postlock [-c config_dir] [-l lock_style] [-v] folder command..."


def run(argv: list[str], ctx) -> int:
    """Parse ``argv``, lock, run the command, return its exit status."""
    from mailflow.delivery.locking import LockError, locked_mailbox, parse_lock_styles
    from mailflow.delivery.settings import Settings
    from mailflow.errors import ConfigError

    args = list(argv)
    lock_style = None
    while args and args[0].startswith("-") and args[0] != "-":
        flag = args.pop(0)
        if flag == "--":
            break
        if flag == "-v":
            continue
        if flag in ("-l", "-c") and args:
            value = args.pop(0)
            if flag == "-l":
                lock_style = value
            continue
        if flag.startswith("-l") and len(flag) > 2:
            lock_style = flag[2:]
            continue
        if flag in ("-h", "--help"):
            print(USAGE)
            return 0
        print(f"postlock: fatal: {USAGE}", file=sys.stderr)
        return EX_TEMPFAIL
    if len(args) < 2:
        print(f"postlock: fatal: {USAGE}", file=sys.stderr)
        return EX_TEMPFAIL
    folder, command = args[0], args[1:]
    try:
        settings = Settings(ctx.load_config())
        styles = parse_lock_styles(lock_style if lock_style is not None
                                   else settings.text("mailbox_delivery_lock"))
        attempts = settings.int("deliver_lock_attempts") or 20
        delay = float(settings.time("deliver_lock_delay") or 1)
    except ConfigError as exc:
        print(f"postlock: fatal: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        with locked_mailbox(folder, styles, attempts=attempts, delay=delay):
            try:
                return subprocess.call(command)
            except OSError as exc:
                # Postfix's child reports the failed exec and exits 1.
                print(f"postlock: fatal: execvp {command[0]}: {exc.strerror}", file=sys.stderr)
                return 1
    except LockError as exc:
        print(f"postlock: fatal: open file {folder}: {exc.strerror}", file=sys.stderr)
        return EX_TEMPFAIL
    except OSError as exc:
        print(f"postlock: fatal: open file {folder}: {exc.strerror}", file=sys.stderr)
        return EX_TEMPFAIL
