"""Address masquerading (postconf(5) masquerade_domains, cleanup_masquerade.c).

The POSTFIX_CASES table was obtained from Postfix 3.7.11 on a private
instance with ``masquerade_domains = !sub.example.com, foo.example.com,
example.com`` and ``masquerade_exceptions = root``: each address was used as
envelope sender (``sendmail -f ADDRESS discard@example.net``; envelope_sender
is in the default masquerade_classes) and the ``from=<...>`` that qmgr
logged was recorded. The DOCUMENTED cases are the examples in postconf(5).
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from mailflow.address.masquerade import masquerade

DOMAINS = ["!sub.example.com", "foo.example.com", "example.com"]
EXCEPTIONS = ["root"]

POSTFIX_CASES = [
    ("user@any.thing.foo.example.com", "user@foo.example.com"),
    ("user@host.sub.example.com", "user@host.sub.example.com"),
    ("user@host.example.com", "user@example.com"),
    ("root@host.example.com", "root@host.example.com"),
    ("user@example.com", "user@example.com"),
    ("user@notexample.com", "user@notexample.com"),
    ("User@Host.EXAMPLE.com", "User@example.com"),
    ("user@sub.example.com", "user@sub.example.com"),
]


@pytest.mark.parametrize("address,expected", POSTFIX_CASES, ids=[a for a, _ in POSTFIX_CASES])
def test_matches_postfix(address, expected):
    """Each sender is masqueraded as Postfix logged it."""
    assert masquerade(address, DOMAINS, EXCEPTIONS) == expected


# postconf(5), masquerade_domains: "masquerade_domains = foo.example.com
# example.com" strips user@any.thing.foo.example.com to user@foo.example.com
# and user@any.thing.example.com to user@example.com; with
# "!sub.example.com, example.com" user@host.sub.example.com is not stripped.
DOCUMENTED = [
    (["foo.example.com", "example.com"], "user@any.thing.foo.example.com", "user@foo.example.com"),
    (["foo.example.com", "example.com"], "user@any.thing.example.com", "user@example.com"),
    (["!sub.example.com", "example.com"], "user@host.sub.example.com", "user@host.sub.example.com"),
    (["!sub.example.com", "example.com"], "user@host.example.com", "user@example.com"),
]


@pytest.mark.parametrize("domains,address,expected", DOCUMENTED,
                         ids=["foo-first", "parent", "exception", "exception-elsewhere"])
def test_documented_examples(domains, address, expected):
    """postconf(5)'s masquerade_domains examples give the documented results."""
    assert masquerade(address, domains) == expected


def test_order_matters():
    """The first matching entry decides: a parent listed first hides a more specific one."""
    assert masquerade("u@a.foo.example.com", ["example.com", "foo.example.com"]) == "u@example.com"


def test_double_bang_toggles_back():
    """Each '!' toggles, so '!!example.com' masquerades again (as Postfix's loop does)."""
    assert masquerade("u@h.example.com", ["!!example.com"]) == "u@example.com"


def test_label_boundary_required():
    """A domain that merely ends with the text of a listed domain is not a subdomain."""
    assert masquerade("u@myexample.com", ["example.com"]) == "u@myexample.com"


def test_exceptions_ignore_case():
    """masquerade_exceptions match local parts without regard to case."""
    assert masquerade("ROOT@h.example.com", ["example.com"], ["root"]) == "ROOT@h.example.com"


def test_exception_is_whole_local_part():
    """An exception does not cover an extended local part (no extension stripping)."""
    assert masquerade("root+x@h.example.com", ["example.com"], ["root"]) == "root+x@example.com"


def test_address_without_domain_unchanged():
    """A bare local part has no domain to masquerade."""
    assert masquerade("user", ["example.com"]) == "user"


def test_empty_entries_are_skipped():
    """Empty list entries (a lone '!') are ignored."""
    assert masquerade("u@h.example.com", ["!", "", "example.com"]) == "u@example.com"


def test_docstring_examples_run():
    """The masquerade module's docstring examples run as shown.

    (The package exports the function under the module's name, so the module
    is taken from the import system.)
    """
    result = doctest.testmod(importlib.import_module("mailflow.address.masquerade"))
    assert result.attempted > 0 and result.failed == 0


# Header rewriting compared with Postfix 3.7.11: the same instance, with
# canonical_maps holding joe@example.com -> joseph.doe@example.com,
# wietse@porcupine.org -> Wietse.Venema@porcupine.org and the cl1/cl2 loop,
# got a message through `sendmail` that a header_checks HOLD rule parked;
# `postcat -h -q ID` showed the headers below. Postfix re-formats the header
# text (it dropped the space before "(work)" and refolded To:); mailflow
# keeps the formatting, so the comparison is on the addresses.
HEADER_CASES = [
    ('"Ann" <ann@host.example.com> (work)', '"Ann" <ann@example.com>(work)'),
    ('team: bob@a.foo.example.com,\n\t"x y"@host.example.com;, joe@example.com, Carl <cl1@example.com>',
     'team: bob@foo.example.com, "x y"@example.com;,\n\tjoseph.doe@example.com, Carl <cl1@example.com>'),
    ("undisclosed-recipients:;", "undisclosed-recipients:;"),
    ("wietse@porcupine.org (W)", "Wietse.Venema@porcupine.org (W)"),
]


@pytest.mark.parametrize("value,postfix", HEADER_CASES, ids=["from", "to-group", "empty-group", "reply-to"])
def test_header_canonical_and_masquerade_match_postfix(value, postfix):
    """Header addresses come out of canonical mapping plus masquerading as Postfix's did."""
    from mailflow.address.canonical import canonical_map
    from mailflow.address.parse import parse_header_addresses, rewrite_header_addresses
    from mailflow.tables import MemoryTable
    table = MemoryTable({"joe@example.com": "joseph.doe@example.com",
                         "wietse@porcupine.org": "Wietse.Venema@porcupine.org",
                         "cl1@example.com": "cl2@example.com", "cl2@example.com": "cl1@example.com"})

    def both(addr: str) -> str:
        return masquerade(canonical_map(addr, table), DOMAINS, EXCEPTIONS)

    ours = rewrite_header_addresses(value, both)
    def addresses(v: str) -> list:
        return [(a.display_name, a.address, a.group) for a in parse_header_addresses(v)]
    assert addresses(ours) == addresses(postfix)
