"""``mailflow postsuper [-c DIR] [-d|-h|-H|-r|-e|-f ID|ALL|-] [-p] [-s] [queue...]``.

Postfix's postsuper(1): delete (``-d``), hold (``-h``), release (``-H``),
requeue (``-r``) and force-expire (``-e``; ``-f`` also releases from hold)
queued mail by queue ID, ``ALL``, or IDs read from stdin (``-``); purge
temporary files left by crashed writers (``-p``) and repair misplaced or
misnamed queue files (``-s``). Trailing queue names restrict the operation.
Owns the command line; every change is one atomic rename, unlink or chmod
in the store, so it is safe while the mail system runs (a message in
``active/`` is handled like any other, as Postfix does: the queue manager
finds it gone). Prints Postfix's per-message and summary lines on stderr.
"""

from __future__ import annotations

import getopt
import logging
import sys
from typing import Callable, Iterable

from mailflow.cli.main import EX_OK, EX_USAGE, Context
from mailflow.interfaces import QueueName

HELP = "delete, hold, release, requeue, expire or repair queued mail"

log = logging.getLogger("mailflow.postsuper")

_USAGE = ("postsuper: fatal: usage: postsuper [-c config_dir] [-d queue_id (delete)] "
          "[-e queue_id (expire)] [-f queue_id (expire and release)] "
          "[-h queue_id (hold)] [-H queue_id (un-hold)] [-p (purge temporary files)] "
          "[-r queue_id (requeue)] [-s (structure fix)] [-v (verbose)] [queue...]")
_ALL_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
_MESSAGE_QUEUES = _ALL_QUEUES + ("corrupt",)
# postsuper.c defaults: -h from the live queues, -H from hold, the rest from all.
_DEFAULTS = {"-d": _ALL_QUEUES, "-r": _ALL_QUEUES[1:], "-h": ("incoming", "active", "deferred"),
             "-H": ("hold",), "-e": _ALL_QUEUES[1:], "-f": _ALL_QUEUES[1:]}
# Summary wording of postsuper.c, in its report order.
_LABELS = {"-r": "Requeued", "-d": "Deleted", "-h": "Placed on hold",
           "-H": "Released from hold", "-e": "Force-expired", "-f": "Force-expired"}


def _say(text: str) -> None:
    print(f"postsuper: {text}", file=sys.stderr)
    log.info("%s", text)


def _plural(n: int) -> str:
    return f"{n} message{'s' if n != 1 else ''}"


class Super:
    """The operations, each on one queue ID wherever it is among ``queues``.

    The mail system may move a message between the look-up and the change
    (qmgr: incoming -> active -> deferred); the look-up is then repeated, so
    a concurrent move never turns into an error.
    """

    def __init__(self, store) -> None:
        self.store = store
        self.released = 0

    def _apply(self, queue_id: str, queues: Iterable[str], change: Callable,
               what: str = "change") -> bool:
        from mailflow.errors import NoSuchMessage
        for _ in range(5):
            try:
                where = self.store.locate(queue_id)
            except NoSuchMessage:
                return False
            if where.value not in queues:
                return False
            try:
                change(where)
                return True
            except NoSuchMessage:
                continue        # moved under our feet: look again
            except OSError as exc:
                # The spool refused (disk error, read-only): this message is
                # left as it was, said so, and the others are still done
                # (Postfix's postsuper warns and goes on).
                _say(f"warning: {queue_id}: cannot {what} in the {where.value} queue: "
                     f"{exc.strerror or exc}")
                return False
        return False

    def delete(self, queue_id: str, queues: Iterable[str]) -> bool:
        done = self._apply(queue_id, queues, lambda q: self.store.delete(queue_id, q), "remove")
        if done:
            _say(f"{queue_id}: removed")
        return done

    def hold(self, queue_id: str, queues: Iterable[str]) -> bool:
        # Never maildrop: its content has not been through cleanup (postsuper.c).
        allowed = [n for n in queues if n not in ("hold", "maildrop")]
        done = self._apply(queue_id, allowed, lambda q: self.store.move(queue_id, q, QueueName.HOLD),
                           "place on hold")
        if done:
            _say(f"{queue_id}: placed on hold")
        return done

    def release(self, queue_id: str, queues: Iterable[str]) -> bool:
        allowed = [n for n in queues if n == "hold"]
        done = self._apply(queue_id, allowed,
                           lambda q: self.store.move(queue_id, q, QueueName.DEFERRED),
                           "release from hold")
        if done:
            _say(f"{queue_id}: released from hold")
        return done

    def requeue(self, queue_id: str, queues: Iterable[str]) -> bool:
        # Back through pickup and cleanup, so rewriting is applied again (postsuper -r).
        allowed = [n for n in queues if n != "maildrop"]
        done = self._apply(queue_id, allowed,
                           lambda q: self.store.move(queue_id, q, QueueName.MAILDROP),
                           "requeue")
        if done:
            _say(f"{queue_id}: requeued")
        return done

    def expire(self, queue_id: str, queues: Iterable[str], release: bool = False) -> bool:
        held: list = []

        def change(q) -> None:
            self.store.expire(queue_id, q)
            if release and q is QueueName.HOLD:
                self.store.move(queue_id, q, QueueName.DEFERRED)
                held.append(q)

        done = self._apply(queue_id, queues, change, "expire")
        if done:
            _say(f"{queue_id}: expired")
        if held:
            _say(f"{queue_id}: released from hold")
            self.released += 1
        return done


def _ids(arg: str, queues: Iterable[str], store, stdin) -> Iterable[str]:
    from mailflow.errors import BadQueueIdError
    from mailflow.queue.names import validate_queue_id
    if arg == "ALL":
        for name in queues:
            yield from list(store.ids(QueueName(name)))
        return
    texts = (line.strip() for line in stdin) if arg == "-" else [arg]
    for text in texts:
        if not text:
            continue
        try:
            yield validate_queue_id(text)
        except BadQueueIdError as exc:
            # Postfix's wording, plus why: never a path, never a crash.
            _say(f"warning: invalid mail queue id: {text} ({str(exc).split(': ', 1)[-1]})")


def run(argv: list[str], ctx: Context) -> int:
    try:
        opts, rest = getopt.getopt(argv, "c:d:e:f:h:H:pr:sSv")
    except getopt.GetoptError as exc:
        print(f"postsuper: invalid option -- '{exc.opt}'\n{_USAGE}", file=sys.stderr)
        return EX_USAGE
    for name in rest:
        if name not in _MESSAGE_QUEUES:
            print(f"postsuper: fatal: invalid directory name: {name}", file=sys.stderr)
            return 1
    config_dir = next((v for f, v in opts if f == "-c"), None)
    from mailflow.cli.postqueue import open_store
    cfg, store = open_store(ctx, config_dir)
    flags = {f for f, _ in opts}
    if "-s" in flags or "-S" in flags:
        fixed = store.repair()
        if fixed["renamed"]:
            _say(f"Renamed to match inode number: {_plural(fixed['renamed'])}")
            _say("warning: QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS")
    if "-p" in flags:
        purged = store.purge_temp()
        if purged:
            _say(f"Removed: {purged} temporary file{'s' if purged != 1 else ''}")
    ops = Super(store)
    actions: dict[str, Callable[[str, Iterable[str]], bool]] = {
        "-d": ops.delete, "-h": ops.hold, "-H": ops.release, "-r": ops.requeue,
        "-e": ops.expire, "-f": lambda qid, qs: ops.expire(qid, qs, release=True)}
    counts: dict[str, int] = {}
    stdin_used = False
    for flag in ("-r", "-d", "-h", "-H", "-e", "-f"):   # postsuper.c's order
        args = [v for f, v in opts if f == flag]
        if not args:
            continue
        if "ALL" in args and len(args) > 1:
            _say(f'warning: option "{flag} ALL" will ignore other command line queue IDs')
            args = ["ALL"]
        queues = tuple(rest) or _DEFAULTS[flag]
        label = _LABELS[flag]
        counts[label] = counts.get(label, 0)
        for arg in args:
            if arg == "-":
                if stdin_used:
                    continue
                stdin_used = True
            for qid in _ids(arg, queues, store, sys.stdin):
                counts[label] += actions[flag](qid, queues)
    if ops.released:
        counts["Released from hold"] = counts.get("Released from hold", 0) + ops.released
    for label in dict.fromkeys(_LABELS.values()):
        if label in counts:
            _say(f"{label}: {_plural(counts[label])}")
    _wake(store, counts)
    return EX_OK


def _wake(store, counts: dict[str, int]) -> None:
    # Requeued mail waits in maildrop for pickup; released/expired mail for qmgr.
    from mailflow.submit import wake_pickup
    if counts.get("Requeued"):
        wake_pickup(store.queue_directory)
    if counts.get("Released from hold") or counts.get("Force-expired"):
        from mailflow.adapters.kick import QMGR_REQ_SCAN_DEFERRED, WAKEUP, kick
        kick(store.queue_directory, "qmgr", QMGR_REQ_SCAN_DEFERRED + WAKEUP)
