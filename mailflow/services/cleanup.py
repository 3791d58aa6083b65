"""cleanup service: run the pure pipeline, write the result to the spool.

This module owns the I/O around :class:`~mailflow.cleanup.CleanupPipeline`:
it chooses the queue ID before the pipeline runs (the pipeline writes it
into ``Received:`` and ``Message-Id:``) and has the store file the message
under that same ID, writes accepted mail durably into ``incoming/`` (or
``hold/``), records recipients whose virtual alias expansion must be retried
in the message's ``defer`` log, writes cleanup's log lines, and wakes the
queue manager. It never inspects or rewrites mail itself.

A caller (pickup, smtpd, bounce, local's forwarding) gets a
:class:`CleanupReply` only after the queue file is on disk, so it may then
acknowledge the message (sendmail exit 0, SMTP ``250``).

>>> from mailflow.queue.memory import MemoryQueueStore
>>> from mailflow.model import Envelope, Message, Recipient
>>> svc = CleanupService(None, MemoryQueueStore(), wake=False)
>>> reply = svc.submit(Envelope("a@example.com", (Recipient("b@example.com"),)),
...                    Message(b"Subject: hi\\n\\nhello\\n"), origin="pickup")
>>> reply.action, reply.status.code, reply.queue_id is not None
('queue', '2.0.0', True)
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

import attrs

from mailflow.adapters.kick import kick
from mailflow.cleanup import CleanupPipeline, CleanupResult
from mailflow.cleanup.actions import WRITE_ERROR
from mailflow.cleanup.result import DISCARD, HOLD, REJECT
from mailflow.interfaces import QueueName, QueueStore
from mailflow.errors import QueueError
from mailflow.model import DsnStatus, Envelope, Message
from mailflow.queue.store_api import QueueIdSource

__all__ = ["CleanupService", "CleanupReply", "DEFER", "FILTERED_ORIGINS", "content_filter_for"]

log = logging.getLogger("mailflow.cleanup")

#: The origins whose mail gets the ``content_filter`` parameter: Postfix's
#: pickup(8), smtpd(8) and qmqpd(8) hand their content_filter to cleanup
#: with each message. Its own mail never gets it: bounce(8)'s notices and
#: local(8)'s forwarded copies (measured with Postfix 3.7: their queue files
#: have no content_filter record, even with internal_mail_filter_classes =
#: bounce); only a header/body FILTER action can filter those.
FILTERED_ORIGINS = frozenset({"pickup", "smtpd", "qmqpd"})

#: CleanupReply.action for a temporary rejection (a 4.x.x status): the
#: submitter keeps the message and tries again later (pickup leaves the
#: maildrop file, smtpd answers 451).
DEFER = "defer"
# Up to this size the queue file is written on the event loop (a few
# microseconds a kilobyte); larger ones are written in the worker thread.
STAGE_ON_LOOP_LIMIT = 256 * 1024


@attrs.frozen
class CleanupReply:
    """What the submitter learns: the queue ID (None when not accepted), a
    status to report, and the action (``queue``, ``hold``, ``discard``,
    ``reject`` for a 5.x.x refusal, ``defer`` for a 4.x.x one).

    >>> CleanupReply(None, DsnStatus("5.7.1", "no"), "reject").accepted
    False
    """

    queue_id: str | None
    status: DsnStatus
    action: str
    result: CleanupResult | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def accepted(self) -> bool:
        return self.action not in (REJECT, DEFER)


def content_filter_for(result: CleanupResult, origin: str, submitted: str | None) -> str | None:
    """The ``transport:nexthop`` the queue manager must send this message
    to, or None: a header/body FILTER action wins (Postfix's cleanup
    replaces the submitter's filter with it), else ``submitted`` (the
    receiving service's ``content_filter``) for mail from
    :data:`FILTERED_ORIGINS`.

    >>> from mailflow.model import Envelope, Message
    >>> r = CleanupResult("queue", Envelope("", ()), Message(b""))
    >>> content_filter_for(r, "smtpd", "scan:[127.0.0.1]:10025")
    'scan:[127.0.0.1]:10025'
    >>> content_filter_for(r, "bounce", "scan:[127.0.0.1]:10025") is None
    True
    >>> content_filter_for(attrs.evolve(r, filter="hold:x"), "bounce", None)
    'hold:x'
    """
    if result.filter:
        return result.filter
    if origin in FILTERED_ORIGINS and submitted:
        return submitted
    return None


class CleanupService:
    """Cleanup as a callable service: ``submit(envelope, message, origin=...)``.

    ``store`` is any :class:`~mailflow.interfaces.QueueStore`; ``pipeline``
    defaults to one compiled from ``cfg``. ``wake`` kicks the queue manager
    through the master's wake-up channel after each accepted message;
    ``cfg``'s ``content_filter`` (with the receiving service's master.cf
    ``-o`` overrides, so a re-injection service with ``-o content_filter=``
    does not filter again) is recorded in the queue file of mail from
    :data:`FILTERED_ORIGINS` unless the envelope names its own;
    ``notify``, when given, is called instead (from the writing thread), so
    a service running in the master's process can wake the queue manager
    with a call rather than a FIFO write and read per message.
    """

    def __init__(self, cfg: Any, store: QueueStore, *, pipeline: CleanupPipeline | None = None,
                 clock: Callable[[], float] = time.time, wake: bool = True,
                 notify: Callable[[], None] | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.pipeline = pipeline if pipeline is not None else CleanupPipeline.from_config(cfg)
        self.clock = clock
        self.wake = wake
        self.notify = notify
        self._ids = QueueIdSource()     # unique across processes and stores
        self.content_filter = (str(cfg["content_filter"]) if cfg is not None else "") or None

    def __repr__(self) -> str:
        return f"<CleanupService store={self.store!r}>"

    # --- the two halves: pure processing, then store I/O --------------------
    def process(self, envelope: Envelope, message: Message, *, origin: str = "pickup",
                **info: Any) -> CleanupResult:
        """Run the pipeline with a fresh queue ID (or the caller's
        ``envelope.queue_id``) and the current time; record the content
        filter (:func:`content_filter_for`) in the result's envelope."""
        now = self.clock()
        queue_id = envelope.queue_id or self._ids.next()
        submitted = envelope.content_filter or self.content_filter
        envelope = attrs.evolve(envelope, queue_id=queue_id, content_filter=None,
                                arrival_time=envelope.arrival_time or now)
        result = self.pipeline.process(envelope, message, origin=origin, now=now,
                                       queue_id=queue_id, **info)
        chosen = content_filter_for(result, origin, submitted)
        if chosen is None:
            return result
        return attrs.evolve(result, envelope=attrs.evolve(result.envelope, content_filter=chosen))

    def commit(self, result: CleanupResult) -> CleanupReply:
        """Write an accepted result durably and log it; reply to the submitter."""
        planned = result.envelope.queue_id or ""
        if result.action == REJECT:
            self._log(result.log)
            status = result.status or WRITE_ERROR
            return CleanupReply(None, status, DEFER if status.is_temporary else REJECT, result)
        if result.action == DISCARD:
            self._log(result.log)
            return CleanupReply(planned, DsnStatus("2.0.0", f"Ok: queued as {planned}"),
                                DISCARD, result)
        queue = QueueName.HOLD if result.action == HOLD else QueueName.INCOMING
        # With recipients to defer, write to hold/ (the queue manager never
        # scans it) until their defer-log entries are on disk, so the queue
        # manager cannot see the message without them.
        first = QueueName.HOLD if result.deferred else queue
        queue_id = None
        try:
            # The envelope carries the planned ID: the store files the message
            # under it, so the headers, the log and the spool agree (Postfix
            # names the queue file before cleanup writes Received: id).
            queue_id = self.store.enqueue(first, result.envelope, result.message)
            for outcome in result.deferred:
                # Recipients whose expansion must be retried: the queue
                # manager defers them with this status (docs/cleanup.md).
                self.store.append_log("defer", queue_id, outcome)
            if first is not queue:
                self.store.move(queue_id, first, queue)
        except (OSError, QueueError) as exc:
            # Nothing was acknowledged: the submitter keeps the message and
            # tries again (Postfix: "451 4.3.0 Error: queue file write error").
            log.warning("%s: queue file write error: %s", planned, exc)
            if queue_id is not None:
                self._discard_partial(queue_id, first)
            return CleanupReply(None, WRITE_ERROR, DEFER, result)
        return self._queued(result, queue_id, queue)

    def _queued(self, result: CleanupResult, queue_id: str, queue: QueueName) -> CleanupReply:
        self._log(result.log)
        if self.wake and queue is QueueName.INCOMING:
            if self.notify is not None:
                self.notify()
            else:
                self._kick()
        return CleanupReply(queue_id, DsnStatus("2.0.0", f"Ok: queued as {queue_id}"),
                            result.action, result)

    async def commit_async(self, result: CleanupResult, executor: Any = None) -> CleanupReply:
        """:meth:`commit` for an event loop, with as little as possible in
        the worker thread (``executor``; asyncio's default when None).

        A store that can :meth:`~mailflow.adapters.queue_store.FileQueueStore.stage`
        a file has it written here and only fsynced and named in the thread:
        Python work in a thread makes it trade the GIL with the event loop
        at every system call, which costs more than the work. Messages with
        deferred recipients, large ones, and other stores take the whole
        :meth:`commit` to the thread.
        """
        if result.action == REJECT or result.action == DISCARD:
            return self.commit(result)
        loop = asyncio.get_running_loop()
        stage = getattr(self.store, "stage", None)
        if stage is None or result.deferred or len(result.message.data) > STAGE_ON_LOOP_LIMIT:
            return await loop.run_in_executor(executor, self.commit, result)
        queue = QueueName.HOLD if result.action == HOLD else QueueName.INCOMING
        planned = result.envelope.queue_id or ""
        try:
            staged = stage(queue, result.envelope, result.message)
            try:
                queue_id = await loop.run_in_executor(executor, staged.publish)
            except asyncio.CancelledError:
                # Cancelled before the thread started: no one will publish it.
                staged.abandon()
                raise
        except (OSError, QueueError) as exc:
            # As in commit(): nothing was acknowledged; the file is gone.
            log.warning("%s: queue file write error: %s", planned, exc)
            return CleanupReply(None, WRITE_ERROR, DEFER, result)
        return self._queued(result, queue_id, queue)

    def _discard_partial(self, queue_id: str, queue: QueueName) -> None:
        # The submitter was told to try again, so this copy must not stay:
        # released from hold/ later it would be a duplicate without its
        # defer-log entries.
        try:
            self.store.delete(queue_id, queue)
        except (OSError, QueueError) as exc:
            log.warning("%s: cannot remove the unacknowledged queue file: %s", queue_id, exc)

    def submit(self, envelope: Envelope, message: Message, *, origin: str = "pickup",
               **info: Any) -> CleanupReply:
        """Clean up one message and, unless rejected, write it to the spool.

        ``info`` goes to :meth:`CleanupPipeline.process` (``uid``,
        ``fullname``, ``client``, ``local``).
        """
        return self.commit(self.process(envelope, message, origin=origin, **info))

    async def submit_async(self, envelope: Envelope, message: Message, *,
                           origin: str = "pickup", **info: Any) -> CleanupReply:
        """:meth:`submit` for an event loop: the pipeline runs here, the
        store write (and its fsync) in a worker thread."""
        return await self.commit_async(self.process(envelope, message, origin=origin, **info))

    # --- edges -------------------------------------------------------------
    def _log(self, lines: tuple) -> None:
        for line in lines:
            if line.startswith("warning: "):
                log.warning("%s", line[len("warning: "):])
            else:
                log.info("%s", line)

    def _kick(self) -> None:
        # The wake-up FIFO lives in the spool directory, which only a
        # file-backed store has (QueueStore does not promise one): a store
        # without it has no queue manager in another process to wake.
        queue_directory = getattr(self.store, "queue_directory", None)
        if queue_directory:
            kick(queue_directory, "qmgr")
