"""Fakes and a whole-pipeline harness for testing mail logic under pytest.

This module owns what mailflow ships for people who test mail logic without
a mail server: :class:`FakeClock` (time that moves only when told),
:class:`StaticResolver` (DNS answers from a dict), :class:`RecordingAgent`
(a delivery agent that records what it was given and answers with the
status a test chose), :class:`MemoryQueueStore` (the spool in a dict), and
:class:`MailSystem`, which joins the real cleanup and the real queue manager
over an in-memory spool, with recording agents in place of mailboxes and
networks. A test sends a message, runs the queue, and inspects what was
delivered, what is deferred, the bounce the sender would get and the log
lines Postfix would write: in milliseconds, without root, without files.

It never touches the network, the file system (unless a test hands it a
file spool) or the real clock's idea of "now" for mail decisions.

>>> system = MailSystem(myhostname="mx.example.com", mydestination="",
...                     virtual_alias_domains="example.com",
...                     virtual_alias_maps="inline:{ sales@example.com=ann@example.net }")
>>> reply = system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org",
...                     ["sales@example.com", "nobody@example.com"])
>>> system.deliver_all()
>>> [(d.recipient, d.transport, d.status.code) for d in system.delivered if d.sender]
[('ann@example.net', 'smtp', '2.0.0')]
>>> bounce = system.bounces[0]
>>> bounce["Subject"], bounce["To"]
('Undelivered Mail Returned to Sender', 'bob@example.org')
"""

from __future__ import annotations

import email
import email.message
import email.policy
import fnmatch
import logging
import re
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import attrs

from mailflow.errors import MailflowError
from mailflow.interfaces import QueueName, QueuedMessage, QueueStore
from mailflow.model import DeliveryRequest, DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.queue.memory import MemoryQueueStore

__all__ = ["FakeClock", "StaticResolver", "RecordingAgent", "MemoryQueueStore", "MailSystem",
           "Attempt", "Deferral", "Notice", "DEFAULT_START", "REAL_BY_DEFAULT",
           "assert_delivered", "assert_bounced", "assert_deferred", "describe",
           "ReceivedMessage", "SmtpServerThread"]

#: Where a :class:`FakeClock` starts: 2026-01-01 00:00:00 UTC, so that dates
#: in headers and notices are the same in every run.
DEFAULT_START = 1_767_225_600.0

#: Transports a :class:`MailSystem` always runs for real: they do no I/O and
#: their answer is part of routing (an unknown user in a virtual alias
#: domain is the ``error`` transport's 5.1.1, not a delivery).
REAL_BY_DEFAULT = frozenset({"error", "discard", "retry"})

# Rounds of "deliver what is queued" per run: mail that delivery queues
# again (local(8) forwarding) is picked up by the next round.
_MAX_ROUNDS = 50
# How often (real seconds) a run looks whether the queue manager is waiting
# for a time that the fake clock can jump to.
_TIMER_POLL = 0.02

_CODE = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})(?:\s+(.*))?$", re.S)


def as_status(value: DsnStatus | str) -> DsnStatus:
    """A DSN status from ``"5.1.1 User unknown"``, a bare ``"4.4.1"`` (RFC 3463's
    text) or a :class:`DsnStatus`.

    >>> as_status("5.1.1 User unknown")
    DsnStatus(code='5.1.1', text='User unknown')
    >>> str(as_status("4.4.1"))
    '4.4.1 No answer from host'
    """
    if isinstance(value, DsnStatus):
        return value
    m = _CODE.match(str(value))
    if m is None:
        raise MailflowError(f"{value!r}: not a DSN status; write it like '5.1.1 User unknown'")
    code, text = m.group(1), (m.group(2) or "").strip()
    return DsnStatus.parse(code, text or None)


# --- time ---------------------------------------------------------------------

class FakeClock:
    """A :class:`~mailflow.interfaces.Clock` that moves only when told.

    It is also callable, so it fits wherever a component takes
    ``clock=time.time``.

    >>> clock = FakeClock(1000.0)
    >>> clock.now(), clock()
    (1000.0, 1000.0)
    >>> clock.advance(300)
    1300.0
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"

    def now(self) -> float:
        """The current fake time in seconds since the epoch."""
        return self._now

    __call__ = now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backward); return the new time.

        >>> FakeClock(0).advance(1.5)
        1.5
        """
        if seconds < 0:
            raise ValueError("a clock does not go backward")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, when: float) -> None:
        """Jump to ``when`` (seconds since the epoch), e.g. to start a test at a given date.

        >>> c = FakeClock(); c.set(60.0); c.now()
        60.0
        """
        with self._lock:
            self._now = float(when)


# --- DNS ------------------------------------------------------------------------

def _dns_key(name: str, rtype: str) -> tuple[str, str]:
    # DNS names compare case-insensitively (RFC 4343) and "example.com." is
    # the same name as "example.com".
    return name.rstrip(".").lower(), rtype.upper()


class StaticResolver:
    """A :class:`~mailflow.interfaces.DnsResolver` that answers from a dict.

    Keys are ``(name, rtype)``; values are the answers as text, in the form
    the real resolver returns them (``"10 mx.example.com"`` for MX,
    ``"192.0.2.1"`` for A). A name with no answer of that type returns an
    empty list (the name exists, without records of that type); :meth:`nxdomain`
    makes a name not exist; :meth:`fail` makes a lookup raise instead (a DNS
    outage).
    Every query is recorded in :attr:`queries`.

    >>> import asyncio
    >>> dns = StaticResolver({("example.com", "MX"): ["10 mx.example.com"]})
    >>> dns.add("mx.example.com", "A", "192.0.2.25")
    StaticResolver(2 names)
    >>> asyncio.run(dns.query("Example.COM.", "mx")), asyncio.run(dns.query("nowhere.test", "A"))
    (['10 mx.example.com'], [])
    >>> dns.queries
    [('example.com', 'MX'), ('nowhere.test', 'A')]
    """

    def __init__(self, answers: Mapping[tuple[str, str], Iterable[str] | str] | None = None) -> None:
        self._answers: dict[tuple[str, str], list[str]] = {}
        self._failures: dict[tuple[str, str], BaseException] = {}
        self._missing: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        for (name, rtype), values in (answers or {}).items():
            self.add(name, rtype, *([values] if isinstance(values, str) else values))

    def __repr__(self) -> str:
        return f"StaticResolver({len(self._answers)} names)"

    def add(self, name: str, rtype: str, *answers: str) -> "StaticResolver":
        """Add answers for ``name``/``rtype`` (after any already there); returns self."""
        self._answers.setdefault(_dns_key(name, rtype), []).extend(answers)
        return self

    def fail(self, name: str, rtype: str, error: BaseException | None = None) -> "StaticResolver":
        """Make lookups of ``name``/``rtype`` raise ``error`` (default: a
        :class:`~mailflow.errors.TemporaryFailure` with status 4.4.3).

        >>> import asyncio
        >>> dns = StaticResolver().fail("broken.example", "MX")
        >>> asyncio.run(dns.query("broken.example", "MX"))
        Traceback (most recent call last):
        ...
        mailflow.errors.TemporaryFailure: 4.4.3 Host or domain name not found. Name service error for name=broken.example type=MX: Host not found, try again
        """
        key = _dns_key(name, rtype)
        if error is None:
            from mailflow.errors import TemporaryFailure
            # Postfix's wording for a DNS lookup that timed out (dns_lookup.c).
            error = TemporaryFailure(DsnStatus(
                "4.4.3", f"Host or domain name not found. Name service error for "
                         f"name={key[0]} type={key[1]}: Host not found, try again"))
        self._failures[key] = error
        return self

    def nxdomain(self, name: str) -> "StaticResolver":
        """Make ``name`` not exist: every lookup of it raises
        :class:`~mailflow.errors.DnsNotFound` with Postfix's text, as the real
        resolver does for NXDOMAIN.

        >>> import asyncio
        >>> asyncio.run(StaticResolver().nxdomain("gone.example").query("gone.example", "MX"))
        Traceback (most recent call last):
        ...
        mailflow.errors.DnsNotFound: Host or domain name not found. Name service error for name=gone.example type=MX: Host not found
        """
        self._missing.add(_dns_key(name, "")[0])
        return self

    async def query(self, name: str, rtype: str) -> list[str]:
        """The answers for ``name``/``rtype`` (a copy), or raise the configured failure."""
        key = _dns_key(name, rtype)
        self.queries.append(key)
        if key in self._failures:
            raise self._failures[key]
        if key[0] in self._missing:
            from mailflow.errors import DnsNotFound
            raise DnsNotFound(f"Host or domain name not found. Name service error for "
                              f"name={key[0]} type={key[1]}: Host not found")
        return list(self._answers.get(key, ()))


# --- delivery ---------------------------------------------------------------------

#: The status a :class:`RecordingAgent` gives a recipient no rule matches.
DELIVERED = DsnStatus("2.0.0", "delivered")


@attrs.define
class _Rule:
    pattern: Any            # str (address, "@domain", glob) or compiled regexp
    status: DsnStatus
    times: int | None       # None: every time

    def matches(self, address: str) -> bool:
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.search(address) is not None
        pattern = self.pattern.lower()
        address = address.lower()
        if pattern.startswith("@"):
            return address.rpartition("@")[2] == pattern[1:]
        if any(c in pattern for c in "*?["):
            return fnmatch.fnmatchcase(address, pattern)
        return address == pattern


class RecordingAgent:
    """A :class:`~mailflow.interfaces.DeliveryAgent` that records each request
    and answers every recipient with a status chosen by the test.

    Rules are tried in the order they were added; the first that matches the
    recipient's address decides. A pattern is an address (``bob@example.com``,
    case-insensitive), a domain (``@example.com``), a glob
    (``*@*.example.com``) or a compiled regular expression. ``times=N`` makes
    a rule apply to its first N matches only (a mailbox that is full once,
    then accepts). Recipients no rule matches get ``default``
    (``2.0.0 delivered``).

    >>> import asyncio
    >>> from mailflow.model import Envelope
    >>> agent = RecordingAgent().answer("@full.example", "4.2.2 Mailbox full", times=1)
    >>> r = Recipient("ann@full.example")
    >>> req = DeliveryRequest("4Q1", "smtp", "full.example", Envelope("a@b.example", (r,)), (r,))
    >>> [str(o.status) for o in asyncio.run(agent.deliver(req))]
    ['4.2.2 Mailbox full']
    >>> [str(o.status) for o in asyncio.run(agent.deliver(req))]
    ['2.0.0 delivered']
    >>> len(agent.requests), agent.recipients
    (2, ['ann@full.example'])
    """

    def __init__(self, answers: Mapping[Any, DsnStatus | str] | Iterable[tuple[Any, Any]] = (), *,
                 default: DsnStatus | str = DELIVERED, relay: str | None = None) -> None:
        self.default = as_status(default)
        self.relay = relay
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.requests: list[DeliveryRequest] = []
        self.outcomes: list[Outcome] = []
        items = answers.items() if isinstance(answers, Mapping) else answers
        for pattern, status in items:
            self.answer(pattern, status)

    def __repr__(self) -> str:
        return f"<RecordingAgent rules={len(self._rules)} requests={len(self.requests)}>"

    def answer(self, pattern: str | re.Pattern, status: DsnStatus | str, *,
               times: int | None = None) -> "RecordingAgent":
        """Answer recipients matching ``pattern`` with ``status``; returns self."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        self._rules.append(_Rule(pattern, as_status(status), times))
        return self

    def status_for(self, address: str) -> DsnStatus:
        """The status the next delivery to ``address`` gets (uses up a ``times`` rule).

        >>> RecordingAgent({"@example.net": "5.1.1"}).status_for("x@EXAMPLE.net").code
        '5.1.1'
        """
        with self._lock:
            for rule in self._rules:
                if rule.times == 0 or not rule.matches(address):
                    continue
                if rule.times is not None:
                    rule.times -= 1
                return rule.status
        return self.default

    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]:
        """Record ``request``; one outcome per recipient from the rules."""
        relay = self.relay or request.transport
        outcomes = [Outcome(r, self.status_for(r.address), relay=relay)
                    for r in request.recipients]
        with self._lock:
            self.requests.append(request)
            self.outcomes.extend(outcomes)
        return outcomes

    @property
    def recipients(self) -> list[str]:
        """Addresses delivered to (2.x.x), in order."""
        return [o.recipient.address for o in self.outcomes if o.status.is_success]

    def clear(self) -> None:
        """Forget the recorded requests (the rules stay)."""
        with self._lock:
            self.requests.clear()
            self.outcomes.clear()


# --- results of a MailSystem ----------------------------------------------------

@attrs.frozen
class Attempt:
    """One recipient's result from one delivery agent call.

    >>> a = Attempt("4Q1", "smtp", "example.net", "a@example.org", "b@example.net",
    ...             "b@example.net", DsnStatus("2.0.0", "delivered"), Message(b"x: y\\n\\n"))
    >>> a.status.is_success, a.email["x"]
    (True, 'y')
    """

    queue_id: str
    transport: str
    nexthop: str
    sender: str
    recipient: str          # the address delivered to (after rewriting and expansion)
    original: str           # the address as submitted (Postfix's orig_to)
    status: DsnStatus
    message: Message = attrs.field(repr=False)

    @property
    def email(self) -> email.message.EmailMessage:
        """The delivered message, parsed by the ``email`` package."""
        return self.message.email_message()


@attrs.frozen
class Deferral:
    """A recipient waiting in the deferred queue, with the reason of its last attempt.

    >>> Deferral("4Q1", "a@example.org", "b@example.net", "b@example.net",
    ...          DsnStatus("4.4.1", "connection refused"), 1300.0).status.code
    '4.4.1'
    """

    queue_id: str
    sender: str
    recipient: str
    original: str
    status: DsnStatus
    next_attempt: float     # when the queue manager will try again


@attrs.frozen
class Notice:
    """A delivery status notice the system queued (bounce, delay or success).

    ``actions`` are the RFC 3464 ``Action`` values of its recipients
    (``failed``, ``delayed``, ``delivered``, ...).
    """

    queue_id: str | None    # the notice's own queue ID
    envelope: Envelope
    message: Message = attrs.field(repr=False)

    @property
    def email(self) -> email.message.EmailMessage:
        """The notice parsed by the ``email`` package (a ``multipart/report``)."""
        return self.message.email_message()

    @property
    def actions(self) -> list[str]:
        """The per-recipient ``Action:`` values of the delivery-status part."""
        out: list[str] = []
        for part in self.email.walk():
            if part.get_content_type() == "message/delivery-status":
                for block in part.get_payload()[1:]:
                    if block["Action"]:
                        out.append(str(block["Action"]).strip().lower())
        return out


class _Tap:
    """Wraps an agent to record each outcome for the MailSystem."""

    def __init__(self, sink: list, agent: Any) -> None:
        self._sink = sink
        self.agent = agent

    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]:
        outcomes = await self.agent.deliver(request)
        env = request.envelope
        for o in outcomes:
            self._sink.append(Attempt(request.queue_id, request.transport, request.nexthop,
                                      env.sender, o.recipient.address, o.recipient.original,
                                      o.status, request.message))
        return outcomes


class _LogCapture(logging.Handler):
    """Postfix-format lines of ``mailflow.*`` records, stamped with the fake clock."""

    def __init__(self, lines: list[str], clock: Callable[[], float], cfg: Any) -> None:
        super().__init__(logging.DEBUG)
        from mailflow.maillog import PostfixFormatter
        self.lines = lines
        self.clock = clock
        self.setFormatter(PostfixFormatter(hostname=str(cfg.myhostname),
                                           syslog_name=str(cfg.syslog_name)))

    def emit(self, record: logging.LogRecord) -> None:
        record = logging.makeLogRecord(record.__dict__)
        record.created = self.clock()
        self.lines.append(self.format(record))


def _split_transport(value: str) -> str:
    return str(value).split(":", 1)[0].strip()


# --- the harness ------------------------------------------------------------------

class MailSystem:
    """Cleanup and the queue manager over an in-memory spool, for tests.

    Built from a :class:`~mailflow.config.Config` (or a config directory, or
    nothing) plus parameters as keywords. Mail is sent with :meth:`send`
    (cleanup runs as for ``sendmail``: missing headers, canonical and
    virtual alias maps, header and body checks) and delivered with
    :meth:`deliver_all` (or ``await system.run()`` in an async test), which
    runs the real queue manager until nothing is left to do now.

    Every transport gets a :class:`RecordingAgent` (see :meth:`agent`),
    except ``error``, ``discard`` and ``retry``, which run for real, the
    transports named in ``real`` (built from the delivery agent registry,
    e.g. ``real=["virtual"]`` with ``virtual_mailbox_base`` in a tmp dir),
    and the agents given in ``agents``. Time is a :class:`FakeClock`:
    ``system.clock.advance(3600)`` then :meth:`deliver_all` retries the
    deferred mail that is due.

    Results: :attr:`attempts` (every agent answer), :attr:`delivered`,
    :attr:`bounced`, :attr:`deferred` (what waits in the deferred queue now),
    :attr:`notices` and :attr:`bounces` (the non-delivery notices as
    ``email`` objects), :attr:`log` (Postfix-format log lines).

    >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
    >>> _ = system.agent("smtp").answer("@down.example", "4.4.1 Connection refused")
    >>> _ = system.send("Subject: x\\n\\nhi\\n", "a@example.org", "b@down.example")
    >>> system.deliver_all()
    >>> [(d.recipient, str(d.status)) for d in system.deferred]
    [('b@down.example', '4.4.1 Connection refused')]
    >>> any("status=deferred (Connection refused)" in line for line in system.log)
    True
    """

    def __init__(self, config: Any = None, *, store: QueueStore | None = None,
                 clock: FakeClock | None = None, agents: Mapping[str, Any] | None = None,
                 real: Iterable[str] = (), pipeline: Any = None,
                 resolver: Any = None, **params: Any) -> None:
        from mailflow.config import Config
        if config is None:
            cfg = Config(**params)
        elif isinstance(config, Config):
            cfg = config.with_overrides(**params) if params else config
        else:                                   # a config directory
            cfg = Config.from_directory(config)
            cfg = cfg.with_overrides(**params) if params else cfg
        self.config = cfg
        self.clock = clock if clock is not None else FakeClock()
        self.store = store if store is not None else MemoryQueueStore(clock=self.clock)
        self.real = frozenset(real) | REAL_BY_DEFAULT
        self.resolver = resolver if resolver is not None else StaticResolver()
        self.attempts: list[Attempt] = []
        self.notices: list[Notice] = []
        self.log: list[str] = []
        self._agents: dict[str, Any] = dict(agents or {})
        from mailflow.address.resolve import TrivialRewrite
        from mailflow.services.cleanup import CleanupService
        from mailflow.services.skeleton import is_delivery_agent
        self.rewrite = TrivialRewrite.from_config(cfg)
        self.cleanup = CleanupService(cfg, self.store, pipeline=pipeline, clock=self.clock,
                                      wake=False)
        self.transports = {s.service: s for s in cfg.master
                           if s.type == "unix" and is_delivery_agent(s.command)}
        self._capturing = False
        self._handler = _LogCapture(self.log, self.clock, cfg)

    def __repr__(self) -> str:
        return (f"<MailSystem {self.store!r} delivered={len(self.delivered)} "
                f"notices={len(self.notices)}>")

    # --- input ----------------------------------------------------------------
    def send(self, message: Any, sender: str, recipients: str | Iterable[str | Recipient], *,
             notify: Iterable[str] | None = None, ret: str | None = None,
             envid: str | None = None, origin: str = "pickup", **info: Any) -> Any:
        """Run one message through cleanup into the queue, as ``sendmail`` would.

        ``message`` is bytes, str, a :class:`~mailflow.model.Message` or an
        ``email.message.Message``; ``recipients`` one address or several.
        ``info`` goes to cleanup (``uid``, ``fullname``, ``client``). Returns
        cleanup's reply: ``reply.queue_id``, ``reply.action`` (``queue``,
        ``hold``, ``discard``, ``reject``), ``reply.status``.
        """
        from mailflow.submit import as_message, build_envelope
        if isinstance(recipients, (str, Recipient)):
            recipients = [recipients]
        envelope = build_envelope(sender, recipients, envid=envid, ret=ret, notify=notify)
        with self._capture():
            return self.cleanup.submit(envelope, as_message(message), origin=origin, **info)

    # --- running -----------------------------------------------------------------
    def agent(self, transport: str) -> RecordingAgent:
        """The recording agent for ``transport``, made on first use.

        >>> system = MailSystem(myhostname="mx.example.com")
        >>> system.agent("smtp") is system.agent("smtp")
        True
        """
        agent = self._agents.get(transport)
        if agent is None:
            agent = self._agents[transport] = RecordingAgent()
        if not isinstance(agent, RecordingAgent):
            raise MailflowError(f"transport {transport!r} has a real agent, not a recording one")
        return agent

    async def run(self, *, flush: bool = False) -> None:
        """Deliver everything that is due now: incoming mail, due deferred
        mail, and the notices and forwarded mail that delivery queues.

        ``flush=True`` is ``postqueue -f``: all deferred mail is tried now,
        due or not, and destinations marked dead are tried again.
        """
        from mailflow.services.qmgr import QueueManager
        with self._capture():
            try:
                for _ in range(_MAX_ROUNDS):
                    qm = QueueManager(self.config, self.store, agents=self._agent_map(),
                                      clock=self.clock, notify=self._queue_notice,
                                      transports=self.transports)
                    try:
                        await self._until_idle(qm, flush)
                        flush = False
                    finally:
                        await qm.stop()
                    if not self._ids(QueueName.INCOMING):
                        return
                raise MailflowError(f"mail is still arriving after {_MAX_ROUNDS} queue runs "
                                    "(a forwarding loop?)")
            finally:
                # A real smtp/lmtp agent keeps connections open for the next
                # message; they belong to this run's event loop, which
                # deliver_all() closes, so they end (QUIT) with the run.
                for agent in self._agents.values():
                    if hasattr(agent, "aclose"):
                        await agent.aclose()

    async def _until_idle(self, qm: Any, flush: bool) -> None:
        import asyncio
        if flush:
            await qm.start()
            qm.wake(b"FA")            # qmgr's flush requests: forget dead sites, all deferred
        task = asyncio.ensure_future(qm.run_until_idle())
        while True:
            done, _ = await asyncio.wait({task}, timeout=_TIMER_POLL)
            if done:
                return task.result()
            # The queue manager waits for a time (a destination rate delay,
            # a dead destination coming back): on a fake clock that time
            # comes at once, as in a discrete-event simulation.
            when = qm.scheduler.next_event(self.clock.now())
            if when is not None and hasattr(self.clock, "set"):
                self.clock.set(when)
                qm.wake(b"W")

    def deliver_all(self, *, flush: bool = False) -> None:
        """:meth:`run` from synchronous code (starts and ends its own event loop)."""
        import asyncio
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.run(flush=flush))
            return
        raise MailflowError("deliver_all() cannot run inside an event loop; "
                            "use 'await system.run()' there")

    def explain(self, addresses: str | Iterable[str], sender: str | None = None) -> list:
        """:func:`mailflow.address.explain.explain` under this system's configuration.

        >>> MailSystem(myhostname="mx.example.com", mydestination="").explain("a@example.net")[0].nexthop
        'example.net'
        """
        from mailflow.address.explain import explain
        return explain(addresses, self.rewrite, sender=sender)

    # --- time travel -------------------------------------------------------------
    def advance(self, seconds: float) -> float:
        """Move the fake clock ``seconds`` forward and deliver what is then due;
        return the new time.

        >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
        >>> system.advance(60) - DEFAULT_START
        60.0
        """
        now = self.clock.advance(seconds)
        self.deliver_all()
        return now

    def retry(self) -> float | None:
        """Jump to the next retry time of the deferred mail (the earliest
        ``next_attempt``, as the backoff set it) and deliver what is due;
        return the new time, or None when nothing is deferred.

        >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
        >>> _ = system.agent("smtp").answer("@slow.example", "4.4.1 Connection timed out", times=1)
        >>> _ = system.send("Subject: x\\n\\nhi\\n", "a@example.org", "b@slow.example")
        >>> system.deliver_all()
        >>> system.retry() - DEFAULT_START     # minimal_backoff_time later
        300.0
        >>> system.deferred, system.retry()
        ([], None)
        """
        due = [d.next_attempt for d in self.deferred]
        if not due:
            return None
        when = min(due)
        if when > self.clock.now():
            self.clock.set(when)
        self.deliver_all()
        return self.clock.now()

    def expire(self, *, max_retries: int = 1000) -> int:
        """Retry the deferred mail at each retry time until none is left: it
        is delivered, or it outlives ``maximal_queue_lifetime`` (and
        ``bounce_queue_lifetime`` for notices) and bounces as in Postfix.
        Returns how many retry times passed.

        >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
        >>> _ = system.agent("smtp").answer("@down.example", "4.4.1 Connection refused")
        >>> _ = system.send("Subject: x\\n\\nhi\\n", "a@example.org", "b@down.example")
        >>> system.deliver_all()
        >>> system.expire() > 0, system.deferred
        (True, [])
        >>> (system.clock.now() - DEFAULT_START) // 86400     # days: the default lifetime is 5d
        5.0
        """
        for count in range(max_retries + 1):
            if self.retry() is None:
                return count
        raise MailflowError(f"mail is still deferred after {max_retries} retries: "
                            f"{[d.recipient for d in self.deferred]}")

    # --- assertions ------------------------------------------------------------------
    def assert_delivered(self, to: str | None = None, **criteria: Any) -> Attempt:
        """:func:`assert_delivered` on this system."""
        return assert_delivered(self, to, **criteria)

    def assert_bounced(self, recipient: str | None = None, **criteria: Any) -> Any:
        """:func:`assert_bounced` on this system."""
        return assert_bounced(self, recipient, **criteria)

    def assert_deferred(self, recipient: str | None = None, **criteria: Any) -> Deferral:
        """:func:`assert_deferred` on this system."""
        return assert_deferred(self, recipient, **criteria)

    # --- results ----------------------------------------------------------------
    @property
    def delivered(self) -> list[Attempt]:
        """Successful deliveries (2.x.x), in order."""
        return [a for a in self.attempts if a.status.is_success]

    @property
    def bounced(self) -> list[Attempt]:
        """Agent answers that bounced a recipient (5.x.x), in order."""
        return [a for a in self.attempts if a.status.is_permanent]

    @property
    def deferred(self) -> list[Deferral]:
        """Recipients waiting in the deferred queue now, with their last reason."""
        out: list[Deferral] = []
        for queue_id in self._ids(QueueName.DEFERRED):
            head = self.store.read(queue_id, QueueName.DEFERRED, with_content=False)
            for o in self.store.read_log("defer", queue_id):
                out.append(Deferral(queue_id, head.envelope.sender, o.recipient.address,
                                    o.recipient.original, o.status, head.next_attempt))
        return out

    @property
    def bounces(self) -> list[email.message.EmailMessage]:
        """The non-delivery notices (some recipient ``Action: failed``) as ``email`` objects."""
        return [n.email for n in self.notices if "failed" in n.actions]

    def queue(self, name: QueueName | str) -> list[QueuedMessage]:
        """The messages in one queue (``incoming``, ``deferred``, ``hold``, ...)."""
        name = QueueName(name)
        return [self.store.read(q, name) for q in self._ids(name)]

    # --- internals -------------------------------------------------------------------
    def _ids(self, queue: QueueName) -> list[str]:
        return list(self.store.ids(queue))

    def _queue_notice(self, envelope: Envelope, message: Message) -> str | None:
        # The queue manager's notify hook: a notice enters through cleanup
        # like any other mail (bounce(8) does the same), and is recorded.
        reply = self.cleanup.submit(envelope, message, origin="bounce")
        if not reply.accepted:
            raise MailflowError(f"cleanup refused the notice: {reply.status}")
        result = reply.result
        self.notices.append(Notice(reply.queue_id,
                                   result.envelope if result is not None else envelope,
                                   result.message if result is not None else message))
        return reply.queue_id

    async def _resubmit(self, envelope: Envelope, message: Message) -> str | None:
        # local(8) forwarding (.forward, aliases to remote addresses).
        reply = self.cleanup.submit(envelope, message, origin="local")
        if not reply.accepted:
            raise MailflowError(f"cleanup refused the forwarded message: {reply.status}")
        return reply.queue_id

    def _make_agent(self, transport: str) -> Any:
        if transport not in self.real:
            return RecordingAgent()
        from mailflow.delivery.registry import create_agent
        entry = self.transports.get(transport)
        command = getattr(entry, "command", transport)
        hooks: dict[str, Any] = {"resubmit": self._resubmit} if command == "local" else {}
        if command in ("smtp", "lmtp"):
            # The real SMTP/LMTP client looks up MX and A records: in a
            # MailSystem it asks the fake DNS, never the network's.
            hooks["resolver"] = self.resolver
        return create_agent(transport, self.config, entry, **hooks)

    def _wanted_transports(self) -> set[str]:
        """Every transport the next run may use: configured ones, master.cf
        delivery services, and where queued recipients and senders resolve."""
        cfg = self.config
        wanted = {_split_transport(cfg[name]) for name in
                  ("local_transport", "virtual_transport", "relay_transport", "default_transport")}
        wanted |= set(self.transports)
        addresses: set[tuple[str, str]] = set()
        for queue in (QueueName.INCOMING, QueueName.DEFERRED):
            for queue_id in self._ids(queue):
                env = self.store.read(queue_id, queue, with_content=False).envelope
                if env.content_filter:         # all its recipients go to the filter
                    wanted.add(_split_transport(env.content_filter))
                addresses.update((r.address, env.sender) for r in env.pending())
                if env.sender:                 # where its notices would go
                    addresses.add((env.sender, ""))
        for name in ("2bounce_notice_recipient", "bounce_notice_recipient",
                     "delay_notice_recipient", "error_notice_recipient"):
            addresses.add((str(cfg[name]), ""))
        for address, sender in addresses:
            try:
                wanted.add(self.rewrite.resolve(address, sender).transport)
            except Exception:  # noqa: BLE001 - the queue manager reports it at delivery
                continue
        return {t for t in wanted if t}

    def _agent_map(self) -> dict[str, Any]:
        for transport in self._wanted_transports():
            if transport not in self._agents:
                self._agents[transport] = self._make_agent(transport)
        return {t: _Tap(self.attempts, a) for t, a in self._agents.items()}

    @contextmanager
    def _capture(self) -> Iterator[None]:
        if self._capturing:              # e.g. an agent calling send() during run()
            yield
            return
        logger = logging.getLogger("mailflow")
        level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(self._handler)
        self._capturing = True
        try:
            yield
        finally:
            self._capturing = False
            logger.removeHandler(self._handler)
            logger.setLevel(level)


# --- assertions ----------------------------------------------------------------------

def _same_address(pattern: str, *addresses: str) -> bool:
    # Addresses compare as trivial-rewrite's canonical form does: the
    # domain case-insensitively, the local part as written.
    def norm(a: str) -> str:
        local, at, domain = a.strip().strip("<>").rpartition("@")
        return f"{local}@{domain.lower()}" if at else domain
    want = norm(pattern)
    return any(a is not None and norm(a) == want for a in addresses)


def _status_matcher(want: DsnStatus | str | None) -> Callable[[DsnStatus], bool]:
    # "5.1.1" matches the code; "5.1.1 User unknown" also needs the text in
    # the reason; a DsnStatus must be equal. A bad one is an error at once,
    # not a silent mismatch.
    if want is None:
        return lambda got: True
    if isinstance(want, DsnStatus):
        return lambda got: got == want
    m = _CODE.match(str(want))
    if m is None:
        raise MailflowError(f"{want!r}: not a DSN status; write it like '5.1.1' "
                            "or '5.1.1 User unknown'")
    code, text = m.group(1), (m.group(2) or "").strip()
    return lambda got: got.code == code and text in got.text


def _when(seconds: float) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S")


@attrs.frozen
class _Failure:
    """One recipient of a non-delivery notice: what the sender is told."""

    notice: Notice
    recipient: str          # Final-Recipient
    original: str | None    # Original-Recipient
    status: DsnStatus
    diagnostic: str


def _address_field(value: Any) -> str | None:
    # "rfc822; ann@example.com" -> "ann@example.com"
    if value is None:
        return None
    return str(value).partition(";")[2].strip() or None


def _failures(system: MailSystem) -> list[_Failure]:
    out: list[_Failure] = []
    for notice in system.notices:
        for part in notice.email.walk():
            if part.get_content_type() != "message/delivery-status":
                continue
            for block in part.get_payload()[1:]:
                if str(block["Action"] or "").strip().lower() != "failed":
                    continue
                diagnostic = " ".join(str(block["Diagnostic-Code"] or "").split())
                code = str(block["Status"] or "5.0.0").strip()
                text = diagnostic.partition(";")[2].strip()
                out.append(_Failure(notice, _address_field(block["Final-Recipient"]) or "",
                                    _address_field(block["Original-Recipient"]),
                                    DsnStatus.parse(code, text or None), diagnostic))
    return out


def describe(system: MailSystem) -> str:
    """What a :class:`MailSystem` did, one line per event, in the words of
    Postfix's log: every agent answer, what waits in the deferred queue,
    every bounce notice, and held mail. The assertion helpers show it when
    they fail.

    >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
    >>> print(describe(system))
      (no mail was sent)
    >>> _ = system.send("Subject: x\\n\\nhi\\n", "a@example.org", "b@example.net")
    >>> system.deliver_all()
    >>> print(describe(system))
      to=<b@example.net>, relay=smtp[example.net], dsn=2.0.0, status=sent (delivered)
    """
    lines: list[str] = []
    for a in system.attempts:
        kind = "sent" if a.status.is_success else "bounced" if a.status.is_permanent else "deferred"
        orig = f", orig_to=<{a.original}>" if a.original and a.original != a.recipient else ""
        sender = "" if a.sender else " (a notice, from <>)"
        lines.append(f"to=<{a.recipient}>{orig}, relay={a.transport}[{a.nexthop}], "
                     f"dsn={a.status.code}, status={kind} ({a.status.text}){sender}")
    for d in system.deferred:
        lines.append(f"in the deferred queue: {d.queue_id} to=<{d.recipient}> "
                     f"({d.status}), next attempt {_when(d.next_attempt)}")
    for f in _failures(system):
        to = ", ".join(r.address for r in f.notice.envelope.recipients)
        lines.append(f"bounce notice to <{to}>: <{f.recipient}> failed, "
                     f"Status: {f.status.code} ({f.diagnostic or f.status.text})")
    for held in system.queue(QueueName.HOLD):
        lines.append(f"on hold: {held.queue_id} to="
                     + ", ".join(f"<{r.address}>" for r in held.envelope.recipients))
    return "\n".join("  " + line for line in lines) if lines else "  (no mail was sent)"


def _fail(wanted: str, system: MailSystem) -> AssertionError:
    return AssertionError(f"{wanted}\nwhat happened instead:\n{describe(system)}")


def _wanted(what: str, address: str | None, criteria: Mapping[str, Any]) -> str:
    # "no delivery to <a@b> transport='lmtp'"; without an address, "no delivery transport='lmtp'".
    words = [what if address else what.rsplit(" ", 1)[0]]
    words += [f"<{address}>"] if address else []
    words += [f"{k}={v!r}" for k, v in criteria.items() if v is not None]
    return " ".join(words)


def assert_delivered(system: MailSystem, to: str | None = None, *, transport: str | None = None,
                     nexthop: str | None = None, sender: str | None = None,
                     status: DsnStatus | str | None = None) -> Attempt:
    """Assert that an agent accepted mail for ``to`` (the final address or the
    one submitted), through ``transport`` to ``nexthop`` if given; return that
    :class:`Attempt`. When none matches, the error lists what happened instead.

    >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
    >>> _ = system.send("Subject: x\\n\\nhi\\n", "a@example.org", "b@example.net")
    >>> system.deliver_all()
    >>> assert_delivered(system, to="b@example.net", transport="smtp").nexthop
    'example.net'
    >>> assert_delivered(system, to="b@example.net", transport="lmtp")
    Traceback (most recent call last):
    ...
    AssertionError: no delivery to <b@example.net> transport='lmtp'
    what happened instead:
      to=<b@example.net>, relay=smtp[example.net], dsn=2.0.0, status=sent (delivered)
    """
    status_ok = _status_matcher(status)
    for a in system.delivered:
        if ((to is None or _same_address(to, a.recipient, a.original))
                and (transport is None or a.transport == transport)
                and (nexthop is None or a.nexthop == nexthop)
                and (sender is None or _same_address(sender, a.sender))
                and status_ok(a.status)):
            return a
    raise _fail(_wanted("no delivery to", to, dict(transport=transport, nexthop=nexthop,
                                                   sender=sender, status=status)), system)


def assert_bounced(system: MailSystem, recipient: str | None = None, *,
                   status: DsnStatus | str | None = None,
                   sender: str | None = None) -> email.message.EmailMessage:
    """Assert that the sender got a non-delivery notice saying ``recipient``
    failed with ``status`` (``"5.1.1"``, or ``"5.1.1 User unknown"`` to check
    the reason too); return the notice. Mail that expired after temporary
    failures bounces too, with its last ``4.x.x`` status, as in Postfix.

    >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
    >>> _ = system.agent("smtp").answer("nobody@example.net", "5.1.1 User unknown")
    >>> _ = system.send("Subject: x\\n\\nhi\\n", "a@example.org", "nobody@example.net")
    >>> system.deliver_all()
    >>> assert_bounced(system, recipient="nobody@example.net", status="5.1.1")["To"]
    'a@example.org'
    >>> assert_bounced(system, recipient="nobody@example.net", status="5.7.1")
    Traceback (most recent call last):
    ...
    AssertionError: no bounce for <nobody@example.net> status='5.7.1'
    what happened instead:
      to=<nobody@example.net>, relay=smtp[example.net], dsn=5.1.1, status=bounced (User unknown)
      to=<a@example.org>, relay=smtp[example.org], dsn=2.0.0, status=sent (delivered) (a notice, from <>)
      bounce notice to <a@example.org>: <nobody@example.net> failed, Status: 5.1.1 (X-Postfix; User unknown)
    """
    status_ok = _status_matcher(status)
    for f in _failures(system):
        if ((recipient is None or _same_address(recipient, f.recipient, f.original or ""))
                and (sender is None or _same_address(
                    sender, *(r.address for r in f.notice.envelope.recipients)))
                and status_ok(f.status)):
            return f.notice.email
    raise _fail(_wanted("no bounce for", recipient, dict(status=status, sender=sender)), system)


def assert_deferred(system: MailSystem, recipient: str | None = None, *,
                    status: DsnStatus | str | None = None) -> Deferral:
    """Assert that mail for ``recipient`` waits in the deferred queue now,
    with ``status`` as the reason of its last attempt; return the
    :class:`Deferral` (``next_attempt`` says when it is retried).

    >>> system = MailSystem(myhostname="mx.example.com", mydestination="")
    >>> _ = system.agent("smtp").answer("@down.example", "4.4.1 Connection refused")
    >>> _ = system.send("Subject: x\\n\\nhi\\n", "a@example.org", "b@down.example")
    >>> system.deliver_all()
    >>> assert_deferred(system, "b@down.example", status="4.4.1").next_attempt - DEFAULT_START
    300.0
    """
    status_ok = _status_matcher(status)
    for d in system.deferred:
        if ((recipient is None or _same_address(recipient, d.recipient, d.original))
                and status_ok(d.status)):
            return d
    raise _fail(_wanted("nothing deferred for", recipient, dict(status=status)), system)


# --- a real smtpd in a thread -------------------------------------------------------

@attrs.frozen
class ReceivedMessage:
    """One message a :class:`SmtpServerThread` accepted: the envelope as the
    client gave it and the message as received.

    >>> m = ReceivedMessage(Envelope("a@example.org", (Recipient("b@example.net"),)),
    ...                     Message(b"Subject: hi\\n\\nhello\\n"))
    >>> m.sender, m.recipients, m.email["Subject"]
    ('a@example.org', ['b@example.net'], 'hi')
    """

    envelope: Envelope
    message: Message = attrs.field(repr=False)

    @property
    def sender(self) -> str:
        """The MAIL FROM address ('' for the null sender)."""
        return self.envelope.sender

    @property
    def recipients(self) -> list[str]:
        """The RCPT TO addresses, in order."""
        return [r.address for r in self.envelope.recipients]

    @property
    def email(self) -> email.message.EmailMessage:
        """The message parsed by the ``email`` package."""
        return self.message.email_message()


#: Parameters of a :class:`SmtpServerThread` unless the test gives others:
#: fixed names (the defaults come from the machine's name) and no reverse
#: DNS lookup of the client.
SMTPD_TEST_PARAMS = {"myhostname": "mx.example.com", "mydomain": "example.com",
                     "smtpd_peername_lookup": "no"}


class SmtpServerThread:
    """mailflow's smtpd (:class:`~mailflow.services.smtpd.SmtpServer`) on a
    free port of 127.0.0.1, with its own event loop in a background thread,
    recording every message it accepts in :attr:`messages` instead of
    queueing it. Use it as a context manager (or :meth:`start` and
    :meth:`stop`): a peer for a program's SMTP client in a test.

    ``params`` are main.cf parameters (smtpd restrictions, limits, TLS);
    ``dns`` a resolver for the DNS-based restrictions (default: a
    :class:`StaticResolver` with no records); ``handler(envelope, message)``
    decides the reply (None: ``250 2.0.0 Ok``; a
    :class:`~mailflow.smtp.reply.Reply` is sent as it is) after the message
    is recorded.

    >>> import smtplib
    >>> with SmtpServerThread() as server:
    ...     with smtplib.SMTP(server.host, server.port) as client:
    ...         _ = client.sendmail("a@example.org", ["b@example.net"], "Subject: hi\\r\\n\\r\\nhello\\r\\n")
    >>> [(m.sender, m.recipients, m.email["Subject"]) for m in server.messages]
    [('a@example.org', ['b@example.net'], 'hi')]
    """

    host = "127.0.0.1"

    def __init__(self, *, handler: Callable[[Envelope, Message], Any] | None = None,
                 dns: Any = None, **params: Any) -> None:
        from mailflow.config import Config
        self.config = Config(**{**SMTPD_TEST_PARAMS, **params})
        self.handler = handler
        self.dns = dns if dns is not None else StaticResolver()
        self.messages: list[ReceivedMessage] = []
        self.port = 0
        self.server: Any = None
        self._loop: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<SmtpServerThread {self.host}:{self.port} messages={len(self.messages)}>"

    def __enter__(self) -> "SmtpServerThread":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def _accept(self, envelope: Envelope, message: Message) -> Any:
        # Recorded first: a handler that rejects still shows what arrived.
        self.messages.append(ReceivedMessage(envelope, message))
        if self.handler is None:
            return None
        answer = self.handler(envelope, message)
        if hasattr(answer, "__await__"):
            answer = await answer
        return answer

    def start(self) -> "SmtpServerThread":
        """Start listening; returns self once the port accepts connections."""
        import asyncio
        if self._thread is not None:
            raise MailflowError("the server is already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="mailflow-smtpd", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise MailflowError("the smtpd test server did not start within 30 s")
        if self._error is not None:
            self._thread.join(5)
            raise self._error
        return self

    def _run(self) -> None:
        import asyncio
        from mailflow.services.smtpd import SmtpServer
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            self.server = SmtpServer(self.config, handler=self._accept, dns=self.dns)
            self.port = loop.run_until_complete(self.server.start(self.host, 0))[0][1]
        except BaseException as exc:     # raised again in the thread that called start()
            self._error = exc
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.server.stop(grace=2))
            loop.close()

    def stop(self) -> None:
        """Stop listening and end the thread (sessions get 2 s to finish)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._error is None and thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
        thread.join(10)

    def clear(self) -> None:
        """Forget the messages received so far."""
        self.messages.clear()
