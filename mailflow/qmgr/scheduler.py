"""What to deliver next, to whom, at what concurrency. Pure.

The scheduler keeps one queue per *destination* (transport + nexthop), as
Postfix's qmgr does (SCHEDULER_README), and hands out :class:`Job` objects:
one message, one destination, at most ``destination_recipient_limit``
recipients. It never performs a delivery and never reads a clock; the
service calls :meth:`Scheduler.ready` with ``now``, runs the jobs, and reports
each back with :meth:`Scheduler.done`.

Concurrency per destination follows Postfix's slow start: a window starting
at ``initial_destination_concurrency`` that grows by the positive feedback
on success and shrinks by the negative feedback on failure, never above
``destination_concurrency_limit``. When the window would drop below one
and ``destination_concurrency_failed_cohort_limit`` failed cohorts have
been seen, the destination is *dead* for ``minimal_backoff_time``: its
queued jobs are handed back for deferral at once, without connection storms.

Fairness: destinations are served round-robin, and within a destination the
messages are served round-robin, so one huge message or one slow
destination never starves the rest.

>>> s = Scheduler(lambda transport: TransportPolicy(initial_concurrency=1))
>>> s.add("Q1", "smtp", "example.com", ["a@example.com", "b@example.com"])   # jobs queued
1
>>> [job.recipients for job in s.ready(now=0.0)]
[('a@example.com', 'b@example.com')]
>>> s.ready(now=0.0)   # the window (1) is full
[]
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import Callable, Hashable, Sequence

import attrs

__all__ = ["TransportPolicy", "Job", "Scheduler", "parse_feedback"]


def parse_feedback(text: str) -> Callable[[float], float]:
    """Postfix's feedback syntax: ``1/concurrency``, ``1/N`` or a number.

    >>> parse_feedback("1/concurrency")(4.0), parse_feedback("1/8")(4.0), parse_feedback("1")(4.0)
    (0.25, 0.125, 1.0)
    """
    text = text.strip().replace(" ", "")
    num, sep, den = text.partition("/")
    numerator = float(num or 1)
    if not sep:
        return lambda window: numerator
    if den == "concurrency":
        return lambda window: numerator / max(window, 1.0)
    value = numerator / float(den)
    return lambda window: value


@attrs.frozen
class TransportPolicy:
    """The per-transport knobs, as read from main.cf/master.cf."""

    concurrency_limit: int = 20          # TRANSPORT_destination_concurrency_limit (0 = none)
    initial_concurrency: int = 5         # initial_destination_concurrency
    recipient_limit: int = 50            # TRANSPORT_destination_recipient_limit (0 = none)
    rate_delay: float = 0.0              # TRANSPORT_destination_rate_delay
    positive_feedback: str = "1/concurrency"
    negative_feedback: str = "1/concurrency"
    failed_cohort_limit: int = 1
    process_limit: int = 100             # maxproc of the transport's master.cf entry
    dead_time: float = 300.0             # how long a dead destination stays dead


@attrs.frozen
class Job:
    """One delivery to hand to an agent."""

    queue_id: str
    transport: str
    nexthop: str
    recipients: tuple = attrs.field(converter=tuple)

    @property
    def destination(self) -> tuple[str, str]:
        return (self.transport, self.nexthop)


@attrs.define
class _Destination:
    transport: str
    nexthop: str
    window: float
    by_message: "OrderedDict[str, deque[Job]]" = attrs.field(factory=OrderedDict)
    active: int = 0
    success: float = 0.0
    failure: float = 0.0
    failed_cohorts: float = 0.0
    dead_until: float = 0.0
    not_before: float = 0.0              # rate delay

    def queued(self) -> int:
        return sum(len(jobs) for jobs in self.by_message.values())

    def pop(self) -> Job:
        queue_id, jobs = next(iter(self.by_message.items()))
        job = jobs.popleft()
        if jobs:
            self.by_message.move_to_end(queue_id)   # round-robin between messages
        else:
            del self.by_message[queue_id]
        return job


class Scheduler:
    """Per-destination queues with slow-start concurrency. See the module doc."""

    def __init__(self, policy: Callable[[str], TransportPolicy]) -> None:
        self._policy_for = policy
        self._policies: dict[str, TransportPolicy] = {}
        self._destinations: "OrderedDict[tuple[str, str], _Destination]" = OrderedDict()
        self._transport_active: dict[str, int] = {}

    def policy(self, transport: str) -> TransportPolicy:
        if transport not in self._policies:
            self._policies[transport] = self._policy_for(transport)
        return self._policies[transport]

    def reset_policies(self) -> None:
        """Forget cached policies (after a configuration reload)."""
        self._policies.clear()

    # --- input ------------------------------------------------------------
    def add(self, queue_id: str, transport: str, nexthop: str,
            recipients: Sequence[Hashable]) -> int:
        """Queue recipients of one message for one destination, split into
        jobs of at most ``recipient_limit`` recipients; return how many jobs."""
        policy = self.policy(transport)
        dest = self._destination(transport, nexthop, policy)
        limit = policy.recipient_limit or len(recipients) or 1
        jobs = dest.by_message.setdefault(queue_id, deque())
        new = [Job(queue_id, transport, nexthop, recipients[start:start + limit])
               for start in range(0, len(recipients), limit)]
        jobs.extend(new)
        return len(new)

    def _destination(self, transport: str, nexthop: str, policy: TransportPolicy) -> _Destination:
        key = (transport, nexthop)
        dest = self._destinations.get(key)
        if dest is None:
            window = float(max(1, policy.initial_concurrency))
            if policy.concurrency_limit:
                window = min(window, float(policy.concurrency_limit))
            dest = self._destinations[key] = _Destination(transport, nexthop, window)
        return dest

    # --- output -----------------------------------------------------------
    def ready(self, now: float) -> list[Job]:
        """Jobs that may start now, taken round-robin across destinations."""
        out: list[Job] = []
        progress = True
        while progress:
            progress = False
            for key in list(self._destinations):
                dest = self._destinations[key]
                if not dest.by_message or not self._may_start(dest, now):
                    continue
                job = dest.pop()
                dest.active += 1
                self._transport_active[dest.transport] = self._transport_active.get(dest.transport, 0) + 1
                policy = self.policy(dest.transport)
                if policy.rate_delay:
                    dest.not_before = now + policy.rate_delay
                out.append(job)
                progress = True
        return out

    def _may_start(self, dest: _Destination, now: float) -> bool:
        policy = self.policy(dest.transport)
        if dest.dead_until > now or dest.not_before > now:
            return False
        if policy.rate_delay and dest.active:
            return False                     # rate delay means one at a time
        if dest.active >= math.floor(dest.window):
            return False
        return self._transport_active.get(dest.transport, 0) < max(1, policy.process_limit)

    def dead_jobs(self, now: float) -> list[Job]:
        """Queued jobs whose destination is dead: defer them now."""
        out: list[Job] = []
        for dest in self._destinations.values():
            if dest.dead_until > now:
                while dest.by_message:
                    out.append(dest.pop())
        return out

    def is_dead(self, transport: str, nexthop: str, now: float) -> bool:
        dest = self._destinations.get((transport, nexthop))
        return dest is not None and dest.dead_until > now

    def revive(self) -> None:
        """Forget that destinations are dead (``postqueue -f``: qmgr's "F" request)."""
        for dest in self._destinations.values():
            dest.dead_until = 0.0
            dest.failed_cohorts = 0.0

    def next_event(self, now: float) -> float | None:
        """The earliest time a queued job becomes startable for a timer reason
        (rate delay or a dead destination coming back), or None."""
        times = [max(d.dead_until, d.not_before) for d in self._destinations.values()
                 if d.by_message and max(d.dead_until, d.not_before) > now]
        return min(times) if times else None

    # --- feedback ---------------------------------------------------------
    def done(self, job: Job, ok: bool, now: float) -> None:
        """Report a finished job. ``ok`` is False when the destination itself
        failed (the agent could not reach it), not when a recipient was
        refused: only destination failures slow a destination down."""
        dest = self._destinations[job.destination]
        dest.active -= 1
        self._transport_active[dest.transport] -= 1
        policy = self.policy(dest.transport)
        if ok:
            dest.failed_cohorts = 0.0
            dest.failure = 0.0
            if not policy.concurrency_limit or dest.window < policy.concurrency_limit:
                dest.success += parse_feedback(policy.positive_feedback)(dest.window)
                while dest.success >= 1:
                    dest.window += 1
                    dest.success -= 1
        else:
            dest.success = 0.0
            dest.failed_cohorts += 1.0 / max(dest.window, 1.0)
            dest.failure -= parse_feedback(policy.negative_feedback)(dest.window)
            while dest.failure < 0:
                dest.window -= 1
                dest.failure += 1
            if dest.window < 1:
                if dest.failed_cohorts >= policy.failed_cohort_limit:
                    dest.dead_until = now + policy.dead_time
                    dest.failed_cohorts = 0.0
                dest.window = 1.0
        self._forget_if_idle(dest)

    def _forget_if_idle(self, dest: _Destination) -> None:
        # An idle, healthy destination at its initial window carries no
        # state worth keeping; dropping it keeps memory flat under many domains.
        policy = self.policy(dest.transport)
        if (not dest.active and not dest.by_message and not dest.dead_until
                and dest.window <= max(1, policy.initial_concurrency)):
            del self._destinations[(dest.transport, dest.nexthop)]

    def window(self, transport: str, nexthop: str) -> float:
        """The current concurrency window of a destination (for tests and logs)."""
        dest = self._destinations.get((transport, nexthop))
        return dest.window if dest else float(self.policy(transport).initial_concurrency)

    def discard(self, queue_id: str) -> list[Job]:
        """Remove and return every queued job of one message."""
        out: list[Job] = []
        for dest in self._destinations.values():
            out.extend(dest.by_message.pop(queue_id, ()))
        return out

    def __len__(self) -> int:
        return sum(d.queued() for d in self._destinations.values())

    @property
    def active(self) -> int:
        return sum(self._transport_active.values())


def policy_from_config(cfg, transport: str, process_limit: int | None = None) -> TransportPolicy:
    """Read a transport's policy from a Config (``TRANSPORT_x`` else ``default_x``)."""
    tp = cfg.transport_param
    return TransportPolicy(
        concurrency_limit=int(tp(transport, "destination_concurrency_limit")),
        initial_concurrency=int(cfg["initial_destination_concurrency"]),
        recipient_limit=int(tp(transport, "destination_recipient_limit")),
        rate_delay=float(tp(transport, "destination_rate_delay")),
        positive_feedback=str(tp(transport, "destination_concurrency_positive_feedback")),
        negative_feedback=str(tp(transport, "destination_concurrency_negative_feedback")),
        failed_cohort_limit=int(tp(transport, "destination_concurrency_failed_cohort_limit")),
        process_limit=process_limit or int(cfg["default_process_limit"]),
        dead_time=float(cfg["minimal_backoff_time"]),
    )
