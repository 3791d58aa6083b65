"""trivial-rewrite's resolve: address classes, transports, nexthops, flags."""

from __future__ import annotations

import logging

import pytest

from mailflow.address.resolve import DomainList, TrivialRewrite
from mailflow.config import Config
from mailflow.errors import TableError
from mailflow.tables import CallableTable, register_table_type

BASE = dict(myhostname="mx.example.com", mydomain="example.com",
            mydestination="$myhostname, localhost, example.com", inet_interfaces="127.0.0.1",
            alias_maps="")


def tr(**params) -> TrivialRewrite:
    return TrivialRewrite.from_config(Config(**{**BASE, **params}))


def route(r):
    return (r.address_class, r.transport, r.nexthop)


# A table type whose lookups fail, to exercise "could not look up".
def _broken(key: str) -> str | None:
    raise TableError("broken:table: lookup failed")


register_table_type("brokentest", lambda name, cfg: CallableTable(_broken))


@pytest.mark.parametrize("address, expected", [
    pytest.param("u@mx.example.com", ("local", "local", "mx.example.com"), id="mydestination"),
    pytest.param("u@EXAMPLE.com", ("local", "local", "mx.example.com"), id="mydestination-case"),
    pytest.param("u@[127.0.0.1]", ("local", "local", "mx.example.com"), id="inet-interfaces-literal"),
    pytest.param("u@[192.0.2.7]", ("local", "local", "mx.example.com"), id="proxy-interfaces-literal"),
    pytest.param("u@[192.0.2.8]", ("default", "smtp", "[192.0.2.8]"), id="foreign-literal"),
    pytest.param("u@va.example", ("virtual_alias", "error",
                                  "5.1.1 User unknown in virtual alias table"), id="virtual-alias"),
    pytest.param("u@vm.example", ("virtual_mailbox", "virtual", "vm.example"), id="virtual-mailbox"),
    pytest.param("u@relay.example", ("relay", "relay", "relay.example"), id="relay"),
    pytest.param("u@sub.relay.example", ("relay", "relay", "sub.relay.example"), id="relay-subdomain"),
    pytest.param("u@elsewhere.example", ("default", "smtp", "elsewhere.example"), id="default"),
])
def test_address_classes(address, expected):
    """Each domain list puts a recipient in its Postfix address class."""
    r = tr(proxy_interfaces="192.0.2.7", virtual_alias_domains="va.example",
           virtual_mailbox_domains="vm.example", relay_domains="relay.example")
    assert route(r.resolve(address)) == expected


def test_relay_subdomains_need_parent_style():
    """Without relay_domains in parent_domain_matches_subdomains, only .domain matches subdomains."""
    r = tr(relay_domains="relay.example, .dot.example", parent_domain_matches_subdomains="")
    assert r.resolve("u@sub.relay.example").address_class == "default"
    assert r.resolve("u@sub.dot.example").address_class == "relay"


def test_domain_list_tables_and_negation():
    """A domain list may name tables and exclude domains with !pattern."""
    d = DomainList.compile("!no.example, inline:{ yes.example=1, no.example=1 }")
    assert (d.match("yes.example"), d.match("no.example"), d.match("other.example")) == (
        True, False, False)


def test_virtual_alias_domains_default_to_the_virtual_alias_maps():
    """virtual_alias_domains = $virtual_alias_maps: a domain key in the map makes the class."""
    r = tr(virtual_alias_maps="inline:{ va.example=whatever, u@va.example=x@y.example }")
    assert r.resolve("nobody@va.example").address_class == "virtual_alias"


def test_show_user_unknown_table_name_off():
    """show_user_unknown_table_name=no drops the table name from the error text."""
    r = tr(virtual_alias_domains="va.example", show_user_unknown_table_name="no")
    assert r.resolve("u@va.example").nexthop == "5.1.1 User unknown"


@pytest.mark.parametrize("params, address, expected", [
    pytest.param({"local_transport": "local:host.example"}, "u@example.com",
                 ("local", "local", "host.example"), id="local-transport-nexthop"),
    pytest.param({"local_transport": "lmtp:unix:private/dovecot"}, "u@example.com",
                 ("local", "lmtp", "unix:private/dovecot"), id="local-transport-lmtp"),
    pytest.param({"virtual_mailbox_domains": "vm.example", "virtual_transport": "lmtp:[127.0.0.1]:24"},
                 "u@vm.example", ("virtual_mailbox", "lmtp", "[127.0.0.1]:24"), id="virtual-transport"),
    pytest.param({"relay_domains": "r.example", "relay_transport": "relay:[gw.example]"},
                 "u@r.example", ("relay", "relay", "[gw.example]"), id="relay-transport"),
    pytest.param({"default_transport": "error:5.7.1 outbound mail disabled"}, "u@x.example",
                 ("default", "error", "5.7.1 outbound mail disabled"), id="default-transport-error"),
    pytest.param({"relayhost": "[smart.example]:2525"}, "u@x.example",
                 ("default", "smtp", "[smart.example]:2525"), id="relayhost-default"),
    pytest.param({"relayhost": "[smart.example]:2525", "relay_domains": "r.example"}, "u@r.example",
                 ("relay", "relay", "[smart.example]:2525"), id="relayhost-relay"),
    pytest.param({"relayhost": "[smart.example]"}, "u@example.com",
                 ("local", "local", "mx.example.com"), id="relayhost-not-for-local"),
])
def test_transports_and_nexthops(params, address, expected):
    """Each class takes its transport parameter; relayhost overrides off-host nexthops."""
    assert route(tr(**params).resolve(address)) == expected


TRANSPORT_MAP = ("inline:{ u@t.example=lmtp:unix:/run/u, t.example=smtp:[10.0.0.1]:25, "
                 ".sub.example=relay, keep.example=:[10.0.0.2], noop.example=:, "
                 "err.example=error, disc.example=discard: }")


@pytest.mark.parametrize("address, expected", [
    pytest.param("u@t.example", ("default", "lmtp", "unix:/run/u"), id="exact-address"),
    pytest.param("U@T.Example", ("default", "lmtp", "unix:/run/u"), id="case-folded"),
    pytest.param("u+ext@t.example", ("default", "lmtp", "unix:/run/u"), id="extension-folded"),
    pytest.param("v@t.example", ("default", "smtp", "[10.0.0.1]:25"), id="domain"),
    pytest.param("v@a.sub.example", ("default", "relay", "a.sub.example"), id="dot-parent"),
    pytest.param("v@sub.example", ("default", "smtp", "sub.example"), id="dot-parent-not-itself"),
    pytest.param("v@keep.example", ("default", "smtp", "[10.0.0.2]"), id="empty-transport-keeps"),
    pytest.param("v@noop.example", ("default", "smtp", "noop.example"), id="colon-is-noop"),
    pytest.param("v@err.example", ("default", "error", "Address is undeliverable"), id="error-default"),
    pytest.param("v@disc.example", ("default", "discard", "disc.example"), id="discard"),
    pytest.param("v@example.com", ("local", "local", "mx.example.com"), id="no-entry"),
])
def test_transport_maps(address, expected):
    """transport(5): address, address without extension, domain, .parent; empty fields keep defaults."""
    r = tr(transport_maps=TRANSPORT_MAP, recipient_delimiter="+")
    assert route(r.resolve(address)) == expected


def test_transport_maps_wildcard_and_parent_style():
    """``*`` matches everything else; parent style lets ``domain`` match its subdomains."""
    r = tr(transport_maps="inline:{ *=smtp:[gw.example], p.example=relay }",
           parent_domain_matches_subdomains="transport_maps")
    assert route(r.resolve("u@x.p.example")) == ("default", "relay", "x.p.example")
    assert route(r.resolve("u@q.example")) == ("default", "smtp", "[gw.example]")
    # The class stays the domain's class even when the transport is overridden.
    assert route(r.resolve("u@example.com")) == ("local", "smtp", "[gw.example]")


def test_transport_maps_do_not_override_virtual_alias_class():
    """A virtual alias domain's unknown user keeps its error, whatever transport_maps says."""
    r = tr(virtual_alias_domains="va.example", transport_maps="inline:{ *=smtp }")
    assert route(r.resolve("u@va.example"))[1] == "error"


SENDER = dict(
    sender_dependent_relayhost_maps="inline:{ a@s.example=[r1.example], @s.example=[r2.example], "
                                    "<>=[bounce.example], d@s.example=DUNNO }",
    sender_dependent_default_transport_maps="inline:{ t@s.example=slow:, <>=bouncer }",
    relay_domains="r.example")


@pytest.mark.parametrize("address, sender, expected", [
    pytest.param("u@o.example", "a@s.example", ("default", "smtp", "[r1.example]"), id="sender-exact"),
    pytest.param("u@o.example", "b@s.example", ("default", "smtp", "[r2.example]"), id="sender-domain"),
    pytest.param("u@o.example", "d@s.example", ("default", "smtp", "o.example"), id="dunno"),
    pytest.param("u@o.example", "", ("default", "bouncer", "[bounce.example]"), id="null-sender"),
    pytest.param("u@o.example", "t@s.example", ("default", "slow", "[r2.example]"), id="transport"),
    pytest.param("u@o.example", "x@n.example", ("default", "smtp", "o.example"), id="no-entry"),
    pytest.param("u@r.example", "t@s.example", ("relay", "relay", "[r2.example]"), id="relay-class"),
    pytest.param("u@example.com", "a@s.example", ("local", "local", "mx.example.com"), id="local"),
])
def test_sender_dependent_maps(address, sender, expected):
    """sender_dependent_relayhost_maps and _default_transport_maps follow the sender."""
    assert route(tr(**SENDER).resolve(address, sender)) == expected


@pytest.mark.parametrize("address", ["u@-bad.example", "u@127.0.0.1", "u@", "u@[1.2.3]",
                                     "u@a..b", "-u@example.com"])
def test_bad_addresses_bounce(address):
    """A malformed domain (or a leading '-') resolves to 5.1.3 bad address syntax."""
    r = tr().resolve(address)
    assert (r.error, r.bounce, r.transport, r.nexthop) == (
        True, True, "error", "5.1.3 bad address syntax")


def test_resolve_numeric_domain():
    """resolve_numeric_domain=yes turns user@1.2.3.4 into user@[1.2.3.4]."""
    r = tr(resolve_numeric_domain="yes").resolve("u@127.0.0.1")
    assert (r.recipient, r.address_class) == ("u@[127.0.0.1]", "local")


def test_percent_hack_only_after_local_domain():
    """user%domain@local is re-resolved as user@domain; @remote is left alone and flagged routed."""
    r = tr()
    assert r.resolve("u%o.example@example.com").recipient == "u@o.example"
    remote = r.resolve("u%o.example@x.example")
    assert (remote.recipient, remote.routed) == ("u%o.example@x.example", True)


def test_relocated_maps():
    """relocated_maps bounces with 5.1.6 and the new location."""
    r = tr(relocated_maps="inline:{ old@example.com=new@else.example }")
    assert route(r.resolve("old@example.com")) == (
        "local", "error", "5.1.6 User has moved to new@else.example")


def test_domain_in_two_classes_warns(caplog):
    """A domain in mydestination and virtual_alias_domains gets Postfix's warning; local wins."""
    caplog.set_level(logging.WARNING, logger="mailflow.trivial-rewrite")
    r = tr(virtual_alias_domains="example.com").resolve("u@example.com")
    assert r.address_class == "local"
    assert ("do not list domain example.com in BOTH mydestination and virtual_alias_domains"
            in caplog.messages)


def test_table_failure_defers_with_warning(caplog):
    """A transport_maps lookup error defers the recipient (4.3.0) and logs a warning."""
    caplog.set_level(logging.WARNING, logger="mailflow.trivial-rewrite")
    r = tr(transport_maps="brokentest:x").resolve("u@o.example")
    assert (r.fail, r.defer, r.transport, r.nexthop, str(r.status)) == (
        True, True, "retry", "4.3.0 address resolver failure", "4.3.0 address resolver failure")
    assert any(m.startswith("transport_maps lookup failure") for m in caplog.messages)


def test_domain_list_failure_defers():
    """A relay_domains table that cannot answer defers instead of misrouting."""
    r = tr(relay_domains="brokentest:x").resolve("u@o.example")
    assert r.defer


def test_table_that_cannot_open_defers(caplog):
    """A table type that does not exist defers lookups through it; it never crashes."""
    caplog.set_level(logging.WARNING, logger="mailflow.trivial-rewrite")
    r = tr(transport_maps="nosuchtype:/x").resolve("u@o.example")
    assert r.defer


def test_null_transport_defers(caplog):
    """An empty default_transport is a configuration error: warning plus deferral."""
    caplog.set_level(logging.WARNING, logger="mailflow.trivial-rewrite")
    r = tr(default_transport="").resolve("u@o.example")
    assert r.defer
    assert any("parameter default_transport: null transport is not allowed" in m
               for m in caplog.messages)


def test_results_are_cached():
    """Resolving the same recipient twice does the table lookups once."""
    calls = []
    register_table_type("countingtest", lambda name, cfg: CallableTable(
        lambda key: calls.append(key) or None))
    r = tr(transport_maps="countingtest:x")
    first = r.resolve("u@o.example")
    n = len(calls)
    assert r.resolve("u@o.example") is first and len(calls) == n > 0


def test_failures_are_not_cached():
    """A lookup failure is retried on the next resolve, so a repaired table is used."""
    state = {"broken": True}

    def lookup(key):
        if state["broken"]:
            raise TableError("down")
        return "relay:[gw.example]" if key == "o.example" else None
    register_table_type("flakytest", lambda name, cfg: CallableTable(lookup))
    r = tr(transport_maps="flakytest:x")
    assert r.resolve("u@o.example").defer
    state["broken"] = False
    assert route(r.resolve("u@o.example")) == ("default", "relay", "[gw.example]")


def test_rewrite_method_uses_config():
    """TrivialRewrite.rewrite applies the configured myorigin."""
    assert tr(myorigin="$mydomain").rewrite("bob") == "bob@example.com"
