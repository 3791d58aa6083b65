"""access(5) pieces: key orders, action words, DSN fixing, network lists, replies."""

from __future__ import annotations

import pytest

from mailflow.smtpd.access import (NetworkList, address_keys, domain_keys, dsn_fix, mail_keys,
                                   parse_action, split_dsn)
from mailflow.smtpd.policy import encode_request, parse_response
from mailflow.smtpd.reply import Reply, make_reply


def test_domain_keys_parent_style():
    """Parents as example.com with smtpd_access_maps in the parent style, else .example.com."""
    assert [k for k, _ in domain_keys("a.b.example")] == ["a.b.example", "b.example", "example"]
    assert [k for k, _ in domain_keys("a.b.example", parent_style=False)] == \
        ["a.b.example", ".b.example", ".example"]


def test_domain_keys_of_a_name_ending_in_a_dot_skip_the_empty_key():
    """A HELO name like "host.example." never looks up an empty key."""
    assert "" not in [k for k, _ in domain_keys("host.example.")]


def test_address_keys_ipv4_and_ipv6():
    """Client addresses are tried with their parent networks."""
    assert address_keys("192.0.2.7") == ["192.0.2.7", "192.0.2", "192.0", "192"]
    assert address_keys("2001:db8::1")[-1] == "2001"


def test_mail_keys_with_extension_and_parent_style():
    """user+ext@domain, user@domain, domain, parents, user+ext@, user@."""
    keys = mail_keys("u+x@a.example", parent_style=False, delimiter="+")
    assert [k for k, _ in keys] == ["u+x@a.example", "u@a.example", "a.example", ".example",
                                    "u+x@", "u@"]
    assert [p for _, p in keys] == [False, True, True, True, True, True]


@pytest.mark.parametrize("value,expected", [
    ("REJECT", ("REJECT", "")), ("reject  text here", ("REJECT", "text here")),
    ("550\t5.7.1 no", ("550", "5.7.1 no")), ("  OK ", ("OK", "")),
])
def test_parse_action(value, expected):
    """The first word (upper-cased) and the rest."""
    assert parse_action(value) == expected


def test_split_dsn_only_takes_a_whole_status():
    """5.7.1 is a status; 5.7.1x or 5.7 are text."""
    assert split_dsn("5.7.1 no", "4.7.1") == ("5.7.1", "no")
    assert split_dsn("5.7.1x no", "4.7.1") == ("4.7.1", "5.7.1x no")


@pytest.mark.parametrize("status,klass,expected", [
    ("5.1.1", "Recipient address", "5.1.1"), ("5.1.1", "Sender address", "5.1.7"),
    ("5.1.2", "Sender address", "5.1.8"), ("4.1.8", "Recipient address", "4.1.2"),
    ("5.1.1", "Helo command", "5.0.0"), ("5.7.1", "Sender address", "5.7.1"),
])
def test_dsn_fix_matches_smtpd_dsn_fix(status, klass, expected):
    """Address statuses follow the kind of address rejected (smtpd_dsn_fix.c)."""
    assert dsn_fix(status, klass) == expected


def test_network_list_names_and_negation():
    """Host names match by parent domain; the first match, negated or not, wins."""
    nets = NetworkList.compile("!bad.example.com, example.com, [2001:db8::]/32")
    assert nets.match("mx.example.com", "198.51.100.1")
    assert not nets.match("bad.example.com", "198.51.100.1")
    assert nets.match("unknown", "2001:db8::5")
    assert not nets.match("unknown", "198.51.100.1")


def test_network_list_ipv4_mapped_client():
    """An IPv4-mapped IPv6 client address matches the IPv4 network."""
    assert NetworkList.compile("192.0.2.0/24").match("unknown", "::ffff:192.0.2.4")


def test_reply_rules():
    """Bad codes become 450 4.7.1 Service unavailable; the class digit follows the code."""
    assert make_reply(600, "5.7.1", "x") == Reply.of(450, "Service unavailable", "4.7.1")
    assert make_reply(550, "9.9.9", "x") == Reply.of(450, "Service unavailable", "4.7.1")
    assert str(make_reply(450, "5.7.1", "x\x01y")) == "450 4.7.1 x y"


def test_policy_protocol_round_trip():
    """Requests end with an empty line; the first action= wins."""
    assert encode_request({"a": "1"}) == b"a=1\n\n"
    assert parse_response(b"action=OK\naction=REJECT\n\n") == "OK"
