"""mailflow.testing: the fakes and the MailSystem harness behave as documented."""

from __future__ import annotations

import asyncio
import calendar
import re
import shutil
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.errors import MailflowError, TemporaryFailure
from mailflow.interfaces import QueueName
from mailflow.model import DeliveryRequest, DsnStatus, Envelope, Recipient
from mailflow.testing import (DEFAULT_START, FakeClock, MailSystem, RecordingAgent,
                              StaticResolver, as_status)

# A small site: local mail for mx.example.com, a virtual alias domain, a
# relay domain, and everything else to smtp.
SITE = dict(myhostname="mx.example.com", mydomain="example.com",
            mydestination="$myhostname", relay_domains="relay.example",
            virtual_alias_domains="alias.example",
            virtual_alias_maps="inline:{ sales@alias.example=ann@mx.example.com }",
            alias_maps="", local_recipient_maps="")

MESSAGE = b"Subject: quarterly report\n\nnumbers\n"


def request_for(*addresses: str, transport: str = "smtp") -> DeliveryRequest:
    rcpts = tuple(Recipient(a) for a in addresses)
    return DeliveryRequest("4Q1", transport, "example.net", Envelope("a@example.org", rcpts), rcpts)


def statuses(agent: RecordingAgent, *addresses: str) -> list[str]:
    return [str(o.status) for o in asyncio.run(agent.deliver(request_for(*addresses)))]


def status_parts(notice: EmailMessage) -> list[dict[str, str]]:
    """The per-recipient blocks of a notice's message/delivery-status part."""
    report = next(p for p in notice.walk() if p.get_content_type() == "message/delivery-status")
    return [{k: str(v) for k, v in block.items()} for block in report.get_payload()[1:]]


def rules(tmp_path, text: str) -> str:
    path = tmp_path / "header_checks"
    path.write_text(text)
    return f"regexp:{path}"


# --- FakeClock --------------------------------------------------------------------

def test_fake_clock_starts_at_a_fixed_date():
    """A new FakeClock reads 2026-01-01 00:00 UTC, whatever the real time is."""
    assert FakeClock().now() == DEFAULT_START == calendar.timegm((2026, 1, 1, 0, 0, 0))


def test_fake_clock_moves_only_when_advanced():
    """now() stays put until advance(), which moves it by exactly that much."""
    clock = FakeClock(100.0)
    assert (clock.now(), clock.now()) == (100.0, 100.0)
    assert clock.advance(2.5) == 102.5 == clock()


def test_fake_clock_refuses_to_go_backward():
    """advance() with a negative number is an error, not time travel."""
    with pytest.raises(ValueError):
        FakeClock().advance(-1)


# --- StaticResolver -----------------------------------------------------------------

@pytest.mark.parametrize("name, rtype", [
    ("example.com", "MX"), ("EXAMPLE.com", "mx"), ("example.com.", "MX"),
], ids=["exact", "case-folded", "trailing-dot"])
def test_static_resolver_answers_from_its_table(name, rtype):
    """Names compare case-insensitively and without the root dot."""
    dns = StaticResolver({("example.com", "MX"): ["10 mx1.example.com", "20 mx2.example.com"]})
    assert asyncio.run(dns.query(name, rtype)) == ["10 mx1.example.com", "20 mx2.example.com"]


def test_static_resolver_has_no_answer_for_unknown_names():
    """A name or type it does not know gives an empty answer."""
    dns = StaticResolver({("example.com", "MX"): "10 mx.example.com"})
    assert asyncio.run(dns.query("example.com", "AAAA")) == []


def test_static_resolver_failure_is_temporary():
    """fail() makes the lookup raise a 4.4.3 TemporaryFailure naming the query."""
    dns = StaticResolver().fail("broken.example", "A")
    with pytest.raises(TemporaryFailure) as info:
        asyncio.run(dns.query("broken.example", "A"))
    assert info.value.status.code == "4.4.3" and "name=broken.example type=A" in str(info.value)


def test_static_resolver_records_queries():
    """Every lookup is recorded in order, in normalised form."""
    dns = StaticResolver()
    for name in ("A.example.", "b.example"):
        asyncio.run(dns.query(name, "mx"))
    assert dns.queries == [("a.example", "MX"), ("b.example", "MX")]


# --- RecordingAgent ---------------------------------------------------------------

@pytest.mark.parametrize("value, code, text", [
    ("5.1.1 User unknown", "5.1.1", "User unknown"),
    ("4.4.1", "4.4.1", "No answer from host"),
    (DsnStatus("2.0.0", "ok"), "2.0.0", "ok"),
], ids=["code-and-text", "bare-code", "status-object"])
def test_status_values_are_read_like_postfix_writes_them(value, code, text):
    """A status is given as text with a code, a bare code or a DsnStatus."""
    assert as_status(value) == DsnStatus(code, text)


def test_status_without_a_code_is_refused():
    """A status text without an RFC 3463 code is an error that says how to write it."""
    with pytest.raises(MailflowError, match="5.1.1 User unknown"):
        RecordingAgent(default="sure")


def test_recording_agent_delivers_by_default():
    """With no rules, every recipient is delivered with 2.0.0."""
    assert statuses(RecordingAgent(), "a@x.example", "b@y.example") == ["2.0.0 delivered"] * 2


@pytest.mark.parametrize("pattern, address, matches", [
    ("bob@example.com", "Bob@Example.COM", True),
    ("bob@example.com", "bobby@example.com", False),
    ("@example.com", "ann@example.com", True),
    ("@example.com", "ann@sub.example.com", False),
    ("*@*.example.com", "ann@sub.example.com", True),
    (re.compile(r"^postmaster@"), "postmaster@example.net", True),
    (re.compile(r"^postmaster@"), "ann@example.net", False),
], ids=["address", "address-other", "domain", "domain-not-sub", "glob", "regexp", "regexp-other"])
def test_recording_agent_rule_patterns(pattern, address, matches):
    """A rule matches by address, @domain, glob or regular expression."""
    agent = RecordingAgent({pattern: "5.1.1 User unknown"})
    expected = "5.1.1 User unknown" if matches else "2.0.0 delivered"
    assert statuses(agent, address) == [expected]


def test_recording_agent_first_rule_wins():
    """Rules are tried in the order they were added."""
    agent = (RecordingAgent().answer("vip@example.com", "2.0.0 fast lane")
             .answer("@example.com", "4.2.2 Mailbox full"))
    assert statuses(agent, "vip@example.com", "joe@example.com") == [
        "2.0.0 fast lane", "4.2.2 Mailbox full"]


def test_recording_agent_rule_with_times_runs_out():
    """A rule with times=2 answers the first two matches, then the default applies."""
    agent = RecordingAgent().answer("@example.com", "4.4.1 timeout", times=2)
    assert statuses(agent, *["a@example.com"] * 3) == ["4.4.1 timeout"] * 2 + ["2.0.0 delivered"]


def test_recording_agent_records_requests_and_outcomes():
    """Each request is kept; recipients lists the delivered addresses only."""
    agent = RecordingAgent({"@bad.example": "5.1.2 no such domain"}, relay="mx.example.net")
    asyncio.run(agent.deliver(request_for("a@good.example", "b@bad.example")))
    assert len(agent.requests) == 1 and agent.recipients == ["a@good.example"]
    assert {o.relay for o in agent.outcomes} == {"mx.example.net"}


def test_recording_agent_clear_keeps_rules():
    """clear() forgets what was recorded but not how to answer."""
    agent = RecordingAgent({"@example.com": "5.0.0 no"})
    statuses(agent, "a@example.com")
    agent.clear()
    assert (agent.requests, agent.outcomes) == ([], [])
    assert statuses(agent, "a@example.com") == ["5.0.0 no"]


# --- MailSystem: routing and delivery -----------------------------------------------

@pytest.mark.parametrize("recipient, final, transport, nexthop", [
    ("joe@mx.example.com", "joe@mx.example.com", "local", "mx.example.com"),
    ("sales@alias.example", "ann@mx.example.com", "local", "mx.example.com"),
    ("ops@relay.example", "ops@relay.example", "relay", "relay.example"),
    ("kim@example.net", "kim@example.net", "smtp", "example.net"),
], ids=["local", "virtual-alias", "relay", "default"])
def test_mail_system_routes_like_trivial_rewrite(recipient, final, transport, nexthop):
    """Each recipient reaches the recording agent of its address class's transport."""
    system = MailSystem(**SITE)
    system.send(MESSAGE, "alice@example.org", recipient)
    system.deliver_all()
    got = [(d.original, d.recipient, d.transport, d.nexthop) for d in system.delivered]
    assert got == [(recipient, final, transport, nexthop)]


def test_mail_system_delivers_the_cleaned_up_message():
    """The delivered message has the headers cleanup adds (From, Date, Message-Id)."""
    system = MailSystem(**SITE)
    system.send(MESSAGE, "alice@example.org", "kim@example.net")
    system.deliver_all()
    delivered = system.delivered[0].email
    assert (delivered["From"], delivered["Subject"]) == ("alice@example.org", "quarterly report")
    assert delivered["Message-Id"].endswith("@mx.example.com>") and delivered["Date"]


def test_mail_system_accepts_an_email_message():
    """send() takes an email.message.EmailMessage as well as bytes."""
    msg = EmailMessage()
    msg["Subject"] = "built with email"
    msg.set_content("hello\n")
    system = MailSystem(**SITE)
    system.send(msg, "alice@example.org", ["kim@example.net"])
    system.deliver_all()
    assert system.delivered[0].email["Subject"] == "built with email"


def test_unknown_virtual_alias_user_bounces_with_a_dsn():
    """An unknown user of a virtual alias domain gets Postfix's 5.1.1 bounce back to the sender."""
    system = MailSystem(**SITE)
    system.send(MESSAGE, "alice@example.org", "nobody@alias.example")
    system.deliver_all()
    [bounce] = system.bounces
    assert (bounce["To"], bounce["Subject"]) == ("alice@example.org", "Undelivered Mail Returned to Sender")
    [block] = status_parts(bounce)
    assert (block["Final-Recipient"], block["Action"], block["Status"]) == (
        "rfc822; nobody@alias.example", "failed", "5.1.1")
    assert "User unknown in virtual alias table" in bounce.get_body(("plain",)).get_content()


def test_bounce_is_delivered_to_the_sender_from_the_null_sender():
    """The notice re-enters through cleanup and is delivered like other mail, from <>."""
    system = MailSystem(**SITE)
    system.send(MESSAGE, "alice@example.org", "nobody@alias.example")
    system.deliver_all()
    assert [(d.sender, d.recipient, d.transport) for d in system.delivered] == [
        ("", "alice@example.org", "smtp")]


def test_agent_answer_bounces_the_recipient():
    """A 5.x.x answer from a recording agent is a bounce with that status."""
    system = MailSystem(**SITE)
    system.agent("smtp").answer("kim@example.net", "5.1.1 <kim@example.net>: Recipient address rejected")
    system.send(MESSAGE, "alice@example.org", "kim@example.net")
    system.deliver_all()
    assert [(b.recipient, b.status.code) for b in system.bounced] == [("kim@example.net", "5.1.1")]
    assert status_parts(system.bounces[0])[0]["Status"] == "5.1.1"


# --- MailSystem: time, retries, notices ---------------------------------------------

def deferring_system(**params) -> MailSystem:
    system = MailSystem(**{**SITE, **params})
    system.agent("smtp").answer("@down.example", "4.4.1 Connection timed out", times=1)
    system.send(MESSAGE, "alice@example.org", "bob@down.example")
    system.deliver_all()
    return system


def test_temporary_failure_waits_in_the_deferred_queue():
    """A 4.x.x answer leaves the recipient deferred with the reason and a next attempt after the backoff."""
    system = deferring_system(minimal_backoff_time="300s")
    [d] = system.deferred
    assert (d.recipient, str(d.status)) == ("bob@down.example", "4.4.1 Connection timed out")
    assert d.next_attempt == system.clock.now() + 300
    assert system.delivered == [] and system.bounces == []


def test_deferred_mail_is_not_retried_before_it_is_due():
    """Running the queue again at the same fake time does not retry deferred mail."""
    system = deferring_system()
    system.deliver_all()
    assert len(system.attempts) == 1 and len(system.deferred) == 1


def test_deferred_mail_is_delivered_once_the_clock_passes_the_backoff():
    """After advancing the fake clock past the backoff, the retry delivers it."""
    system = deferring_system(minimal_backoff_time="300s")
    system.clock.advance(301)
    system.deliver_all()
    assert [d.recipient for d in system.delivered] == ["bob@down.example"]
    assert system.deferred == [] and system.queue("deferred") == []


def test_delay_warning_is_a_notice_but_not_a_bounce():
    """Past delay_warning_time the sender gets one 'delayed' notice, which is not in bounces."""
    system = MailSystem(**SITE, delay_warning_time="1h")
    system.agent("smtp").answer("@down.example", "4.4.1 Connection timed out")
    system.send(MESSAGE, "alice@example.org", "bob@down.example")
    system.deliver_all()
    for _ in range(3):
        system.clock.advance(3600)
        system.deliver_all()
    assert [n.actions for n in system.notices] == [["delayed"]]
    assert system.bounces == []
    assert system.notices[0].email["Subject"] == "Delayed Mail (still being retried)"


def test_expired_mail_bounces_with_the_last_temporary_status():
    """Past maximal_queue_lifetime the message bounces: Action failed, Status 4.4.1 (as Postfix)."""
    system = MailSystem(**SITE, maximal_queue_lifetime="1d", delay_warning_time="0")
    system.agent("smtp").answer("@down.example", "4.4.1 Connection timed out")
    system.send(MESSAGE, "alice@example.org", "bob@down.example")
    system.deliver_all()
    system.clock.advance(86401)
    system.deliver_all()
    [block] = status_parts(system.bounces[0])
    assert (block["Action"], block["Status"]) == ("failed", "4.4.1")
    assert any("status=expired, returned to sender" in line for line in system.log)


def test_rate_delay_is_waited_out_on_the_fake_clock():
    """With a destination rate delay, deliveries are spaced on the fake clock and the run still ends."""
    system = MailSystem(**SITE, default_destination_rate_delay="10s")
    start = system.clock.now()
    for _ in range(3):
        system.send(MESSAGE, "alice@example.org", "kim@example.net")
    system.deliver_all()
    assert len(system.delivered) == 3
    assert system.clock.now() - start == 20


# --- MailSystem: cleanup verdicts ---------------------------------------------------

def test_header_checks_reject_refuses_the_message(tmp_path):
    """A REJECT rule makes send() return a reject with the rule's text; nothing is queued."""
    system = MailSystem(**SITE, header_checks=rules(tmp_path, "/^Subject: .*report/ REJECT no reports\n"))
    reply = system.send(MESSAGE, "alice@example.org", "kim@example.net")
    assert (reply.accepted, reply.action, str(reply.status)) == (False, "reject", "5.7.1 no reports")
    system.deliver_all()
    assert system.attempts == [] and system.queue("incoming") == []


def test_header_checks_hold_parks_the_message(tmp_path):
    """A HOLD rule puts the message in the hold queue, where the queue manager leaves it."""
    system = MailSystem(**SITE, header_checks=rules(tmp_path, "/^Subject: .*report/ HOLD\n"))
    reply = system.send(MESSAGE, "alice@example.org", "kim@example.net")
    system.deliver_all()
    assert reply.action == "hold" and system.attempts == []
    assert [m.queue_id for m in system.queue(QueueName.HOLD)] == [reply.queue_id]


# --- MailSystem: the log ------------------------------------------------------------

def test_log_has_postfix_lines_stamped_with_the_fake_clock():
    """The queue manager's lines read as Postfix writes them, at the fake time."""
    system = MailSystem(**SITE)
    qid = system.send(MESSAGE, "alice@example.org", "kim@example.net").queue_id
    system.deliver_all()
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(system.clock.now()))
    pattern = (rf"{stamp} mx mailflow/qmgr\[\d+\]: {qid}: from=<alice@example.org>, "
               rf"size={len(system.delivered[0].message)}, nrcpt=1 \(queue active\)")
    assert any(re.fullmatch(pattern, line) for line in system.log)
    assert any(re.search(rf"mailflow/smtp\[\d+\]: {qid}: to=<kim@example.net>, relay=smtp, .*"
                         r"dsn=2\.0\.0, status=sent \(delivered\)$", line) for line in system.log)
    assert system.log[-1].endswith(f"{qid}: removed")


def test_log_capture_leaves_logging_as_it_was():
    """After a run the mailflow logger has its old level and no extra handler."""
    import logging
    logger = logging.getLogger("mailflow")
    before = (logger.level, list(logger.handlers))
    system = MailSystem(**SITE)
    system.send(MESSAGE, "alice@example.org", "kim@example.net")
    system.deliver_all()
    assert (logger.level, list(logger.handlers)) == before


@pytest.mark.skipif(shutil.which("pflogsumm") is None, reason="pflogsumm is not installed")
def test_pflogsumm_counts_the_harness_log(tmp_path):
    """pflogsumm --syslog-name=mailflow counts the deliveries, deferral and bounce in system.log."""
    system = MailSystem(**SITE)
    system.agent("smtp").answer("@down.example", "4.4.1 Connection timed out")
    system.send(MESSAGE, "alice@example.org", ["kim@example.net", "bob@down.example",
                                               "nobody@alias.example"])
    system.deliver_all()
    log = tmp_path / "maillog"
    log.write_text("\n".join(system.log) + "\n")
    out = subprocess.run(["pflogsumm", "--syslog-name=mailflow", str(log)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    counts = {m.group(2): int(m.group(1))
              for m in re.finditer(r"^\s+(\d+)\s+(delivered|deferred|bounced)\b",
                                       out.split("Per-Hour")[0], re.M)}
    # kim, plus the bounce notice to alice; bob deferred; nobody bounced.
    assert (counts["delivered"], counts["deferred"], counts["bounced"]) == (2, 1, 1)


# --- MailSystem: agents, configuration, stores ----------------------------------------

def test_real_virtual_agent_on_request(tmp_path):
    """real=["virtual"] delivers to a Maildir under virtual_mailbox_base."""
    system = MailSystem(**SITE, virtual_mailbox_domains="v.example",
                        virtual_mailbox_base=str(tmp_path),
                        virtual_mailbox_maps="inline:{ ann@v.example=ann/ }", real=["virtual"])
    system.send(MESSAGE, "alice@example.org", "ann@v.example")
    system.deliver_all()
    [file] = list((tmp_path / "ann" / "new").iterdir())
    assert b"Subject: quarterly report" in file.read_bytes()
    assert str(system.delivered[0].status) == "2.0.0 delivered to maildir"


def test_real_local_agent_forwards_through_cleanup():
    """A real local agent's alias to a remote address is queued again and delivered by smtp."""
    system = MailSystem(**{**SITE, "alias_maps": "inline:{ joe=joe@example.net }"}, real=["local"])
    system.send(MESSAGE, "alice@example.org", "joe@mx.example.com")
    system.deliver_all()
    assert [(d.transport, d.recipient, d.original) for d in system.delivered] == [
        ("local", "joe@mx.example.com", "joe@mx.example.com"),
        ("smtp", "joe@example.net", "joe@mx.example.com")]


def test_given_agent_is_used_for_its_transport():
    """An agent passed in agents= handles its transport instead of a recording one."""
    class Refuser:
        async def deliver(self, request):
            from mailflow.model import Outcome
            return [Outcome(r, DsnStatus("5.7.1", "not here")) for r in request.recipients]
    system = MailSystem(**SITE, agents={"smtp": Refuser()})
    system.send(MESSAGE, "alice@example.org", "kim@example.net")
    system.deliver_all()
    assert [str(b.status) for b in system.bounced if b.sender] == ["5.7.1 not here"]
    with pytest.raises(MailflowError, match="real agent"):
        system.agent("smtp")


def test_config_directory_with_a_master_cf_transport(tmp_path):
    """A config directory's transport_maps can name a master.cf service; it gets a recording agent."""
    (tmp_path / "main.cf").write_text(
        "myhostname = mx.example.com\nmydestination =\n"
        "transport_maps = inline:{ partner.example=archive:[10.0.0.5] }\n")
    (tmp_path / "master.cf").write_text(
        "archive unix - n n - - pipe flags=R user=nobody argv=/bin/true\n")
    system = MailSystem(str(tmp_path))
    system.send(MESSAGE, "alice@example.org", "x@partner.example")
    system.deliver_all()
    assert [(d.transport, d.nexthop) for d in system.delivered] == [("archive", "[10.0.0.5]")]
    assert system.agent("archive").recipients == ["x@partner.example"]


def test_file_queue_store_works_as_the_spool(tmp_path):
    """With a FileQueueStore the same run goes through real queue files."""
    store = FileQueueStore(str(tmp_path / "spool"))
    system = MailSystem(**SITE, store=store)
    system.agent("smtp").answer("@down.example", "4.4.1 Connection timed out")
    system.send(MESSAGE, "alice@example.org", "bob@down.example")
    system.deliver_all()
    assert [qid for qid in store.ids(QueueName.DEFERRED)] == [d.queue_id for d in system.deferred]


def test_run_awaits_inside_an_event_loop():
    """``await system.run()`` works from async code (the queue manager shares the loop)."""
    system = MailSystem(**SITE)
    system.send(MESSAGE, "alice@example.org", "kim@example.net")

    async def main():
        await system.run()
        return [d.recipient for d in system.delivered]
    assert asyncio.run(main()) == ["kim@example.net"]


def test_routing_example_passes_under_pytest():
    """examples/test_routing_example.py passes when pytest runs it as shipped."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "examples/test_routing_example.py"],
                          capture_output=True, text=True, cwd=root, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^4 passed", proc.stdout, re.M)


def test_testing_page_examples_run():
    """Every Python block of docs/testing.md runs, in order, and its assertions hold."""
    from pathlib import Path
    page = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"testing.md#{i}", "exec"), namespace)


def test_deliver_all_inside_an_event_loop_says_to_await_run():
    """Calling the sync deliver_all() from async code is a clear error, not a hang."""
    system = MailSystem(**SITE)

    async def main():
        system.deliver_all()
    with pytest.raises(MailflowError, match="await system.run"):
        asyncio.run(main())


def test_explain_uses_the_system_configuration():
    """system.explain() answers with the same routing the system delivers by."""
    system = MailSystem(**SITE)
    [entry] = system.explain("sales@alias.example")
    assert (entry.final, entry.transport, entry.nexthop) == ("ann@mx.example.com", "local",
                                                             "mx.example.com")


def test_flush_retries_deferred_mail_before_it_is_due():
    """deliver_all(flush=True) is postqueue -f: deferred mail is tried at once, due or not."""
    system = deferring_system(minimal_backoff_time="1h")
    system.deliver_all(flush=True)
    assert [d.recipient for d in system.delivered] == ["bob@down.example"]
    assert system.deferred == []


def test_virtual_alias_loop_waits_deferred_without_an_agent_call():
    """A virtual alias loop is deferred by cleanup with 4.6.0; no agent ever sees the message."""
    system = MailSystem(**{**SITE, "virtual_alias_maps":
                           "inline:{ a@alias.example=b@alias.example, b@alias.example=a@alias.example }"})
    system.send(MESSAGE, "alice@example.org", "a@alias.example")
    system.deliver_all()
    assert [(d.recipient, d.status.code) for d in system.deferred] == [("a@alias.example", "4.6.0")]
    assert system.attempts == []


def test_filter_transport_gets_a_recording_agent_without_asking():
    """A message routed by content_filter reaches a recording agent for the filter's transport."""
    from mailflow.testing import MailSystem
    system = MailSystem(myhostname="mx.example.com", mydestination="",
                        content_filter="scan:[127.0.0.1]:10025")
    system.send("Subject: x\n\nhi\n", "a@example.org", "b@example.net")
    system.deliver_all()
    assert [(a.transport, a.nexthop, a.recipient) for a in system.attempts] == [
        ("scan", "[127.0.0.1]:10025", "b@example.net")]
