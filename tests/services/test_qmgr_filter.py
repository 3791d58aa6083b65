"""The queue manager sends a message with a content filter to the filter, whole.

End to end through cleanup, the in-memory spool and the real queue manager
(:class:`mailflow.testing.MailSystem`), and once on the file spool.
"""

from __future__ import annotations

import asyncio

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import ClientInfo, DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.qmgr.active import QmgrSettings, filter_route
from mailflow.services.cleanup import CleanupService
from mailflow.services.qmgr import QueueManager
from mailflow.testing import MailSystem, RecordingAgent

SCAN = "scan:[127.0.0.1]:10025"
RECIPIENTS = ["b@example.net", "c@example.com", "u@virt.example"]
BASE = dict(myhostname="mx.example.com", mydestination="", virtual_mailbox_domains="virt.example",
            virtual_mailbox_maps="inline:{ u@virt.example=u/ }")


class Reinjecting:
    """A content filter that passes every message back in, as a filter
    re-injecting over SMTP into a service with ``-o content_filter=`` does."""

    def __init__(self) -> None:
        self.system: MailSystem | None = None
        self.requests = []

    async def deliver(self, request):
        self.requests.append(request)
        cfg = self.system.config.with_overrides(content_filter="")
        cleanup = CleanupService(cfg, self.system.store, clock=self.system.clock, wake=False)
        env = Envelope(request.envelope.sender, request.recipients)
        reply = cleanup.submit(env, request.message, origin="smtpd",
                               client=ClientInfo("localhost", "127.0.0.1", "localhost"))
        return [Outcome(r, DsnStatus("2.0.0", f"Ok: queued as {reply.queue_id}"), relay="scan")
                for r in request.recipients]


def test_all_recipients_go_to_the_filter_nexthop():
    """Every recipient of a filtered message goes to the filter's transport and nexthop, in one request."""
    system = MailSystem(content_filter=SCAN, **BASE)
    scan = system.agent("scan")
    system.send("Subject: x\n\nhi\n", "a@example.org", RECIPIENTS)
    system.deliver_all()
    [request] = scan.requests
    assert (request.transport, request.nexthop) == ("scan", "[127.0.0.1]:10025")
    assert sorted(r.address for r in request.recipients) == RECIPIENTS
    assert [a.transport for a in system.attempts] == ["scan"] * 3


def test_filtered_mail_is_delivered_after_reinjection():
    """After the filter re-injects it unfiltered, the message goes where its recipients resolve."""
    reinject = Reinjecting()
    system = MailSystem(content_filter=SCAN, agents={"scan": reinject}, **BASE)
    reinject.system = system
    system.agent("smtp")
    system.agent("virtual")
    system.send("Subject: x\n\nhi\n", "a@example.org", RECIPIENTS)
    system.deliver_all()
    assert len(reinject.requests) == 1                    # filtered once, never again
    delivered = sorted((a.transport, a.nexthop, a.recipient) for a in system.delivered
                       if a.transport != "scan")
    assert delivered == [("smtp", "example.com", "c@example.com"),
                         ("smtp", "example.net", "b@example.net"),
                         ("virtual", "virt.example", "u@virt.example")]
    assert list(system.store.ids(QueueName.INCOMING)) == []


def test_filter_action_routes_the_message(tmp_path):
    """A header_checks FILTER action sends the message to its transport:nexthop."""
    rules = tmp_path / "header_checks"
    rules.write_text("/^Subject: scan me/ FILTER rules:[192.0.2.9]:10026\n")
    system = MailSystem(header_checks=f"regexp:{rules}", **BASE)
    filtered = system.agent("rules")
    plain = system.agent("smtp")
    system.send("Subject: scan me\n\nhi\n", "a@example.org", "b@example.net")
    system.send("Subject: other\n\nhi\n", "a@example.org", "b@example.net")
    system.deliver_all()
    assert [(r.transport, r.nexthop) for r in filtered.requests] == [("rules", "[192.0.2.9]:10026")]
    assert [(r.transport, r.nexthop) for r in plain.requests] == [("smtp", "example.net")]


def test_notices_are_not_filtered():
    """A bounce notice goes to its recipient's route even with content_filter set."""
    system = MailSystem(content_filter=SCAN, **BASE)
    system.agent("scan").answer("@example.net", "5.1.1 no such user")
    smtp = system.agent("smtp")
    system.send("Subject: x\n\nhi\n", "a@example.org", "b@example.net")
    system.deliver_all()
    assert len(system.bounces) == 1
    assert [(r.transport, [x.address for x in r.recipients]) for r in smtp.requests] == [
        ("smtp", ["a@example.org"])]


def test_filter_on_the_file_spool(tmp_path):
    """A filtered message read back from the file spool is sent to the filter."""
    cfg = Config(queue_directory=str(tmp_path / "spool"), virtual_mailbox_base=str(tmp_path / "mail"),
                 **BASE)
    store = FileQueueStore(tmp_path / "spool")
    env = Envelope("a@example.org", tuple(Recipient(a) for a in RECIPIENTS), content_filter="scan:")
    store.enqueue(QueueName.INCOMING, env, Message(b"Subject: x\n\nhi\n"))
    scan = RecordingAgent()

    async def main():
        qm = QueueManager(cfg, store, agents={"scan": scan}, notify=lambda e, m: None)
        await qm.run_until_idle()
        await qm.stop()
    asyncio.run(main())
    # No nexthop in the filter and no default_filter_nexthop: each recipient's domain.
    assert sorted((r.nexthop, r.recipients[0].address) for r in scan.requests) == [
        ("example.com", "c@example.com"), ("example.net", "b@example.net"),
        ("virt.example", "u@virt.example")]
    assert list(store.ids(QueueName.INCOMING)) + list(store.ids(QueueName.ACTIVE)) == []


# (content_filter, recipient, default_filter_nexthop) -> (transport, nexthop), per
# Postfix 3.7's qmgr_message.c: the filter's nexthop, else default_filter_nexthop,
# else the recipient's domain, else myhostname.
ROUTES = [
    pytest.param(SCAN, "b@example.net", "", ("scan", "[127.0.0.1]:10025"), id="explicit-nexthop"),
    pytest.param("scan:", "b@example.net", "", ("scan", "example.net"), id="recipient-domain"),
    pytest.param("scan", "b@example.net", "", ("scan", "example.net"), id="no-colon"),
    pytest.param("scan:", "b@example.net", "[::1]:10024", ("scan", "[::1]:10024"), id="default-nexthop"),
    pytest.param(SCAN, "b@example.net", "[::1]:10024", ("scan", "[127.0.0.1]:10025"),
                 id="explicit-beats-default"),
    pytest.param("scan:", "postmaster", "", ("scan", "mx.example.com"), id="no-domain-myhostname"),
    pytest.param("scan:", "odd@", "", ("scan", "mx.example.com"), id="empty-domain-myhostname"),
]


@pytest.mark.parametrize("content_filter,address,default,want", ROUTES)
def test_filter_route(content_filter, address, default, want):
    """filter_route picks the transport and nexthop as Postfix's queue manager does."""
    settings = QmgrSettings(myhostname="mx.example.com", default_filter_nexthop=default)
    route = filter_route(content_filter, address, settings)
    assert (route.transport, route.nexthop) == want
    assert not route.defer and not route.bounce


def test_settings_read_default_filter_nexthop():
    """QmgrSettings.from_config reads default_filter_nexthop."""
    cfg = Config(default_filter_nexthop="[127.0.0.1]:10024")
    assert QmgrSettings.from_config(cfg).default_filter_nexthop == "[127.0.0.1]:10024"
    assert QmgrSettings.from_config(None).default_filter_nexthop == ""
