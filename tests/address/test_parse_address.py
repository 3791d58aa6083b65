"""Address forms, SMTP paths and header address lists.

The PATH_FORMS table was obtained from Postfix 3.7.11: each path was sent as
``RCPT TO:<path>`` to a private smtpd (Python smtplib, one message), and the
external form Postfix logged as ``orig_to=<...>`` in its maillog is recorded.
Postfix logs the quoted (external) form of the internal address, so
``quote_address(parse_path(path))`` must give that text. (The source route
case differs on purpose: Postfix's trivial-rewrite strips the route before
logging; parse_path keeps it for rewrite to decide.)
"""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, strategies as st

import mailflow.address
import mailflow.address.parse
import mailflow.address.quote
import mailflow.address.virtual
from mailflow.address.parse import (AddressSyntaxError, HeaderAddress, externalize, parse_header_addresses,
                                    parse_path, rewrite_header_addresses)
from mailflow.address.quote import is_dot_atom, quote_address, split_address, unquote_address
from mailflow.errors import AddressError

PATH_FORMS = [
    ('<"john..doe"@example.org>', '"john..doe"@example.org'),
    ('<"john.doe"@example.org>', "john.doe@example.org"),
    (r'<"a\"b"@example.org>', r'"a\"b"@example.org'),
    ('<"a@b"@example.org>', '"a@b"@example.org'),
    ('<"."@example.org>', '"."@example.org'),
    ('<".a"@example.org>', '".a"@example.org'),
    ('<"a."@example.org>', '"a."@example.org'),
    ('<""@example.org>', '""@example.org'),
    ('<"a b"@example.org>', '"a b"@example.org'),
    (r'<"a\\b"@example.org>', r'"a\\b"@example.org'),
    ('<"a(b)"@example.org>', '"a(b)"@example.org'),
    ('<"a,b"@example.org>', '"a,b"@example.org'),
    ("<a!b%c@example.org>", "a!b%c@example.org"),
    ("<a+b=c/d@example.org>", "a+b=c/d@example.org"),
    (r'<"a\ b"@example.org>', '"a b"@example.org'),
    (r'<"\x"@example.org>', "x@example.org"),
]


@pytest.mark.parametrize("path,logged", PATH_FORMS, ids=[p for p, _ in PATH_FORMS])
def test_path_then_quote_matches_postfix(path, logged):
    """Parsing a path and quoting it again gives the form Postfix logs."""
    assert quote_address(parse_path(path)) == logged


@pytest.mark.parametrize("path,internal", [
    ("<>", ""),
    ("<user@example.com>", "user@example.com"),
    ("user@example.com", "user@example.com"),
    ("  <user@example.com>  ", "user@example.com"),
    ("<postmaster>", "postmaster"),
    ('<"a b"@example.com>', "a b@example.com"),
    ("<@a.example,@b.example:user@c.example>", "@a.example,@b.example:user@c.example"),
    ('<@a.example:"x y"@c.example>', "@a.example:x y@c.example"),
    ("<user@[192.0.2.1]>", "user@[192.0.2.1]"),
    ("<user@[IPv6:2001:db8::1]>", "user@[IPv6:2001:db8::1]"),
    ("<用户@例子.广告>", "用户@例子.广告"),
    ("<a!b@c>", "a!b@c"),
    ("<User@Example.COM>", "User@Example.COM"),
], ids=["null", "plain", "no-brackets", "spaces-around", "bare-user", "quoted", "source-route",
        "route-quoted", "ipv4-literal", "ipv6-literal", "smtputf8", "bang-path", "case-kept"])
def test_parse_path(path, internal):
    """SMTP paths become internal form; routes, literals and UTF-8 are kept."""
    assert parse_path(path) == internal


@pytest.mark.parametrize("path,position,reason", [
    ("<user@example.com", 17, "missing '>'"),
    ("<a b@example.com>", 2, "whitespace or comment in address"),
    ('<"abc@example.com>', 1, "unterminated quoted string"),
    ("<user@>", 6, "missing domain after '@'"),
    ("<@example.com>", 1, "source route without ':'"),
    ("<a..b@example.com>", 3, "unexpected '.' in local part"),
    ("<user@example.com.>", 17, "domain ends in '.'"),
    ("<a,b@example.com>", 2, "unexpected ','"),
    ("<a<b@example.com>", 2, "unexpected '<'"),
    ("<a)b@example.com>", 2, "unexpected ')'"),
], ids=["unclosed", "space", "open-quote", "no-domain", "route-only", "double-dot", "trailing-dot",
        "comma", "angle", "paren"])
def test_bad_path_says_where_and_why(path, position, reason):
    """A bad path raises AddressError with the position and reason."""
    with pytest.raises(AddressSyntaxError) as info:
        parse_path(path)
    assert (info.value.position, info.value.reason) == (position, reason)
    assert isinstance(info.value, AddressError)


def test_strict_path_needs_brackets():
    """With strict=True (strict_rfc821_envelopes) a bare address is refused."""
    with pytest.raises(AddressSyntaxError, match="missing '<'"):
        parse_path("user@example.com", strict=True)


@pytest.mark.parametrize("addr,local,domain", [
    ("user@example.com", "user", "example.com"),
    ('"a@b"@example.com', '"a@b"', "example.com"),
    ("a@b@example.com", "a@b", "example.com"),
    ("user", "user", ""),
    ('"x\\"@"@y', '"x\\"@"', "y"),
], ids=["plain", "quoted-at", "internal-at", "no-domain", "escaped-quote"])
def test_split_address(addr, local, domain):
    """The domain starts after the last @ outside quotes."""
    assert split_address(addr) == (local, domain)


@pytest.mark.parametrize("local,atom", [
    ("john.doe", True), ("john..doe", False), (".john", False), ("john.", False),
    ("", False), ("a b", False), ("a+b=c", True), ("jöran", True), ("a\tb", False),
])
def test_is_dot_atom(local, atom):
    """Dot-atoms need no quotes; anything else does (quote_822_local)."""
    assert is_dot_atom(local) is atom


# --- header address lists ----------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("user@example.com", [("", "user@example.com", None)]),
    ("Ann Example <ann@example.com>", [("Ann Example", "ann@example.com", None)]),
    ('"Doe, John" <john@example.com>', [("Doe, John", "john@example.com", None)]),
    ('"a \\"q\\" b" <x@y>', [('a "q" b', "x@y", None)]),
    ("a@x, b@y", [("", "a@x", None), ("", "b@y", None)]),
    ("a@x,,b@y,", [("", "a@x", None), ("", "b@y", None)]),
    ("undisclosed-recipients:;", [("", None, "undisclosed-recipients")]),
    ("team: a@x, Bee <b@y>;", [("", "a@x", "team"), ("Bee", "b@y", "team")]),
    ("team: a@x;, c@z", [("", "a@x", "team"), ("", "c@z", None)]),
    ("<>", [("", "", None)]),
    ('"a b"@example.com', [("", "a b@example.com", None)]),
    ("=?utf-8?q?J=C3=B6ran?= <j@x>", [("=?utf-8?q?J=C3=B6ran?=", "j@x", None)]),
    ("Ann\n\t<ann@example.com>", [("Ann", "ann@example.com", None)]),
    ("john . doe @ example . com", [("", "john.doe@example.com", None)]),
    ("<@r.example:u@x>", [("", "@r.example:u@x", None)]),
    ("Ann (the boss) <ann@x> (home)", [("Ann", "ann@x", None)]),
    ("bare-user", [("", "bare-user", None)]),
    ("john@example.com <john@example.com>", [("john@example.com", "john@example.com", None)]),
], ids=["bare", "name-addr", "quoted-name-comma", "escaped-name", "two", "empty-elements",
        "empty-group", "group", "group-then-more", "null", "quoted-local", "encoded-word",
        "folded", "cfws-inside", "route", "comments", "no-domain",
        "address-as-display-name"])
def test_parse_header_addresses(value, expected):
    """Header values yield (display name, internal address, group) per address."""
    got = [(a.display_name, a.address, a.group) for a in parse_header_addresses(value)]
    assert got == expected


def test_comment_next_to_bare_address_is_kept():
    """A comment after a bare address is reported as its comment."""
    [a] = parse_header_addresses("user@example.com (User Name)")
    assert a.comment == "User Name"


def test_span_points_at_the_address():
    """The span slices the address itself out of the header value."""
    value = 'Ann <"a b"@x>, c@y (C)'
    spans = [value[a.span[0]:a.span[1]] for a in parse_header_addresses(value)]
    assert spans == ['"a b"@x', "c@y"]


@pytest.mark.parametrize("value,position,reason", [
    ("Ann <ann@x", 10, "missing '>'"),
    ('"Ann <ann@x>', 0, "unterminated quoted string"),
    ("Ann (x <ann@x>", 4, "unterminated comment"),
    ("team: a@x", 9, "group without ';'"),
    ("a@x; b@y", 3, "unexpected ';'"),
    ("Ann <a@x> b", 10, "unexpected 'b' after '>'"),
    ("a b@x", 2, "expected '.' or '@' in local part"),
], ids=["unclosed-angle", "open-quote", "open-comment", "unclosed-group", "stray-semicolon",
        "text-after-angle", "two-words"])
def test_bad_header_value_says_where_and_why(value, position, reason):
    """A header value that does not parse raises AddressSyntaxError with position and reason."""
    with pytest.raises(AddressSyntaxError) as info:
        parse_header_addresses(value)
    assert (info.value.position, info.value.reason) == (position, reason)


@pytest.mark.parametrize("value,expected", [
    ("a@old", "a@new"),
    ('"Ann" <a@old> (work)', '"Ann" <a@new> (work)'),
    ("team: a@old,\n\tb@old;", "team: a@new,\n\tb@new;"),
    ("undisclosed-recipients:;", "undisclosed-recipients:;"),
    ("<>", "<>"),
    ("a@other, b@old", "a@other, b@new"),
    ("Ann <a@old", "Ann <a@old"),
], ids=["bare", "name-and-comment", "folded-group", "empty-group", "null", "only-matching",
        "unparseable-unchanged"])
def test_rewrite_keeps_formatting(value, expected):
    """Only the addresses change; names, comments, folding and groups stay."""
    assert rewrite_header_addresses(value, lambda a: a.replace("@old", "@new")) == expected


def test_rewrite_quotes_when_needed():
    """A rewritten local part that is not a dot-atom is written quoted."""
    assert rewrite_header_addresses("x@y", lambda a: "a b@y") == '"a b"@y'


def test_rewrite_keeps_source_route_unquoted():
    """A route prefix stays in front of the quoted mailbox."""
    assert externalize("@r:x y@c") == '@r:"x y"@c'


# --- properties ----------------------------------------------------------------

# Local parts: anything printable (specials, quotes, backslashes, spaces, UTF-8).
local_parts = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\x7f"),
                      max_size=20)
labels = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=10)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
internal_addresses = st.builds(lambda l, d: f"{l}@{d}", local_parts, domains)


@given(internal_addresses)
def test_quote_unquote_round_trip(addr):
    """unquote_address(quote_address(a)) == a for every internal address."""
    assert unquote_address(quote_address(addr)) == addr


@given(internal_addresses)
def test_path_round_trip(addr):
    """parse_path('<' + quote(a) + '>') gives back the internal address."""
    assert parse_path("<" + quote_address(addr) + ">") == addr


@given(internal_addresses, st.text(st.sampled_from("abc XYZ"), max_size=10))
def test_header_round_trip(addr, name):
    """An address written into a header with a display name parses back unchanged."""
    value = f'"{name}" <{quote_address(addr)}>, {quote_address(addr)}'
    got = parse_header_addresses(value)
    assert [a.address for a in got] == [addr, addr]
    assert got[0].display_name == " ".join(name.split())


@given(internal_addresses)
def test_quote_is_idempotent_on_its_output_form(addr):
    """Quoting twice through unquote gives the same external form."""
    once = quote_address(addr)
    assert quote_address(unquote_address(once)) == once


@given(internal_addresses)
def test_identity_rewrite_changes_nothing(addr):
    """Rewriting with the identity function returns the header value as it was."""
    value = f"Someone <{quote_address(addr)}> (c), {quote_address(addr)}"
    assert rewrite_header_addresses(value, lambda a: a) == value


# --- docstring examples ----------------------------------------------------------

@pytest.mark.parametrize("module", [mailflow.address, mailflow.address.quote, mailflow.address.parse,
                                    mailflow.address.virtual],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    """Every example in the address modules' docstrings runs as shown."""
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_header_address_is_frozen():
    """HeaderAddress values cannot be changed in place."""
    a = HeaderAddress("", "a@x")
    with pytest.raises(AttributeError):
        a.address = "b@x"  # type: ignore[misc]


def test_addresses_doc_examples_run():
    """Every example in docs/addresses.md runs as shown."""
    from pathlib import Path
    page = Path(__file__).resolve().parents[2] / "docs" / "addresses.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted > 0 and result.failed == 0
