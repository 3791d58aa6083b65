"""The assertion helpers and time travel, run under pytest: they pass when
the mail went where they say, and fail showing what happened instead."""

from __future__ import annotations

pytest_plugins = ["pytester"]

SETUP = '''
import pytest
from mailflow.testing import assert_bounced, assert_deferred, assert_delivered

pytestmark = pytest.mark.mailflow(mydestination="", virtual_alias_domains="example.com",
                                  virtual_alias_maps="inline:{ sales@example.com=ann@example.net }")
'''


def test_assert_delivered_passes_and_returns_the_attempt(run):
    """assert_delivered matches the submitted or the final address, transport and nexthop."""
    result = run(SETUP + '''
def test_it(mail_system):
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "sales@example.com")
    mail_system.deliver_all()
    by_original = assert_delivered(mail_system, to="sales@example.com", transport="smtp")
    by_final = mail_system.assert_delivered(to="ann@EXAMPLE.NET", nexthop="example.net")
    assert by_original == by_final
    assert by_final.email["Subject"] == "hi"
''')
    result.assert_outcomes(passed=1)


def test_assert_delivered_failure_shows_what_happened(run):
    """A wrong transport fails with the wanted delivery and the real ones, in log words."""
    result = run(SETUP + '''
def test_it(mail_system):
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "sales@example.com")
    mail_system.deliver_all()
    mail_system.assert_delivered(to="sales@example.com", transport="lmtp")
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E * AssertionError: no delivery to <sales@example.com> transport='lmtp'",
        "E * what happened instead:",
        "E * to=<ann@example.net>, orig_to=<sales@example.com>, relay=smtp[[]example.net[]], "
        "dsn=2.0.0, status=sent (delivered)",
    ])


def test_assert_delivered_failure_when_nothing_was_sent(run):
    """With no mail at all the message says so."""
    result = run(SETUP + '''
def test_it(mail_system):
    mail_system.assert_delivered(to="ann@example.net")
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * no delivery to <ann@example.net>",
                                 "E * what happened instead:",
                                 "E * (no mail was sent)"])


def test_assert_bounced_passes_for_unknown_user(run):
    """An unknown user in a virtual alias domain bounces 5.1.1; the notice goes to the sender."""
    result = run(SETUP + '''
def test_it(mail_system):
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "nobody@example.com")
    mail_system.deliver_all()
    notice = assert_bounced(mail_system, recipient="nobody@example.com", status="5.1.1")
    assert notice["To"] == "bob@example.org"
    mail_system.assert_bounced("nobody@example.com",
                               status="5.1.1 User unknown in virtual alias table")
''')
    result.assert_outcomes(passed=1)


def test_assert_bounced_failure_shows_the_delivery_instead(run):
    """Expecting a bounce for mail that was delivered fails listing the delivery."""
    result = run(SETUP + '''
def test_it(mail_system):
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "sales@example.com")
    mail_system.deliver_all()
    mail_system.assert_bounced(recipient="sales@example.com", status="5.1.1")
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E * no bounce for <sales@example.com> status='5.1.1'",
        "E * what happened instead:",
        "E * to=<ann@example.net>, orig_to=<sales@example.com>, relay=smtp*status=sent (delivered)",
    ])


def test_assert_bounced_failure_shows_another_status(run):
    """A bounce with another status fails showing the notice's real status."""
    result = run(SETUP + '''
def test_it(mail_system):
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "nobody@example.com")
    mail_system.deliver_all()
    mail_system.assert_bounced(recipient="nobody@example.com", status="5.7.1")
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E * no bounce for <nobody@example.com> status='5.7.1'",
        "E * bounce notice to <bob@example.org>: <nobody@example.com> failed, Status: 5.1.1 "
        "(X-Postfix; User unknown in virtual alias table)",
    ])


def test_assert_deferred_and_its_failure(run):
    """assert_deferred finds the deferred recipient; asking for another status shows the real one."""
    result = run(SETUP + '''
def test_passes(mail_system):
    mail_system.agent("smtp").answer("@down.example", "4.4.1 Connection refused")
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "carl@down.example")
    mail_system.deliver_all()
    deferral = assert_deferred(mail_system, "carl@down.example", status="4.4.1")
    assert deferral.next_attempt == mail_system.clock.now() + 300

def test_fails(mail_system):
    mail_system.agent("smtp").answer("@down.example", "4.4.1 Connection refused")
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "carl@down.example")
    mail_system.deliver_all()
    mail_system.assert_deferred("carl@down.example", status="4.2.2")
''')
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "E * nothing deferred for <carl@down.example> status='4.2.2'",
        "E * what happened instead:",
        "E * to=<carl@down.example>, relay=smtp[[]down.example[]], dsn=4.4.1, "
        "status=deferred (Connection refused)",
        "E * in the deferred queue: * to=<carl@down.example> (4.4.1 Connection refused), "
        "next attempt 2026-01-01 00:05:00",
    ])


def test_retry_follows_the_backoff(run):
    """retry() jumps to each next attempt as the backoff set it, and delivers once the agent accepts."""
    result = run(SETUP + '''
from mailflow.testing import DEFAULT_START

def test_it(mail_system):
    mail_system.agent("smtp").answer("@slow.example", "4.4.1 Connection timed out", times=3)
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "ann@slow.example")
    mail_system.deliver_all()
    times = []
    while (now := mail_system.retry()) is not None:
        times.append(now - DEFAULT_START)
    assert times == [300.0, 600.0, 1200.0]     # the delay doubles with the age
    mail_system.assert_delivered(to="ann@slow.example")
''')
    result.assert_outcomes(passed=1)


def test_expire_bounces_with_the_last_temporary_status(run):
    """expire() runs the retries past maximal_queue_lifetime: the sender gets a bounce with 4.4.1."""
    result = run(SETUP + '''
from mailflow.testing import DEFAULT_START

@pytest.mark.mailflow(maximal_queue_lifetime="1d")
def test_it(mail_system):
    mail_system.agent("smtp").answer("@down.example", "4.4.1 Connection refused")
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "carl@down.example")
    mail_system.deliver_all()
    assert mail_system.expire() > 1
    assert mail_system.deferred == []
    assert 86400 <= mail_system.clock.now() - DEFAULT_START < 86400 + 4000
    notice = mail_system.assert_bounced("carl@down.example", status="4.4.1 Connection refused")
    assert notice["To"] == "bob@example.org"
''')
    result.assert_outcomes(passed=1)


def test_advance_runs_what_is_due(run):
    """advance(seconds) moves the clock and delivers: a delay warning after delay_warning_time."""
    result = run(SETUP + '''
@pytest.mark.mailflow(delay_warning_time="1h")
def test_it(mail_system):
    mail_system.agent("smtp").answer("@slow.example", "4.4.1 Connection timed out")
    mail_system.send(b"Subject: hi\\n\\nhello\\n", "bob@example.org", "ann@slow.example")
    mail_system.deliver_all()
    mail_system.advance(3600)
    assert [n.actions for n in mail_system.notices] == [["delayed"]]
''')
    result.assert_outcomes(passed=1)
