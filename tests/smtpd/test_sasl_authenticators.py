"""Password hashes, the table authenticator, the choice from main.cf, and the client side."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from mailflow.config import Config
from mailflow.errors import ConfigError
from mailflow.smtpd.sasl import (DEFAULT_ITERATIONS, CallableAuthenticator, TableAuthenticator,
                                 authenticator_from_config, client_auth_lines, hash_password,
                                 sasl_password_keys, sasl_password_lookup, verify_password)

FAST = 1000  # rounds for tests; the default is DEFAULT_ITERATIONS


# --- hashes -----------------------------------------------------------------

def test_passlib_test_vector_verifies():
    """A hash from passlib's own test suite verifies: the formats are the same."""
    hashed = "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ"
    assert verify_password("password", hashed)
    assert not verify_password("Password", hashed)


def test_hash_round_trip_and_salt():
    """Two hashes of one password differ (random salt) and both verify."""
    a, b = hash_password("s3cret", iterations=FAST), hash_password("s3cret", iterations=FAST)
    assert a != b
    assert verify_password("s3cret", a) and verify_password("s3cret", b)
    assert not verify_password("s3cret ", a)


def test_default_rounds():
    """Without iterations= the hash uses DEFAULT_ITERATIONS."""
    assert hash_password("x").split("$")[2] == str(DEFAULT_ITERATIONS)


@pytest.mark.parametrize("bad", ["plain", "$pbkdf2-sha1$1$a$b", "$pbkdf2-sha256$x$YQ$YQ",
                                 "$pbkdf2-sha256$10$YQ$", "$pbkdf2-sha256$0$YQ$YQ"])
def test_malformed_hash_is_a_value_error(bad):
    """Anything but a well-formed hash string is refused with a reason."""
    with pytest.raises(ValueError, match="pbkdf2-sha256"):
        verify_password("x", bad)


# --- TableAuthenticator -------------------------------------------------------

def authenticate(auth, user, password):
    return asyncio.run(auth.authenticate(user, password))


def test_table_authenticator_from_texthash_file(tmp_path):
    """A texthash: file of "user hash" lines authenticates its users."""
    table = tmp_path / "sasl_passwd"
    table.write_text(f"alice {hash_password('wonderland', iterations=FAST)}\n"
                     f"bob {hash_password('builder', iterations=FAST)}\n")
    auth = authenticator_from_config(Config(smtpd_sasl_type="mailflow",
                                            smtpd_sasl_password_maps=f"texthash:{table}"))
    assert isinstance(auth, TableAuthenticator)
    assert authenticate(auth, "alice", "wonderland")
    assert not authenticate(auth, "alice", "builder")
    assert not authenticate(auth, "carol", "wonderland")
    assert list(auth.mechanisms()) == ["PLAIN", "LOGIN"]


def test_unknown_user_costs_like_a_known_one(monkeypatch):
    """An unknown user is checked against a dummy hash of the default cost, so
    timing does not tell which users exist."""
    import hashlib
    rounds = []
    real = hashlib.pbkdf2_hmac

    def counting(name, password, salt, iterations, *rest):
        rounds.append(iterations)
        return real(name, password, salt, 1, *rest)  # the count matters, not the work

    auth = TableAuthenticator({"alice": hash_password("pw", iterations=DEFAULT_ITERATIONS)})
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    assert not authenticate(auth, "alice", "wrong")
    assert not authenticate(auth, "nobody", "wrong")
    assert not authenticate(auth, "nobody", "wrong")
    assert rounds == [DEFAULT_ITERATIONS] * 3  # one check each, known or not


def test_dummy_hash_is_the_documented_one():
    """The built-in dummy hash is hash_password("") with a zero salt at the default cost."""
    from mailflow.smtpd import sasl
    assert sasl._DUMMY_HASH == hash_password("", salt=bytes(16))


def test_bad_table_entry_refuses_and_warns(caplog):
    """A table value that is not a hash refuses the login and logs which user."""
    auth = TableAuthenticator({"alice": "wonderland"})
    assert not authenticate(auth, "alice", "wonderland")
    assert "SASL password table entry for alice: not a $pbkdf2-sha256$" in caplog.text


def test_offload_runs_the_check_elsewhere():
    """offload= receives the hash check (asyncio.to_thread keeps it off the loop)."""
    calls = []

    async def offload(func, *args):
        calls.append(func)
        return await asyncio.to_thread(func, *args)

    auth = TableAuthenticator({"alice": hash_password("pw", iterations=FAST)}, offload=offload)
    assert authenticate(auth, "alice", "pw") and calls


# --- authenticator_from_config -----------------------------------------------------

def test_cyrus_default_is_a_clear_config_error():
    """Postfix's default smtpd_sasl_type = cyrus says what to use instead."""
    with pytest.raises(ConfigError, match=r"smtpd_sasl_type = cyrus: Cyrus SASL is not "
                                          r"available in mailflow; use .*dovecot.*mailflow"):
        authenticator_from_config(Config())


def test_unknown_type_is_a_config_error():
    """An unknown smtpd_sasl_type lists the known ones."""
    with pytest.raises(ConfigError, match="smtpd_sasl_type = ldap: unsupported"):
        authenticator_from_config(Config(smtpd_sasl_type="ldap"))


def test_mailflow_type_needs_password_maps():
    """smtpd_sasl_type = mailflow without a table names the missing parameter."""
    with pytest.raises(ConfigError, match="^smtpd_sasl_password_maps = : smtpd_sasl_type"):
        authenticator_from_config(Config(smtpd_sasl_type="mailflow"))


def test_python_type_takes_a_function_or_an_authenticator():
    """smtpd_sasl_type = python wraps a function, passes an Authenticator through."""
    cfg = Config(smtpd_sasl_type="python")
    auth = authenticator_from_config(cfg, custom=lambda u, p: p == "ok")
    assert isinstance(auth, CallableAuthenticator) and authenticate(auth, "x", "ok")
    mine = TableAuthenticator({})
    assert authenticator_from_config(cfg, custom=mine) is mine
    with pytest.raises(ConfigError, match="needs an authenticator"):
        authenticator_from_config(cfg)


# --- the command-line hash helper ---------------------------------------------------

def test_hash_command_prints_a_table_line():
    """python -m mailflow.smtpd.sasl hash USER reads the password from stdin."""
    out = subprocess.run([sys.executable, "-m", "mailflow.smtpd.sasl", "hash", "alice"],
                         input="wonderland\n", capture_output=True, text=True, check=True).stdout
    user, hashed = out.split()
    assert user == "alice" and verify_password("wonderland", hashed)


def test_hash_command_usage():
    """A wrong command line is EX_USAGE with a usage line."""
    proc = subprocess.run([sys.executable, "-m", "mailflow.smtpd.sasl"], capture_output=True,
                          text=True)
    assert proc.returncode == 64 and proc.stderr.startswith("usage: ")


# --- the client side ----------------------------------------------------------------

def test_client_prefers_plain():
    """PLAIN goes first, with the credentials as initial response."""
    auth = client_auth_lines(["LOGIN", "PLAIN", "CRAM-MD5"], "alice", "secret")
    assert (auth.mechanism, auth.command, auth.responses) == \
        ("PLAIN", "AUTH PLAIN AGFsaWNlAHNlY3JldA==", ())


def test_client_login():
    """LOGIN sends the username with the command and the password after 334."""
    auth = client_auth_lines(["login"], "alice", "secret")
    assert auth.command == "AUTH LOGIN YWxpY2U=" and auth.responses == ("c2VjcmV0",)


def test_client_login_round_trips_through_the_server():
    """The client's lines satisfy the server's exchange."""
    from mailflow.smtpd.sasl import SaslExchange, Verify
    auth = client_auth_lines(["LOGIN"], "alice", "p\u00e4ss")
    ex = SaslExchange()
    event = ex.command(auth.command.split(" ", 1)[1])
    for response in auth.responses:
        event = ex.step(response)
    assert event == Verify("LOGIN", "alice", "p\u00e4ss")


@pytest.mark.parametrize("offered,kw", [
    (["CRAM-MD5"], {}),
    (["PLAIN", "LOGIN"], {"security_options": ["noplaintext", "noanonymous"]}),
    (["PLAIN"], {"mechanism_filter": ["login"]}),
], ids=["not-offered", "noplaintext", "filtered"])
def test_client_no_usable_mechanism(offered, kw):
    """None when no offered mechanism may be used."""
    assert client_auth_lines(offered, "a", "b", **kw) is None


def test_password_map_lookup_order():
    """Host name first, then the destination as written; sender first when sender-dependent."""
    table = {"mx.isp.example": "host:1", "[relay.isp.example]:587": "dest:2",
             "@corp.example": "domain:3"}
    assert sasl_password_lookup(table, host="mx.isp.example",
                                dest="[relay.isp.example]:587") == ("host", "1")
    assert sasl_password_lookup(table, host="other", dest="[relay.isp.example]:587") == \
        ("dest", "2")
    assert sasl_password_lookup(table, host="mx.isp.example", dest="x",
                                sender="me@corp.example", sender_dependent=True) == \
        ("domain", "3")
    assert sasl_password_lookup(table, host="a", dest="b") is None


def test_password_keys_skip_duplicates():
    """A destination equal to the host name is looked up once."""
    assert sasl_password_keys(host="smtp.example", dest="smtp.example") == ["smtp.example"]


def test_password_without_colon_is_empty():
    """An entry without ":" is a username with an empty password, as in Postfix."""
    assert sasl_password_lookup({"h": "user"}, host="h", dest="h") == ("user", "")


# --- what EHLO announces --------------------------------------------------------------

@pytest.mark.parametrize("params,tls,expected", [
    ({}, False, ["PLAIN", "LOGIN"]),
    ({"smtpd_sasl_mechanism_filter": ""}, False, ["PLAIN", "LOGIN"]),
    ({"smtpd_sasl_mechanism_filter": "plain"}, False, ["PLAIN"]),
    ({"smtpd_sasl_mechanism_filter": "!plain, static:rest"}, False, ["LOGIN"]),
    ({"smtpd_sasl_security_options": "noplaintext"}, False, []),
    ({"smtpd_sasl_security_options": "noplaintext",
      "smtpd_sasl_tls_security_options": "noanonymous"}, True, ["PLAIN", "LOGIN"]),
    ({"smtpd_sasl_security_options": "noplaintext"}, True, []),
], ids=["default", "no-filter", "only-plain", "not-plain", "noplaintext", "tls-options",
        "tls-inherits"])
def test_server_mechanisms(params, tls, expected):
    """The filter and the security options decide what EHLO announces."""
    from mailflow.smtpd.sasl import server_mechanisms
    assert server_mechanisms(Config(**params), ["PLAIN", "LOGIN"], tls=tls) == expected


def test_mechanism_filter_with_a_table_is_refused():
    """A table in smtpd_sasl_mechanism_filter (other than static:) is a clear error."""
    from mailflow.smtpd.sasl import server_mechanisms
    with pytest.raises(ConfigError, match="smtpd_sasl_mechanism_filter = regexp:/x: only"):
        server_mechanisms(Config(smtpd_sasl_mechanism_filter="regexp:/x"), ["PLAIN"], tls=False)
