"""The queue manager's pure decisions: end of an attempt, notices, grouping."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from mailflow.bounce import NoticeKind
from mailflow.config import Config
from mailflow.model import DsnStatus, Envelope, Notify, Outcome, Recipient
from mailflow.qmgr.active import (Action, QmgrSettings, destination_failed, group_recipients,
                                  is_cleanup_deferral, last_per_recipient, plan_finish,
                                  suspended_status)

S = QmgrSettings(maximal_queue_lifetime=86400, bounce_queue_lifetime=3600,
                 minimal_backoff_time=300, maximal_backoff_time=4000,
                 double_bounce_sender="double-bounce@example.com")


def env(sender: str = "a@example.com", *rcpts: Recipient, arrival: float = 0.0) -> Envelope:
    return Envelope(sender, rcpts or (Recipient("b@example.net"),), arrival_time=arrival)


def out(code: str, address: str = "b@example.net", **kw) -> Outcome:
    return Outcome(Recipient(address, **kw), DsnStatus.parse(code, "why"))


def summary(plan):
    return (plan.action.value, [(n.kind.value, n.to, n.sender, n.postmaster_copy) for n in plan.notices])


@pytest.mark.parametrize("case, kw, want", [
    ("all-done", dict(bounced=[], deferred=[], now=10.0),
     ("delete", [])),
    ("bounced", dict(bounced=[out("5.1.1")], deferred=[], now=10.0),
     ("delete", [("failure", "a@example.com", "", False)])),
    ("deferred-young", dict(bounced=[], deferred=[out("4.4.1")], now=10.0),
     ("defer", [])),
    ("deferred-expired", dict(bounced=[], deferred=[out("4.4.1")], now=86400.0),
     ("expire", [("failure", "a@example.com", "", False)])),
    ("forced-expiry", dict(bounced=[], deferred=[out("4.4.1")], now=10.0, forced_expire=True),
     ("expire", [("failure", "a@example.com", "", False)])),
    ("bounce-and-defer", dict(bounced=[out("5.1.1", "x@y")], deferred=[out("4.4.1")], now=10.0),
     ("defer", [("failure", "a@example.com", "", False)])),
], ids=lambda v: v if isinstance(v, str) else "")
def test_plan_finish(case, kw, want):
    """Each end of an attempt gets Postfix's action and notices."""
    assert summary(plan_finish(S, env(), **kw)) == want


def test_deferral_uses_age_based_backoff():
    """A deferred message is due again after its age, clamped to the backoff limits."""
    plan = plan_finish(S, env(arrival=0.0), bounced=[], deferred=[out("4.4.1")], now=1000.0)
    assert plan.next_attempt == 2000.0


def test_null_sender_uses_bounce_queue_lifetime():
    """Null-sender mail expires after bounce_queue_lifetime, not maximal_queue_lifetime."""
    plan = plan_finish(S, env(""), bounced=[], deferred=[out("4.4.1")], now=3600.0)
    assert plan.action is Action.EXPIRE


@pytest.mark.parametrize("classes, want", [
    (frozenset(), []),
    (frozenset({"2bounce"}), [("failure", "postmaster", "double-bounce@example.com", False)]),
], ids=["no-2bounce-class", "2bounce-class"])
def test_null_sender_failure_goes_to_postmaster_only_with_2bounce(classes, want):
    """A failed null-sender message is never returned to <>; 2bounce sends it to 2bounce_notice_recipient."""
    s = QmgrSettings(notify_classes=classes, double_bounce_sender="double-bounce@example.com")
    assert summary(plan_finish(s, env(""), bounced=[out("5.1.1")], deferred=[], now=1.0))[1] == want


def test_failed_double_bounce_is_discarded():
    """A failure of mail from double-bounce is logged and never notified (no triple bounce)."""
    s = QmgrSettings(notify_classes=frozenset({"2bounce", "bounce"}),
                     double_bounce_sender="double-bounce@example.com")
    plan = plan_finish(s, env("Double-Bounce@example.com"), bounced=[out("5.1.1")], deferred=[], now=1.0)
    assert plan.notices == () and plan.discarded == ("undeliverable postmaster notification discarded",)


@pytest.mark.parametrize("notify, want", [
    (frozenset(), ["b@example.net"]),
    (frozenset({Notify.NEVER}), []),
    (frozenset({Notify.SUCCESS}), []),
    (frozenset({Notify.FAILURE}), ["b@example.net"]),
], ids=["default", "never", "success-only", "failure"])
def test_failure_notice_honours_notify(notify, want):
    """NOTIFY decides per recipient whether the sender hears of a failure."""
    plan = plan_finish(S, env(), bounced=[out("5.1.1", notify=notify)], deferred=[], now=1.0)
    assert [o.recipient.address for n in plan.notices for o in n.outcomes] == want


def test_bounce_class_adds_postmaster_copy():
    """notify_classes bounce sends a copy to bounce_notice_recipient from double-bounce."""
    s = QmgrSettings(notify_classes=frozenset({"bounce"}), double_bounce_sender="double-bounce@example.com")
    assert summary(plan_finish(s, env(), bounced=[out("5.1.1")], deferred=[], now=1.0))[1] == [
        ("failure", "a@example.com", "", False),
        ("failure", "postmaster", "double-bounce@example.com", True)]


def test_success_notice_only_for_notify_success():
    """A delivery report goes out for recipients with NOTIFY=SUCCESS only."""
    delivered = [out("2.0.0", "x@y", notify=frozenset({Notify.SUCCESS})), out("2.0.0", "z@y")]
    plan = plan_finish(S, env(), bounced=[], deferred=[], now=1.0, delivered=delivered)
    [notice] = plan.notices
    assert notice.kind is NoticeKind.SUCCESS and [o.recipient.address for o in notice.outcomes] == ["x@y"]


@pytest.mark.parametrize("now, warned, want", [
    (100.0, False, False), (4000.0, False, True), (4000.0, True, False),
], ids=["too-early", "due", "already-sent"])
def test_delay_warning_once(now, warned, want):
    """One delay notice after delay_warning_time, never a second."""
    s = QmgrSettings(delay_warning_time=3600)
    plan = plan_finish(s, env(), bounced=[], deferred=[out("4.4.1")], now=now, warned=warned)
    assert plan.warned is want
    assert [n.kind for n in plan.notices] == ([NoticeKind.DELAY] if want else [])


def test_group_recipients_resolves_each_address_once():
    """Duplicates are resolved once; defer and bounce verdicts become outcomes without an agent."""
    calls = []

    def resolve(address):
        calls.append(address)
        domain = address.split("@")[1]
        return SimpleNamespace(transport="smtp", nexthop=domain, defer=domain == "tmp",
                               bounce=domain == "bad", status=None)
    rcpts = [Recipient("a@x"), Recipient("a@x", original="alias@x"), Recipient("b@tmp"), Recipient("c@bad")]
    groups, immediate = group_recipients(rcpts, resolve)
    assert calls == ["a@x", "b@tmp", "c@bad"]
    assert list(groups) == [("smtp", "x")] and len(groups[("smtp", "x")]) == 2
    assert [(o.recipient.address, o.status.code) for o in immediate] == [("b@tmp", "4.3.0"), ("c@bad", "5.1.3")]


@pytest.mark.parametrize("codes, raised, want", [
    (["4.4.1", "4.4.2"], False, True),
    (["4.4.1", "2.0.0"], False, False),
    (["5.1.1"], False, False),
    ([], True, True),
], ids=["all-4.4", "mixed", "refused", "raised"])
def test_destination_failed(codes, raised, want):
    """Only a dead-looking destination counts as failed, not a refused recipient."""
    assert destination_failed([out(c) for c in codes], raised) is want


def test_suspended_status_keeps_the_last_reason():
    """Mail for a dead destination is deferred with Postfix's "delivery temporarily suspended" text."""
    assert str(suspended_status(DsnStatus("4.4.1", "connect to x: refused"))) == \
        "4.4.1 delivery temporarily suspended: connect to x: refused"


def test_last_per_recipient_and_cleanup_entries():
    """The latest entry per recipient wins; only entries without a diagnostic are cleanup's."""
    entries = [out("4.4.1"), out("4.2.0")]
    assert [o.status.code for o in last_per_recipient(entries)] == ["4.2.0"]
    assert is_cleanup_deferral(out("4.6.0"))
    assert not is_cleanup_deferral(Outcome(Recipient("a@x"), DsnStatus.parse("4.4.1"),
                                           diagnostic="X-Postfix; why"))


def test_settings_from_config():
    """main.cf values are read once, with time units and a qualified double-bounce sender."""
    s = QmgrSettings.from_config(Config(myorigin="example.com", maximal_queue_lifetime="2d",
                                        notify_classes="bounce, 2bounce"))
    assert s.maximal_queue_lifetime == 172800.0
    assert s.double_bounce_sender == "double-bounce@example.com"
    assert s.notify_classes == frozenset({"bounce", "2bounce"})

_codes = st.sampled_from(["2.0.0", "4.2.0", "4.4.1", "5.1.1", "5.7.1"])
_notify = st.frozensets(st.sampled_from(list(Notify)), max_size=2)
_outcomes = st.lists(st.builds(lambda code, n, i: Outcome(Recipient(f"r{i}@x", notify=n),
                                                          DsnStatus.parse(code)),
                               _codes, _notify, st.integers(0, 5)), max_size=6)


@settings(max_examples=500)
@given(sender=st.sampled_from(["", "a@example.com", "double-bounce@example.com"]),
       bounced=_outcomes, deferred=_outcomes, now=st.floats(0, 10 * 86400),
       classes=st.frozensets(st.sampled_from(["bounce", "2bounce", "delay"])),
       warned=st.booleans())
def test_plan_finish_invariants(sender, bounced, deferred, now, classes, warned):
    """Whatever happened: no notice to <>, no notice from <> to a sender, waiting mail is never deleted."""
    s = QmgrSettings(maximal_queue_lifetime=86400, bounce_queue_lifetime=3600, delay_warning_time=3600,
                     notify_classes=classes, double_bounce_sender="double-bounce@example.com")
    plan = plan_finish(s, env(sender), bounced=bounced, deferred=deferred, now=now, warned=warned)
    assert all(n.to for n in plan.notices)
    assert (plan.action is Action.DELETE) == (not deferred)
    if plan.action is Action.DEFER:
        assert plan.next_attempt > now
    if sender == "double-bounce@example.com":
        assert plan.notices == ()
    assert not (warned and plan.warned)
