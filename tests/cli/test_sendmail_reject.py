"""sendmail refuses what cleanup's content checks reject, before anything reaches maildrop/."""

from __future__ import annotations

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.interfaces import QueueName as Q

# Texts are Postfix 3.7.11's cleanup's for the same header_checks, obtained
# with a private instance (postfix start; printf 'Subject: buy now\n\nx\n' |
# sendmail -f a@example.com b@example.com; the maillog then reads
#   "reject: header Subject: buy now from local; ...: 5.7.1 no advertising here",
#   "reject: header Subject: plain no from local; ...: 5.7.1 message content rejected",
#   "reject: header Subject: own code from local; ...: 5.7.0 go away").
# Postfix's sendmail itself exits 0 and the message bounces after pickup; the
# difference is deliberate (docs/reference/differences.md). Exit status: Postfix's sendmail maps a
# cleanup status that is neither a software nor a write error to
# EX_UNAVAILABLE (sendmail.c enqueue(): "msg_fatal_status(... EX_UNAVAILABLE ...)").
HEADER_CHECKS = """\
/^Subject: .*buy now/       REJECT no advertising here
/^Subject: .*plain no/      REJECT
/^Subject: .*own code/      REJECT 5.7.0 go away
/^Subject: .*hold me/       HOLD held for review
/^Subject: .*later/         DEFER try again
/^Subject: .*drop me/       DISCARD
"""
BODY_CHECKS = "/^click here/  REJECT 5.7.1 no links\n"


@pytest.fixture
def checked(tmp_path, config_dir):
    """The test config with header_checks and body_checks set."""
    (tmp_path / "header_checks").write_text(HEADER_CHECKS)
    (tmp_path / "body_checks").write_text(BODY_CHECKS)
    with open(config_dir / "main.cf", "a") as f:
        f.write(f"header_checks = regexp:{tmp_path}/header_checks\n"
                f"body_checks = regexp:{tmp_path}/body_checks\n")
    return config_dir


def maildrop(config_dir):
    store = FileQueueStore(config_dir.parent / "spool", create=False)
    return list(store.ids(Q.MAILDROP)) if (config_dir.parent / "spool").exists() else []


@pytest.mark.parametrize("message, error", [
    pytest.param("Subject: buy now\n\nx\n", "sendmail: fatal: 5.7.1 no advertising here\n", id="rule-text"),
    pytest.param("Subject: plain no\n\nx\n", "sendmail: fatal: 5.7.1 message content rejected\n",
                 id="no-text"),
    pytest.param("Subject: own code\n\nx\n", "sendmail: fatal: 5.7.0 go away\n", id="own-dsn-code"),
    pytest.param("Subject: fine\n\nclick here\n", "sendmail: fatal: 5.7.1 no links\n", id="body-checks"),
])
def test_reject_fails_with_the_rule_text(run_cli, checked, message, error):
    """A REJECT rule makes sendmail exit 69 with the DSN code and text, and nothing is queued."""
    r = run_cli("-c", checked, "sendmail", "-f", "a@example.com", "b@example.com", stdin=message)
    assert (r.status, r.err) == (69, error)
    assert maildrop(checked) == []


@pytest.mark.parametrize("message", [
    pytest.param("Subject: please hold me\n\nx\n", id="hold"),
    pytest.param("Subject: later\n\nx\n", id="defer-is-temporary"),
    pytest.param("Subject: drop me\n\nx\n", id="discard"),
    pytest.param("Subject: fine\n\nhello\n", id="no-match"),
])
def test_other_verdicts_are_left_to_pickup(run_cli, checked, message):
    """HOLD, DISCARD, a temporary refusal and no match: the message goes to maildrop as before."""
    r = run_cli("-c", checked, "sendmail", "-f", "a@example.com", "b@example.com", stdin=message)
    assert (r.status, r.err) == (0, "")
    assert len(maildrop(checked)) == 1


def test_message_size_limit_is_enforced_when_checks_run(run_cli, checked):
    """With content checks on, a message over message_size_limit is refused as cleanup would (5.3.4)."""
    with open(checked / "main.cf", "a") as f:
        f.write("message_size_limit = 100\n")
    r = run_cli("-c", checked, "sendmail", "b@example.com", stdin="Subject: big\n\n" + "x" * 200 + "\n")
    assert (r.status, r.err) == (69, "sendmail: fatal: 5.3.4 message file too big\n")


def test_nested_header_checks_alone_turns_inspection_on(run_cli, config_dir, tmp_path):
    """Setting only nested_header_checks is enough for sendmail to inspect."""
    (tmp_path / "nested").write_text("/^Subject: inner/ REJECT nested no\n")
    with open(config_dir / "main.cf", "a") as f:
        f.write(f"nested_header_checks = regexp:{tmp_path}/nested\n")
    message = ("Subject: outer\nMIME-Version: 1.0\nContent-Type: message/rfc822\n\n"
               "Subject: inner\n\nx\n")
    r = run_cli("-c", config_dir, "sendmail", "b@example.com", stdin=message)
    assert (r.status, r.err) == (69, "sendmail: fatal: 5.7.1 nested no\n")
