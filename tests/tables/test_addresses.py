"""Address search orders (virtual, canonical, alias, transport) implemented once."""

from __future__ import annotations

import pytest

from mailflow.errors import TableError
from mailflow.tables import Maps, lookup_address, open_table, search_keys, split_extension
from mailflow.tables.addresses import AddressMatch


def local(domain: str) -> bool:
    return domain == "local.example"


@pytest.mark.parametrize("address, style, delim, want", [
    ("u+e@local.example", "virtual", "+",
     ["u+e@local.example", "u@local.example", "u+e", "u", "@local.example"]),
    ("u+e@remote.example", "virtual", "+", ["u+e@remote.example", "u@remote.example",
                                            "@remote.example"]),
    ("u@local.example", "virtual", "+", ["u@local.example", "u", "@local.example"]),
    ("u+e@remote.example", "canonical", "+", ["u+e@remote.example", "u@remote.example",
                                              "@remote.example"]),
    ("u+e@local.example", "alias", "+", ["u+e", "u"]),
    ("u+e@a.b.example", "transport", "+",
     ["u+e@a.b.example", "u@a.b.example", "a.b.example", ".b.example", ".example", "*"]),
    ("u-e@remote.example", "virtual", "+-", ["u-e@remote.example", "u@remote.example",
                                             "@remote.example"]),
    ("u+e@remote.example", "virtual", "", ["u+e@remote.example", "@remote.example"]),
    ("bare+e", "virtual", "+", ["bare+e", "bare"]),
], ids=["virtual-local", "virtual-remote", "virtual-no-ext", "canonical", "alias", "transport",
        "several-delimiters", "no-delimiter", "no-domain"])
def test_search_order(address, style, delim, want):
    """Keys are tried in the order the style's Postfix manual page gives."""
    keys = [k for k, _, _ in search_keys(address, delimiter=delim, local_domain=local,
                                         style=style)]
    assert keys == want


@pytest.mark.parametrize("local_part, delim, want", [
    ("joe+a+b", "+", ("joe", "a+b")),
    ("joe-x+y", "+-", ("joe", "x+y")),
    ("+x", "+", ("+x", None)),
    ("owner-list", "-", ("owner-list", None)),
    ("list-request", "-", ("list-request", None)),
    ("joe", "+", ("joe", None)),
], ids=["first-delimiter", "any-of-several", "empty-user", "owner-", "-request", "none"])
def test_split_extension(local_part, delim, want):
    """The extension starts at the first delimiter, with Postfix's exceptions."""
    assert split_extension(local_part, delim) == want


def test_match_reports_unmatched_extension():
    """A hit on a key without the extension reports the extension."""
    table = {"joe@example.com": "joe@elsewhere"}
    assert lookup_address(open_table(table), "joe+news@example.com", delimiter="+") == \
        AddressMatch("joe@elsewhere", "joe@example.com", "news")


def test_domain_catchall_reports_no_extension():
    """An @domain hit carries no extension (Postfix mail_addr_find)."""
    match = lookup_address(open_table({"@example.com": "all"}), "joe+x@example.com",
                           delimiter="+")
    assert match == AddressMatch("all", "@example.com", None)


def test_regexp_tables_get_only_the_full_address(write):
    """A regexp table is asked only for the full address, never partial keys."""
    table = open_table("regexp:" + write("re", "/^joe@example\\.com$/ hit\n/^@/ partial\n"))
    assert lookup_address(table, "joe+x@example.com", delimiter="+") is None
    assert lookup_address(table, "joe@example.com").value == "hit"


# Postfix 3.7.11: with transport_maps = regexp:FILE holding "/^\*$/ error:star",
# trivial-rewrite resolves user@example.org (request=resolve on its
# private/rewrite socket) to transport "error", nexthop "star": the wildcard
# is looked up as a full key (transport.c), so pattern tables see it.
def test_transport_wildcard_reaches_regexp_tables(write):
    """The transport wildcard ``*`` is asked of regexp tables too, as Postfix does."""
    table = open_table("regexp:" + write("re", "/^\\*$/ error:star\n"))
    assert lookup_address(table, "user@example.org", style="transport").value == "error:star"


def test_transport_parent_domains_without_dot_when_matching_subdomains():
    """With match_subdomains, parent domains are tried as plain names (example.com, com)."""
    keys = [k for k, _, _ in search_keys("u@a.example.com", style="transport",
                                         match_subdomains=True)]
    assert keys == ["u@a.example.com", "a.example.com", "example.com", "com", "*"]


def test_maps_try_each_key_in_every_table_first():
    """With a Maps, a full-address hit in a later table beats a partial hit in an earlier one."""
    maps = Maps([{"@example.com": "catchall"}, {"joe@example.com": "exact"}])
    assert lookup_address(maps, "joe@example.com").value == "exact"


def test_table_error_propagates():
    """A table that cannot answer stops the lookup with TableError."""
    with pytest.raises(TableError):
        lookup_address(open_table("fail:x"), "a@b")


def test_unknown_style_is_refused():
    """A misspelt style is an error, not a silent default."""
    with pytest.raises(ValueError):
        lookup_address(open_table({}), "a@b", style="virtal")
