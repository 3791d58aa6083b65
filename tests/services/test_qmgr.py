"""The queue manager service against a real file spool in tmp_path.

Routing comes from main.cf (``transport_maps`` sends each test domain to a
transport); ``rec`` is a recording agent of the test's own, ``virtual`` the
real Maildir agent. Time is a fake clock; notices are captured unless a
test checks the way through cleanup.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from mailflow.adapters.kick import FLUSH_REQUEST
from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.errors import PermanentFailure, TemporaryFailure
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Notify, Outcome, Recipient
from mailflow.services.qmgr import QueueManager

T0 = 1_700_000_000.0
CONTENT = b"From: a@sender.example\nSubject: test\n\nhello\n"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingAgent:
    """Answers each recipient with ``answer(address)`` (a DsnStatus or an
    exception to raise) and records every request; ``gate`` holds deliveries."""

    def __init__(self, answer: Callable[[str], object] = lambda a: DsnStatus("2.0.0", "delivered")):
        self.answer = answer
        self.requests = []
        self.gate: asyncio.Event | None = None
        self.running = 0
        self.max_running = 0

    async def deliver(self, request):
        self.requests.append(request)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            out = []
            for r in request.recipients:
                answer = self.answer(r.address)
                if isinstance(answer, Exception):
                    raise answer
                out.append(Outcome(r, answer, relay="rec"))
            return out
        finally:
            self.running -= 1

    @property
    def delivered_to(self) -> list[str]:
        return [r.address for req in self.requests for r in req.recipients]


class Harness:
    """A spool, a config and the queue manager's collaborators for one test."""

    def __init__(self, tmp_path: Path, **params: str) -> None:
        self.tmp = tmp_path
        self.mail = tmp_path / "mail"
        base = dict(
            queue_directory=str(tmp_path / "spool"), myhostname="mx.example.com",
            myorigin="example.com", mydestination="", relayhost="",
            virtual_mailbox_domains="virt.example", virtual_mailbox_base=str(self.mail),
            virtual_mailbox_maps="inline:{ u@virt.example=u/ }", virtual_transport="virtual",
            transport_maps="inline:{ rec.example=rec: , sender.example=rec: , "
                           "other.example=rec:other , { error.example = error:5.1.1 no such user } }",
            default_transport="rec",
        )
        base.update(params)
        self.cfg = Config(**base)
        self.store = FileQueueStore(tmp_path / "spool")
        self.clock = FakeClock()
        self.rec = RecordingAgent()
        self.notices: list[tuple[Envelope, Message]] = []

    def notify(self, env: Envelope, msg: Message) -> str:
        self.notices.append((env, msg))
        return "NOTICE%d" % len(self.notices)

    def qmgr(self, **kw) -> QueueManager:
        kw.setdefault("agents", {"rec": self.rec})
        kw.setdefault("notify", self.notify)
        return QueueManager(self.cfg, self.store, clock=self.clock, **kw)

    def enqueue(self, *rcpts: str | Recipient, sender: str = "a@sender.example",
                queue: QueueName = QueueName.INCOMING, content: bytes = CONTENT) -> str:
        recipients = tuple(r if isinstance(r, Recipient) else Recipient(r) for r in rcpts)
        return self.store.enqueue(queue, Envelope(sender, recipients, arrival_time=self.clock.now),
                                  Message(content))

    def ids(self, queue: QueueName) -> list[str]:
        return list(self.store.ids(queue))

    def run(self, body) -> None:
        asyncio.run(body())


def drive(h: Harness, *steps, qm_kw=None):
    """Run a queue manager: each step is ``None`` (run until idle) or a
    callable run between idle points (move the clock, change answers, wake)."""
    async def main():
        qm = h.qmgr(**(qm_kw or {}))
        await qm.run_until_idle()
        for step in steps:
            result = step(qm)
            if asyncio.iscoroutine(result):
                await result
            await qm.run_until_idle()
        await qm.stop()
    asyncio.run(main())


def report(msg: Message):
    """The parsed notice and its per-recipient delivery-status fields."""
    parsed = email.message_from_bytes(msg.data, policy=email.policy.default)
    status = parsed.get_payload()[1].get_payload()
    return parsed, status[1:]


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_delivered_to_maildir_and_removed(h, caplog):
    """A message for a virtual mailbox lands in its Maildir and leaves the queue, logged as Postfix does."""
    caplog.set_level(logging.INFO)
    qid = h.enqueue("u@virt.example")
    drive(h)
    assert len(list((h.mail / "u" / "new").iterdir())) == 1
    assert h.ids(QueueName.INCOMING) == h.ids(QueueName.ACTIVE) == h.ids(QueueName.DEFERRED) == []
    lines = [(r.name, r.getMessage()) for r in caplog.records if r.name != "mailflow.queue"]
    assert ("mailflow.qmgr", f"{qid}: from=<a@sender.example>, size={len(CONTENT)}, nrcpt=1 (queue active)") in lines
    sent = [m for n, m in lines if n == "mailflow.virtual"]
    assert len(sent) == 1 and sent[0].startswith(f"{qid}: to=<u@virt.example>, relay=virtual, delay=")
    assert sent[0].endswith("dsn=2.0.0, status=sent (delivered to maildir)")
    assert ("mailflow.qmgr", f"{qid}: removed") in lines


def test_recipients_grouped_by_destination(h):
    """Recipients of one message for the same transport and nexthop go in one request."""
    h.enqueue("x@rec.example", "y@rec.example", "z@other.example")
    drive(h)
    groups = sorted((req.nexthop, tuple(r.address for r in req.recipients)) for req in h.rec.requests)
    assert groups == [("other", ("z@other.example",)), ("rec.example", ("x@rec.example", "y@rec.example"))]


def test_deferred_with_reason_then_delivered_after_flush(h):
    """A 4xx answer defers the message with its reason; after a flush it is delivered and removed."""
    h.rec.answer = lambda a: DsnStatus("4.2.0", "mailbox busy")
    qid = h.enqueue("x@rec.example")

    def recover(qm):
        h.rec.answer = lambda a: DsnStatus("2.0.0", "delivered")
        qm.wake(FLUSH_REQUEST)

    def check_deferred(qm):
        assert h.ids(QueueName.DEFERRED) == [qid]
        [entry] = h.store.read_log("defer", qid)
        assert (entry.status.code, entry.status.text) == ("4.2.0", "mailbox busy")
        assert h.store.read(qid).next_attempt == T0 + 300   # minimal_backoff_time

    drive(h, check_deferred, recover)
    assert h.rec.delivered_to == ["x@rec.example", "x@rec.example"]
    assert h.ids(QueueName.DEFERRED) == []


def test_deferred_scan_honours_next_attempt(h):
    """A "D" request leaves a deferred message alone until its time has come; "A" ignores the time."""
    h.rec.answer = lambda a: DsnStatus("4.2.0", "mailbox busy")
    qid = h.enqueue("x@rec.example")
    drive(h, lambda qm: qm.wake(b"D"))
    assert len(h.rec.requests) == 1 and h.ids(QueueName.DEFERRED) == [qid]
    drive(h, lambda qm: qm.wake(b"DA"))
    # start (1 attempt is not due yet) + the "A" scan
    assert len(h.rec.requests) == 2


def test_partial_success_is_not_delivered_again(h):
    """Recipients delivered in a failed attempt are not delivered again on the retry."""
    h.rec.answer = lambda a: DsnStatus("4.2.0", "busy") if a.startswith("y") else DsnStatus("2.0.0", "ok")
    h.enqueue("x@rec.example", "y@rec.example")

    def retry(qm):
        h.rec.answer = lambda a: DsnStatus("2.0.0", "ok")
        qm.wake(FLUSH_REQUEST)

    drive(h, retry)
    assert h.rec.delivered_to == ["x@rec.example", "y@rec.example", "y@rec.example"]


def test_expired_message_bounces_with_last_temporary_status(h, caplog):
    """Past maximal_queue_lifetime the sender gets a DSN with Action: failed and the last 4.x.x status."""
    caplog.set_level(logging.INFO)
    h.cfg = h.cfg.with_overrides(maximal_queue_lifetime="1h")
    h.rec.answer = lambda a: DsnStatus("4.4.1", "connect to rec.example: Connection refused")
    qid = h.enqueue("x@rec.example")

    def later(qm):
        h.clock.now += 7200
        qm.wake(FLUSH_REQUEST)

    drive(h, later)
    assert h.ids(QueueName.DEFERRED) == [] and len(h.notices) == 1
    env, msg = h.notices[0]
    assert (env.sender, [r.address for r in env.recipients]) == ("", ["a@sender.example"])
    parsed, [fields] = report(msg)
    assert parsed["Subject"] == "Undelivered Mail Returned to Sender"
    assert (fields["Action"], fields["Status"]) == ("failed", "4.4.1")
    assert "Connection refused" in fields["Diagnostic-Code"]
    messages = [r.getMessage() for r in caplog.records]
    assert f"{qid}: from=<a@sender.example>, status=expired, returned to sender" in messages


def test_lifetime_zero_means_try_once(h):
    """With maximal_queue_lifetime = 0 the first temporary failure returns the message."""
    h.cfg = h.cfg.with_overrides(maximal_queue_lifetime="0")
    h.rec.answer = lambda a: DsnStatus("4.2.0", "busy")
    h.enqueue("x@rec.example")
    drive(h)
    assert len(h.notices) == 1 and h.ids(QueueName.DEFERRED) == []


def test_unknown_virtual_user_bounces_with_original_attached(h):
    """A 5.1.1 from the virtual agent returns the whole message with a per-recipient report."""
    qid = h.enqueue("nobody@virt.example")
    drive(h)
    [(env, msg)] = h.notices
    parsed, [fields] = report(msg)
    assert fields["Final-Recipient"] == "rfc822; nobody@virt.example"
    assert (fields["Action"], fields["Status"]) == ("failed", "5.1.1")
    original = parsed.get_payload()[2]
    assert original.get_content_type() == "message/rfc822"
    assert h.ids(QueueName.ACTIVE) == [] and h.store.read_log("bounce", qid) == []


def test_error_transport_bounces_through_the_error_agent(h):
    """transport_maps ``error:5.1.1 text`` bounces with that status and text."""
    h.enqueue("x@error.example")
    drive(h)
    [(env, msg)] = h.notices
    _, [fields] = report(msg)
    assert fields["Status"] == "5.1.1" and "no such user" in fields["Diagnostic-Code"]


@pytest.mark.parametrize("classes, expect", [
    ("resource, software", []),
    ("2bounce", [("double-bounce@example.com", "postmaster")]),
], ids=["default-classes-discard", "2bounce-class-to-postmaster"])
def test_null_sender_failure(h, classes, expect):
    """A failed null-sender message is never returned to <>; with notify_classes 2bounce it goes to 2bounce_notice_recipient."""
    h.cfg = h.cfg.with_overrides(notify_classes=classes)
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown")
    h.enqueue("x@rec.example", sender="")
    drive(h)
    assert [(env.sender, env.recipients[0].address) for env, _ in h.notices] == expect
    assert h.ids(QueueName.ACTIVE) == []


def test_failed_double_bounce_is_discarded(h, caplog):
    """A message from double-bounce that fails is dropped with a log line, never bounced again."""
    caplog.set_level(logging.INFO)
    h.cfg = h.cfg.with_overrides(notify_classes="2bounce, bounce")
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown")
    qid = h.enqueue("postmaster@rec.example", sender="double-bounce@example.com")
    drive(h)
    assert h.notices == []
    assert f"{qid}: undeliverable postmaster notification discarded" in [r.getMessage() for r in caplog.records]


def test_bounce_class_sends_postmaster_copy(h):
    """notify_classes ``bounce`` adds a headers-only copy to bounce_notice_recipient."""
    h.cfg = h.cfg.with_overrides(notify_classes="bounce")
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown")
    h.enqueue("x@rec.example")
    drive(h)
    assert [env.recipients[0].address for env, _ in h.notices] == ["a@sender.example", "postmaster"]
    parsed, _ = report(h.notices[1][1])
    assert parsed["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert parsed.get_payload()[2].get_content_type() == "text/rfc822-headers"


def test_notify_success_sends_delivery_report(h):
    """NOTIFY=SUCCESS gets a success notice with Action: delivered; others get none."""
    h.enqueue("u@virt.example", Recipient("x@rec.example", notify=frozenset({Notify.SUCCESS})))
    drive(h)
    [(env, msg)] = h.notices
    parsed, fields = report(msg)
    assert parsed["Subject"] == "Successful Mail Delivery Report"
    assert [(f["Final-Recipient"], f["Action"]) for f in fields] == [("rfc822; x@rec.example", "relayed")]


def test_notify_never_sends_no_bounce(h):
    """NOTIFY=NEVER suppresses the non-delivery notice, and the message still leaves the queue."""
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown")
    h.enqueue(Recipient("x@rec.example", notify=frozenset({Notify.NEVER})))
    drive(h)
    assert h.notices == [] and h.ids(QueueName.ACTIVE) == []


def test_delay_warning_sent_once(h):
    """delay_warning_time sends one delay notice, recorded in the spool, never a second."""
    h.cfg = h.cfg.with_overrides(delay_warning_time="1h")
    h.rec.answer = lambda a: DsnStatus("4.2.0", "busy")
    qid = h.enqueue("x@rec.example")

    def later(qm):
        h.clock.now += 4000
        qm.wake(b"DA")

    drive(h, later, later)
    kinds = [report(m)[0]["Subject"] for _, m in h.notices]
    assert kinds == ["Delayed Mail (still being retried)"]
    _, [fields] = report(h.notices[0][1])
    assert (fields["Action"], fields["Status"]) == ("delayed", "4.2.0")
    assert h.store.read(qid).delay_warned
    assert len(h.rec.requests) == 3


def test_crash_leftovers_in_active_are_delivered(h):
    """At start, messages left in active/ go back to incoming/ and are delivered."""
    qid = h.enqueue("x@rec.example", queue=QueueName.ACTIVE)
    drive(h)
    assert h.rec.delivered_to == ["x@rec.example"]
    assert h.ids(QueueName.ACTIVE) == []
    assert qid not in h.ids(QueueName.INCOMING)


def test_agent_exception_defers_with_its_text(h, caplog):
    """An agent that raises defers its recipients with 4.3.0 and the error text; the manager keeps running."""
    caplog.set_level(logging.INFO)
    h.rec.answer = lambda a: RuntimeError("disk on fire")
    qid = h.enqueue("x@rec.example")
    h.enqueue("u@virt.example")
    drive(h)
    assert h.ids(QueueName.DEFERRED) == [qid]
    [entry] = h.store.read_log("defer", qid)
    assert entry.status.code == "4.3.0" and "disk on fire" in entry.status.text
    assert len(list((h.mail / "u" / "new").iterdir())) == 1
    assert any("delivery agent failed: RuntimeError: disk on fire" in r.getMessage() for r in caplog.records)


def test_dead_destination_is_deferred_without_delivery(h, caplog):
    """After the destination failed, its other mail is deferred with "delivery temporarily suspended" without calling the agent."""
    caplog.set_level(logging.INFO)
    h.cfg = h.cfg.with_overrides(initial_destination_concurrency="1")
    h.rec.answer = lambda a: DsnStatus("4.4.1", "connect to rec.example: Connection refused")
    first = h.enqueue("x@rec.example")
    second = h.enqueue("y@rec.example")
    drive(h)
    assert len(h.rec.requests) == 1
    assert sorted(h.ids(QueueName.DEFERRED)) == sorted([first, second])
    [suspended] = {first, second} - {h.rec.requests[0].queue_id}
    [entry] = h.store.read_log("defer", suspended)
    assert entry.status.text == "delivery temporarily suspended: connect to rec.example: Connection refused"
    assert any(r.name == "mailflow.error" and "status=deferred (delivery temporarily suspended" in r.getMessage()
               for r in caplog.records)


def test_flush_revives_dead_destinations(h):
    """postqueue -f ("F") forgets dead destinations, so their mail is tried at once."""
    h.cfg = h.cfg.with_overrides(initial_destination_concurrency="1")
    h.rec.answer = lambda a: DsnStatus("4.4.1", "refused")
    h.enqueue("x@rec.example")
    h.enqueue("y@rec.example")

    def fixed(qm):
        h.rec.answer = lambda a: DsnStatus("2.0.0", "ok")
        qm.wake(FLUSH_REQUEST)

    drive(h, fixed)
    assert sorted(h.rec.delivered_to[1:]) == ["x@rec.example", "y@rec.example"]
    assert h.ids(QueueName.DEFERRED) == []


def test_active_limit_bounds_messages_in_flight(h):
    """qmgr_message_active_limit caps active messages; the rest follow as messages finish."""
    h.cfg = h.cfg.with_overrides(qmgr_message_active_limit="2")
    ids = [h.enqueue(f"m{i}@other{i}.example") for i in range(6)]
    seen = []

    async def body():
        qm = h.qmgr()
        h.rec.gate = asyncio.Event()
        await qm.start()
        for _ in range(50):
            await asyncio.sleep(0.01)
            seen.append(len(h.ids(QueueName.ACTIVE)))
            if len(h.rec.requests) >= 2:
                break
        h.rec.gate.set()
        await qm.run_until_idle()
        await qm.stop()
    asyncio.run(body())
    assert max(seen) == 2 and h.rec.max_running == 2
    assert len(h.rec.requests) == len(ids) and h.ids(QueueName.INCOMING) == []


def test_notice_goes_through_cleanup_and_is_delivered(h):
    """Without a notify hook the bounce is queued by cleanup and delivered like other mail."""
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown") if a.startswith("x@") else DsnStatus("2.0.0", "ok")
    h.enqueue("x@rec.example")
    drive(h, qm_kw={"notify": None})
    notice = h.rec.requests[-1]
    assert [r.address for r in notice.recipients] == ["a@sender.example"]
    assert notice.envelope.sender == ""
    _, [fields] = report(notice.message)
    assert fields["Status"] == "5.1.1"
    assert h.ids(QueueName.INCOMING) == h.ids(QueueName.ACTIVE) == []


def test_reload_changes_routing(h):
    """After reload the new transport_maps decide where new mail goes."""
    h.enqueue("x@rec.example")

    def reroute(qm):
        qm.reload(h.cfg.with_overrides(transport_maps="inline:{ rec.example=rec:elsewhere }"))
        h.enqueue("y@rec.example")
        qm.wake(b"I")

    drive(h, reroute)
    assert [req.nexthop for req in h.rec.requests] == ["rec.example", "elsewhere"]


def test_stop_leaves_undelivered_mail_for_next_start(h):
    """A stop that times out leaves the message in active/; the next start delivers it."""
    qid = h.enqueue("x@rec.example")

    async def body():
        qm = h.qmgr()
        h.rec.gate = asyncio.Event()
        await qm.start()
        while not h.rec.requests:
            await asyncio.sleep(0.005)
        await qm.stop(timeout=0.05)
    asyncio.run(body())
    assert h.ids(QueueName.ACTIVE) == [qid]
    h.rec.gate = None
    drive(h)
    assert h.rec.delivered_to == ["x@rec.example", "x@rec.example"]
    assert h.ids(QueueName.ACTIVE) == []


def test_cleanup_deferred_recipient_waits(h):
    """A recipient cleanup could not expand (its defer log entry) is deferred with that status, not delivered."""
    qid = h.enqueue("x@rec.example", "loop@rec.example")
    h.store.append_log("defer", qid, Outcome(Recipient("loop@rec.example"),
                                             DsnStatus("4.6.0", "virtual alias loop")))
    drive(h, lambda qm: qm.wake(FLUSH_REQUEST))
    assert h.rec.delivered_to == ["x@rec.example"]
    assert h.ids(QueueName.DEFERRED) == [qid]
    assert [o.status.code for o in h.store.read_log("defer", qid)][0] == "4.6.0"


@pytest.mark.skipif(shutil.which("pflogsumm") is None, reason="pflogsumm is not installed")
def test_pflogsumm_counts_deliveries_deferrals_and_bounces(h):
    """Postfix's pflogsumm reads the queue manager's log: 2 delivered, 1 deferred, 1 bounced."""
    from mailflow.maillog import PostfixFormatter
    logfile = h.tmp / "maillog"
    handler = logging.FileHandler(logfile)
    handler.setFormatter(PostfixFormatter(hostname="mx", syslog_name="mailflow"))
    logger = logging.getLogger("mailflow")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    answers = {"d": DsnStatus("4.2.0", "busy"), "b": DsnStatus("5.1.1", "unknown")}
    h.rec.answer = lambda a: answers.get(a[0], DsnStatus("2.0.0", "ok"))
    h.enqueue("s1@rec.example", "s2@rec.example")
    h.enqueue("d@rec.example")
    h.enqueue("b@rec.example")
    try:
        drive(h)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()
    out = subprocess.run(["pflogsumm", "--syslog-name=mailflow", str(logfile)],
                         capture_output=True, text=True, check=True).stdout
    totals = dict((m.group(2), int(m.group(1)))
                  for m in re.finditer(r"^\s+(\d+)\s+(delivered|deferred|bounced)\b", out, re.M))
    assert totals == {"delivered": 2, "deferred": 1, "bounced": 1}


def test_forced_expiry_returns_message_without_delivery(h):
    """A message marked with postsuper -e is returned to its sender at the next attempt, not delivered."""
    qid = h.enqueue("x@rec.example", queue=QueueName.DEFERRED)
    h.store.set_next_attempt(qid, QueueName.DEFERRED, T0 + 10_000)
    h.store.expire(qid, QueueName.DEFERRED)
    drive(h)
    assert h.rec.requests == [] and h.ids(QueueName.DEFERRED) == []
    [(env, msg)] = h.notices
    _, [fields] = report(msg)
    assert (fields["Action"], fields["Status"]) == ("failed", "4.7.0")
    assert "administratively expired" in fields["Diagnostic-Code"]


@pytest.mark.parametrize("exc, code, queue", [
    (PermanentFailure(DsnStatus("5.3.0", "mailbox is a directory")), "5.3.0", None),
    (TemporaryFailure(DsnStatus("4.2.2", "mailbox full")), "4.2.2", QueueName.DEFERRED),
], ids=["permanent-bounces", "temporary-defers"])
def test_agent_failure_with_a_status_uses_it(h, exc, code, queue):
    """An agent that fails a whole request with a DSN status gets that status for every recipient."""
    h.rec.answer = lambda a: exc
    qid = h.enqueue("x@rec.example")
    drive(h)
    if queue is None:
        [(env, msg)] = h.notices
        assert report(msg)[1][0]["Status"] == code
        assert h.ids(QueueName.DEFERRED) == []
    else:
        assert h.ids(queue) == [qid] and h.store.read_log("defer", qid)[0].status.code == code


def test_unknown_transport_is_deferred_as_unavailable(h):
    """A transport with no agent defers its mail with "mail transport unavailable"."""
    h.cfg = h.cfg.with_overrides(transport_maps="inline:{ rec.example=nosuchtransport: }")
    qid = h.enqueue("x@rec.example")
    drive(h)
    [entry] = h.store.read_log("defer", qid)
    assert (entry.status.code, entry.status.text) == ("4.3.0", "mail transport unavailable")


def test_local_alias_forwarding_is_resubmitted_and_delivered(h):
    """A local alias to a remote address is resubmitted through cleanup and then delivered."""
    from mailflow.delivery.local import LocalAgent
    h.cfg = h.cfg.with_overrides(mydestination="example.com", local_transport="local")
    local = LocalAgent(h.cfg, users={}, alias_maps="inline:{ sales=u@virt.example }")
    h.enqueue("sales@example.com")
    drive(h, qm_kw={"agents": {"rec": h.rec, "local": local}})
    [path] = (h.mail / "u" / "new").iterdir()
    assert b"Subject: test" in path.read_bytes()
    assert h.ids(QueueName.INCOMING) == h.ids(QueueName.ACTIVE) == h.ids(QueueName.DEFERRED) == []


# Postfix 3.7.11 with maximal_queue_lifetime = 0 and transport_maps
# { tmp.example = retry:4.4.1 try later }: `sendmail -f a@sender.example
# x@tmp.example`; its maillog lines (prefix cut to "SERVICE: ", queue IDs
# normalised) and the notice that reached a@sender.example's Maildir.
POSTFIX_EXPIRY_LOG = [
    "error: Q1: to=<x@tmp.example>, relay=none, dsn=4.4.1, status=deferred (try later)",
    "qmgr: Q1: from=<a@sender.example>, status=expired, returned to sender",
    "bounce: Q1: sender non-delivery notification: Q2",
    "qmgr: Q1: removed",
]
POSTFIX_EXPIRY_FIELDS = {"Final-Recipient": "rfc822; x@tmp.example", "Action": "failed",
                         "Status": "4.4.1", "Diagnostic-Code": "X-Postfix; try later"}
POSTFIX_EXPIRY_TEXT_LINE = "<x@tmp.example>: try later"


def test_expiry_matches_postfix(h, caplog):
    """With maximal_queue_lifetime = 0 a deferral returns the message with Postfix's log lines and DSN fields."""
    caplog.set_level(logging.INFO)
    h.cfg = h.cfg.with_overrides(maximal_queue_lifetime="0",
                                 transport_maps="inline:{ { tmp.example = retry:4.4.1 try later } }")
    qid = h.enqueue("x@tmp.example")
    drive(h)
    lines = [f"{r.name.split('.', 1)[1]}: {r.getMessage()}" for r in caplog.records
             if r.name in ("mailflow.qmgr", "mailflow.error", "mailflow.retry", "mailflow.bounce")
             and "(queue active)" not in r.getMessage()]
    lines = [re.sub(r", delay=[\d.]+, delays=[\d./]+", "", line).replace(qid, "Q1").replace("NOTICE1", "Q2")
             for line in lines]
    # Embedded, the retry transport logs under its own name; Postfix runs it as error(8).
    assert [line.replace("retry:", "error:", 1) for line in lines] == POSTFIX_EXPIRY_LOG
    [(env, msg)] = h.notices
    parsed, [fields] = report(msg)
    assert {k: fields[k] for k in POSTFIX_EXPIRY_FIELDS} == POSTFIX_EXPIRY_FIELDS
    assert POSTFIX_EXPIRY_TEXT_LINE in parsed.get_payload()[0].get_content()


def test_large_message_is_read_again_for_delivery(h, monkeypatch):
    """A message above the in-memory limit is read from the spool for each delivery, content intact."""
    import mailflow.services.qmgr as qmgr_module
    monkeypatch.setattr(qmgr_module, "CONTENT_CACHE_LIMIT", 10)
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown") if a.startswith("b") else DsnStatus("2.0.0", "ok")
    h.enqueue("a@rec.example", "b@other.example")
    drive(h)
    assert [req.message.data for req in h.rec.requests] == [CONTENT, CONTENT]
    [(env, msg)] = h.notices
    assert b"hello" in msg.data


def gated_run(h: Harness, wanted_requests: int) -> list[int]:
    """Start with the agent held until ``wanted_requests`` deliveries wait (or 0.5 s pass);
    return how many messages were in active/ meanwhile, then release and finish."""
    seen = []

    async def body():
        qm = h.qmgr()
        h.rec.gate = asyncio.Event()
        await qm.start()
        for _ in range(50):
            await asyncio.sleep(0.01)
            seen.append(len(h.ids(QueueName.ACTIVE)))
            if len(h.rec.requests) >= wanted_requests:
                break
        h.rec.gate.set()
        await qm.run_until_idle()
        await qm.stop()
    asyncio.run(body())
    return seen


def test_recipient_limit_bounds_active_recipients(h):
    """qmgr_message_recipient_limit stops activation once that many recipients are active."""
    h.cfg = h.cfg.with_overrides(qmgr_message_recipient_limit="2")
    for i in range(4):
        h.enqueue(f"a{i}@other{i}.example", f"b{i}@other{i}.example")
    seen = gated_run(h, 2)
    assert max(seen) == 1 and h.rec.max_running == 1
    assert len(h.rec.requests) == 4 and h.ids(QueueName.INCOMING) == []


def test_destination_concurrency_limit(h):
    """TRANSPORT_destination_concurrency_limit caps parallel deliveries to one destination."""
    h.cfg = h.cfg.with_overrides(rec_destination_concurrency_limit="2")
    for i in range(5):
        h.enqueue(f"x{i}@rec.example")
    gated_run(h, 5)
    assert h.rec.max_running == 2 and len(h.rec.requests) == 5


def test_async_notify_hook_is_awaited(h):
    """A coroutine notify hook receives the notice like a plain one."""
    got = []

    async def notify(env, msg):
        await asyncio.sleep(0)
        got.append(env.recipients[0].address)
        return "NOTICE"
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown")
    h.enqueue("x@rec.example")
    drive(h, qm_kw={"notify": notify})
    assert got == ["a@sender.example"]


# Postfix 3.7.11, transport_maps { tmp.example = retry:4.4.1 try later },
# delay_warning_time = 2s, maximal_queue_lifetime = 1d, minimal/maximal
# backoff 1s/2s, queue_run_delay = 1s: `sendmail -f a@sender.example
# x@tmp.example`, left to retry for 11 s. One "sender delay notification"
# in the maillog; the notice in a@sender.example's Maildir had these parts
# and per-recipient fields (Will-Retry-Until = Arrival-Date + 1 day).
POSTFIX_DELAY_SUBJECT = "Delayed Mail (still being retried)"
POSTFIX_DELAY_PARTS = ["Notification", "Delivery report", "Undelivered Message Headers"]
POSTFIX_DELAY_FIELDS = {"Final-Recipient": "rfc822; x@tmp.example", "Action": "delayed",
                        "Status": "4.4.1", "Diagnostic-Code": "X-Postfix; try later"}


def test_delay_notice_matches_postfix(h, caplog):
    """The delay notice has Postfix's subject, parts and fields, and is sent once over many retries."""
    caplog.set_level(logging.INFO)
    h.cfg = h.cfg.with_overrides(maximal_queue_lifetime="1d", delay_warning_time="2s",
                                 minimal_backoff_time="1s", maximal_backoff_time="2s",
                                 transport_maps="inline:{ { tmp.example = retry:4.4.1 try later } }")
    qid = h.enqueue("x@tmp.example")

    def later(qm):
        h.clock.now += 1.5
        qm.wake(b"D")

    drive(h, *[later] * 6)
    assert len([r for r in caplog.records if "delay notification" in r.getMessage()]) == 1
    [(env, msg)] = h.notices
    parsed, [fields] = report(msg)
    assert parsed["Subject"] == POSTFIX_DELAY_SUBJECT
    assert [p["Content-Description"] for p in parsed.get_payload()] == POSTFIX_DELAY_PARTS
    assert {k: fields[k] for k in POSTFIX_DELAY_FIELDS} == POSTFIX_DELAY_FIELDS
    retry_until = email.utils.parsedate_to_datetime(fields["Will-Retry-Until"].split(" (")[0])
    assert retry_until.timestamp() == T0 + 86400
    assert h.ids(QueueName.DEFERRED) == [qid]


def test_restart_of_the_same_object_starts_clean(h):
    """A queue manager stopped with work pending and started again delivers each message once more, not twice."""
    h.enqueue("x@rec.example")

    async def body():
        qm = h.qmgr()
        h.rec.gate = asyncio.Event()
        await qm.start()
        while not h.rec.requests:
            await asyncio.sleep(0.005)
        await qm.stop(timeout=0.01)
        h.rec.gate = None
        await qm.run_until_idle()
        await qm.stop()
    asyncio.run(body())
    assert h.rec.delivered_to == ["x@rec.example", "x@rec.example"]
    assert h.ids(QueueName.ACTIVE) == []


class LogFailsOnce(FileQueueStore):
    """A spool whose first read of a defer log fails (a disk error)."""

    failed = False

    def read_log(self, kind, queue_id):
        if kind == "defer" and not self.failed:
            self.failed = True
            raise OSError("Input/output error")
        return super().read_log(kind, queue_id)


def test_failed_activation_returns_the_message_and_its_room(h, caplog):
    """A message whose activation fails after the move goes back to its queue, frees its recipient room and is delivered at the next scan."""
    h.store = LogFailsOnce(h.tmp / "spool")
    qid = h.enqueue("x@rec.example")
    budgets = []

    def wake_again(qm):
        budgets.append(qm._rcpts)
        qm.wake(b"I")
    drive(h, wake_again)
    assert budgets == [0] and h.ids(QueueName.INCOMING) == []
    assert h.rec.delivered_to == ["x@rec.example"] and h.ids(QueueName.ACTIVE) == []
    assert any(f"{qid}: cannot activate: OSError" in r.getMessage() for r in caplog.records)


class SlowBounceLog(FileQueueStore):
    """A spool whose bounce-log appends take a while (a busy disk)."""

    def append_log(self, kind, queue_id, outcome):
        if kind == "bounce":
            import time
            time.sleep(0.2)
        super().append_log(kind, queue_id, outcome)


def test_last_delivery_waits_for_the_bounce_log_of_an_earlier_one(h):
    """A message whose bounced delivery finished first is returned to its sender even when its last delivery finishes while that bounce is still being logged."""
    h.store = SlowBounceLog(h.tmp / "spool")

    async def answer_late(address):
        await asyncio.sleep(0.05)      # finishes after the bounce, while it is being logged
        return DsnStatus("2.0.0", "delivered")

    class TwoSpeeds(RecordingAgent):
        async def deliver(self, request):
            self.requests.append(request)
            out = []
            for r in request.recipients:
                if r.address.startswith("b"):
                    out.append(Outcome(r, DsnStatus("5.1.1", "unknown"), relay="rec"))
                else:
                    out.append(Outcome(r, await answer_late(r.address), relay="rec"))
            return out
    h.rec = TwoSpeeds()
    h.enqueue("b@other.example", "a@rec.example")
    drive(h)
    [(env, msg)] = h.notices
    assert env.recipients[0].address == "a@sender.example"
    assert h.ids(QueueName.INCOMING) == h.ids(QueueName.ACTIVE) == h.ids(QueueName.DEFERRED) == []


def test_bounce_logged_before_a_crash_is_still_returned(h):
    """A recipient marked bounced before a crash, its notice not yet sent, is still reported to the sender after the restart."""
    from mailflow.model import RecipientState
    gone = Recipient("b@other.example", state=RecipientState.BOUNCED)
    qid = h.enqueue(gone, "a@rec.example", queue=QueueName.ACTIVE)
    h.store.append_log("bounce", qid, Outcome(Recipient("b@other.example"),
                                              DsnStatus("5.1.1", "unknown user"), relay="rec"))
    drive(h)
    assert h.rec.delivered_to == ["a@rec.example"]
    [(env, msg)] = h.notices
    assert env.recipients[0].address == "a@sender.example"
    assert b"<b@other.example>: unknown user" in msg.data
    assert h.ids(QueueName.ACTIVE) == h.ids(QueueName.INCOMING) == []


class BounceLogFailsOnce(FileQueueStore):
    """A spool whose first read of a bounce log fails (a disk error)."""

    failed = False

    def read_log(self, kind, queue_id):
        if kind == "bounce" and not self.failed:
            self.failed = True
            raise OSError("Input/output error")
        return super().read_log(kind, queue_id)


def test_message_that_cannot_be_finished_is_deferred_and_retried(h, caplog):
    """A message whose finish fails waits in deferred/ (not in active/ until a restart) and its bounce goes out at the next attempt."""
    h.store = BounceLogFailsOnce(h.tmp / "spool")
    h.rec.answer = lambda a: DsnStatus("5.1.1", "unknown user")
    qid = h.enqueue("b@other.example")
    parked = []

    def later(qm):
        parked.append(h.ids(QueueName.DEFERRED))
        h.clock.now += 3600
        qm.wake(b"D")
    drive(h, later)
    assert parked == [[qid]]
    assert any(f"{qid}: cannot finish: OSError" in r.getMessage() for r in caplog.records)
    [(env, msg)] = h.notices
    assert b"<b@other.example>: unknown user" in msg.data
    assert h.ids(QueueName.DEFERRED) == h.ids(QueueName.ACTIVE) == []
