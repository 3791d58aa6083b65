"""ldap: tables against a private OpenLDAP slapd on 127.0.0.1: search, result
attributes, group expansion, %-expansions, domain filtering, limits, bind,
failover, and a server that is down or hung."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from mailflow.config import Config
from mailflow.errors import TableError
from mailflow.tables import open_table
from mailflow.tables.dbcommon import CfFile
from mailflow.tables.ldap import LdapTable

from .ldap_server import BASE, READER_DN, READER_PW, free_port, ldap_cf, slapd  # noqa: F401

ROUTING = "query_filter = (mailLocalAddress=%s)\nresult_attribute = mailRoutingAddress\n"
MAIL = "query_filter = (mailLocalAddress=%s)\nresult_attribute = mail\n"
GROUPS = MAIL + "special_result_attribute = member\n"


@pytest.fixture
def table(ldap_cf):
    """Open an ldap: table from .cf text; closed after the test."""
    opened = []

    def make(text: str, **options) -> LdapTable:
        t = open_table(f"ldap:{ldap_cf(text)}", **options)
        opened.append(t)
        return t
    yield make
    for t in opened:
        t.close()


def test_single_value(table):
    """A matching entry's result attribute is the answer."""
    t = table(ROUTING)
    assert t.get("joe@example.com") == "joe@mail.example.com"
    assert t.get("joe.doe@example.com") == "joe@mail.example.com"


def test_multi_valued_result_is_joined_with_commas(table):
    """Every value of the result attribute, in the server's order."""
    assert table(MAIL).get("multi@example.com") == \
        "one@example.net,two@example.net,three@example.net"


def test_unknown_key_is_not_found(table):
    """No matching entry: not found, not an error."""
    assert table(ROUTING).get("nobody@example.com") is None


def test_entry_without_the_attribute_is_not_found(table):
    """An entry that matches but lacks the result attribute is not found."""
    assert table(ROUTING).get("multi@example.com") is None


def test_key_is_folded_unless_told_not_to(table, ldap_cf):
    """Keys are lowercased (postmap's default); fold=False keeps the case."""
    t = table(ROUTING + "result_format = %s for %S\n")
    assert t.get("JOE@Example.COM") == "joe@mail.example.com for joe@example.com"
    t2 = table(ROUTING + "result_format = %s for %S\n", fold=False)
    assert t2.get("JOE@Example.COM") == "joe@mail.example.com for JOE@Example.COM"


def test_filter_special_characters_are_escaped(table):
    """``*`` in a key is a literal star, never a wildcard (RFC 4515 escaping)."""
    t = table(MAIL)
    assert t.get("st*r@example.com") == "star@example.net"
    assert t.get("*@example.com") is None
    assert t.get("joe@example.com)(mail=*") is None


def test_result_format(table):
    """result_format formats each value: %d is the value's domain."""
    assert table(ROUTING + "result_format = smtp:[%d]\n").get("ann@example.com") == \
        "smtp:[mail.example.com]"


def test_user_and_domain_expansions_in_the_filter(table):
    """%u and %d are the key's local part and domain; a key without a domain skips the search."""
    t = table("query_filter = (&(uid=%u)(mail=%u@%d))\nresult_attribute = mailRoutingAddress\n")
    assert t.get("ann@example.com") == "ann@mail.example.com"
    assert t.get("ann") is None


def test_domain_label_expansions(table):
    """%1 and %2 are the key's domain labels from the right."""
    t = table("query_filter = (mailLocalAddress=%u@%2.%1)\nresult_attribute = mail\n")
    assert t.get("ann@mail.example.com") == "ann@example.com"
    assert t.get("ann@com") is None


def test_key_dependent_search_base(table):
    """A search base with %d that does not exist means not found, not an error."""
    t = table(f"search_base = ou=%d,{BASE}\nquery_filter = (uid=%u)\n"
              "result_attribute = mailRoutingAddress\n")
    assert t.get("bob@example.org") == "bob@mail.example.org"
    assert t.get("joe@example.com") is None


def test_missing_fixed_search_base_is_an_error(table):
    """A fixed search base that does not exist is a lookup error."""
    t = table(f"search_base = ou=nowhere,{BASE}\n" + ROUTING)
    with pytest.raises(TableError, match="Search base 'ou=nowhere,dc=example,dc=com' not found"):
        t.get("joe@example.com")


def test_domain_filter(table):
    """With ``domain``, only user@listed-domain keys are searched."""
    t = table(ROUTING + "domain = example.org, example.net\n")
    assert t.get("bob@example.org") == "bob@mail.example.org"
    assert t.get("joe@example.com") is None
    assert t.get("example.org") is None


def test_domain_filter_skips_the_server(table, slapd):
    """A key outside ``domain`` is answered without asking the server at all."""
    t = table(ROUTING + "domain = example.org\ntimeout = 1\n")
    slapd.pause()
    try:
        assert t.get("joe@example.com") is None
    finally:
        slapd.resume()


def test_group_expansion_through_special_attribute(table):
    """special_result_attribute DNs are looked up and their results added."""
    assert table(GROUPS).get("staff@example.com") == \
        "staff-owner@example.com,joe@example.com,ann@example.com"


def test_nested_groups_and_missing_members(table, caplog):
    """Groups nest; a member DN that does not exist is skipped with a warning."""
    with caplog.at_level(logging.WARNING, "mailflow.tables"):
        got = table(GROUPS).get("all@example.com")
    assert got == "staff-owner@example.com,joe@example.com,ann@example.com,bob@example.org"
    assert f"DN uid=ghost,ou=people,{BASE} not found, skipping" in caplog.text


def test_recursion_limit(table):
    """Nesting deeper than recursion_limit is a lookup error."""
    with pytest.raises(TableError, match="Recursion limit exceeded for special attribute member"):
        table(GROUPS + "recursion_limit = 1\n").get("staff@example.com")


def test_leaf_result_attribute(table):
    """leaf_result_attribute values come only from entries with no members."""
    t = table("query_filter = (mailLocalAddress=%s)\nresult_attribute = mailRoutingAddress\n"
              "leaf_result_attribute = mail\nspecial_result_attribute = member\n")
    got = t.get("staff@example.com").split(",")
    assert "staff-owner@example.com" not in got
    assert sorted(got) == ["ann@example.com", "ann@mail.example.com",
                           "joe@example.com", "joe@mail.example.com"]


def test_terminal_result_attribute(table):
    """An entry with a terminal attribute answers with it alone: no members, no others."""
    t = table(GROUPS + "terminal_result_attribute = mailRoutingAddress\n")
    assert t.get("routed@example.com") == "routed@lists.example.com"
    # The group has no terminal attribute; its members do.
    assert t.get("staff@example.com") == \
        "staff-owner@example.com,joe@mail.example.com,ann@mail.example.com"


def test_ldap_url_special_attribute(table):
    """A special attribute value may be an LDAP URL: its search runs, asking only
    for the URL's attributes that are also result attributes."""
    t = table(MAIL + "special_result_attribute = labeledURI\n")
    assert sorted(t.get("urlgroup@example.com").split(",")) == \
        ["ann@example.com", "joe@example.com"]
    t2 = table("query_filter = (mailLocalAddress=%s)\n"
               "result_attribute = mail, mailRoutingAddress\n"
               "special_result_attribute = labeledURI\n")
    assert sorted(t2.get("urlgroup@example.com").split(",")) == \
        ["ann@example.com", "bob@mail.example.org", "joe@example.com"]


def test_expansion_limit(table):
    """More results than expansion_limit is a lookup error, never a truncated answer."""
    t = table(MAIL + "expansion_limit = 2\n")
    with pytest.raises(TableError, match="Expansion limit exceeded for key: 'multi@example.com'"):
        t.get("multi@example.com")
    assert t.get("joe@example.com") == "joe@example.com"


def test_size_limit(table):
    """More entries than size_limit is a lookup error."""
    t = table("query_filter = (|(mailLocalAddress=%s)(objectClass=inetOrgPerson))\n"
              "result_attribute = uid\nsize_limit = 2\n")
    with pytest.raises(TableError, match="Search error 4"):
        t.get("x@example.com")


@pytest.mark.parametrize("scope, base, want", [
    ("sub", BASE, "joe@mail.example.com"),
    ("one", BASE, None),
    ("one", f"ou=people,{BASE}", "joe@mail.example.com"),
    ("base", f"uid=joe,ou=people,{BASE}", "joe@mail.example.com"),
    ("base", f"ou=people,{BASE}", None),
], ids=["sub", "one-too-high", "one", "base", "base-other"])
def test_scope(table, scope, base, want):
    """scope = sub | one | base limits where the search looks."""
    assert table(f"search_base = {base}\nscope = {scope}\n" + ROUTING).get("joe@example.com") == want


def test_simple_bind(table):
    """bind_dn and bind_pw bind before searching."""
    t = table(ROUTING + f"bind = yes\nbind_dn = {READER_DN}\nbind_pw = {READER_PW}\n")
    assert t.get("joe@example.com") == "joe@mail.example.com"


def test_bad_password_is_an_error(table):
    """A bind the server refuses is a lookup error naming the server and DN."""
    t = table(ROUTING + f"bind_dn = {READER_DN}\nbind_pw = wrong\nversion = 3\n")
    with pytest.raises(TableError, match=f"Unable to bind to server ldap://127.0.0.1:\\d+/ with dn "
                                         f"{READER_DN}: 49 \\(invalidCredentials\\)"):
        t.get("joe@example.com")


def test_no_bind(table):
    """bind = no searches without binding."""
    assert table(ROUTING + "bind = no\nversion = 3\n").get("joe@example.com") == \
        "joe@mail.example.com"


def test_bad_bind_option_is_refused_at_open(ldap_cf):
    """An unknown bind value is an error when the table opens."""
    with pytest.raises(TableError, match="unsupported parameter value: bind = kerberos"):
        open_table(f"ldap:{ldap_cf(ROUTING + 'bind = kerberos')}")


@pytest.mark.parametrize("hosts", [
    "{dead} {url}",
    "{dead}, {url}",
    "127.0.0.1:{deadport} 127.0.0.1:{port}",
], ids=["urls", "comma", "host-port"])
def test_failover_to_the_next_server(table, slapd, hosts):
    """Servers are tried in order; a dead one is skipped."""
    deadport = free_port()
    spec = hosts.format(dead=f"ldap://127.0.0.1:{deadport}/", url=slapd.url,
                        deadport=deadport, port=slapd.port)
    t = table(f"server_host = {spec}\n" + ROUTING)
    assert t.get("joe@example.com") == "joe@mail.example.com"


def test_server_port_applies_to_bare_hosts(table, slapd):
    """A host without a port uses server_port."""
    t = table(f"server_host = 127.0.0.1\nserver_port = {slapd.port}\n" + ROUTING)
    assert t.get("joe@example.com") == "joe@mail.example.com"


def test_down_server_is_an_error(table):
    """Nobody listening: a lookup error, never "not found"."""
    port = free_port()
    t = table(f"server_host = ldap://127.0.0.1:{port}/\n" + ROUTING)
    with pytest.raises(TableError, match=f"cannot connect to any of ldap://127.0.0.1:{port}/"):
        t.get("joe@example.com")


def test_hung_server_times_out_and_recovers(table, slapd):
    """A server that stops answering is an error after about ``timeout``; once
    it answers again, so does the table."""
    t = table(ROUTING + "timeout = 1\n")
    assert t.get("joe@example.com") == "joe@mail.example.com"
    slapd.pause()
    try:
        start = time.monotonic()
        with pytest.raises(TableError):
            t.get("ann@example.com")
        assert time.monotonic() - start < 3.5
    finally:
        slapd.resume()
    assert t.get("ann@example.com") == "ann@mail.example.com"


def test_hung_server_at_connect_times_out(table, slapd):
    """A server that accepts but never answers the bind is an error too."""
    t = table(ROUTING + "timeout = 1\n")
    slapd.pause()
    try:
        with pytest.raises(TableError, match="cannot connect"):
            t.get("joe@example.com")
    finally:
        slapd.resume()


def test_connection_is_reused(table):
    """Lookups share one connection."""
    t = table(ROUTING)
    t.get("joe@example.com")
    first = t._connection
    for key in ["ann@example.com", "nobody@example.com", "bob@example.org"]:
        t.get(key)
    assert t._connection is first


def test_concurrent_lookups_from_threads(table):
    """Threads share the table; every answer belongs to its own question."""
    t = table(ROUTING)
    want = {"joe@example.com": "joe@mail.example.com", "ann@example.com": "ann@mail.example.com",
            "bob@example.org": "bob@mail.example.org", "nobody@example.com": None}
    keys = sorted(want)
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(25):
            key = keys[(n + i) % len(keys)]
            got = t.get(key)
            if got != want[key]:
                errors.append(f"{key}: {got}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_handed_in_connection(ldap_cf, slapd):
    """A caller's own ldap3 connection is used, and left open by close()."""
    from mailflow.tables.ldap import _ldap3
    ldap3 = _ldap3()
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=slapd.port, get_info=ldap3.NONE), READER_DN, READER_PW,
                            client_strategy=ldap3.SAFE_SYNC, auto_bind=True)
    try:
        t = LdapTable(CfFile.read(ldap_cf(ROUTING)), connection=conn)
        assert t.get("joe@example.com") == "joe@mail.example.com"
        assert t.get("nobody@example.com") is None
        t.close()
        assert conn.bound
    finally:
        conn.unbind()


def test_main_cf_style_table(slapd):
    """A name that is not a path reads NAME_param from main.cf, as Postfix does."""
    config = Config(ldapmaps_server_host=slapd.url, ldapmaps_search_base=BASE,
                    ldapmaps_query_filter="(mailLocalAddress=%s)",
                    ldapmaps_result_attribute="mailRoutingAddress")
    t = open_table("ldap:ldapmaps", config)
    assert t.get("joe@example.com") == "joe@mail.example.com"
    t.close()


def test_missing_cf_file_is_an_error():
    """A .cf file that cannot be read is a TableError at open."""
    with pytest.raises(TableError, match="open /nonexistent/ldap.cf"):
        open_table("ldap:/nonexistent/ldap.cf")


def test_mailflow_postmap_query(run_cli, config_dir, ldap_cf):
    """mailflow postmap -q prints the answer and exits 0, or exits 1 when not found."""
    path = ldap_cf(GROUPS)
    found = run_cli("-c", config_dir, "postmap", "-q", "staff@example.com", f"ldap:{path}")
    assert (found.status, found.out) == \
        (0, "staff-owner@example.com,joe@example.com,ann@example.com\n")
    missing = run_cli("-c", config_dir, "postmap", "-q", "nobody@example.com", f"ldap:{path}")
    assert (missing.status, missing.out) == (1, "")


def test_recipient_validation_defers_while_the_directory_hangs(ldap_cf, slapd):
    """smtpd's recipient check through an ldap: virtual_mailbox_maps: a known
    user passes, an unknown one is rejected, and a hung server gives
    451 4.3.0 (try again later), never a rejection."""
    from mailflow.smtpd.recipients import RecipientValidator
    cf = ldap_cf(ROUTING + "timeout = 1\n")
    v = RecipientValidator.from_config(None, myhostname="mx.example.com", mydestination="",
                                       virtual_mailbox_domains="example.com",
                                       virtual_mailbox_maps=f"ldap:{cf}")
    assert v.check("Joe@Example.com").reply is None
    assert str(v.check("nobody@example.com").reply).startswith("550 5.1.1 <nobody@example.com>")
    slapd.pause()
    try:
        check = v.check("ann@example.com")
    finally:
        slapd.resume()
    assert str(check.reply) == "451 4.3.0 <ann@example.com>: Temporary lookup failure"
    assert f"ldap:{cf}" in check.detail
    assert v.check("ann@example.com").reply is None
