"""trivial-rewrite's rewrite: canonical form in the local and remote contexts."""

from __future__ import annotations

import pytest

from mailflow.address.rewrite import RewriteSettings, rewrite_address, tokenize
from mailflow.config import Config

S = RewriteSettings(myorigin="origin.example", mydomain="example.com")


@pytest.mark.parametrize("address, expected", [
    pytest.param("alice", "alice@origin.example", id="append-at-myorigin"),
    pytest.param("alice@host", "alice@host", id="dotless-domain-kept-by-default"),
    pytest.param("@a.example,@b.example:u@c.example", "u@c.example", id="source-route"),
    pytest.param("@a.example:u@c.example", "u@c.example", id="source-route-one-hop"),
    pytest.param("site!user", "user@site", id="bang-path"),
    pytest.param("a!b!user", "b!user@a", id="bang-path-first-site"),
    pytest.param("user%domain", "user@domain", id="percent-hack"),
    pytest.param("user%d1%d2", "user%d1@d2", id="percent-hack-last-percent"),
    pytest.param("user%domain@relay", "user%domain@relay", id="percent-with-at-untouched"),
    pytest.param("User@Host.Example.COM", "User@Host.Example.COM", id="case-kept"),
    pytest.param("a b@x.example", "a b@x.example", id="quoted-local-part-kept"),
    pytest.param("a b", "a b@origin.example", id="quoted-local-part-gets-origin"),
    pytest.param("a@b@c.example", "a@b@c.example", id="at-in-local-part-kept"),
    pytest.param("user@host.example.", "user@host.example", id="trailing-dot"),
    pytest.param("user@host..", "user@host..", id="double-dot-left-alone"),
    pytest.param("user@[192.0.2.1]", "user@[192.0.2.1]", id="address-literal"),
    pytest.param("", "", id="null-address"),
])
def test_local_context(address, expected):
    """The local context applies Postfix's canonicalization rules."""
    assert rewrite_address(address, "local", S) == expected


def test_remote_context_without_domain_appends_nothing():
    """With remote_header_rewrite_domain empty, a bare user stays bare."""
    assert rewrite_address("alice", "remote", S) == "alice"


def test_remote_context_uses_remote_header_rewrite_domain():
    """The remote context appends remote_header_rewrite_domain for both origin and domain."""
    s = RewriteSettings(myorigin="o.example", mydomain="example.com",
                        remote_domain="remote.example", append_dot_mydomain=True)
    assert rewrite_address("alice", "remote", s) == "alice@remote.example"
    assert rewrite_address("alice@host", "remote", s) == "alice@host.remote.example"


def test_append_dot_mydomain():
    """append_dot_mydomain=yes adds .$mydomain to a dotless domain, not to a literal."""
    s = RewriteSettings(myorigin="o.example", mydomain="example.com", append_dot_mydomain=True)
    assert rewrite_address("u@host", "local", s) == "u@host.example.com"
    assert rewrite_address("u@[192.0.2.1]", "local", s) == "u@[192.0.2.1]"
    assert rewrite_address("u@a.b", "local", s) == "u@a.b"


@pytest.mark.parametrize("flag, address, expected", [
    pytest.param("swap_bangpath", "site!user", "site!user@o.example", id="no-swap-bangpath"),
    pytest.param("allow_percent_hack", "user%domain", "user%domain@o.example", id="no-percent-hack"),
    pytest.param("append_at_myorigin", "user", "user", id="no-append-at-myorigin"),
])
def test_switches_off(flag, address, expected):
    """Each rewriting rule can be turned off with its parameter."""
    s = RewriteSettings.from_config(Config(myorigin="o.example", **{flag: "no"}))
    assert rewrite_address(address, "local", s) == expected


def test_settings_from_config():
    """RewriteSettings reads the Postfix parameters once, with $name expansion."""
    s = RewriteSettings.from_config(Config(myhostname="mx.example.com", mydomain="example.com",
                                           remote_header_rewrite_domain="$mydomain"))
    assert (s.myorigin, s.mydomain, s.remote_domain) == ("mx.example.com", "example.com",
                                                         "example.com")


def test_unknown_context_is_an_error():
    """Only the local and remote contexts exist."""
    with pytest.raises(ValueError, match="unknown rewrite context"):
        rewrite_address("a", "header", S)


def test_tokenizer_keeps_quoted_strings_and_literals():
    """Quoted strings and domain literals are single tokens."""
    assert tokenize('"a.b@c"@[1.2.3.4]') == [("q", "a.b@c"), ("@", "@"), ("d", "[1.2.3.4]")]


@pytest.mark.parametrize("module", ["mailflow.address.rewrite", "mailflow.address.resolve"])
def test_docstring_examples_run(module):
    """The examples in the module docstrings run as shown."""
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
