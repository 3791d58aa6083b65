"""The database-table core: .cf files, query/result templates, the domain list."""

from __future__ import annotations

import logging

import pytest

from mailflow.config import Config
from mailflow.errors import TableError, TableSyntaxError
from mailflow.tables.dbcommon import CfFile, DomainFilter, Templates, domain_filter
from mailflow.tables.memory import FailTable


def sql_quote(text: str) -> str:
    return text.replace("'", "''")


# --- .cf files ---------------------------------------------------------------

def test_cf_continuation_comments_and_blank_lines():
    """Continuation lines join with their whitespace kept; comments and blank lines vanish."""
    cf = CfFile.parse("hosts = db1,\n    db2\n\n# comment\nquery = SELECT a\n  # inside\n"
                      "\tFROM t   \n", "/x.cf")
    assert cf.values == {"hosts": "db1,    db2", "query": "SELECT a\tFROM t"}
    assert cf.lines == {"hosts": 1, "query": 5}


def test_cf_value_keeps_hash_and_dollar():
    """There are no trailing comments and no $ expansion in a .cf file."""
    cf = CfFile.parse("password = pa$$ # word\n", "/x.cf")
    assert cf.get_str("password") == "pa$$ # word"


@pytest.mark.parametrize("text, message", [
    ("hosts = a\nquery SELECT 1\n", '/x.cf, line 2: missing \'=\' after attribute name: "query SELECT 1"'),
    ("\n\n= value\n", '/x.cf, line 3: missing attribute name: "= value"'),
], ids=["no-equals", "no-name"])
def test_cf_bad_line_names_file_and_line(text, message):
    """A line that is not name = value is an error naming the file and the line."""
    with pytest.raises(TableSyntaxError) as info:
        CfFile.parse(text, "/x.cf")
    assert str(info.value) == message


def test_cf_later_definition_wins_with_warning(tmp_path, caplog):
    """A repeated name keeps the last value, and reading the file logs Postfix's warning."""
    path = tmp_path / "t.cf"
    path.write_text("user = a\nuser = b\n")
    with caplog.at_level(logging.WARNING, logger="mailflow.tables"):
        cf = CfFile.read(str(path))
    assert cf.get_str("user") == "b"
    assert caplog.messages == [f"{path}, line 2: overriding earlier entry: user=a"]


def test_cf_missing_file_is_table_error(tmp_path):
    """An unreadable .cf file is a TableError saying which file and why."""
    with pytest.raises(TableError, match=r"^open .*/nope\.cf: No such file or directory$"):
        CfFile.read(str(tmp_path / "nope.cf"))


@pytest.mark.parametrize("text, kwargs, message", [
    ("expansion_limit = 1x\n", {}, "/x.cf, line 1: bad numerical configuration: expansion_limit = 1x"),
    ("expansion_limit = \n", {}, "/x.cf, line 1: bad numerical configuration: expansion_limit = "),
    ("retry_interval = 0\n", {"min_value": 1},
     "/x.cf, line 1: invalid retry_interval parameter value 0 < 1"),
], ids=["junk", "empty", "below-minimum"])
def test_cf_bad_integer(text, kwargs, message):
    """Numbers are checked as cfg_get_int does, with the line that set them."""
    name = text.split()[0]
    with pytest.raises(TableError) as info:
        CfFile.parse(text, "/x.cf").get_int(name, 0, **kwargs)
    assert str(info.value) == message


def test_cf_integer_and_bool_values():
    """Integers may carry a sign; booleans are yes/no in any case."""
    cf = CfFile.parse("a = -3\nb = +7\nc = NO\nd = maybe\n", "/x.cf")
    assert (cf.get_int("a", 0), cf.get_int("b", 0), cf.get_int("z", 5)) == (-3, 7, 5)
    assert cf.get_bool("c", True) is False
    with pytest.raises(TableError, match="line 4: bad boolean configuration: d = maybe"):
        cf.get_bool("d", True)


def test_cf_from_main_cf_parameters():
    """A table name that is not a path reads NAME_param from main.cf, expanded."""
    config = Config(pgaliases_hosts="$dbhost", dbhost="db.example", pgaliases_query="SELECT 1")
    cf = CfFile.open("pgaliases", config, ["hosts", "query", "user"])
    assert cf.values == {"hosts": "db.example", "query": "SELECT 1"}


# --- templates -----------------------------------------------------------------

QUERY_CASES = [
    # (query, key, expected query or None when the lookup is skipped)
    ("k='%s'", "Joe@Example.com", "k='Joe@Example.com'"),
    ("k='%u'", "joe@example.com", "k='joe'"),
    ("k='%u'", "joe", "k='joe'"),
    ("k='%u'", "@example.com", None),
    ("k='%d'", "joe@example.com", "k='example.com'"),
    ("k='%d'", "joe", None),
    ("k='%d'", "joe@", None),
    ("k='%d'", "@example.com", "k='example.com'"),
    ("k='%u' d='%d'", "@example.com", None),
    ("k='%S/%U/%D'", "a@b.c", "k='a@b.c/a/b.c'"),
    ("k='%1'", "a@mail.example.com", "k='com'"),
    ("k='%3.%2.%1'", "a@mail.example.com", "k='mail.example.com'"),
    ("k='%3'", "a@example.com", None),
    ("k='%2'", "a@example..com", "k='example'"),
    ("k='%1'", "nodomain", None),
    ("k='100%%'", "x", "k='100%'"),
    ("k='%u'", "a@b@c", "k='a@b'"),
    ("k='%s'", "o'neil", "k='o''neil'"),
]


@pytest.mark.parametrize("query, key, want", QUERY_CASES,
                         ids=[f"{q}-{k}" for q, k, _ in QUERY_CASES])
def test_query_expansion(query, key, want):
    """Each escape expands from the key; a key that cannot fill it skips the query."""
    assert Templates.parse(query).expand_query(key, sql_quote) == want


def test_query_quote_applies_to_inserted_parts_only():
    """The quote function sees the inserted values, never the template text."""
    seen = []
    t = Templates.parse("it's '%u' at '%d'")
    assert t.expand_query("a@b", lambda s: seen.append(s) or s.upper()) == "it's 'A' at 'B'"
    assert seen == ["a", "b"]


def test_empty_key_is_not_queried(caplog):
    """An empty key sends no query and logs Postfix's warning."""
    t = Templates.parse("k='%s'", table="pgsql:/x.cf")
    with caplog.at_level(logging.WARNING, logger="mailflow.tables"):
        assert t.expand_query("") is None
    assert caplog.messages == ['table "pgsql:/x.cf": empty query string -- ignored']


@pytest.mark.parametrize("query, result_format, message", [
    ("k='%x'", "%s", "/x.cf: invalid query template: k='%x'"),
    ("k='%s'", "%s%", "/x.cf: invalid result_format template: %s%"),
    ("k='%0'", "%s", "/x.cf: invalid query template: k='%0'"),
], ids=["unknown", "trailing-percent", "zero"])
def test_bad_template_is_refused_at_open(query, result_format, message):
    """An unknown escape is an error when the table opens, naming the template."""
    with pytest.raises(TableError) as info:
        Templates.parse(query, result_format, table="/x.cf")
    assert str(info.value) == message


RESULT_CASES = [
    # (query, result_format, key, values, expected)
    ("q", "%s", "k", ["a", "b"], "a,b"),
    ("q", "smtp:[%s]", "k", ["relay.example"], "smtp:[relay.example]"),
    ("q", "%u", "k", ["joe@example.com", "bare"], "joe,bare"),
    ("q", "%d", "k", ["joe@example.com", "bare"], "example.com"),
    ("q", "%u", "k", ["@example.com", "x@y"], "x"),
    ("q", "%s@%D", "joe@example.com", ["box"], "box@example.com"),
    ("q", "%U+%s", "joe@example.com", ["a", "b"], "joe+a,joe+b"),
    ("q", "%S", "joe@example.com", ["v"], "joe@example.com"),
    ("q", "%2-%s", "joe@mail.example.com", ["v"], "example-v"),
    ("q", "%s", "k", [None, "", "x"], "x"),
    ("q", "%s", "k", [None, ""], None),
    ("q", "%%%s", "k", ["x"], "%x"),
]


@pytest.mark.parametrize("query, result_format, key, values, want", RESULT_CASES,
                         ids=[f"{r}-{k}-{v}" for _, r, k, v, _w in RESULT_CASES])
def test_result_format(query, result_format, key, values, want):
    """Lower case refers to each result, upper case and %1..%9 to the key."""
    assert Templates.parse(query, result_format).format_results(values, key) == want


def test_key_without_domain_skips_result_needing_it(caplog):
    """A result_format that needs the key's domain drops results for a bare key, with a warning."""
    t = Templates.parse("q", "%s@%D", table="/x.cf")
    with caplog.at_level(logging.WARNING, logger="mailflow.tables"):
        assert t.format_results(["v"], "bare") is None
    assert caplog.messages == ["/x.cf: lookup key 'v' skipped after query"]


def test_result_format_needing_key_domain_also_skips_query():
    """As in Postfix the two templates share what they need: %D in result_format skips bare keys."""
    assert Templates.parse("k='%s'", "%s@%D").expand_query("bare") is None


def test_empty_result_value_warns(caplog):
    """An empty value is skipped with Postfix's warning naming the table and key."""
    t = Templates.parse("q", table="pgsql:/x.cf")
    with caplog.at_level(logging.WARNING, logger="mailflow.tables"):
        assert t.format_results(["", "v"], "key") == "v"
    assert caplog.messages == ['table "pgsql:/x.cf": empty lookup result for: "key" -- ignored']


def test_expansion_limit():
    """More results than expansion_limit is an error; exactly the limit is fine."""
    t = Templates.parse("q", table="/x.cf")
    assert t.format_results(["a", "b"], "k", limit=2) == "a,b"
    with pytest.raises(TableError, match=r"^/x\.cf: Expansion limit exceeded for key: 'k'$"):
        t.format_results(["a", "b", "c"], "k", limit=2)


def test_expansion_limit_counts_only_kept_results():
    """Skipped values do not count against the limit."""
    assert Templates.parse("q", "%d").format_results(["x", "y", "a@b"], "k", limit=1) == "b"


# --- domain filter -----------------------------------------------------------------

def test_domain_first_match_decides_and_negation():
    """Items are tried in order and ! negates; an unlisted domain is not allowed."""
    f = DomainFilter.parse("!!example.com !bad.example.com, example.net")
    assert f.allows("a@EXAMPLE.COM") and f.allows("a@example.net")
    assert not f.allows("a@bad.example.com") and not f.allows("a@other.example")


def test_domain_file_items(tmp_path):
    """A /file item reads more items from the file; !/file negates each of them."""
    listed = tmp_path / "domains"
    listed.write_text("# local domains\nexample.com\n  example.org\nexample.net\n")
    f = DomainFilter.parse(f"!{listed} example.edu")
    assert not f.allows("a@example.com") and not f.allows("a@example.org")
    assert f.allows("a@example.edu")


def test_domain_missing_file_is_error(tmp_path):
    """A /file item that cannot be read is a TableError, not an empty list."""
    with pytest.raises(TableError, match="open file .*/missing: No such file"):
        DomainFilter.parse(str(tmp_path / "missing"), "/x.cf")


def test_domain_table_item():
    """A type:table item allows a domain that the table has."""
    f = DomainFilter.parse("inline:{example.com=ok}")
    assert f.allows("x@example.com") and not f.allows("x@example.org")


def test_domain_table_error_propagates():
    """A domain table that cannot answer makes the lookup fail, never a skip."""
    f = DomainFilter.parse("fail:down", open_table=lambda spec: FailTable("down"))
    with pytest.raises(TableError):
        f.allows("x@example.com")


def test_domain_filter_from_cf():
    """An empty or unset domain parameter means no filter."""
    assert domain_filter(CfFile.parse("domain =\n", "/x.cf")) is None
    f = domain_filter(CfFile.parse("domain = example.com,\n  example.org\n", "/x.cf"))
    assert f is not None and f.allows("u@example.org")


def test_domain_needs_local_part_and_domain():
    """Keys without @ or with an empty local part are never allowed through."""
    f = DomainFilter.parse("example.com")
    assert not f.allows("example.com") and not f.allows("@example.com")
    with pytest.raises(TableError, match="no pattern after '!'"):
        DomainFilter.parse("!", "/x.cf")


def test_more_key_templates_share_requirements():
    """A template given in `also` (LDAP's search_base) makes bare keys skip the lookup too."""
    t = Templates.parse("(mail=%s)", also=["ou=%d"])
    assert t.expand_query("bare") is None
    assert t.expand_query("a@b.example", template="ou=%d") == "ou=b.example"
    with pytest.raises(TableError, match="invalid query template: ou=%z"):
        Templates.parse("(mail=%s)", also=["ou=%z"])
