"""cleanup records the content filter (FILTER action, content_filter parameter) in the queue file."""

from __future__ import annotations

import attrs
import pytest

from mailflow.config import Config
from mailflow.model import ClientInfo, Envelope, Message, Recipient
from mailflow.queue.memory import MemoryQueueStore
from mailflow.services.cleanup import CleanupService

SCAN = "scan:[127.0.0.1]:10025"
ENVELOPE = Envelope("a@example.com", (Recipient("b@example.net"),))
CLIENT = ClientInfo("client.example", "192.0.2.1", "client.example")


def submit(store, origin="pickup", data=b"Subject: hi\n\nhello\n", envelope=ENVELOPE, **params):
    """Run one message through a cleanup service configured with ``params``; return its stored envelope."""
    cfg = Config(myhostname="mx.example.com", mydestination="", **params)
    info = {"client": CLIENT} if origin == "smtpd" else {}
    reply = CleanupService(cfg, store, wake=False).submit(envelope, Message(data), origin=origin, **info)
    assert reply.accepted, reply
    return store.read(reply.queue_id).envelope


@pytest.fixture
def store():
    """An in-memory spool."""
    return MemoryQueueStore()


@pytest.fixture
def filter_checks(tmp_path):
    """A header_checks file whose FILTER rule matches ``Subject: scan me``."""
    path = tmp_path / "header_checks"
    path.write_text("/^Subject: scan me/ FILTER rules:[192.0.2.9]:10026\n")
    return f"regexp:{path}"


@pytest.mark.parametrize("origin", ["pickup", "smtpd"])
def test_content_filter_parameter_is_recorded(store, origin):
    """Mail cleanup receives from pickup or smtpd gets main.cf's content_filter."""
    assert submit(store, origin, content_filter=SCAN).content_filter == SCAN


# What Postfix 3.7 records, with content_filter = smtp:[127.0.0.1]:9 in main.cf
# and pickup running with -o content_filter= (postcat -e of each queue file):
# a message forwarded by local(8) (alias to a remote address) and a bounce
# notice, also with internal_mail_filter_classes = bounce, have no
# content_filter record; a message through a filtering pickup has
# "content_filter: smtp:[127.0.0.1]:9".
POSTFIX_RECORDS = {"pickup": "smtp:[127.0.0.1]:9", "local": None, "bounce": None}


@pytest.mark.parametrize("origin", sorted(POSTFIX_RECORDS))
@pytest.mark.parametrize("classes", ["", "bounce"], ids=["no-internal-classes", "internal-bounce"])
def test_content_filter_parameter_follows_postfix_per_origin(store, origin, classes):
    """Only mail from a receiving service gets content_filter; notices and forwarded mail never do."""
    got = submit(store, origin, content_filter="smtp:[127.0.0.1]:9",
                 internal_mail_filter_classes=classes).content_filter
    assert got == POSTFIX_RECORDS[origin]


def test_service_override_to_empty_does_not_filter_again(store):
    """A re-injection service with -o content_filter= queues mail without a filter."""
    cfg = Config(myhostname="mx.example.com", content_filter=SCAN).with_overrides(content_filter="")
    reply = CleanupService(cfg, store, wake=False).submit(ENVELOPE, Message(b"\nx\n"), origin="smtpd",
                                                         client=CLIENT)
    assert store.read(reply.queue_id).envelope.content_filter is None


def test_no_filter_by_default(store):
    """Without content_filter or a FILTER action, the queue file has no filter."""
    assert submit(store).content_filter is None


def test_filter_action_is_recorded(store, filter_checks):
    """A header_checks FILTER action puts its transport:nexthop in the queue file."""
    env = submit(store, data=b"Subject: scan me\n\nhi\n", header_checks=filter_checks)
    assert env.content_filter == "rules:[192.0.2.9]:10026"


def test_filter_action_wins_over_the_parameter(store, filter_checks):
    """A FILTER action replaces the receiving service's content_filter, as in Postfix's cleanup."""
    env = submit(store, data=b"Subject: scan me\n\nhi\n", header_checks=filter_checks,
                 content_filter=SCAN)
    assert env.content_filter == "rules:[192.0.2.9]:10026"


def test_filter_action_applies_to_notices_only_when_inspected(store, filter_checks):
    """A notice is FILTERed only when internal_mail_filter_classes has it inspected."""
    data = b"Subject: scan me\n\nnotice\n"
    notice = Envelope("", (Recipient("a@example.com"),))
    assert submit(store, "bounce", data, notice, header_checks=filter_checks).content_filter is None
    env = submit(store, "bounce", data, notice, header_checks=filter_checks,
                 internal_mail_filter_classes="bounce")
    assert env.content_filter == "rules:[192.0.2.9]:10026"


def test_submitter_filter_in_the_envelope_is_kept(store):
    """An envelope that names its own content filter keeps it (the receiving service's choice)."""
    env = submit(store, envelope=attrs.evolve(ENVELOPE, content_filter="other:x"), content_filter=SCAN)
    assert env.content_filter == "other:x"
