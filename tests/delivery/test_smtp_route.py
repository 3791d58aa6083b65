"""Next hops and MX ordering: the pure routing with a fake DNS, then the same
through dnsmasq and the dnspython adapter."""

from __future__ import annotations

import asyncio

import pytest
from smtp_peers import dnsmasq

from mailflow.adapters.dns import DnsPythonResolver
from mailflow.delivery.smtp_route import (Nexthop, RouteError, find_targets, parse_nexthop)
from mailflow.errors import ConfigError
from mailflow.testing import StaticResolver


def targets(nexthop, dns, **kw):
    kw.setdefault("shuffle", lambda group: None)
    return asyncio.run(find_targets(parse_nexthop(nexthop) if isinstance(nexthop, str) else nexthop,
                                    dns, **kw))


def route_error(nexthop, dns, **kw):
    with pytest.raises(RouteError) as info:
        targets(nexthop, dns, **kw)
    return str(info.value.status)


@pytest.mark.parametrize("text, expected", [
    ("example.com", Nexthop("example.com", 25, True)),
    ("example.com:2525", Nexthop("example.com", 2525, True)),
    ("[mx.example.com]", Nexthop("mx.example.com", 25, False)),
    ("[192.0.2.1]:smtp", Nexthop("192.0.2.1", 25, False)),
    ("[ipv6:2001:db8::1]:26", Nexthop("2001:db8::1", 26, False)),
    ("192.0.2.7", Nexthop("192.0.2.7", 25, False)),
])
def test_nexthop_forms(text, expected):
    assert parse_nexthop(text) == expected


@pytest.mark.parametrize("text", ["[192.0.2.1", "[x]y", "host:99999", "host:nosuchservice", " "])
def test_bad_nexthop_is_a_config_error(text):
    with pytest.raises(ConfigError):
        parse_nexthop(text)


def test_lmtp_forms_never_use_mx():
    assert parse_nexthop("inet:localhost:24", 24) == Nexthop("localhost", 24, False)
    assert parse_nexthop("localhost:2424", 24) == Nexthop("localhost", 2424, False)
    assert parse_nexthop("unix:/tmp/lmtp", 24).path == "/tmp/lmtp"


def test_mx_preference_order_and_addresses_in_order():
    dns = StaticResolver({("example.com", "MX"): ["30 c.example.com.", "10 a.example.com.",
                                                  "20 b.example.com."],
                          ("a.example.com", "A"): ["192.0.2.1", "192.0.2.11"],
                          ("b.example.com", "A"): ["192.0.2.2"],
                          ("b.example.com", "AAAA"): ["2001:db8::2"],
                          ("c.example.com", "A"): ["192.0.2.3"]})
    assert [t.relay for t in targets("example.com", dns)] == [
        "a.example.com[192.0.2.1]:25", "a.example.com[192.0.2.11]:25",
        "b.example.com[192.0.2.2]:25", "b.example.com[2001:db8::2]:25",
        "c.example.com[192.0.2.3]:25"]
    assert [t.address for t in targets("example.com", dns, inet_protocols=["ipv4"],
                                       mx_address_limit=3)] == ["192.0.2.1", "192.0.2.11", "192.0.2.2"]
    assert [t.address for t in targets("example.com:2525", dns, inet_protocols=["ipv6"])] == ["2001:db8::2"]


def test_equal_preferences_are_shuffled_only_among_themselves():
    dns = StaticResolver({("example.com", "MX"): ["10 a.example.com", "10 b.example.com",
                                                  "20 c.example.com"]})
    for h in "abc":
        dns.add(f"{h}.example.com", "A", f"192.0.2.{ord(h)}")
    seen = set()
    for _ in range(40):
        got = [t.name for t in asyncio.run(find_targets(parse_nexthop("example.com"), dns))]
        assert got[2] == "c.example.com"
        seen.add(tuple(got[:2]))
    assert seen == {("a.example.com", "b.example.com"), ("b.example.com", "a.example.com")}


def test_no_mx_means_the_domain_itself_implicit_mx():
    dns = StaticResolver({("example.com", "A"): ["192.0.2.5"]})
    assert [t.relay for t in targets("example.com", dns)] == ["example.com[192.0.2.5]:25"]
    dns = StaticResolver({("example.com", "A"): ["192.0.2.5"]})
    dns.nxdomain("nx.example.com")
    assert route_error("nx.example.com", dns) == (
        "5.4.4 Host or domain name not found. Name service error for name=nx.example.com "
        "type=A: Host not found")


def test_bracketed_host_skips_mx():
    dns = StaticResolver({("mx.example.com", "A"): ["192.0.2.8"],
                          ("mx.example.com", "MX"): ["10 elsewhere.example"]})
    assert [t.relay for t in targets("[mx.example.com]:587", dns)] == ["mx.example.com[192.0.2.8]:587"]
    assert ("mx.example.com", "MX") not in dns.queries
    assert [t.relay for t in targets("[192.0.2.1]", StaticResolver())] == ["192.0.2.1[192.0.2.1]:25"]


def test_dns_failure_defers_with_postfix_text():
    dns = StaticResolver().fail("example.com", "MX")
    assert route_error("example.com", dns) == (
        "4.4.3 Host or domain name not found. Name service error for name=example.com "
        "type=MX: Host not found, try again")


def test_null_mx_bounces():
    dns = StaticResolver({("example.com", "MX"): ["0 ."]})
    assert route_error("example.com", dns) == (
        "5.1.10 Domain example.com does not accept mail (nullMX)")


def test_mx_hosts_without_addresses():
    dns = StaticResolver({("example.com", "MX"): ["10 a.example.com", "20 b.example.com"],
                          ("b.example.com", "A"): ["192.0.2.2"]})
    dns.nxdomain("a.example.com")
    assert [t.name for t in targets("example.com", dns)] == ["b.example.com"]
    dns = StaticResolver({("example.com", "MX"): ["10 a.example.com", "20 b.example.com"]})
    dns.nxdomain("a.example.com").fail("b.example.com", "A")
    # One MX host might still answer later: defer, not bounce.
    assert route_error("example.com", dns, inet_protocols=["ipv4"]).startswith("4.4.3 ")


def test_loops_back_to_myself():
    dns = StaticResolver({("example.com", "MX"): ["10 me.example.com", "20 backup.example.com"],
                          ("me.example.com", "A"): ["192.0.2.1"],
                          ("backup.example.com", "A"): ["192.0.2.2"]})
    assert route_error("example.com", dns, my_addresses={"192.0.2.1"}) == (
        "5.4.6 mail for example.com loops back to myself")
    # A backup MX delivers only to better MX hosts.
    assert [t.name for t in targets("example.com", dns, my_addresses={"192.0.2.2"})] == [
        "me.example.com"]
    # The best MX host has no address and the rest is me: not a loop, just no primary.
    dns = StaticResolver({("example.com", "MX"): ["10 gone.example.com", "20 me.example.com"],
                          ("me.example.com", "A"): ["192.0.2.1"]})
    dns.nxdomain("gone.example.com")
    assert route_error("example.com", dns, my_addresses={"192.0.2.1"}) == (
        "4.4.4 unable to find primary relay for example.com")


DNS_RECORDS = [
    "--mx-host=example.test,mx1.example.test,10",
    "--mx-host=example.test,mx2.example.test,20",
    "--host-record=mx1.example.test,192.0.2.1",
    "--host-record=mx2.example.test,192.0.2.2",
    "--host-record=plain.test,192.0.2.9",
    "--dns-rr=nullmx.test,15,0000:00",
]


def test_routing_through_a_real_dns_server():
    """The same rules against dnsmasq through the dnspython adapter."""
    with dnsmasq(DNS_RECORDS) as port:
        dns = DnsPythonResolver([f"127.0.0.1:{port}"])
        assert [t.relay for t in targets("example.test", dns, inet_protocols=["ipv4"])] == [
            "mx1.example.test[192.0.2.1]:25", "mx2.example.test[192.0.2.2]:25"]
        assert [t.relay for t in targets("plain.test:2525", dns, inet_protocols=["ipv4"])] == [
            "plain.test[192.0.2.9]:2525"]
        assert route_error("nullmx.test", dns).startswith("5.1.10 ")
        assert route_error("nosuch.test", dns, inet_protocols=["ipv4"]) == (
            "5.4.4 Host or domain name not found. Name service error for name=nosuch.test "
            "type=A: Host not found")
