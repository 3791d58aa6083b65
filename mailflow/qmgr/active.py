"""Per-message bookkeeping of the active queue, and what to do when a
message's attempt is over. Pure: takes ``now``, never reads a clock,
touches the spool or sends anything.

Owns the decisions Postfix's qmgr makes in qmgr_message.c (which
recipients go where) and qmgr_active.c (delete, defer or expire a message
when its last delivery finished), and which notices bounce(8) sends for
it. The service :mod:`mailflow.services.qmgr` carries them out.

>>> from mailflow.model import DsnStatus, Envelope, Outcome, Recipient
>>> env = Envelope("a@example.com", (Recipient("b@example.com"),), arrival_time=0.0)
>>> s = QmgrSettings(maximal_queue_lifetime=3600)
>>> deferred = [Outcome(env.recipients[0], DsnStatus("4.4.1", "connection refused"))]
>>> plan = plan_finish(s, env, bounced=[], deferred=deferred, now=7200.0)
>>> plan.action.value, plan.notices[0].kind.value, plan.notices[0].to
('expire', 'failure', 'a@example.com')
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Iterable, Sequence

import attrs

from mailflow.bounce import NoticeKind
from mailflow.model import DsnStatus, Envelope, Notify, Outcome, Recipient
from mailflow.qmgr.retry import is_expired, needs_delay_warning, next_attempt

__all__ = ["QmgrSettings", "Action", "NoticePlan", "FinishPlan", "plan_finish",
           "group_recipients", "destination_failed", "suspended_status",
           "last_per_recipient", "is_cleanup_deferral", "FilterRoute", "filter_route"]

#: Postfix's reason when a destination is dead (qmgr_deliver.c).
SUSPENDED = "delivery temporarily suspended: "
# group_recipients: how many resolver verdicts one call keeps at a time.
GROUP_CACHE_SIZE = 4096


def is_cleanup_deferral(outcome: Outcome) -> bool:
    """Whether a ``defer`` log entry was written by cleanup (a recipient whose
    virtual alias expansion must be retried), not by a delivery attempt.

    The queue manager gives every entry it writes a Diagnostic-Code; cleanup's
    entries have none, so they stay recognisable across attempts.

    >>> from mailflow.model import DsnStatus, Recipient
    >>> is_cleanup_deferral(Outcome(Recipient("a@x"), DsnStatus("4.6.0", "loop")))
    True
    """
    return outcome.diagnostic is None and outcome.relay == "none" and outcome.status.is_temporary


def _seconds(cfg: Any, name: str) -> float:
    return float(cfg[name])


@attrs.frozen
class QmgrSettings:
    """The main.cf parameters the queue manager reads, compiled once.

    >>> QmgrSettings.from_config(None).maximal_backoff_time
    4000.0
    """

    active_limit: int = 20000                 # qmgr_message_active_limit
    recipient_limit: int = 20000              # qmgr_message_recipient_limit
    queue_run_delay: float = 300.0
    maximal_queue_lifetime: float = 432000.0
    bounce_queue_lifetime: float = 432000.0
    minimal_backoff_time: float = 300.0
    maximal_backoff_time: float = 4000.0
    delay_warning_time: float = 0.0
    notify_classes: frozenset = frozenset({"resource", "software"})
    bounce_notice_recipient: str = "postmaster"
    double_bounce_notice_recipient: str = "postmaster"    # 2bounce_notice_recipient
    delay_notice_recipient: str = "postmaster"
    double_bounce_sender: str = "double-bounce@localhost"
    myhostname: str = "localhost"
    bounce_size_limit: int = 50000
    default_filter_nexthop: str = ""

    @classmethod
    def from_config(cls, cfg: Any) -> "QmgrSettings":
        """Read the parameters from a Config (None: Postfix's defaults)."""
        if cfg is None:
            from mailflow.config import default_config
            cfg = default_config()
        sender = str(cfg["double_bounce_sender"])
        if "@" not in sender:
            sender = f"{sender}@{cfg['myorigin']}"
        classes = cfg["notify_classes"]
        if isinstance(classes, str):
            classes = classes.replace(",", " ").split()
        return cls(
            active_limit=int(cfg["qmgr_message_active_limit"]),
            recipient_limit=int(cfg["qmgr_message_recipient_limit"]),
            queue_run_delay=_seconds(cfg, "queue_run_delay"),
            maximal_queue_lifetime=_seconds(cfg, "maximal_queue_lifetime"),
            bounce_queue_lifetime=_seconds(cfg, "bounce_queue_lifetime"),
            minimal_backoff_time=_seconds(cfg, "minimal_backoff_time"),
            maximal_backoff_time=_seconds(cfg, "maximal_backoff_time"),
            delay_warning_time=_seconds(cfg, "delay_warning_time"),
            notify_classes=frozenset(c.lower() for c in classes),
            bounce_notice_recipient=str(cfg["bounce_notice_recipient"]),
            double_bounce_notice_recipient=str(cfg["2bounce_notice_recipient"]),
            delay_notice_recipient=str(cfg["delay_notice_recipient"]),
            double_bounce_sender=sender,
            myhostname=str(cfg["myhostname"]),
            bounce_size_limit=int(cfg["bounce_size_limit"]),
            default_filter_nexthop=str(cfg["default_filter_nexthop"]),
        )

    def lifetime(self, envelope: Envelope) -> float:
        """``bounce_queue_lifetime`` for null-sender mail, else ``maximal_queue_lifetime``.

        >>> QmgrSettings(bounce_queue_lifetime=10).lifetime(Envelope("", ()))
        10
        """
        # postconf(5): bounce_queue_lifetime is for MAILER-DAEMON mail, and
        # never longer than maximal_queue_lifetime.
        if envelope.is_null_sender:
            return min(self.bounce_queue_lifetime, self.maximal_queue_lifetime)
        return self.maximal_queue_lifetime


class Action(str, enum.Enum):
    """What happens to a message when its attempt is over.

    >>> Action("defer") is Action.DEFER
    True
    """

    DELETE = "delete"      # every recipient done: remove it
    DEFER = "defer"        # some recipients wait: to deferred/ until next_attempt
    EXPIRE = "expire"      # too old: return the waiting recipients to the sender, remove it


@attrs.frozen
class NoticePlan:
    """One notice to compose (:func:`mailflow.bounce.compose_notice`) and submit.

    ``sender`` is the notice's envelope sender: null, except for a notice
    about a null-sender message, which comes from ``double_bounce_sender``
    so that its own failure is recognised and never returned again.

    >>> NoticePlan(NoticeKind.FAILURE, "postmaster", [], sender="double-bounce@example.com").sender
    'double-bounce@example.com'
    """

    kind: NoticeKind
    to: str
    outcomes: tuple = attrs.field(converter=tuple)
    sender: str = ""
    postmaster_copy: bool = False


@attrs.frozen
class FinishPlan:
    """The outcome of :func:`plan_finish`: notices first, then ``action``.

    >>> FinishPlan(Action.DEFER, next_attempt=600.0).notices
    ()
    """

    action: Action
    notices: tuple = attrs.field(default=(), converter=tuple)
    next_attempt: float | None = None
    warned: bool = False                   # a delay notice is among the notices: record it
    discarded: tuple = attrs.field(default=(), converter=tuple)   # log lines


def last_per_recipient(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """The latest outcome for each recipient, in first-seen order.

    >>> from mailflow.model import DsnStatus, Recipient
    >>> a = Recipient("a@x")
    >>> out = last_per_recipient([Outcome(a, DsnStatus.parse("4.4.1")), Outcome(a, DsnStatus.parse("4.4.2"))])
    >>> [o.status.code for o in out]
    ['4.4.2']
    """
    latest: dict = {}
    for o in outcomes:
        r = o.recipient
        latest[(r.address, r.original, r.orcpt)] = o
    return list(latest.values())


def _failure_notices(s: QmgrSettings, envelope: Envelope, failed: Sequence[Outcome],
                     discarded: list[str]) -> list[NoticePlan]:
    """bounce_notify_service.c: to the sender, or a double bounce to postmaster."""
    if not failed:
        return []
    notices: list[NoticePlan] = []
    sender = envelope.sender
    if sender.lower() == s.double_bounce_sender.lower():
        # A double bounce failed: never send a triple bounce.
        discarded.append("undeliverable postmaster notification discarded")
        return []
    if envelope.is_null_sender:
        if "2bounce" in s.notify_classes:
            notices.append(NoticePlan(NoticeKind.FAILURE, s.double_bounce_notice_recipient,
                                      failed, sender=s.double_bounce_sender))
        return notices
    wanted = [o for o in failed if o.recipient.wants(Notify.FAILURE)]
    if wanted:
        notices.append(NoticePlan(NoticeKind.FAILURE, sender, wanted))
    if "bounce" in s.notify_classes:
        notices.append(NoticePlan(NoticeKind.FAILURE, s.bounce_notice_recipient, failed,
                                  sender=s.double_bounce_sender, postmaster_copy=True))
    return notices


def plan_finish(s: QmgrSettings, envelope: Envelope, *, bounced: Sequence[Outcome],
                deferred: Sequence[Outcome], now: float, delivered: Sequence[Outcome] = (),
                warned: bool = False, forced_expire: bool = False) -> FinishPlan:
    """Decide the end of one attempt of a message.

    ``bounced`` is the message's bounce log (recipients that failed for good
    and were not yet reported), ``deferred`` the latest temporary outcome of
    each recipient still waiting (empty when none waits), ``delivered`` the
    outcomes of this attempt's deliveries that asked for ``NOTIFY=SUCCESS``.

    >>> from mailflow.model import DsnStatus, Envelope, Outcome, Recipient
    >>> env = Envelope("a@example.com", (Recipient("b@example.com"),), arrival_time=0.0)
    >>> plan_finish(QmgrSettings(), env, bounced=[], deferred=[], now=1.0).action
    <Action.DELETE: 'delete'>
    """
    discarded: list[str] = []
    notices = _failure_notices(s, envelope, bounced, discarded)
    success = [o for o in delivered if o.recipient.wants(Notify.SUCCESS)]
    if success and not envelope.is_null_sender:
        notices.append(NoticePlan(NoticeKind.SUCCESS, envelope.sender, success))
    if not deferred:
        return FinishPlan(Action.DELETE, notices, discarded=discarded)
    if forced_expire or is_expired(now, envelope.arrival_time, s.lifetime(envelope)):
        # qmgr_active.c: an expired message is returned with the reasons from
        # its defer log, reported as failed (defer_flush).
        notices += _failure_notices(s, envelope, deferred, discarded)
        return FinishPlan(Action.EXPIRE, notices, discarded=discarded)
    when = next_attempt(now, envelope.arrival_time, s.minimal_backoff_time, s.maximal_backoff_time)
    warn = needs_delay_warning(now, envelope.arrival_time, s.delay_warning_time, warned)
    # Mail from the double-bounce address is a postmaster notice itself:
    # nobody is warned about it (never a notice about a notice's notice).
    if warn and envelope.sender.lower() != s.double_bounce_sender.lower():
        wanted = [o for o in deferred if o.recipient.wants(Notify.DELAY)]
        if wanted and not envelope.is_null_sender:
            notices.append(NoticePlan(NoticeKind.DELAY, envelope.sender, wanted))
        if "delay" in s.notify_classes:
            notices.append(NoticePlan(NoticeKind.DELAY, s.delay_notice_recipient, deferred,
                                      sender=s.double_bounce_sender, postmaster_copy=True))
    return FinishPlan(Action.DEFER, notices, next_attempt=when, warned=warn, discarded=discarded)


def group_recipients(recipients: Iterable[Recipient], resolve: Callable[[str], Any],
                     ) -> tuple[dict[tuple[str, str], list[Recipient]], list[Outcome]]:
    """Group recipients by (transport, nexthop); resolver verdicts that need no
    agent (defer: 4.3.0, bounce: 5.x.x) become outcomes at once.

    ``resolve(address)`` returns a :class:`~mailflow.address.resolve.Resolution`
    (or anything with ``transport``, ``nexthop``, ``defer``, ``bounce``, ``status``);
    each address is resolved once per call.

    >>> from types import SimpleNamespace as NS
    >>> route = lambda a: NS(transport="virtual", nexthop=a.split("@")[1], defer=False, bounce=False, status=None)
    >>> groups, now = group_recipients([Recipient("a@x"), Recipient("b@x")], route)
    >>> {k: [r.address for r in v] for k, v in groups.items()}, now
    ({('virtual', 'x'): ['a@x', 'b@x']}, [])
    """
    groups: dict[tuple[str, str], list[Recipient]] = {}
    immediate: list[Outcome] = []
    cache: dict[str, Any] = {}
    for rcpt in recipients:
        res = cache.get(rcpt.address)
        if res is None:
            # Bounded: a message with 100,000 distinct recipients must not
            # hold 100,000 verdicts at once (duplicates are usually close
            # together, and the resolver keeps a cache of its own).
            if len(cache) >= GROUP_CACHE_SIZE:
                cache.clear()
            res = cache[rcpt.address] = resolve(rcpt.address)
        if res.defer:
            status = res.status or DsnStatus("4.3.0", "address resolver failure")
            immediate.append(Outcome(rcpt, status))
        elif res.bounce:
            status = res.status or DsnStatus("5.1.3", "bad address syntax")
            immediate.append(Outcome(rcpt, status))
        else:
            groups.setdefault((res.transport, res.nexthop), []).append(rcpt)
    return groups, immediate


@attrs.frozen
class FilterRoute:
    """Where a recipient of a content-filtered message goes: shaped like a
    :class:`~mailflow.address.resolve.Resolution` for
    :func:`group_recipients`, never deferred or bounced by routing."""

    transport: str
    nexthop: str
    defer: bool = False
    bounce: bool = False
    status: DsnStatus | None = None


def filter_route(content_filter: str, address: str, settings: QmgrSettings) -> FilterRoute:
    """Route one recipient of a message with a ``content_filter`` record.

    As Postfix's qmgr (qmgr_message.c, "content filtering overrides the
    address resolver"): the transport is the part before the first ``:``;
    the nexthop is the rest, or when that is empty ``default_filter_nexthop``,
    or when that is empty too the recipient's domain, or ``myhostname`` for
    a recipient without one. The resolver is not asked at all.

    >>> s = QmgrSettings(myhostname="mx.example.com")
    >>> filter_route("scan:[127.0.0.1]:10025", "b@example.net", s).nexthop
    '[127.0.0.1]:10025'
    >>> [filter_route(f, a, s).nexthop for f, a in (("scan:", "b@example.net"), ("scan", "b"))]
    ['example.net', 'mx.example.com']
    >>> filter_route("scan", "b@example.net", attrs.evolve(s, default_filter_nexthop="[::1]:25")).nexthop
    '[::1]:25'
    """
    transport, _, nexthop = content_filter.partition(":")
    if not nexthop:
        nexthop = settings.default_filter_nexthop
    if not nexthop:
        _, at, domain = address.rpartition("@")
        nexthop = domain if at and domain else settings.myhostname
    return FilterRoute(transport, nexthop)


def destination_failed(outcomes: Sequence[Outcome], raised: bool = False) -> bool:
    """Whether a delivery says the destination itself failed (slows it down):
    the agent raised, or every outcome is a 4.4.x (network/routing) status.

    >>> from mailflow.model import DsnStatus, Recipient
    >>> destination_failed([Outcome(Recipient("a@x"), DsnStatus.parse("4.4.1"))])
    True
    >>> destination_failed([Outcome(Recipient("a@x"), DsnStatus.parse("4.2.2"))])
    False
    """
    if raised:
        return True
    return bool(outcomes) and all(o.status.code.startswith("4.4.") for o in outcomes)


def suspended_status(last_failure: DsnStatus | None) -> DsnStatus:
    """The status for mail to a dead destination (Postfix's wording).

    >>> str(suspended_status(DsnStatus("4.4.1", "connect to x: Connection refused")))
    '4.4.1 delivery temporarily suspended: connect to x: Connection refused'
    """
    if last_failure is None:
        return DsnStatus("4.4.1", SUSPENDED + "destination is not reachable")
    return DsnStatus(last_failure.code, SUSPENDED + last_failure.text)
