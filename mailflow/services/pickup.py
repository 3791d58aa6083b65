"""pickup: move locally submitted mail from ``maildrop/`` to cleanup.

Owns the maildrop side of local submission (Postfix's pickup(8)): find
files in ``maildrop/`` as soon as they appear (woken through
``public/pickup`` by sendmail, plus a scan at start and on master.cf's
``wakeup`` timer as a safety net), read each, hand it to cleanup, and remove
the maildrop file only after cleanup has made the new queue file durable.
A maildrop file that does not parse ends in ``corrupt/`` with a log line, and
so does one whose hand-off fails :data:`MAX_TRIES` times in a row for a
reason of its own (a failure of the spool, such as a full disk, is not the
file's: it stays and is tried at every scan). A message cleanup rejects is
returned to its sender (through the bounce hook, else with a notice pickup
queues itself) and removed only once that notice is queued. It never
rewrites or checks mail itself: that is cleanup's job.

The per-file work (:meth:`Pickup.pickup_one`) is synchronous and usable
without a daemon; :class:`PickupService` is the thin asyncio service that
runs it off the event loop.

>>> from mailflow.config import Config
>>> from mailflow.queue.memory import MemoryQueueStore
>>> from mailflow.model import Envelope, Message, Recipient
>>> store = MemoryQueueStore()
>>> qid = store.enqueue(QueueName.MAILDROP, Envelope("a@example.com", (Recipient("b@example.com"),)),
...                     Message(b"Subject: hi\\n\\nhello\\n"))
>>> p = Pickup(Config(), store, cleanup=PassThroughCleanup(store))
>>> p.drain()
1
>>> list(store.ids(QueueName.MAILDROP)), len(list(store.ids(QueueName.INCOMING)))
([], 1)
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import attrs

from mailflow.errors import MailflowError, NoSuchMessage, QueueFileCorrupt, TableError
from mailflow.interfaces import QueueName, QueuedMessage, QueueStore
from mailflow.model import DsnStatus, Envelope, Message
from mailflow.queue.store_api import QueueIdSource
from mailflow.services.cleanup import CleanupService
from mailflow.services.skeleton import ServiceBase, ServiceContext

__all__ = ["Pickup", "PickupService", "PassThroughCleanup", "PickupReply", "make_cleanup",
           "MAX_TRIES"]

log = logging.getLogger("mailflow.pickup")

#: Maildrop files the service hands to cleanup at the same time. Each hand-off
#: waits mostly on cleanup's fsyncs of the new queue file; run side by side,
#: the file system commits them together (ext4 joins concurrent fsyncs into
#: one journal commit), which is what Postfix gets from its many cleanup
#: processes. Measured here: 1 at a time ~1.1 ms of fsync per message, 4 at a
#: time about four messages per commit.
PICKUP_THREADS = 4
_WINDOW = 2 * PICKUP_THREADS     # files handed to the pool and not yet done

#: How many times in a row a maildrop file may fail for a reason of its own
#: (an error other than the spool's or a table's) before it goes to
#: ``corrupt/``: a file that trips a bug is set aside, not retried forever.
MAX_TRIES = 3


@attrs.frozen
class PickupReply:
    """What the pass-through cleanup answers (the shape of cleanup's reply)."""

    queue_id: str | None
    status: DsnStatus
    action: str = "queue"


class PassThroughCleanup:
    """A test double for cleanup: writes the message unchanged and durably
    into ``incoming/`` (pickup's tests use it to see pickup's own work
    without cleanup's rewriting).

    >>> from mailflow.queue.memory import MemoryQueueStore
    >>> from mailflow.model import Recipient
    >>> c = PassThroughCleanup(MemoryQueueStore())
    >>> c.submit(Envelope("a@x", (Recipient("b@x"),)), Message(b"\\n"), origin="pickup").action
    'queue'
    """

    def __init__(self, store: QueueStore) -> None:
        self.store = store

    def submit(self, envelope: Envelope, message: Message, *, origin: str = "pickup",
               **info: Any) -> PickupReply:
        queue_id = self.store.enqueue(QueueName.INCOMING, envelope, message)
        return PickupReply(queue_id, DsnStatus.parse("2.0.0"))


def make_cleanup(cfg: Any, store: QueueStore) -> CleanupService:
    """cleanup's service object for pickup: ``CleanupService(cfg, store)``.

    >>> from mailflow.queue.memory import MemoryQueueStore
    >>> make_cleanup(None, MemoryQueueStore())
    <CleanupService store=<MemoryQueueStore empty>>
    """
    return CleanupService(cfg, store)


class Pickup:
    """The synchronous core: take maildrop files one at a time.

    ``bounce`` is called for a message cleanup rejects, with the queued
    message and cleanup's reply, and raises when it cannot return the
    message (the maildrop file then stays); by default pickup queues the
    non-delivery notice itself, through its cleanup (the bounce service
    plugs in here).
    """

    def __init__(self, cfg: Any, store: QueueStore, *, cleanup: Any = None,
                 bounce: Callable[[QueuedMessage, Any], None] | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.cleanup = cleanup if cleanup is not None else make_cleanup(cfg, store)
        self.bounce = bounce or self._return_to_sender
        self._ids = QueueIdSource()
        self._notifier = None
        self._tries: dict[str, int] = {}       # maildrop ID -> failures in a row
        self._tries_lock = threading.Lock()

    def drain(self, keep_going: Callable[[], bool] = lambda: True, *,
              pool: ThreadPoolExecutor | None = None) -> int:
        """Take every file now in maildrop; return how many went to cleanup.

        With ``pool``, files are handed to cleanup from the pool's threads
        side by side (their order in the queue is not kept, as in Postfix
        where maildrop order is directory order anyway).
        """
        ids = list(self.store.ids(QueueName.MAILDROP))
        with self._tries_lock:
            # Forget files that are gone (taken by postsuper, another pickup).
            present = set(ids)
            self._tries = {k: v for k, v in self._tries.items() if k in present}
        if pool is None or len(ids) < 2:
            return sum(self._try_one(queue_id, keep_going) for queue_id in ids)
        # A bounded window of files in flight (pool.map would queue them all
        # at once: memory per file for a maildrop of thousands).
        done, window = 0, collections.deque()
        for queue_id in ids:
            if len(window) >= _WINDOW:
                done += window.popleft().result()
            window.append(pool.submit(self._try_one, queue_id, keep_going))
        while window:
            done += window.popleft().result()
        return done

    def _try_one(self, queue_id: str, keep_going: Callable[[], bool]) -> bool:
        if not keep_going():
            return False
        try:
            taken = self.pickup_one(queue_id)
        except (OSError, TableError) as exc:
            # The spool or a table cannot do it now (disk full, I/O error):
            # not the file's fault. It stays; the next scan tries it again.
            log.warning("%s: cannot hand the message to cleanup: %s: %s; will try again",
                        queue_id, type(exc).__name__, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - logged (a bug with its traceback), counted; the rest go on
            self._failed(queue_id, exc)
            return False
        with self._tries_lock:
            self._tries.pop(queue_id, None)
        return taken

    def _failed(self, queue_id: str, exc: Exception) -> None:
        """A failure of the file's own: log it; after MAX_TRIES in a row,
        set the file aside in corrupt/."""
        level, info = (logging.WARNING, None) if isinstance(exc, MailflowError) else (logging.ERROR, exc)
        log.log(level, "%s: cannot hand the message to cleanup: %s: %s",
                queue_id, type(exc).__name__, exc, exc_info=info)
        with self._tries_lock:
            tries = self._tries[queue_id] = self._tries.get(queue_id, 0) + 1
        if tries < MAX_TRIES:
            return
        try:
            self.store.move(queue_id, QueueName.MAILDROP, QueueName.CORRUPT)
        except NoSuchMessage:
            return
        except OSError as move_exc:
            log.warning("%s: cannot move to the corrupt queue: %s", queue_id, move_exc)
            return
        with self._tries_lock:
            self._tries.pop(queue_id, None)
        log.warning("%s: maildrop file failed %d times (last: %s: %s); moved to the corrupt queue",
                    queue_id, tries, type(exc).__name__, exc)

    def pickup_one(self, maildrop_id: str) -> bool:
        """Hand one maildrop file to cleanup; True when cleanup took it."""
        try:
            queued = self.store.read(maildrop_id, QueueName.MAILDROP)
        except NoSuchMessage:
            return False           # taken by a concurrent pickup or postsuper
        except QueueFileCorrupt as exc:
            self._quarantine(maildrop_id, exc)
            return False
        uid = self._owner(maildrop_id)
        # The new queue file's ID is chosen here, so that pickup's line comes
        # before cleanup's, as in Postfix's log (pickup names the file cleanup
        # is about to write); cleanup and the store file the message under it.
        queue_id = self._ids.next()
        envelope = attrs.evolve(queued.envelope, queue_id=queue_id)
        log.info("%s: uid=%d from=<%s>", queue_id, uid, envelope.sender)
        # uid: cleanup's Received: header says "from userid N" (pickup(8)).
        reply = self.cleanup.submit(envelope, queued.message, origin="pickup", uid=uid)
        action = reply.action
        if action == "reject":
            # Returned first, removed after: a notice that cannot be queued
            # raises here and the maildrop file stays for the next scan.
            self.bounce(queued, reply)
        elif not reply.queue_id and not reply.status.is_success and action != "discard":
            # cleanup could not write the file (a temporary problem): leave
            # the maildrop file for the next scan, as Postfix's pickup does.
            log.warning("%s: cleanup failed: %s; will try again", maildrop_id, reply.status)
            return False
        try:
            # pickup(8) removes the maildrop file without syncing the
            # directory: cleanup's copy is durable already, and a removal
            # lost in a crash only means the file is picked up again.
            self.store.delete(maildrop_id, QueueName.MAILDROP, sync=False)
        except NoSuchMessage:
            pass
        return action != "reject"

    def _owner(self, maildrop_id: str) -> int:
        # Postfix logs the maildrop file owner (who ran sendmail).
        path_of = getattr(self.store, "path", None)
        if callable(path_of):
            try:
                return os.stat(path_of(maildrop_id, QueueName.MAILDROP)).st_uid
            except (OSError, ValueError):
                pass
        return os.getuid()

    def _quarantine(self, maildrop_id: str, exc: Exception) -> None:
        try:
            self.store.move(maildrop_id, QueueName.MAILDROP, QueueName.CORRUPT)
        except (NoSuchMessage, OSError):
            pass                    # the store has already moved it
        log.warning("%s: maildrop file does not parse (%s); moved to the corrupt queue",
                    maildrop_id, exc)


    def _return_to_sender(self, queued: QueuedMessage, reply: Any) -> None:
        # No bounce service: the notice is composed here and queued through
        # pickup's own cleanup (origin "bounce"), as the service would.
        from mailflow.services.bounce import Notifier, return_rejected
        if self._notifier is None:
            self._notifier = Notifier(self.cfg, self._submit_notice)
        return_rejected(self._notifier, queued, reply, now=time.time())

    def _submit_notice(self, envelope: Envelope, message: Message) -> str | None:
        reply = self.cleanup.submit(envelope, message, origin="bounce")
        if reply.action in ("reject", "defer") or not (reply.queue_id or reply.action == "discard"):
            raise MailflowError(f"cleanup refused the notice: {reply.status}")
        return reply.queue_id


class PickupService(ServiceBase):
    """The master.cf ``pickup`` service: runs :class:`Pickup` when woken.

    Every wake-up request (``public/pickup``, the ``wakeup`` timer) causes a
    scan of maildrop; requests that arrive during a scan fold into one more
    scan. ``stop`` lets the file being handled finish.
    """

    pickup: Pickup
    _task: "asyncio.Task[None] | None" = None

    async def start(self, ctx: ServiceContext) -> None:
        await super().start(ctx)
        self._event_loop = asyncio.get_running_loop()
        self._wake_pending = False
        self.pickup = self._make_pickup(ctx.config)
        self._wanted = asyncio.Event()
        self._wanted.set()          # the scan at start
        self._pool = ThreadPoolExecutor(PICKUP_THREADS, thread_name_prefix="pickup")
        self._task = ctx.spawn(self._loop())

    def wake(self, message: bytes) -> None:
        self._wanted.set()

    def reload(self, cfg: Any) -> None:
        super().reload(cfg)
        self.pickup = self._make_pickup(cfg)

    def _make_pickup(self, cfg: Any) -> Pickup:
        cleanup = make_cleanup(cfg, self.ctx.store)
        cleanup.notify = self._queued
        return Pickup(cfg, self.ctx.store, cleanup=cleanup, bounce=self._bounce)

    def _queued(self) -> None:
        # Called from a pickup thread after cleanup queued a message. The
        # queue manager runs in this process: wake it with a call on the
        # event loop, at most one pending at a time (a wake-up makes it scan
        # all of incoming/), instead of a FIFO round trip per message.
        qmgr = self.ctx.services.get("qmgr")
        if qmgr is None:
            self.pickup.cleanup._kick()     # another process's queue manager
            return
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            self._event_loop.call_soon_threadsafe(self._wake_qmgr)
        except RuntimeError:                # the loop is closing: nothing to wake
            self._wake_pending = False

    def _wake_qmgr(self) -> None:
        # Cleared before the wake-up, so a message queued after this point
        # asks for a new one; one queued before is seen by this scan.
        self._wake_pending = False
        qmgr = self.ctx.services.get("qmgr")
        if qmgr is not None:
            qmgr.wake(b"I")

    async def stop(self) -> None:
        await super().stop()
        self._wanted.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._pool.shutdown(wait=False)

    async def _loop(self) -> None:
        while self.running:
            await self._wanted.wait()
            self._wanted.clear()
            if not self.running:
                break
            count = await asyncio.to_thread(self.pickup.drain, lambda: self.running,
                                            pool=self._pool)
            qmgr = self.ctx.services.get("qmgr")
            if count and qmgr is not None:
                qmgr.wake(b"I")

    def _bounce(self, queued: QueuedMessage, reply: Any) -> None:
        # Hook for the bounce service: Postfix returns mail that cleanup
        # rejects at pickup to the sender (cleanup's CLEANUP_FLAG_BOUNCE).
        bounce = self.ctx.services.get("bounce")
        notify = getattr(bounce, "return_rejected", None)
        if callable(notify):
            notify(queued, reply)
        else:
            self.pickup._return_to_sender(queued, reply)
