"""Test your mail routing with pytest, in milliseconds and without root.

Copy this file next to your own tests and change SITE to your main.cf
settings (or pass a config directory: ``MailSystem("/etc/mailflow")``).

Run it:  python -m pytest examples/test_routing_example.py
"""

from __future__ import annotations

import pytest

from mailflow import Config, ExplainEntry, explain
from mailflow.testing import MailSystem

# The site under test, as main.cf parameters.
SITE = dict(
    myhostname="mx.example.com",
    mydestination="",
    virtual_alias_domains="example.com",
    virtual_alias_maps="inline:{ sales@example.com=ann@example.net, "
                       "support@example.com=tickets@helpdesk.example }",
    transport_maps="inline:{ helpdesk.example=smtp:[10.0.0.7]:2525 }",
)

MESSAGE = b"Subject: a question\n\nHello there.\n"


@pytest.fixture
def system():
    """A fresh in-memory mail system per test."""
    return MailSystem(**SITE)


def test_sales_goes_to_ann():
    """Mail for sales@ is expanded to ann@example.net, a remote address sent by smtp."""
    assert explain("sales@example.com", Config(**SITE)) == [
        ExplainEntry(recipient="sales@example.com", final="ann@example.net",
                     class_="default", transport="smtp", nexthop="example.net")]


def test_support_goes_to_the_helpdesk_relay(system):
    """Mail for support@ is delivered to the helpdesk host named in transport_maps."""
    system.send(MESSAGE, "customer@example.org", "support@example.com")
    system.deliver_all()
    [delivery] = system.delivered
    assert (delivery.recipient, delivery.transport, delivery.nexthop) == (
        "tickets@helpdesk.example", "smtp", "[10.0.0.7]:2525")
    assert delivery.email["Subject"] == "a question"


def test_unknown_user_gets_a_bounce(system):
    """An address nobody has bounces back to the sender with status 5.1.1."""
    system.send(MESSAGE, "customer@example.org", "nobody@example.com")
    system.deliver_all()
    [bounce] = system.bounces
    assert bounce["To"] == "customer@example.org"
    assert "User unknown in virtual alias table" in bounce.get_body(("plain",)).get_content()


def test_helpdesk_outage_defers_then_delivers(system):
    """When the helpdesk host is down the mail waits, and goes out on the next retry."""
    system.agent("smtp").answer("@helpdesk.example", "4.4.1 Connection refused", times=1)
    system.send(MESSAGE, "customer@example.org", "support@example.com")
    system.deliver_all()
    assert [str(d.status) for d in system.deferred] == ["4.4.1 Connection refused"]

    system.clock.advance(3600)           # fake time: the retry is due
    system.deliver_all()
    assert [d.recipient for d in system.delivered] == ["tickets@helpdesk.example"]
