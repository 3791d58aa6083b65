"""The queue manager service: incoming/ and deferred/ -> active/ -> agents.

Owns the asyncio side of Postfix's qmgr(8): crash recovery at start
(``active/`` back to ``incoming/``), activation of messages when woken
(cleanup's kick, ``postqueue -f``) and every ``queue_run_delay`` for
``deferred/``, dispatching the scheduler's jobs to delivery agents as
tasks, and carrying out the per-recipient bookkeeping in the spool: each
step durable before the next, so a crash anywhere means at-least-once,
never loss. Every decision is made by the pure modules it drives:
:mod:`mailflow.qmgr.scheduler` (what next, at what concurrency),
:mod:`mailflow.qmgr.active` (where recipients go; delete, defer or expire),
:mod:`mailflow.qmgr.retry`, :mod:`mailflow.qmgr.status_log`. Spool I/O runs
in a small thread pool, never on the event loop.

Usable without the master::

    qm = QueueManager(cfg, store, agents={"virtual": VirtualAgent(cfg)})
    await qm.run_until_idle()     # start, deliver what is queued, return
    await qm.stop()
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Mapping, Sequence

import attrs

from mailflow.errors import (ConfigError, DeliveryFailure, MailflowError, NoSuchMessage,
                             QueueFileCorrupt)
from mailflow.interfaces import QueueName, QueuedMessage, QueueStore
from mailflow.model import (DeliveryRequest, DsnStatus, Message, Notify, Outcome, Recipient,
                            RecipientState)
from mailflow.qmgr.active import (Action, FinishPlan, QmgrSettings, destination_failed,
                                  filter_route, group_recipients, is_cleanup_deferral,
                                  last_per_recipient, plan_finish, suspended_status)
from mailflow.qmgr.scheduler import Job, Scheduler, TransportPolicy, policy_from_config
from mailflow.qmgr.status_log import active_line, delivery_line, expired_line, removed_line
from mailflow.queue.store_api import scan_ids
from mailflow.services.skeleton import ServiceContext

__all__ = ["QueueManager", "QmgrService"]

log = logging.getLogger("mailflow.qmgr")

# Messages larger than this are not kept in memory while active: each
# delivery reads the content again (Postfix never keeps content in qmgr).
CONTENT_CACHE_LIMIT = 1 << 20
# Nor is content beyond this much in all: up to qmgr_message_active_limit
# messages are active at once (a run over a big deferred queue fills it),
# and their content must not grow with them.
CONTENT_CACHE_TOTAL = 64 << 20
# How many queue-file activations run at once (each is a rename + read).
ACTIVATE_CONCURRENCY = 8
# How many queue IDs a scan reads from the directory at a time.
SCAN_BATCH = 256
STOP_TIMEOUT = 10.0
UNAVAILABLE = DsnStatus("4.3.0", "mail transport unavailable")
ADMIN_EXPIRED = DsnStatus("4.7.0", "message is administratively expired")
# bounce.c: a status that cannot be logged is deferred with this reason.
LOG_FAILURE = DsnStatus("4.3.0", "bounce or trace service failure")


@attrs.define(eq=False)
class _Active:
    """One message in the active queue."""

    queued: QueuedMessage
    content: Message | None
    since: float                                  # when it entered active/
    nrcpt: int
    cached: int = 0                               # bytes of content kept (CONTENT_CACHE_TOTAL)
    jobs: int = 0
    finished: list = attrs.field(factory=list)    # 2xx/5xx outcomes not yet marked done
    deferred: list = attrs.field(factory=list)    # this attempt's 4xx outcomes
    bounced: bool = False                         # something went to the bounce log
    traced: bool = False                          # something went to the trace log
    writes: set = attrs.field(factory=set)        # log/progress writes still in the pool

    @property
    def queue_id(self) -> str:
        return self.queued.queue_id


def _maxproc(entry: Any, default: int) -> int:
    value = getattr(entry, "maxproc", None)
    if value in (None, "-", ""):
        return default
    value = int(value)
    return value if value > 0 else 1 << 30     # master(5): 0 = no limit


class QueueManager:
    """The queue manager, as a master service or embedded in an application.

    ``agents`` maps transport names to ready agents (embedded use; others
    are built with :func:`mailflow.delivery.registry.create_agent` from the
    master.cf entry in ``transports`` or, without one, by transport name).
    ``clock`` returns the time (tests fake it); ``notify(envelope, message)``
    queues a notice (default: cleanup into ``store``, origin ``bounce``).

    >>> import asyncio
    >>> from mailflow.config import Config
    >>> from mailflow.queue.memory import MemoryQueueStore
    >>> from mailflow.model import Envelope, Recipient
    >>> from mailflow.delivery.trivial import DiscardAgent
    >>> store = MemoryQueueStore()
    >>> qid = store.enqueue(QueueName.INCOMING, Envelope("a@example.com", (Recipient("b@example.com"),)),
    ...                     Message(b"Subject: hi\\n\\nhello\\n"))
    >>> cfg = Config(default_transport="discard", myhostname="mx.example.com")
    >>> async def main():
    ...     qm = QueueManager(cfg, store, agents={"discard": DiscardAgent()})
    ...     await qm.run_until_idle()
    ...     await qm.stop()
    >>> asyncio.run(main())
    >>> list(store.ids(QueueName.INCOMING)), list(store.ids(QueueName.ACTIVE))
    ([], [])
    """

    def __init__(self, cfg: Any = None, store: QueueStore | None = None, *,
                 agents: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.time,
                 notify: Callable[[Any, Message], Any] | None = None,
                 transports: Mapping[str, Any] | None = None,
                 threads: int = 8) -> None:
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self._given_agents = dict(agents or {})
        self._notify_hook = notify
        self._transports = transports
        self._threads = threads
        self.running = False
        self.ctx: ServiceContext | None = None
        if cfg is not None:
            self._configure(cfg)

    # --- configuration -------------------------------------------------------
    def _configure(self, cfg: Any) -> None:
        from mailflow.address.resolve import TrivialRewrite
        from mailflow.services.bounce import Notifier
        self.cfg = cfg
        self.settings = QmgrSettings.from_config(cfg)
        self.rewrite = TrivialRewrite.from_config(cfg)
        self.notifier = Notifier(cfg, self._submit_notice, settings=self.settings)
        self._agents: dict[str, tuple[Any, str]] = {}
        if getattr(self, "scheduler", None) is None:
            self.scheduler = Scheduler(self._policy)
        else:
            self.scheduler.reset_policies()
        self._cleanup = None

    def _policy(self, transport: str) -> TransportPolicy:
        default = int(self.cfg["default_process_limit"])
        entry = self.transports.get(transport)
        return policy_from_config(self.cfg, transport, _maxproc(entry, default) if entry else default)

    @property
    def transports(self) -> Mapping[str, Any]:
        if self._transports is not None:
            return self._transports
        return self.ctx.transports if self.ctx is not None else {}

    def reload(self, cfg: Any) -> None:
        """New configuration: routing, policies, agents, notices. Work in
        flight continues with what it started with."""
        self._configure(cfg)

    # --- life cycle ------------------------------------------------------------
    async def start(self, ctx: ServiceContext | None = None) -> None:
        """Recover ``active/`` leftovers, then scan incoming/ and deferred/."""
        if ctx is not None:
            self.ctx = ctx
            self.store = ctx.store if ctx.store is not None else self.store
            self._configure(ctx.config)
        if self.store is None or self.cfg is None:
            raise MailflowError("the queue manager needs a configuration and a queue store")
        self.scheduler = Scheduler(self._policy)     # nothing is queued at start
        self._loop = asyncio.get_running_loop()
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="qmgr")
        self._inline_io = bool(getattr(self.store, "local_io", False))
        self._active: dict[str, _Active] = {}
        self._rcpts = 0                     # recipients of active messages (worker threads add)
        self._cached = 0                    # bytes of content kept in memory (event loop only)
        self._budget = threading.Lock()
        self._tasks: set[asyncio.Future] = set()
        self._requests: set[bytes] = set()
        self._wanted = asyncio.Event()
        self._idle = asyncio.Event()
        self._scanning = False
        self._activating = 0
        self._blocked: set[QueueName] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._last_failure: dict[tuple[str, str], DsnStatus] = {}
        # Messages that should have left active/ but whose move failed:
        # queue ID -> where it goes; moved again before every scan.
        self._stuck: dict[str, QueueName] = {}
        self.running = True
        await self._io(self._recover)
        self._request(b"ID")
        self._feeder = self._loop.create_task(self._feed())
        self._runner = self._loop.create_task(self._queue_runs())

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop dispatching, wait (bounded) for deliveries in flight; what is
        left stays in the spool (``active/`` is recovered at the next start)."""
        if not self.running:
            return
        self.running = False
        self._wanted.set()
        for task in (self._feeder, self._runner):
            task.cancel()
        await asyncio.gather(self._feeder, self._runner, return_exceptions=True)
        if self._timer is not None:
            self._timer.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("stop: %d deliveries still running after %gs; "
                            "their messages stay queued", len(pending), timeout)
                await asyncio.gather(*pending, return_exceptions=True)
        self._pool.shutdown(wait=True)

    def wake(self, message: bytes = b"I") -> None:
        """A wake-up request: qmgr.h letters (I incoming, D deferred, A all
        deferred regardless of time, F forget dead destinations, W wake-up)."""
        if self.running:
            self._request(bytes(message))

    async def run_until_idle(self) -> None:
        """Start if needed, scan incoming/ and due deferred/ mail, and return
        when nothing is active or in flight (tests, embedded batch use)."""
        if not self.running:
            await self.start()
        else:
            self._request(b"ID")
        while True:
            await self._idle.wait()
            await asyncio.sleep(0)
            if not self._busy():
                return

    # --- requests and scans -------------------------------------------------
    def _request(self, letters: bytes) -> None:
        for letter in letters:
            self._requests.add(bytes([letter]))
        self._idle.clear()
        self._wanted.set()

    def _busy(self) -> bool:
        return bool(self._wanted.is_set() or self._scanning or self._active or self._tasks)

    def _check_idle(self) -> None:
        if not self._busy():
            self._idle.set()

    async def _queue_runs(self) -> None:
        # qmgr(8): the deferred queue is scanned every queue_run_delay.
        while self.running:
            await asyncio.sleep(max(1.0, self.settings.queue_run_delay))
            self._request(b"D")

    async def _feed(self) -> None:
        while self.running:
            await self._wanted.wait()
            self._wanted.clear()
            requests, self._requests = self._requests, set()
            self._scanning = True
            try:
                if self._stuck:
                    await self._io(self._unstick)
                if b"F" in requests:
                    self.scheduler.revive()
                    self._last_failure.clear()
                if requests & {b"I", b"W"} or QueueName.INCOMING in self._blocked:
                    await self._scan(QueueName.INCOMING, due_only=False)
                if requests & {b"D", b"A"} or QueueName.DEFERRED in self._blocked:
                    await self._scan(QueueName.DEFERRED, due_only=b"A" not in requests)
            except Exception as exc:  # noqa: BLE001 - a failed scan is retried at the next request
                _log_failure(exc, "queue scan failed: %s: %s", type(exc).__name__, exc)
            finally:
                self._scanning = False
            self._dispatch()
            self._check_idle()

    def _full(self) -> bool:
        s = self.settings
        # Activations under way count too: their files are already claimed.
        return (len(self._active) + self._activating >= s.active_limit
                or self._rcpts >= s.recipient_limit)

    async def _scan(self, queue: QueueName, *, due_only: bool) -> None:
        # The directory is read a batch at a time as activation goes on:
        # a deferred queue of any size costs a batch of IDs, never a list
        # of them all (nor a read of each file: the due time is its mtime).
        found = scan_ids(self.store, queue, due_by=self.clock() if due_only else None)
        sem = asyncio.Semaphore(ACTIVATE_CONCURRENCY)
        pending: set[asyncio.Task] = set()
        self._blocked.discard(queue)
        try:
            await self._activate_all(queue, found, sem, pending)
        finally:
            close = getattr(found, "close", None)
            if close is not None:
                await self._quick(close)     # the open directory, now
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _activate_all(self, queue: QueueName, found: Iterator[str],
                            sem: asyncio.Semaphore, pending: set) -> None:
        while self.running:
            batch = await self._quick(_take, found, SCAN_BATCH)
            if not batch:
                return
            for queue_id in batch:
                if not self.running:
                    return
                if self._full():
                    # qmgr_message_active_limit: stop pulling; resume when
                    # messages finish (qmgr_active_done asks for another scan).
                    self._blocked.add(queue)
                    return
                if queue_id in self._active:
                    continue
                await sem.acquire()
                if self._full():
                    sem.release()
                    self._blocked.add(queue)
                    return
                self._activating += 1
                task = self._loop.create_task(self._activate(queue_id, queue))
                pending.add(task)
                task.add_done_callback(self._activated(sem, pending))

    def _activated(self, sem: asyncio.Semaphore, pending: set) -> Callable[[asyncio.Task], None]:
        def done(task: asyncio.Task) -> None:
            self._activating -= 1
            sem.release()
            pending.discard(task)
        return done

    # --- activation -------------------------------------------------------------
    def _recover(self) -> None:
        # qmgr(8): at start, whatever is in active/ was being delivered when
        # the previous queue manager stopped; it goes back to incoming/.
        for queue_id in list(self.store.ids(QueueName.ACTIVE)):
            self._leave_active(queue_id, QueueName.INCOMING)

    def _leave_active(self, queue_id: str, dst: QueueName) -> bool:
        """Move a message out of active/; when the spool refuses, remember
        it and try again before the next scan (never left until a restart)."""
        try:
            self._move(queue_id, QueueName.ACTIVE, dst)
        except NoSuchMessage:
            self._stuck.pop(queue_id, None)
            return True
        except OSError as exc:
            self._stuck[queue_id] = dst
            log.warning("%s: cannot move to the %s queue: %s; will try again",
                        queue_id, dst.value, exc)
            return False
        self._stuck.pop(queue_id, None)
        return True

    def _unstick(self) -> None:
        for queue_id, dst in list(self._stuck.items()):
            if queue_id not in self._active:
                self._leave_active(queue_id, dst)

    def _load(self, queue_id: str, queue: QueueName):
        """Read, reserve room for its recipients, move to active/ (worker thread).

        None when the recipients do not fit under qmgr_message_recipient_limit
        (the message stays where it is). Reading before the move costs
        nothing extra: only the queue manager changes an active file.
        """
        store = self.store
        queued = store.read(queue_id, queue)
        wanted = len(queued.envelope.pending())
        with self._budget:
            # A message is never split: one that does not fit waits, unless
            # nothing else is active (so a huge message still gets through).
            if self._rcpts and self._rcpts + wanted > self.settings.recipient_limit:
                return None
            self._rcpts += wanted
        moved = False
        try:
            self._move(queue_id, queue, QueueName.ACTIVE)
            moved = True
            defer_log = store.read_log("defer", queue_id)
            held = [o for o in defer_log if is_cleanup_deferral(o)]
            if queue is QueueName.DEFERRED and defer_log and not held:
                # qmgr_active.c: the defer log of a previous attempt goes when
                # the message is tried again.
                store.clear_log("defer", queue_id)
        except BaseException:
            # The message goes back where it was and frees its room, so
            # that the next scan tries it again (else it would wait in
            # active/ for the next start, its recipients still counted).
            with self._budget:
                self._rcpts -= wanted
            if moved:
                self._leave_active(queue_id, queue)
            raise
        return attrs.evolve(queued, queue=QueueName.ACTIVE), held

    async def _activate(self, queue_id: str, queue: QueueName) -> None:
        try:
            loaded = await self._quick(self._load, queue_id, queue)
        except (NoSuchMessage, QueueFileCorrupt):
            return                                   # gone, or moved to corrupt/
        except Exception as exc:  # noqa: BLE001 - back in its queue (see _load); tried at the next scan
            _log_failure(exc, "%s: cannot activate: %s: %s", queue_id, type(exc).__name__, exc)
            return
        if loaded is None:
            self._blocked.add(queue)        # qmgr_message_recipient_limit reached
            return
        queued, held = loaded
        env = queued.envelope
        pending = env.pending()
        now = self.clock()
        content = queued.message
        cached = len(content.data)
        if queued.size > CONTENT_CACHE_LIMIT or self._cached + cached > CONTENT_CACHE_TOTAL:
            content, cached = None, 0      # read again for each delivery
            queued = attrs.evolve(queued, message=Message(b""))
        self._cached += cached
        msg = _Active(queued, content, now, len(pending), cached)
        # Recipients finished before a crash or an earlier attempt may have
        # entries in the bounce or trace log whose notice is not sent yet
        # (the logs are cleared once it is): the finish must read them.
        for rcpt in env.recipients:
            if rcpt.state is RecipientState.BOUNCED:
                msg.bounced = True
            elif rcpt.state is RecipientState.DELIVERED and rcpt.wants(Notify.SUCCESS):
                msg.traced = True
        self._active[queue_id] = msg
        log.info("%s", active_line(queue_id, env.sender, queued.size, len(env.recipients)))
        held_keys = {(o.recipient.address, o.recipient.original): o for o in held}
        immediate: list[Outcome] = []
        deliver: list[Recipient] = []
        for rcpt in pending:
            hold = held_keys.get((rcpt.address, rcpt.original))
            if queued.forced_expire:
                # postsuper -e: no delivery; every pending recipient is
                # returned as expired (Postfix 3.5+ qmgr_message.c).
                immediate.append(Outcome(rcpt, ADMIN_EXPIRED))
            elif hold is not None:
                # cleanup could not expand this recipient: it waits, never
                # delivered unexpanded (its entry stays in the defer log).
                msg.deferred.append(attrs.evolve(hold, recipient=rcpt))
                _log_outcome("error", queue_id, msg, attrs.evolve(hold, recipient=rcpt), now)
            else:
                deliver.append(rcpt)
        if env.content_filter:
            # The whole message goes to the content filter (Postfix's
            # content_filter queue-file record); it re-injects what it passes.
            def route(address: str) -> Any:
                return filter_route(env.content_filter, address, self.settings)
        else:
            def route(address: str) -> Any:
                return self.rewrite.resolve(address, env.sender)
        try:
            groups, resolved = group_recipients(deliver, route)
        except Exception as exc:  # noqa: BLE001 - a resolver failure defers, never crashes
            groups, resolved = {}, [Outcome(r, DsnStatus("4.3.0", f"address resolver failure: {exc}"))
                                    for r in deliver]
        immediate.extend(resolved)
        for (transport, nexthop), rcpts in groups.items():
            msg.jobs += self.scheduler.add(queue_id, transport, nexthop, rcpts)
        if immediate:
            msg.jobs += 1
            self._spawn(self._complete(msg, immediate, "error", now, now))
        elif msg.jobs == 0:
            msg.jobs = 1
            self._spawn(self._complete(msg, [], "error", now, now))
        self._dispatch()

    # --- dispatch ---------------------------------------------------------------
    def _spawn(self, coro) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("internal error: %s", task.exception())
        self._check_idle()

    def _dispatch(self) -> None:
        if not self.running:
            return
        now = self.clock()
        for job in self.scheduler.dead_jobs(now):
            status = suspended_status(self._last_failure.get(job.destination))
            msg = self._active.get(job.queue_id)
            if msg is not None:
                outcomes = [Outcome(r, status) for r in job.recipients]
                self._spawn(self._complete(msg, outcomes, "error", now, now))
        for job in self.scheduler.ready(now):
            self._spawn(self._deliver(job))
        self._arm_timer(now)

    def _arm_timer(self, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.scheduler.next_event(now)
        if when is not None:
            self._timer = self._loop.call_later(max(0.0, when - now), self._dispatch)

    def _agent(self, transport: str) -> tuple[Any, str]:
        """The agent for ``transport`` (built once) and its log name."""
        found = self._agents.get(transport)
        if found is not None:
            return found
        entry = self.transports.get(transport)
        # Log under the master.cf command (pipe, virtual, error), as
        # Postfix's agents do; embedded agents under the transport name.
        name = str(getattr(entry, "command", "") or transport).split()[0]
        agent = self._given_agents.get(transport)
        if agent is None:
            from mailflow.delivery.registry import create_agent
            agent = create_agent(transport, self.cfg, entry)
        if hasattr(agent, "resubmit") and getattr(agent, "resubmit") is None:
            agent.resubmit = self._resubmit               # local(8) forwarding
        self._agents[transport] = (agent, name)
        return agent, name

    async def _deliver(self, job: Job) -> None:
        msg = self._active.get(job.queue_id)
        if msg is None:                     # cannot happen; keep the window right
            self.scheduler.done(job, True, self.clock())
            return
        start = self.clock()
        raised = False
        name = job.transport
        try:
            try:
                agent, name = self._agent(job.transport)
            except ConfigError as exc:
                # No agent for the transport: Postfix's "mail transport unavailable".
                log.warning("%s: transport %s: %s", job.queue_id, job.transport, exc)
                agent = None
            if agent is None:
                outcomes = [Outcome(r, UNAVAILABLE) for r in job.recipients]
            else:
                content = msg.content
                if content is None:
                    content = (await self._io(self.store.read, job.queue_id, QueueName.ACTIVE)).message
                request = DeliveryRequest(job.queue_id, job.transport, job.nexthop,
                                          msg.queued.envelope, job.recipients, content)
                outcomes = _complete_outcomes(job.recipients, await agent.deliver(request))
        except DeliveryFailure as exc:
            # An agent may fail a whole request with a status of its own.
            outcomes = [Outcome(r, exc.status) for r in job.recipients]
        except Exception as exc:  # noqa: BLE001 - an agent failure defers, never crashes
            # Deferred either way; a bug (not an I/O or mailflow error) is
            # logged at error level with its traceback, so it gets fixed.
            raised = True
            _log_failure(exc, "%s: %s delivery agent failed: %s: %s", job.queue_id, job.transport,
                         type(exc).__name__, exc)
            outcomes = [Outcome(r, DsnStatus("4.3.0", f"delivery agent failed: {exc}"))
                        for r in job.recipients]
        end = self.clock()
        ok = not destination_failed(outcomes, raised)
        if not ok:
            self._last_failure[job.destination] = outcomes[0].status if outcomes else UNAVAILABLE
        self.scheduler.done(job, ok, end)
        await self._complete(msg, outcomes, name, start, end)
        self._dispatch()

    # --- bookkeeping -----------------------------------------------------------
    async def _complete(self, msg: _Active, outcomes: Sequence[Outcome],
                        log_name: str, start: float, end: float) -> None:
        """Log, record durably, and finish the message after its last job."""
        for o in outcomes:
            _log_outcome(log_name, msg.queue_id, msg, o, end, start=start)
        msg.jobs -= 1
        last = msg.jobs == 0
        bounced = [o for o in outcomes if o.status.is_permanent]
        deferred = [o for o in outcomes if o.status.is_temporary]
        traced = [o for o in outcomes if o.status.is_success and o.recipient.wants(Notify.SUCCESS)]
        finished = [o for o in outcomes if not o.status.is_temporary]
        msg.deferred.extend(deferred)
        msg.bounced |= bool(bounced)
        msg.traced |= bool(traced)
        # The last job's progress is marked only if the file stays (a
        # message about to be deleted needs no marks): one fsync less.
        marks = finished if not last else []
        write = None
        if bounced or deferred or traced or marks:
            write = self._loop.run_in_executor(self._pool, self._record, msg.queue_id,
                                               bounced, deferred, traced, marks)
            msg.writes.add(write)
        try:
            if write is not None:
                await write
            if last:
                msg.finished.extend(finished)
        except Exception as exc:  # noqa: BLE001 - deferred below; a bug is logged with its traceback
            # The spool refused (disk full, I/O error): nothing of this job
            # counts as done. Its final outcomes become deferrals with
            # Postfix's reason (bounce.c), so the message stays queued, its
            # recipients pending, and no bounce or success notice is lost.
            _log_failure(exc, "%s: cannot record delivery status: %s", msg.queue_id, exc)
            retry = [Outcome(o.recipient, LOG_FAILURE, o.relay) for o in finished]
            for o in retry:
                _log_outcome(log_name, msg.queue_id, msg, o, end, start=start)
            msg.deferred.extend(retry)
        finally:
            msg.writes.discard(write)
        if last:
            # An earlier job's bounce or trace entries may still be on their
            # way to disk; the finish reads those logs, so it waits for them.
            if msg.writes:
                await asyncio.gather(*msg.writes, return_exceptions=True)
            await self._finish(msg)

    def _record(self, queue_id: str, bounced: list, deferred: list, traced: list,
                finished: list) -> None:
        store = self.store
        for o in bounced:
            store.append_log("bounce", queue_id, o)
        for o in deferred:
            store.append_log("defer", queue_id, _stamped(o))
        for o in traced:
            store.append_log("trace", queue_id, o)
        if finished:
            store.mark_done(queue_id, QueueName.ACTIVE, finished)

    async def _finish(self, msg: _Active) -> None:
        queue_id = msg.queue_id
        env = msg.queued.envelope
        queued_notices = False
        try:
            bounced = await self._io(self.store.read_log, "bounce", queue_id) if msg.bounced else []
            traced = await self._io(self.store.read_log, "trace", queue_id) if msg.traced else []
            now = self.clock()
            plan = plan_finish(self.settings, env, bounced=last_per_recipient(bounced),
                               deferred=last_per_recipient(msg.deferred), now=now,
                               delivered=traced, warned=msg.queued.delay_warned,
                               forced_expire=msg.queued.forced_expire)
            for line in plan.discarded:
                logging.getLogger("mailflow.bounce").info("%s: %s", queue_id, line)
            if plan.action is Action.EXPIRE:
                # Postfix logs the expiry before the notice it causes.
                log.info("%s", expired_line(queue_id, env.sender))
            sent = True
            if plan.notices:
                sent = await self._io(self._send_notices, msg, plan, now)
                queued_notices = True
            if not sent and plan.action is not Action.DEFER:
                # A notice could not be queued: keep the message and its logs
                # and try again later, never drop a bounce.
                plan = attrs.evolve(plan, action=Action.DEFER, warned=False,
                                    next_attempt=now + self.settings.minimal_backoff_time)
            if plan.action is Action.DEFER:
                await self._io(self._dispose, msg, plan, sent)   # fsyncs: off the loop
            else:
                await self._quick(self._dispose, msg, plan, sent)
            if plan.action is not Action.DEFER:
                log.info("%s", removed_line(queue_id))
        except Exception as exc:  # noqa: BLE001 - deferred, retried like any deferral
            _log_failure(exc, "%s: cannot finish: %s: %s", queue_id, type(exc).__name__, exc)
            await self._io(self._park, msg, self.clock() + self.settings.minimal_backoff_time)
        finally:
            self._active.pop(queue_id, None)
            self._cached -= msg.cached
            with self._budget:
                self._rcpts -= msg.nrcpt
            if self._blocked and not self._full():
                self._request(b"W")           # the scan that stopped at the limit goes on
            if queued_notices:
                self._request(b"I")          # pick up the notices just queued

    def _send_notices(self, msg: _Active, plan: FinishPlan, now: float) -> bool:
        content = msg.content
        if content is None:
            content = self.store.read(msg.queue_id, QueueName.ACTIVE).message
        ok = True
        for notice in plan.notices:
            try:
                self.notifier.send(notice, msg.queued.envelope, content,
                                   queue_id=msg.queue_id, now=now)
            except Exception as exc:  # noqa: BLE001
                ok = False
                logging.getLogger("mailflow.bounce").warning(
                    "%s: cannot queue notice to <%s>: %s", msg.queue_id, notice.to, exc)
        return ok

    def _dispose(self, msg: _Active, plan: FinishPlan, sent: bool) -> None:
        store, queue_id = self.store, msg.queue_id
        if sent:
            if msg.bounced:
                store.clear_log("bounce", queue_id)
            if msg.traced:
                store.clear_log("trace", queue_id)
        if plan.action is not Action.DEFER:
            # A removal lost in a crash means one more delivery, never a loss.
            store.delete(queue_id, QueueName.ACTIVE, sync=False)
            return
        # Order matters: progress first, then the due time, then the move,
        # so that deferred/ never holds a file that claims less than is done.
        if msg.finished:
            store.mark_done(queue_id, QueueName.ACTIVE, msg.finished)
        if plan.warned:
            store.set_delay_warned(queue_id, QueueName.ACTIVE)
        store.set_next_attempt(queue_id, QueueName.ACTIVE, plan.next_attempt)
        self._move(queue_id, QueueName.ACTIVE, QueueName.DEFERRED)

    def _park(self, msg: _Active, when: float) -> None:
        # After a failed finish: to deferred/ until ``when`` rather than in
        # active/ until the next start. Its logs stay; the next attempt
        # reads them again (see _activate). Each step is tried on its own:
        # progress not marked means a recipient delivered again (at least
        # once), a due time not set a retry at the next run; only the move
        # matters, and a failed move is tried again before the next scan.
        queue_id = msg.queue_id
        try:
            if msg.finished:
                self.store.mark_done(queue_id, QueueName.ACTIVE, msg.finished)
            self.store.set_next_attempt(queue_id, QueueName.ACTIVE, when)
        except (OSError, MailflowError) as exc:
            log.warning("%s: cannot record progress: %s", queue_id, exc)
        self._leave_active(queue_id, QueueName.DEFERRED)

    def _move(self, queue_id: str, src: QueueName, dst: QueueName) -> None:
        # Every move the queue manager makes is safe on either side of a
        # crash (the file is in src or in dst, and both get delivered), so it
        # skips the directory fsyncs (Postfix's qmgr renames without them too).
        self.store.move(queue_id, src, dst, sync=False)

    # --- notices and forwarding ---------------------------------------------------
    def _cleanup_service(self):
        if self._cleanup is None:
            from mailflow.services.cleanup import CleanupService
            self._cleanup = CleanupService(self.cfg, self.store, wake=False)
        return self._cleanup

    def _submit_notice(self, envelope, message: Message) -> Any:
        if self._notify_hook is not None:
            result = self._notify_hook(envelope, message)
            if inspect.isawaitable(result):
                # Notices are sent from a worker thread; an async hook runs
                # on the event loop.
                result = asyncio.run_coroutine_threadsafe(_awaited(result), self._loop).result()
            return result
        reply = self._cleanup_service().submit(envelope, message, origin="bounce")
        if not reply.accepted:
            raise MailflowError(f"cleanup refused the notice: {reply.status}")
        return reply.queue_id

    async def _resubmit(self, envelope, message: Message) -> str | None:
        reply = await self._cleanup_service().submit_async(envelope, message, origin="local")
        if not reply.accepted:
            raise MailflowError(f"cleanup refused the forwarded message: {reply.status}")
        self._request(b"I")
        return reply.queue_id

    async def _io(self, func, *args):
        return await self._loop.run_in_executor(self._pool, func, *args)

    async def _quick(self, func, *args):
        """Spool work with no fsync (read a queue file, rename, unlink):
        on the event loop when the store says its operations are local and
        fast, as Postfix's single-threaded qmgr does them; a hop to a worker
        thread costs more than the work (GIL hand-offs), and no reply waits
        on it. Other stores (a database, say) still get a thread."""
        if self._inline_io:
            return func(*args)
        return await self._loop.run_in_executor(self._pool, func, *args)


def _log_failure(exc: BaseException, fmt: str, *args: Any) -> None:
    """A warning for what the spool or a peer refused (OSError, mailflow's
    own errors); for anything else, a bug, an error with its traceback."""
    if isinstance(exc, (OSError, MailflowError, asyncio.TimeoutError)):
        log.warning(fmt, *args)
    else:
        log.error(fmt, *args, exc_info=exc)


def _take(found: Iterator[str], n: int) -> list[str]:
    return list(itertools.islice(found, n))


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _stamped(o: Outcome) -> Outcome:
    # Entries the queue manager writes carry a Diagnostic-Code, which tells
    # them apart from cleanup's (see is_cleanup_deferral); the notice shows
    # the same text either way.
    if o.diagnostic is None:
        return attrs.evolve(o, diagnostic=f"X-Postfix; {o.status.text}")
    return o


def _complete_outcomes(recipients: Sequence[Recipient], outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The agent's outcomes, plus a deferral for any recipient it forgot."""
    out = list(outcomes)
    if len(out) >= len(recipients):
        return out
    seen: dict = {}
    for o in out:
        seen[o.recipient] = seen.get(o.recipient, 0) + 1
    for r in recipients:
        if seen.get(r, 0):
            seen[r] -= 1
        else:
            out.append(Outcome(r, DsnStatus("4.3.0", "delivery agent returned no status")))
    return out


def _log_outcome(name: str, queue_id: str, msg: _Active, outcome: Outcome, now: float, *,
                start: float | None = None) -> None:
    """One Postfix delivery line on ``mailflow.<agent>``, with delays a/b/c/d."""
    arrival = msg.queued.envelope.arrival_time
    start = now if start is None else start
    delays = (max(0.0, msg.since - arrival), max(0.0, start - msg.since), 0.0, max(0.0, now - start))
    logging.getLogger(f"mailflow.{name}").info(
        "%s", delivery_line(queue_id, outcome, delay=max(0.0, now - arrival), delays=delays))


class QmgrService(QueueManager):
    """The master.cf ``qmgr`` service (built with no arguments; configured at start).

    >>> from mailflow.services.skeleton import service_spec
    >>> service_spec("qmgr").factory is QmgrService
    True
    """

    def __init__(self) -> None:
        super().__init__()
