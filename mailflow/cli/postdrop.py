"""``mailflow postdrop [-c DIR] [-r]``: copy a queue file from stdin into ``maildrop/``.

Postfix's postdrop(1) takes the records its sendmail produces; mailflow's
postdrop takes a queue file in mailflow's format (:mod:`mailflow.queue.records`,
``MAILFLOW-QUEUE 1`` ...) on stdin, checks that it decodes, writes it
durably into the maildrop queue and wakes pickup. With ``-r`` it prints the
new maildrop queue ID (Postfix's postdrop -r prints nothing useful; this is
for scripts). Exit 0 once durable; 65 for input that is not a queue file;
75 when the spool cannot be written or lacks the free space ``queue_minfree``
asks for (:mod:`mailflow.queue.space`).
"""

from __future__ import annotations

import getopt
import os
import sys

from mailflow.cli.main import EX_DATAERR, EX_OK, EX_TEMPFAIL, EX_USAGE, Context

HELP = "write a queue file from stdin into the maildrop queue"


def run(argv: list[str], ctx: Context) -> int:
    try:
        opts, rest = getopt.getopt(argv, "c:rv")
    except getopt.GetoptError as exc:
        print(f"postdrop: invalid option -- '{exc.opt}'\npostdrop: fatal: usage: postdrop [-c config_dir] [-r] [-v]",
              file=sys.stderr)
        return EX_USAGE
    if rest:
        print("postdrop: fatal: usage: postdrop [-c config_dir] [-r] [-v]", file=sys.stderr)
        return EX_USAGE
    flags = dict(opts)
    from mailflow.cli.postqueue import open_store
    from mailflow.errors import QueueFileCorrupt
    from mailflow.interfaces import QueueName
    from mailflow.queue import records
    from mailflow.submit import wake_pickup
    try:
        qf = records.decode(sys.stdin.buffer.read())
    except QueueFileCorrupt as exc:
        print(f"postdrop: fatal: malformed input: {exc}", file=sys.stderr)
        return EX_DATAERR
    cfg, store = open_store(ctx, flags.get("-c"))
    from mailflow.queue.space import enough_space, shortage_text
    qdir = store.queue_directory
    if os.path.isdir(qdir) and not enough_space(qdir, cfg["queue_minfree"], cfg["message_size_limit"]):
        print(f"postdrop: fatal: {shortage_text(store.queue_directory)}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        queue_id = store.enqueue(QueueName.MAILDROP, qf.envelope, qf.message)
    except OSError as exc:
        print(f"postdrop: fatal: cannot write to the maildrop queue in {store.queue_directory}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EX_TEMPFAIL
    wake_pickup(store.queue_directory)
    if "-r" in flags:
        print(queue_id)
    return EX_OK
