"""smtp_tls_policy_maps read as Postfix reads it: lookup keys, levels,
attributes and the errors a bad entry gives (the pure part, no sockets)."""

from __future__ import annotations

import logging

import pytest

from mailflow.config import Config
from mailflow.delivery.lmtp import LmtpAgent
from mailflow.delivery.smtp import SmtpAgent
from mailflow.delivery.smtp_tls_policy import (PolicyError, TlsPolicy, lookup_policy,
                                               parse_fingerprints, parse_policy, policy_keys,
                                               without_dnssec)
from mailflow.errors import ConfigError, TableError
from mailflow.testing import StaticResolver

W = 'smtp_tls_policy_maps, next-hop destination "example.com"'


@pytest.mark.parametrize("dest, keys", [
    ("example.com", ["example.com", ".com"]),
    ("a.b.Example.COM.", ["a.b.example.com", ".b.example.com", ".example.com", ".com"]),
    ("[mx.example.com]", ["[mx.example.com]"]),
    ("[mx.example.com]:587", ["[mx.example.com]:587"]),
    ("mx.example.com:587", ["mx.example.com:587"]),
    ("192.0.2.1", ["192.0.2.1"]),
    ("inet:lmtp.example.com:24", ["lmtp.example.com:24"]),
    ("unix:/run/dovecot/lmtp", ["/run/dovecot/lmtp"]),
], ids=["domain", "subdomain", "bracketed", "bracketed-port", "host-port", "address",
        "lmtp-inet", "lmtp-unix"])
def test_lookup_keys(dest, keys):
    """A plain domain is tried with its parent domains (leading dot); an
    explicit next hop only as written, without lmtp's socket-type prefix."""
    assert policy_keys(dest) == keys


def test_the_most_specific_entry_wins_and_parents_apply_to_subdomains():
    """The full domain first, then .parent, as transport(5) does."""
    table = {"example.com": "secure", ".example.com": "verify", ".com": "may"}
    get = lambda d: lookup_policy(table, d, title="t").level  # noqa: E731
    assert (get("example.com"), get("mx.example.com"), get("other.com")) == (
        "secure", "verify", "may")
    assert lookup_policy(table, "[example.com]", title="t") is None


@pytest.mark.parametrize("value, policy", [
    ("may", TlsPolicy("may")),
    ("ENCRYPT", TlsPolicy("encrypt")),
    ("encrypt protocols=TLSv1.3 ciphers=high exclude=3DES",
     TlsPolicy("encrypt", protocols="TLSv1.3", ciphers="high", exclude="3DES")),
    ("secure match=nexthop:dot-nexthop match=mx.example.net",
     TlsPolicy("secure", match=("nexthop", "dot-nexthop", "mx.example.net"))),
    ("verify, match=hostname", TlsPolicy("verify", match=("hostname",))),
    ("fingerprint match=AB:CD|EF:01 match=99:88", TlsPolicy("fingerprint",
                                                         match=("AB:CD", "EF:01", "99:88"))),
    ("encrypt { protocols = >=TLSv1.2 }", TlsPolicy("encrypt", protocols=">=TLSv1.2")),
    ("may servername=hostname connection_reuse=yes", TlsPolicy("may", servername="hostname")),
    ("dane", TlsPolicy("dane")),
], ids=["may", "case", "attributes", "secure-match", "comma", "fingerprint", "braces",
        "servername", "dane"])
def test_policy_values(value, policy):
    assert parse_policy(value, where=W) == (policy, [])


@pytest.mark.parametrize("value, message", [
    ("", "invalid empty policy"),
    ("sometimes", 'invalid security level "sometimes"'),
    ("encrypt protocols", 'malformed attribute/value pair "protocols": missing \'=\' after '
                          'attribute name'),
    ("encrypt =x", 'malformed attribute/value pair "=x": missing attribute name'),
    ("encrypt ciphers=", 'attribute "ciphers" has empty value'),
    ("encrypt ciphers=fast", 'invalid cipher grade "fast" (expected one of high, medium, low, '
                             'export, null)'),
    ("encrypt ciphers=high ciphers=low", 'attribute "ciphers" is specified multiple times'),
    ("encrypt exclude=a exclude=b", 'attribute "exclude" is specified multiple times'),
    ("encrypt match=mx.example.com", 'attribute "match" invalid at security level "encrypt"'),
    ("secure match=", 'attribute "match" has empty value'),
    ("may servername=no_such..name", '"servername=no_such..name" specifies an invalid hostname'),
    ("may connection_reuse=maybe", 'attribute "connection_reuse" has bad value: "maybe"'),
    ("verify tafile=/etc/ta.pem", 'attribute "tafile" is not supported by mailflow '
                                  '(use smtp_tls_CAfile)'),
    ("may colour=blue", 'invalid attribute name: "colour"'),
], ids=["empty", "level", "no-equals", "no-name", "empty-ciphers", "bad-grade", "twice",
        "exclude-twice", "match-at-encrypt", "empty-match", "servername", "reuse", "tafile",
        "unknown"])
def test_bad_entries_name_the_table_and_key(value, message):
    """Postfix's warning text, after "table, next-hop destination "key":"."""
    with pytest.raises(PolicyError) as info:
        parse_policy(value, where=W)
    assert str(info.value) == f"{W}: {message}"


def test_attributes_with_tls_off_are_ignored_with_a_warning():
    assert parse_policy("none match=x ciphers=high", where=W) == (TlsPolicy("none"), [
        f'{W}: ignoring attribute "match=x" with TLS disabled',
        f'{W}: ignoring attribute "ciphers=high" with TLS disabled'])


def test_a_table_that_cannot_be_read_is_a_policy_error_not_a_miss():
    class Broken:
        def get(self, key):
            raise TableError("hash:/etc/postfix/tls_policy: cannot open")
    with pytest.raises(PolicyError, match=r'next-hop destination "example\.com": policy '
                                          r'table lookup error: hash:'):
        lookup_policy(Broken(), "example.com", title="smtp_tls_policy_maps")


def test_dane_without_dnssec():
    """dane works as may with a warning; dane-only cannot be met; neither
    over a unix socket (Postfix's smtp_tls_policy.c)."""
    policy, note = without_dnssec(TlsPolicy("dane"), "example.com")
    assert policy == TlsPolicy("may")
    assert note == "example.com: dane configured with dnssec lookups disabled"
    with pytest.raises(PolicyError, match="dane-only configured with dnssec lookups disabled"):
        without_dnssec(TlsPolicy("dane-only"), "example.com")
    with pytest.raises(PolicyError, match='"dane" security level is invalid for delivery via '
                                          'unix-domain sockets'):
        without_dnssec(TlsPolicy("dane"), "unix:/run/lmtp", unix_socket=True)
    assert without_dnssec(TlsPolicy("verify"), "x") == (TlsPolicy("verify"), None)


def test_fingerprints_are_normalized_and_malformed_ones_skipped():
    assert parse_fingerprints(["ab:CD:ef", "ABCDEF", "no"], destination="d") == (
        frozenset({"ABCDEF"}), ["malformed fingerprint value: no"])
    with pytest.raises(PolicyError, match="nexthop domain d: configured at fingerprint "
                                          "security level, but with no fingerprints to match."):
        parse_fingerprints(["xyz"], destination="d")


def agent(**params):
    return SmtpAgent(Config(**params), None, resolver=StaticResolver(), my_addresses=[])


def test_the_agent_uses_the_table_then_the_global_level(tmp_path):
    (tmp_path / "policy").write_text("example.com secure\n.example.net encrypt\n"
                                     "[relay.example.org]:587 verify match=relay.example.org\n")
    a = agent(smtp_tls_security_level="may", smtp_tls_policy_maps=f"texthash:{tmp_path}/policy")
    assert [a.tls_policy(d).level for d in ("example.com", "mx.example.net", "example.org",
                                            "[relay.example.org]:587", "[relay.example.org]")] \
        == ["secure", "encrypt", "may", "verify", "may"]


def test_global_dane_is_may_with_one_warning_and_dane_only_an_error(caplog):
    a = agent(smtp_tls_security_level="dane")
    with caplog.at_level(logging.WARNING, logger="mailflow.smtp"):
        assert a.tls_policy("example.com").level == "may"
        assert a.tls_policy("example.com").level == "may"
    assert [r.getMessage() for r in caplog.records] == [
        "example.com: dane configured with dnssec lookups disabled"]
    with pytest.raises(PolicyError):
        agent(smtp_tls_security_level="dane-only").tls_policy("example.com")


def test_fingerprint_level_needs_fingerprints():
    with pytest.raises(PolicyError, match="no fingerprints to match"):
        agent(smtp_tls_security_level="fingerprint").tls_policy("example.com")
    a = agent(smtp_tls_security_level="fingerprint", smtp_tls_fingerprint_cert_match="AB:CD")
    assert a.tls_policy("example.com").level == "fingerprint"


def test_a_bad_protocol_list_in_the_table_is_a_policy_error():
    a = agent(smtp_tls_policy_maps="inline:{{example.com=encrypt protocols=TLSv9}}")
    with pytest.raises(PolicyError, match=r'^smtp_tls_policy_maps, next-hop destination '
                                          r'"example.com": .*unknown TLS protocol "TLSv9"'):
        a.tls_policy("example.com")


def test_a_bad_digest_is_a_config_error():
    with pytest.raises(ConfigError, match="smtp_tls_fingerprint_digest = md9"):
        agent(smtp_tls_fingerprint_digest="md9")


def test_lmtp_reads_its_own_policy_table_only():
    """lmtp_tls_policy_maps, never smtp_tls_policy_maps."""
    cfg = Config(smtp_tls_policy_maps="inline:{/run/lmtp=encrypt}",
                 lmtp_tls_policy_maps="inline:{lmtp.example.com:24=may}")
    a = LmtpAgent(cfg, None, resolver=StaticResolver(), my_addresses=[])
    assert a.tls_policy("unix:/run/lmtp").level == "none"
    assert a.tls_policy("inet:lmtp.example.com:24").level == "may"


def test_a_missing_ca_file_defers_with_the_configuration_problem(tmp_path):
    """Without a table too: the settings the level needs are checked first."""
    import asyncio

    from delivery_helpers import make_request
    a = agent(smtp_tls_security_level="verify", smtp_tls_CAfile=str(tmp_path / "none.pem"))
    with pytest.raises(PolicyError, match=r"smtp_tls_security_level: smtp_tls_CAfile = .*none\.pem: "
                                          r"No such file or directory"):
        a.tls_policy("example.com")
    req = make_request("r@example.com", transport="smtp", nexthop="[127.0.0.1]:1")
    [o] = asyncio.run(a.deliver(req))
    assert (o.status.code, o.status.text) == ("4.7.5", "client TLS configuration problem")
