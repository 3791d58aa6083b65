"""Canonical mapping (canonical(5), cleanup_map11.c) as a pure function.

Expectations marked "postfix" were obtained from Postfix 3.7.11 on a private
instance with CANONICAL below as ``canonical_maps = hash:...`` (built with
postmap), ``recipient_delimiter = +``, ``mydestination = mx.example.test,
localhost``, ``default_transport = discard``: each recipient was submitted
with ``sendmail -f '' RECIPIENT`` and the ``to=<...>, orig_to=<...>`` line in
the instance's maillog recorded (plus cleanup's warnings).
"""

from __future__ import annotations

import doctest

import pytest

import mailflow.address.canonical
from mailflow.address.canonical import MAX_CANONICAL_RECURSION, canonical_map, map_address
from mailflow.errors import TableError
from mailflow.tables import CallableTable, MemoryTable

CANONICAL = {
    "wietse@porcupine.org": "Wietse.Venema@porcupine.org",
    "@old.example": "@new.example",
    "joe@example.com": "joseph.doe@example.com",
    "c1@example.com": "c2@example.com",
    "c2@example.com": "c3@example.com",
    "multi@example.com": "m1@example.com, m2@example.com",
    "self@example.com": "SELF@example.com",
    "@catch.example": "postmaster@example.com",
    "cl1@example.com": "cl2@example.com",
    "cl2@example.com": "cl1@example.com",
    "localonly": "lo@example.net",
}

LOCAL_DOMAINS = {"mx.example.test", "localhost"}

POSTFIX_CASES = [
    ("wietse@porcupine.org", "Wietse.Venema@porcupine.org"),
    ("anyone@old.example", "anyone@new.example"),
    ("anyone+ext@old.example", "anyone+ext@new.example"),
    ("joe@example.com", "joseph.doe@example.com"),
    ("joe+lists@example.com", "joseph.doe+lists@example.com"),
    ("c1@example.com", "c3@example.com"),
    ("multi@example.com", "m1@example.com"),            # postfix warns: multi-valued entry
    ("self@example.com", "SELF@example.com"),
    ("who+x@catch.example", "postmaster@example.com"),
    ("cl1@example.com", "cl1@example.com"),             # postfix warns: unreasonable nesting
    ("localonly@mx.example.test", "lo@example.net"),
    ("localonly@example.net", "localonly@example.net"),
    ("localonly+x@localhost", "lo+x@example.net"),
]


def mapped(address: str, **kw) -> str:
    kw.setdefault("delimiter", "+")
    kw.setdefault("local_domain", LOCAL_DOMAINS.__contains__)
    return canonical_map(address, MemoryTable(CANONICAL), **kw)


@pytest.mark.parametrize("address,expected", POSTFIX_CASES, ids=[a for a, _ in POSTFIX_CASES])
def test_matches_postfix(address, expected):
    """Each address maps to what Postfix delivered to."""
    assert mapped(address) == expected


def test_unmatched_address_is_unchanged():
    """An address with no entry comes back as it was."""
    assert mapped("nobody@elsewhere.example") == "nobody@elsewhere.example"


def test_null_address_is_never_mapped():
    """The null sender stays null even with a catch-all entry."""
    assert canonical_map("", MemoryTable({"": "x@y", "@": "x@y"})) == ""


def test_extension_not_propagated_when_disabled():
    """Without 'canonical' in propagate_unmatched_extensions the extension is dropped."""
    assert mapped("joe+lists@example.com", propagate_extension=False) == "joseph.doe@example.com"


def test_nesting_stops_after_ten_lookups():
    """A chain is followed at most MAX_CANONICAL_RECURSION times, then the last result stands."""
    chain = {f"n{i}@x": f"n{i + 1}@x" for i in range(30)}
    assert MAX_CANONICAL_RECURSION == 10
    assert canonical_map("n0@x", MemoryTable(chain)) == "n10@x"


def test_self_mapping_stops_at_once():
    """A result equal to its key (ignoring case) ends the lookups."""
    calls: list[str] = []
    def table(key: str) -> str | None:
        calls.append(key)
        return CANONICAL.get(key)
    assert canonical_map("self@example.com", CallableTable(table)) == "SELF@example.com"
    assert calls == ["self@example.com"]


def test_table_error_propagates():
    """A table that cannot answer raises TableError (cleanup defers the message)."""
    def broken(key: str) -> str | None:
        raise TableError("canonical_maps: lookup error")
    with pytest.raises(TableError):
        canonical_map("a@x", CallableTable(broken))


def test_result_without_address_is_a_lookup_problem():
    """An entry holding no address raises TableError, as Postfix defers on it."""
    with pytest.raises(TableError, match="non-address result"):
        canonical_map("a@x", MemoryTable({"a@x": " , "}))


def test_rewrite_applies_to_results():
    """The rewrite hook canonicalizes each result (trivial-rewrite, local context)."""
    table = MemoryTable({"a@x": "bare"})
    assert canonical_map("a@x", table, rewrite=lambda a: a + "@origin.example") == "bare@origin.example"


def test_quoted_local_part_uses_external_key():
    """A local part with a space is looked up in quoted form, and a quoted result is unquoted."""
    table = MemoryTable({'"a b"@x': '"c d"@y'})
    assert canonical_map("a b@x", table) == "c d@y"


@pytest.mark.parametrize("address,value,expected", [
    ("joe@example.com", "a@x, b@y", ["a@x", "b@y"]),
    ("joe+x@example.com", "a@x", ["a+x@x"]),
    ("joe+x@example.com", "@example.net", ["joe+x@example.net"]),
    ("joe@example.com", "", [""]),
], ids=["list", "extension", "at-domain-keeps-extension", "null"])
def test_map_address_step(address, value, expected):
    """One mapping step returns every result address in internal form."""
    table = MemoryTable({"joe@example.com": value})
    assert map_address(address, table, delimiter="+") == expected


def test_map_address_miss_is_none():
    """No entry gives None, not an empty list."""
    assert map_address("a@x", MemoryTable({})) is None


def test_docstring_examples_run():
    """The canonical module's docstring examples run as shown."""
    result = doctest.testmod(mailflow.address.canonical)
    assert result.attempted > 0 and result.failed == 0
