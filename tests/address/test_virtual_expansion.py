"""Virtual alias expansion (virtual(5), cleanup(8)) as a pure function.

Expectations marked "postfix" were obtained from Postfix 3.7.11 on a private
instance with this table as ``virtual_alias_maps = hash:...``,
``virtual_alias_domains = example.org``, ``recipient_delimiter = +``,
``default_transport = discard``, by running ``sendmail -bv ADDRESS`` and
reading the ``to=<...>, orig_to=<...>`` lines (and cleanup's warnings) in
the instance's maillog. Final recipients are compared as a set there because
Postfix's log order follows delivery, not expansion.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from mailflow.address.virtual import ALIAS_EXPANSION_ERROR, Expansion, expand_virtual, split_result
from mailflow.errors import TableError
from mailflow.tables import CallableTable, MemoryTable

# The table used on the Postfix instance (keys lowercased as postmap does).
POSTFIX_TABLE = {
    "sales@example.org": "ann@example.org, bob@example.org",
    "bob@example.org": "bob@example.org, bob@archive.example.net",
    "loop1@example.org": "loop2@example.org",
    "loop2@example.org": "loop1@example.org",
    "@example.org": "catchall@example.net",
    "user@example.org": "user-real@example.net",
    "plus@example.org": "plusdest@example.net",
    "other@example.org": "@example.com",
    "spaces@example.org": "s1@example.net   s2@example.net",
    "quoted@example.org": '"x y"@example.net',
    "dup@example.org": "Dup1@example.net, dup1@example.net",
    "selfb@example.org": "selfb@example.org, selfc@example.org",
    "selfc@example.org": "selfb@example.org",
    "stopb@example.org": "stopc@example.org",
    "stopc@example.org": "stopc@example.org, stopb@example.org",
    "chain1@example.org": "chain2@example.org",
    "chain2@example.org": "chain3@example.org",
    "chain3@example.org": "chain4@example.org",
    "chain4@example.org": "chain5@example.net",
    "wide@example.org": "w1@example.net, w2@example.net, w3@example.net, w4@example.net",
    "upper@example.org": "UPPER@example.org, x1@example.net",
}

# (address, final recipients) as Postfix delivered them (sendmail -bv, maillog).
POSTFIX_CASES = [
    ("sales@example.org", {"catchall@example.net", "bob@example.org", "bob@archive.example.net"}),
    ("plus+foo@example.org", {"plusdest+foo@example.net"}),
    ("other+x@example.org", {"other+x@example.com"}),
    ("other@example.org", {"other@example.com"}),
    ("nobody+y@example.org", {"catchall@example.net"}),
    ("user@example.org", {"user-real@example.net"}),
    ("spaces@example.org", {"s1@example.net", "s2@example.net"}),
    ("quoted@example.org", {"x y@example.net"}),       # logged as "x y"@example.net
    ("dup@example.org", {"Dup1@example.net"}),
    ("selfb@example.org", {"selfb@example.org"}),
    ("stopb@example.org", {"stopc@example.org"}),
    ("chain1@example.org", {"chain5@example.net"}),
    ("wide@example.org", {"w1@example.net", "w2@example.net", "w3@example.net", "w4@example.net"}),
    ("upper@example.org", {"UPPER@example.org", "x1@example.net"}),
]


def expand(address: str, **kw) -> Expansion:
    kw.setdefault("delimiter", "+")
    return expand_virtual(address, MemoryTable(POSTFIX_TABLE), **kw)


@pytest.mark.parametrize("address,final", POSTFIX_CASES, ids=[c[0] for c in POSTFIX_CASES])
def test_final_recipients_match_postfix(address, final):
    """Each address expands to the final recipients Postfix delivered to."""
    result = expand(address)
    assert result.errors() == []
    assert set(result.leaves()) == final
    assert len(result.leaves()) == len(final)


def test_one_to_many_keeps_table_order():
    """Results come out in the order the table lists them, depth first."""
    assert expand("sales@example.org").leaves() == [
        "catchall@example.net", "bob@example.org", "bob@archive.example.net"]


def test_tree_shows_each_step():
    """The tree records every intermediate address, including self-references."""
    tree = expand("sales@example.org")
    assert tree == Expansion("sales@example.org", (
        Expansion("ann@example.org", (Expansion("catchall@example.net"),)),
        Expansion("bob@example.org", (
            Expansion("bob@example.org"), Expansion("bob@archive.example.net"))),
    ))


def test_address_without_entry_is_its_own_leaf():
    """An address with no table entry is returned unchanged, with no children."""
    tree = expand_virtual("nobody@example.net", MemoryTable(POSTFIX_TABLE))
    assert tree == Expansion("nobody@example.net")
    assert tree.leaves() == ["nobody@example.net"]


def test_self_reference_stops_recursion_everywhere():
    """An address that expanded into itself is not expanded again further down (selfb/selfc)."""
    tree = expand("selfb@example.org")
    selfc = tree.children[1]
    assert selfc.address == "selfc@example.org"
    assert selfc.children == (Expansion("selfb@example.org"),)


def test_intermediate_self_reference_is_not_a_loop():
    """stopb -> stopc -> (stopc, stopb) ends because stopc met itself; Postfix accepts it."""
    tree = expand("stopb@example.org")
    assert tree.errors() == []
    assert tree.leaves() == ["stopc@example.org"]


@pytest.mark.parametrize("address", ["loop1@example.org", "loop2@example.org"])
def test_alias_loop_is_a_temporary_error(address):
    """A loop defers with 4.6.0 Alias expansion error (Postfix: 'unreasonable ... map nesting')."""
    tree = expand(address)
    [bad] = tree.errors()
    assert bad.looped is True
    assert bad.error == ALIAS_EXPANSION_ERROR
    assert str(bad.error) == "4.6.0 Alias expansion error"


def test_failed_expansion_leaves_recipient_unexpanded():
    """After an error the final recipient list is the address as given (Postfix UNEXPAND)."""
    assert expand("loop1@example.org").leaves() == ["loop1@example.org"]


def test_loop_through_second_result_is_detected():
    """A loop reached through a non-first result is still reported as a loop."""
    table = MemoryTable({"a@x": "keep@x, b@x", "b@x": "a@x"})
    tree = expand_virtual("a@x", table)
    [bad] = tree.errors()
    assert bad.looped and bad.address == "a@x"
    assert tree.children[1].address == "b@x" and tree.children[1].children == (bad,)


# Postfix with virtual_alias_recursion_limit = 3 (postconf -e, reload, sendmail -bv):
# chain1 and chain2 were refused ("unreasonable virtual_alias_maps map nesting"),
# a chain of two hops was accepted.
@pytest.mark.parametrize("address,fails", [
    ("chain1@example.org", True),
    ("chain2@example.org", True),
    ("chain3@example.org", False),
], ids=["four-hops", "three-hops", "two-hops"])
def test_recursion_limit(address, fails):
    """Needing recursion_limit or more nested lookups fails with 4.6.0, as Postfix did."""
    tree = expand(address, recursion_limit=3)
    assert bool(tree.errors()) is fails
    if fails:
        assert tree.errors()[0].error == ALIAS_EXPANSION_ERROR
        assert tree.errors()[0].looped is False


# Postfix with virtual_alias_expansion_limit = 3: wide (4 results) was refused
# ("unreasonable virtual_alias_maps map expansion size"); sales (3 final) accepted.
@pytest.mark.parametrize("address,fails", [
    ("wide@example.org", True),
    ("sales@example.org", False),
], ids=["four-results", "three-results"])
def test_expansion_limit(address, fails):
    """More than expansion_limit addresses fails with 4.6.0, as Postfix did."""
    tree = expand(address, expansion_limit=3)
    assert bool(tree.errors()) is fails


def test_expansion_limit_error_is_on_the_root():
    """An expansion-size overrun is reported against the address being expanded."""
    tree = expand("wide@example.org", expansion_limit=3)
    assert [n.address for n in tree.errors()] == ["wide@example.org"]


def test_address_length_limit():
    """A result longer than virtual_alias_address_length_limit fails with 4.6.0."""
    table = MemoryTable({"a@x": "b" * 40 + "@example.net"})
    assert expand_virtual("a@x", table, address_length_limit=40).errors()
    assert not expand_virtual("a@x", table, address_length_limit=60).errors()


def test_result_without_address_is_an_error():
    """A result that holds no address (only separators) defers, as Postfix's 'non-address result'."""
    tree = expand_virtual("a@x", MemoryTable({"a@x": " , "}))
    assert tree.errors()[0].error == ALIAS_EXPANSION_ERROR


def test_table_error_propagates():
    """A table that cannot answer raises TableError; it is never a miss."""
    def broken(key: str) -> str | None:
        raise TableError("hash:/etc/virtual: lookup error")
    with pytest.raises(TableError):
        expand_virtual("a@x", CallableTable(broken))


def test_user_entry_wins_over_catch_all():
    """user@domain is looked up before @domain (virtual(5) search order)."""
    assert expand("user@example.org").leaves() == ["user-real@example.net"]


def test_extension_not_propagated_when_disabled():
    """Without propagate_unmatched_extensions=virtual the extension is dropped."""
    assert expand("plus+foo@example.org", propagate_extension=False).leaves() == [
        "plusdest@example.net"]


def test_extension_matched_exactly_is_not_propagated():
    """An entry for user+ext@domain matches whole and adds no extension."""
    table = MemoryTable({"a+b@x": "c@y", "a@x": "d@y"})
    assert expand_virtual("a+b@x", table, delimiter="+").leaves() == ["c@y"]


def test_no_delimiter_means_no_extension_search():
    """With recipient_delimiter empty, user+ext@domain is only looked up whole."""
    assert expand("plus+foo@example.org", delimiter="").leaves() == ["catchall@example.net"]


# Postfix, same instance plus "localuser lu@example.net" in the table and
# mydestination = mx.example.test, localhost: sendmail -bv gave these.
@pytest.mark.parametrize("address,final", [
    ("localuser@mx.example.test", ["lu@example.net"]),
    ("localuser+tag@localhost", ["lu+tag@example.net"]),
    ("localuser@example.net", ["localuser@example.net"]),
], ids=["local-domain", "local-with-extension", "remote-domain"])
def test_bare_user_key_matches_postfix(address, final):
    """A bare 'user' key applies to local domains only, with extension propagation, as in Postfix."""
    table = MemoryTable({"localuser": "lu@example.net"})
    tree = expand_virtual(address, table, delimiter="+",
                          local_domain={"mx.example.test", "localhost"}.__contains__)
    assert tree.leaves() == final


def test_local_part_lookup_only_for_local_domains():
    """A bare 'user' key matches only when local_domain says the domain is local."""
    table = MemoryTable({"postmaster": "admin@example.net"})
    local = expand_virtual("postmaster@here.example", table,
                           local_domain=lambda d: d == "here.example")
    remote = expand_virtual("postmaster@there.example", table,
                            local_domain=lambda d: d == "here.example")
    assert local.leaves() == ["admin@example.net"]
    assert remote.leaves() == ["postmaster@there.example"]


def test_case_folding_is_the_tables_business():
    """Keys go to the table in the address's case; a folding table (like hash:) finds lowercase keys."""
    asked: list[str] = []
    def folding(key: str) -> str | None:
        asked.append(key)
        return POSTFIX_TABLE.get(key.lower())
    tree = expand_virtual("User@Example.ORG", CallableTable(folding))
    assert tree.leaves() == ["user-real@example.net"]
    assert asked[0] == "User@Example.ORG"


def test_quoted_local_part_is_looked_up_in_external_form():
    """A local part with a space is looked up as "a b"@domain, the form postmap keys use."""
    table = MemoryTable({'"a b"@example.org': "ab@example.net"})
    assert expand_virtual("a b@example.org", table).leaves() == ["ab@example.net"]


def test_rewrite_applies_to_each_result():
    """The rewrite hook canonicalizes every result (Postfix: trivial-rewrite, local context)."""
    table = MemoryTable({"a@x": "bare, b@y"})
    def rewrite(addr: str) -> str:
        return addr if "@" in addr else addr + "@myorigin.example"
    assert expand_virtual("a@x", table, rewrite=rewrite).leaves() == [
        "bare@myorigin.example", "b@y"]


@pytest.mark.parametrize("value,expected", [
    ("a@x", ["a@x"]),
    ("a@x,b@y", ["a@x", "b@y"]),
    ("a@x b@y\tc@z", ["a@x", "b@y", "c@z"]),
    ('"a, b"@x, c@y', ['"a, b"@x', "c@y"]),
    ("<a@x>", ["a@x"]),
    ("", [""]),
    ("<>", [""]),
    ("Sales <s@x> (desk), b@y", ["s@x", "b@y"]),
    ("<a@x> <b@y>", ["a@x", "b@y"]),
], ids=["one", "comma", "whitespace", "quoted-comma", "angle", "empty", "null", "display-name",
        "angles-without-comma"])
def test_split_result(value, expected):
    """Table results split into addresses on commas and whitespace outside quotes."""
    assert split_result(value) == expected


# The warning texts Postfix's cleanup logged (maillog, after the queue ID and
# before " -- message not accepted, try again later") for the runs above.
@pytest.mark.parametrize("address,kwargs,reason", [
    ("loop1@example.org", {}, "unreasonable virtual_alias_maps map nesting for loop1@example.org"),
    ("chain1@example.org", {"recursion_limit": 3},
     "unreasonable virtual_alias_maps map nesting for chain1@example.org"),
    ("wide@example.org", {"expansion_limit": 3},
     "unreasonable virtual_alias_maps map expansion size for wide@example.org"),
], ids=["loop", "nesting", "expansion-size"])
def test_error_reason_uses_postfix_wording(address, kwargs, reason):
    """Each failure carries the warning Postfix logs for it."""
    assert expand(address, **kwargs).errors()[0].reason == reason


def test_error_reason_names_the_table():
    """The title argument names the table in the reason, as Postfix's maps title."""
    tree = expand_virtual("a@x", MemoryTable({"a@x": "b@x", "b@x": "a@x"}), title="alias_maps")
    assert tree.errors()[0].reason == "unreasonable alias_maps map nesting for a@x"


# --- property: the tree agrees with Postfix's own algorithm ------------------

def postfix_map1n(address: str, table: dict[str, list[str]], recursion_limit: int,
                  expansion_limit: int) -> list[str] | None:
    """A direct transcription of cleanup_map1n.c's loop (argv rewritten in
    place, a been-here set, both limits); None where Postfix defers.
    Returns the recipients after cleanup_out_recipient's duplicate filter."""
    argv = [address]
    been_here: set[str] = set()
    arg = 0
    while arg < len(argv):
        if len(argv) > expansion_limit:
            return None
        count = 0
        while True:
            if argv[arg].lower() in been_here:
                break
            if count >= recursion_limit:
                return None
            lookup = table.get(argv[arg])
            if lookup is None:
                break
            saved_lhs = argv[arg]
            for i, result in enumerate(lookup):
                if i == 0:
                    argv[arg] = result
                else:
                    argv.append(result)
                if saved_lhs.lower() == result.lower():
                    been_here.add(saved_lhs.lower())
            count += 1
        arg += 1
    seen: set[str] = set()
    return [a for a in argv if not (a.lower() in seen or seen.add(a.lower()))]


names = st.sampled_from(["a@x", "b@x", "c@x", "d@x", "e@x", "f@x"])
tables = st.dictionaries(names, st.lists(names, min_size=1, max_size=3), max_size=6)


@settings(max_examples=300, deadline=None)
@given(tables, names, st.integers(1, 12), st.integers(1, 12))
def test_tree_agrees_with_postfix_algorithm(table, address, recursion_limit, expansion_limit):
    """For any table, expand_virtual fails exactly when Postfix's loop would, else gives its recipients."""
    expected = postfix_map1n(address, table, recursion_limit, expansion_limit)
    tree = expand_virtual(address, MemoryTable({k: ", ".join(v) for k, v in table.items()}),
                          recursion_limit=recursion_limit, expansion_limit=expansion_limit)
    if expected is None:
        assert tree.errors()
        assert tree.leaves() == [address]
    else:
        assert tree.errors() == []
        assert tree.leaves() == expected
