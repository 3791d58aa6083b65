"""``mailflow postqueue [-c DIR] -p | -j | -f | -i ID | -s SITE``: list or flush the queue.

Postfix's postqueue(1): ``-p`` prints the mailq listing, ``-j`` one JSON
object per message (Postfix's field names), ``-f`` asks the queue manager
to retry all deferred mail now, ``-i ID`` one message, ``-s SITE`` the
deferred mail for one destination domain. Owns the command line and the
walk over the spool; the layout is :mod:`mailflow.queue.showq`.

Also home of :func:`tool_config` (the ``-c DIR`` rule the tools share) and
:func:`open_store`, the spool the queue tools work on.
"""

from __future__ import annotations

import getopt
import sys
import time
from typing import Any, Iterable, Iterator, TextIO

from mailflow.cli.main import EX_OK, EX_UNAVAILABLE, EX_USAGE, Context

HELP = "list the queue (-p, -j) or flush it (-f, -i ID, -s SITE)"
_USAGE = "postqueue: fatal: usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site"


def tool_config(ctx: Context, config_dir: str | None = None) -> Any:
    """The Config a tool works with: its own ``-c DIR`` if given, else the context's.

    Postfix's tools take ``-c config_dir`` to override ``MAIL_CONFIG`` (postqueue(1)).
    Either way the configuration's warnings carry the command's
    ``mailflow/COMMAND: warning:`` prefix (:meth:`Context.load_config`).

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "main.cf"), "w") as fh: _ = fh.write("myhostname = c.example\\n")
    >>> tool_config(Context(tempfile.mkdtemp(), "postkick"), d).myhostname
    'c.example'
    """
    return (ctx.replace(config_dir=config_dir) if config_dir else ctx).load_config()


def open_store(ctx: Context, config_dir: str | None = None) -> tuple[Any, Any]:
    """``(config, FileQueueStore)`` for a tool: ``-c DIR`` if given, else the context's."""
    from mailflow.adapters.queue_store import FileQueueStore
    cfg = tool_config(ctx, config_dir)
    return cfg, FileQueueStore.from_config(cfg, create=False)


def _reasons(store: Any, queue_id: str) -> dict[str, str]:
    # The latest deferral reason per recipient, from the defer log (showq.c).
    return {o.recipient.address: o.status.text for o in store.read_log("defer", queue_id)}


def _messages(store: Any) -> Iterator[Any]:
    from mailflow.queue.store_api import LISTED_QUEUES, iter_messages
    return iter_messages(store, LISTED_QUEUES, with_content=False)


def show_queue(store: Any, out: TextIO) -> int:
    """Print the mailq listing of ``store`` to ``out``; return how many messages."""
    from mailflow.queue.showq import MAILQ_EMPTY, MAILQ_HEADER, mailq_entry, mailq_trailer
    count = total = 0
    for msg in _messages(store):
        if count == 0:
            out.write(MAILQ_HEADER + "\n")
        out.write(mailq_entry(msg, _reasons(store, msg.queue_id)) + "\n")
        count += 1
        total += msg.size
    out.write((mailq_trailer(total, count) if count else MAILQ_EMPTY) + "\n")
    return count


def show_json(store: Any, out: TextIO) -> int:
    """Print one JSON object per message (``postqueue -j``); return how many."""
    from mailflow.queue.showq import json_entry
    count = 0
    for msg in _messages(store):
        out.write(json_entry(msg, _reasons(store, msg.queue_id)) + "\n")
        count += 1
    return count


def _kick_qmgr(queue_directory: str, request: bytes | None = None) -> bool:
    from mailflow.adapters import kick as kick_mod
    return kick_mod.kick(queue_directory, "qmgr", request or kick_mod.FLUSH_REQUEST)


def flush_all(store: Any) -> bool:
    """``postqueue -f``: tell qmgr to retry deferred mail now (mail_flush_deferred())."""
    return _kick_qmgr(store.queue_directory)


def flush_matching(store: Any, queue_ids: Iterable[str] | None = None, site: str | None = None,
                   now: float | None = None) -> int:
    """Make deferred messages due now (by ID, or with a pending recipient at
    ``site``), then wake qmgr; return how many were made due.

    Postfix's flush daemon does the same: touch the deferred file's time
    stamp, then trigger the queue manager.
    """
    from mailflow.errors import NoSuchMessage
    from mailflow.interfaces import QueueName
    now = time.time() if now is None else now
    count = 0
    if queue_ids is not None:
        for qid in queue_ids:
            try:
                store.set_next_attempt(qid, QueueName.DEFERRED, now)
                count += 1
            except NoSuchMessage:
                pass
    if site is not None:
        from mailflow.queue.store_api import iter_messages
        site = site.lower().strip("[]")
        def at_site(msg: Any) -> bool:
            return any(r.address.rpartition("@")[2].lower() == site for r in msg.envelope.pending())
        for msg in iter_messages(store, [QueueName.DEFERRED], match=at_site):
            store.set_next_attempt(msg.queue_id, QueueName.DEFERRED, now)
            count += 1
    if count:
        from mailflow.adapters.kick import QMGR_REQ_SCAN_DEFERRED, WAKEUP
        _kick_qmgr(store.queue_directory, QMGR_REQ_SCAN_DEFERRED + WAKEUP)
    return count


def run(argv: list[str], ctx: Context) -> int:
    try:
        opts, rest = getopt.getopt(argv, "c:fi:jps:v")
    except getopt.GetoptError as exc:
        print(f"postqueue: invalid option -- '{exc.opt}'\n{_USAGE}", file=sys.stderr)
        return EX_USAGE
    config_dir, modes = None, []
    for flag, value in opts:
        if flag == "-c":
            config_dir = value
        elif flag != "-v":
            modes.append((flag, value))
    if len(modes) != 1 or rest:
        print(_USAGE, file=sys.stderr)
        return EX_USAGE
    (mode, value), = modes
    cfg, store = open_store(ctx, config_dir)
    if mode == "-p":
        show_queue(store, sys.stdout)
    elif mode == "-j":
        show_json(store, sys.stdout)
    elif mode == "-f":
        if not flush_all(store):
            print("postqueue: fatal: Cannot flush mail queue - mail system is down", file=sys.stderr)
            return EX_UNAVAILABLE
    elif mode == "-i":
        from mailflow.errors import BadQueueIdError
        from mailflow.queue.names import validate_queue_id
        try:
            validate_queue_id(value)
        except BadQueueIdError as exc:
            print(f"postqueue: fatal: {exc}", file=sys.stderr)
            return EX_USAGE
        if not flush_matching(store, queue_ids=[value]):
            print(f"postqueue: warning: {value}: no such message in the deferred queue", file=sys.stderr)
    else:
        if not value or "/" in value:
            print(f"postqueue: fatal: bad site name: {value!r}", file=sys.stderr)
            return EX_USAGE
        flush_matching(store, site=value)
    return EX_OK
