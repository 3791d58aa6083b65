"""describe(): the "what happened instead" list the assertion helpers print."""

from __future__ import annotations

import pytest

from mailflow.errors import MailflowError
from mailflow.testing import MailSystem, assert_delivered, describe

SITE = dict(myhostname="mail.example.com", mydomain="example.com", mydestination="")


def test_held_mail_is_listed(tmp_path):
    """Mail parked by a HOLD rule shows as on hold, with its recipients."""
    checks = tmp_path / "header_checks"
    checks.write_text("/^Subject: park/ HOLD\n")
    system = MailSystem(header_checks=f"regexp:{checks}", **SITE)
    reply = system.send(b"Subject: park me\n\nx\n", "a@example.org", ["b@example.net", "c@example.net"])
    system.deliver_all()
    assert describe(system) == f"  on hold: {reply.queue_id} to=<b@example.net>, <c@example.net>"
    with pytest.raises(AssertionError, match="on hold: "):
        assert_delivered(system, to="b@example.net")


def test_notices_are_marked_as_from_the_null_sender():
    """A delivered bounce notice is marked as a notice, so it is not mistaken for the mail."""
    system = MailSystem(**SITE)
    system.agent("smtp").answer("b@example.net", "5.1.1 User unknown")
    system.send(b"Subject: x\n\nx\n", "a@example.org", "b@example.net")
    system.deliver_all()
    lines = describe(system).splitlines()
    assert lines[1] == ("  to=<a@example.org>, relay=smtp[example.org], dsn=2.0.0, "
                        "status=sent (delivered) (a notice, from <>)")


def test_a_status_that_is_not_one_is_an_error():
    """status="banana" is a clear error, not a silent mismatch."""
    system = MailSystem(**SITE)
    with pytest.raises(MailflowError, match="'banana': not a DSN status"):
        assert_delivered(system, status="banana")


def test_without_an_address_the_message_names_the_criteria():
    """assert_delivered(transport=...) alone fails with 'no delivery transport=...'."""
    system = MailSystem(**SITE)
    with pytest.raises(AssertionError, match=r"^no delivery transport='lmtp'\nwhat happened instead:"):
        assert_delivered(system, transport="lmtp")
