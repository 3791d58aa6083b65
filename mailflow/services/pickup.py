"""pickup: move locally submitted mail from ``maildrop/`` to cleanup.

Owns the maildrop side of local submission (Postfix's pickup(8)): find
files in ``maildrop/`` as soon as they appear (woken through
``public/pickup`` by sendmail, plus a scan at start and on master.cf's
``wakeup`` timer as a safety net), read each, hand it to cleanup, and remove
the maildrop file only after cleanup has made the new queue file durable.
A maildrop file that does not parse ends in ``corrupt/`` with a log line; a
message cleanup rejects is returned to its sender (through the bounce hook)
and removed. It never rewrites or checks mail itself: that is cleanup's job.

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
import logging
import os
from typing import Any, Callable

import attrs

from mailflow.errors import NoSuchMessage, QueueFileCorrupt
from mailflow.interfaces import QueueName, QueuedMessage, QueueStore
from mailflow.model import DsnStatus, Envelope, Message
from mailflow.services.skeleton import ServiceBase, ServiceContext

__all__ = ["Pickup", "PickupService", "PassThroughCleanup", "PickupReply", "make_cleanup"]

log = logging.getLogger("mailflow.pickup")


@attrs.frozen
class PickupReply:
    """What the pass-through cleanup answers (the shape of cleanup's reply)."""

    queue_id: str | None
    status: DsnStatus
    action: str = "queue"


class PassThroughCleanup:
    """The minimal cleanup used when the cleanup package is not available:
    writes the message unchanged and durably into ``incoming/``.

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


def make_cleanup(cfg: Any, store: QueueStore) -> Any:
    """cleanup's service object (``CleanupService(cfg, store)``), or the
    pass-through when the cleanup package is not installed."""
    try:
        from mailflow.services.cleanup import CleanupService
    except ModuleNotFoundError as exc:
        if exc.name not in ("mailflow.services.cleanup", "mailflow.cleanup"):
            raise
        return PassThroughCleanup(store)
    return CleanupService(cfg, store)


class Pickup:
    """The synchronous core: take maildrop files one at a time.

    ``bounce`` is called for a message cleanup rejects, with the queued
    message and cleanup's reply; by default it only logs (the bounce
    service plugs in here).
    """

    def __init__(self, cfg: Any, store: QueueStore, *, cleanup: Any = None,
                 bounce: Callable[[QueuedMessage, Any], None] | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.cleanup = cleanup if cleanup is not None else make_cleanup(cfg, store)
        self.bounce = bounce or _log_unreturned

    def drain(self, keep_going: Callable[[], bool] = lambda: True) -> int:
        """Take every file now in maildrop; return how many went to cleanup."""
        done = 0
        for queue_id in list(self.store.ids(QueueName.MAILDROP)):
            if not keep_going():
                break
            try:
                if self.pickup_one(queue_id):
                    done += 1
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the rest
                # The maildrop file stays; the next scan tries it again.
                log.warning("%s: cannot hand the message to cleanup: %s: %s",
                            queue_id, type(exc).__name__, exc)
        return done

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
        envelope = attrs.evolve(queued.envelope, queue_id=None)
        # uid: cleanup's Received: header says "from userid N" (pickup(8)).
        reply = self.cleanup.submit(envelope, queued.message, origin="pickup", uid=uid)
        action = getattr(reply, "action", "queue")
        status = getattr(reply, "status", None)
        if action == "reject":
            self.bounce(queued, reply)
        elif reply.queue_id:
            # Postfix's pickup line, with the queue ID cleanup assigned.
            log.info("%s: uid=%d from=<%s>", reply.queue_id, uid, envelope.sender)
        elif status is not None and not status.is_success and action != "discard":
            # cleanup could not write the file (a temporary problem): leave
            # the maildrop file for the next scan, as Postfix's pickup does.
            log.warning("%s: cleanup failed: %s; will try again", maildrop_id, status)
            return False
        try:
            self.store.delete(maildrop_id, QueueName.MAILDROP)
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


def _log_unreturned(queued: QueuedMessage, reply: Any) -> None:
    log.warning("%s: from=<%s>: message rejected: %s; no bounce service to return it",
                queued.queue_id, queued.envelope.sender, getattr(reply, "status", ""))


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
        self.pickup = Pickup(ctx.config, ctx.store, bounce=self._bounce)
        self._wanted = asyncio.Event()
        self._wanted.set()          # the scan at start
        self._task = ctx.spawn(self._loop())

    def wake(self, message: bytes) -> None:
        self._wanted.set()

    def reload(self, cfg: Any) -> None:
        super().reload(cfg)
        self.pickup = Pickup(cfg, self.ctx.store, bounce=self._bounce)

    async def stop(self) -> None:
        await super().stop()
        self._wanted.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while self.running:
            await self._wanted.wait()
            self._wanted.clear()
            if not self.running:
                break
            count = await asyncio.to_thread(self.pickup.drain, lambda: self.running)
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
            _log_unreturned(queued, reply)
