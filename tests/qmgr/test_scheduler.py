"""The pure scheduler: concurrency windows, limits, fairness, dead destinations."""

import doctest

import pytest

import mailflow.qmgr.retry
import mailflow.qmgr.scheduler
from mailflow.qmgr.scheduler import Scheduler, TransportPolicy


def make(**kw) -> Scheduler:
    return Scheduler(lambda transport: TransportPolicy(**kw))


@pytest.mark.parametrize("module", [mailflow.qmgr.scheduler, mailflow.qmgr.retry],
                         ids=lambda m: m.__name__)
def test_doctests(module):
    """The docstring examples run."""
    assert doctest.testmod(module).failed == 0


def test_recipients_are_split_by_recipient_limit():
    """A message with 5 recipients and a limit of 2 becomes jobs of 2, 2 and 1."""
    s = make(recipient_limit=2, initial_concurrency=10)
    assert s.add("Q", "smtp", "d", ["r1", "r2", "r3", "r4", "r5"]) == 3
    assert [len(j.recipients) for j in s.ready(0.0)] == [2, 2, 1]


def test_initial_window_bounds_parallel_jobs():
    """No more jobs run at once for a destination than its initial window."""
    s = make(recipient_limit=1, initial_concurrency=2)
    s.add("Q", "smtp", "d", ["a", "b", "c"])
    assert len(s.ready(0.0)) == 2
    assert s.ready(0.0) == []


def test_success_grows_the_window_up_to_the_limit():
    """Positive feedback 1/concurrency adds one slot per window of successes, capped by the limit."""
    s = make(recipient_limit=1, initial_concurrency=1, concurrency_limit=3)
    s.add("Q", "smtp", "d", [f"r{i}" for i in range(20)])
    for _ in range(20):
        for job in s.ready(0.0):
            s.done(job, ok=True, now=0.0)
    assert s.window("smtp", "d") == 3


def test_failures_kill_a_destination_and_hand_back_its_jobs():
    """Enough failures at window 1 mark the destination dead; queued jobs come back for deferral."""
    s = make(recipient_limit=1, initial_concurrency=1, dead_time=300)
    s.add("Q", "smtp", "bad", ["a", "b", "c"])
    (job,) = s.ready(0.0)
    s.done(job, ok=False, now=0.0)
    assert s.is_dead("smtp", "bad", 1.0)
    assert s.ready(1.0) == []
    assert len(s.dead_jobs(1.0)) == 2
    assert not s.is_dead("smtp", "bad", 301.0)


def test_dead_destination_does_not_block_others():
    """Mail for a healthy destination still flows while another is dead."""
    s = make(recipient_limit=1, initial_concurrency=1)
    s.add("Q1", "smtp", "bad", ["a"])
    s.add("Q2", "smtp", "good", ["b"])
    jobs = s.ready(0.0)
    assert {j.nexthop for j in jobs} == {"bad", "good"}
    bad = next(j for j in jobs if j.nexthop == "bad")
    s.done(bad, ok=False, now=0.0)
    s.add("Q3", "smtp", "good", ["c"])
    s.done(next(j for j in jobs if j.nexthop == "good"), ok=True, now=0.0)
    assert [j.queue_id for j in s.ready(1.0)] == ["Q3"]


def test_messages_share_a_destination_round_robin():
    """A huge message does not starve a small one queued after it."""
    s = make(recipient_limit=1, initial_concurrency=1, concurrency_limit=1)
    s.add("HUGE", "smtp", "d", [f"r{i}" for i in range(100)])
    s.add("SMALL", "smtp", "d", ["x"])
    order = []
    for _ in range(3):
        (job,) = s.ready(0.0)
        order.append(job.queue_id)
        s.done(job, ok=True, now=0.0)
    assert "SMALL" in order[:2]


def test_rate_delay_spaces_deliveries():
    """With a rate delay, a destination gets one job at a time, spaced by the delay."""
    s = make(recipient_limit=1, initial_concurrency=5, rate_delay=10)
    s.add("Q", "smtp", "d", ["a", "b"])
    (job,) = s.ready(0.0)
    s.done(job, ok=True, now=1.0)
    assert s.ready(5.0) == []
    assert s.next_event(5.0) == 10.0
    assert len(s.ready(10.0)) == 1


def test_process_limit_caps_a_transport_across_destinations():
    """maxproc bounds concurrent jobs of one transport over all its destinations."""
    s = make(recipient_limit=1, initial_concurrency=5, process_limit=2)
    for n in range(4):
        s.add(f"Q{n}", "pipe", f"d{n}", ["a"])
    assert len(s.ready(0.0)) == 2


def test_discard_removes_a_message():
    """Discarding a message takes all its queued jobs out."""
    s = make(recipient_limit=1, initial_concurrency=1)
    s.add("Q", "smtp", "d", ["a", "b"])
    assert len(s.discard("Q")) == 2
    assert len(s) == 0
