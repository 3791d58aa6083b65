"""The server's AUTH exchange: PLAIN and LOGIN, with Postfix's replies."""

from __future__ import annotations

import asyncio
import base64

import pytest

from mailflow.errors import TableError
from mailflow.smtpd.sasl import (AuthUnavailable, CallableAuthenticator, Challenge, Done, Failed,
                                 SaslExchange, Verify)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PLAIN_ALICE = b64("\0alice\0secret")


def run(ex: SaslExchange, args: str, *lines: str, ok: bool | None = None, **state):
    """Feed AUTH ARGS and LINES; returns the replies sent and the final event."""
    event = ex.command(args, **state)
    replies = []
    feed = list(lines)
    while isinstance(event, Challenge):
        replies.append(str(event.reply))
        event = ex.step(feed.pop(0))
    if isinstance(event, Verify) and ok is not None:
        event = ex.verdict(ok)
    if isinstance(event, (Done, Failed)):
        replies.append(str(event.reply))
    return replies, event


# --- PLAIN ------------------------------------------------------------

def test_plain_with_initial_response():
    """AUTH PLAIN <creds>: one Verify, then 235 on a good password."""
    replies, event = run(SaslExchange(), f"PLAIN {PLAIN_ALICE}", ok=True)
    assert replies == ["235 2.7.0 Authentication successful"]
    assert (event.mechanism, event.username) == ("PLAIN", "alice")


def test_plain_without_initial_response_gets_empty_challenge():
    """AUTH PLAIN alone: "334 " (an empty challenge), then the credentials."""
    ex = SaslExchange()
    assert str(ex.command("PLAIN").reply) == "334 "
    event = ex.step(PLAIN_ALICE)
    assert event == Verify("PLAIN", "alice", "secret")


def test_plain_bad_password():
    """A wrong password is 535 with Cyrus's reason and Postfix's log text."""
    replies, event = run(SaslExchange(), f"plain {PLAIN_ALICE}", ok=False)
    assert replies == ["535 5.7.8 Error: authentication failed: authentication failure"]
    assert event.log == ("SASL PLAIN authentication failed: authentication failure, "
                         "sasl_username=alice")
    assert event.username == "alice" and event.error == "auth"


def test_plain_with_authzid_of_another_user_fails():
    """Logging in as bob with alice's password (authzid != authcid) is refused."""
    ex = SaslExchange()
    event = ex.command("PLAIN " + b64("bob\0alice\0secret"))
    assert isinstance(event, Failed)
    assert str(event.reply) == "535 5.7.8 Error: authentication failed: authentication failure"


def test_plain_with_own_authzid_is_accepted():
    """An authzid equal to the authcid is the same user."""
    assert SaslExchange().command("PLAIN " + b64("alice\0alice\0pw")) == \
        Verify("PLAIN", "alice", "pw")


@pytest.mark.parametrize("payload", ["alice\0secret", "\0\0secret", "a\0b\0c\0d"],
                         ids=["one-nul", "empty-user", "three-nuls"])
def test_malformed_plain_message(payload):
    """A PLAIN message that is not [authzid] NUL authcid NUL passwd is 535 bad protocol."""
    replies, _ = run(SaslExchange(), "PLAIN " + b64(payload))
    assert replies == ["535 5.7.8 Error: authentication failed: bad protocol / cancel"]


def test_invalid_base64_initial_response():
    """Bad base64 in the AUTH command is named as the initial response."""
    replies, _ = run(SaslExchange(), "PLAIN not*base64")
    assert replies == ["535 5.7.8 Error: authentication failed: "
                       "Invalid base64 data in initial response"]


def test_invalid_base64_continued_response():
    """Bad base64 after a challenge is named as the continued response."""
    replies, _ = run(SaslExchange(), "PLAIN", "%%%")
    assert replies == ["334 ", "535 5.7.8 Error: authentication failed: "
                       "Invalid base64 data in continued response"]


# --- LOGIN ------------------------------------------------------------

def test_login_exchange():
    """LOGIN asks Username: and Password: in base64, then verifies."""
    replies, event = run(SaslExchange(), "LOGIN", b64("alice"), b64("secret"), ok=True)
    assert replies == ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
                       "235 2.7.0 Authentication successful"]
    assert event.username == "alice"


def test_login_with_initial_username():
    """AUTH LOGIN <username> skips the Username: challenge."""
    ex = SaslExchange()
    assert str(ex.command("LOGIN " + b64("alice")).reply) == "334 UGFzc3dvcmQ6"
    assert ex.step(b64("pw")) == Verify("LOGIN", "alice", "pw")


def test_login_empty_password_is_checked():
    """An empty password ("=" or "") still goes to the authenticator (and fails there)."""
    ex = SaslExchange()
    ex.command("LOGIN " + b64("alice"))
    assert ex.step("") == Verify("LOGIN", "alice", "")


@pytest.mark.parametrize("at", [0, 1], ids=["username", "password"])
def test_star_aborts(at):
    """"*" at any challenge: 501 5.7.0 Authentication aborted."""
    lines = [b64("alice"), b64("pw")]
    lines[at] = "*"
    replies, event = run(SaslExchange(), "LOGIN", *lines)
    assert replies[-1] == "501 5.7.0 Authentication aborted"
    assert event.log == "SASL LOGIN authentication aborted"


def test_utf8_credentials():
    """Usernames and passwords are UTF-8."""
    event = SaslExchange().command("PLAIN " + b64("\0jos\u00e9\0p\u00e4ss"))
    assert event == Verify("PLAIN", "jos\u00e9", "p\u00e4ss")


# --- the AUTH command itself ----------------------------------------------

@pytest.mark.parametrize("state,reply", [
    ({"helo_required": True, "helo_seen": False}, "503 5.5.1 Error: send HELO/EHLO first"),
    ({"enabled": False}, "503 5.5.1 Error: authentication not enabled"),
    ({"in_transaction": True}, "503 5.5.1 Error: MAIL transaction in progress"),
    ({"tls_auth_only": True}, "504 5.5.4 Encryption required for requested authentication mechanism"),
    ({"authenticated": True}, "503 5.5.1 Error: already authenticated"),
], ids=["no-helo", "not-enabled", "in-transaction", "tls-auth-only", "again"])
def test_command_refused_by_session_state(state, reply):
    """The session checks come before the mechanism, with Postfix's texts."""
    event = SaslExchange().command(f"PLAIN {PLAIN_ALICE}", **state)
    assert isinstance(event, Failed) and str(event.reply) == reply
    assert event.log == ""


def test_tls_auth_only_allows_auth_over_tls():
    """With smtpd_tls_auth_only, AUTH inside TLS proceeds."""
    event = SaslExchange().command(f"PLAIN {PLAIN_ALICE}", tls_auth_only=True, tls_active=True)
    assert isinstance(event, Verify)


def test_checks_in_postfix_order():
    """Several problems at once: the first of Postfix's checks answers."""
    event = SaslExchange().command("", enabled=False, authenticated=True)
    assert str(event.reply) == "503 5.5.1 Error: authentication not enabled"


@pytest.mark.parametrize("args", ["", "PLAIN a b"])
def test_argument_count(args):
    """AUTH needs a mechanism and at most one initial response."""
    event = SaslExchange().command(args)
    assert str(event.reply) == "501 5.5.4 Syntax: AUTH mechanism"


@pytest.mark.parametrize("mechanism", ["CRAM-MD5", "XOAUTH2", "LOGIN"])
def test_mechanism_not_offered(mechanism):
    """A mechanism that was not announced is refused as Postfix+Dovecot does."""
    replies, event = run(SaslExchange(["PLAIN"]), mechanism)
    assert replies == ["535 5.7.8 Error: authentication failed: Invalid authentication mechanism"]
    assert event.log.startswith(f"SASL {mechanism} authentication failed: Invalid")


def test_response_limit():
    """A response longer than smtpd_sasl_response_limit: 500 5.5.6."""
    ex = SaslExchange(response_limit=20)
    ex.command("PLAIN")
    assert str(ex.step("A" * 24).reply) == "500 5.5.6 SASL response limit exceeded"
    assert str(SaslExchange(response_limit=8).command("PLAIN " + "A" * 12).reply) == \
        "500 5.5.6 SASL response limit exceeded"


def test_misuse_is_a_programming_error():
    """Calling step() before a challenge, or start() twice, raises."""
    ex = SaslExchange()
    with pytest.raises(RuntimeError):
        ex.step("x")
    ex.start("PLAIN")
    with pytest.raises(RuntimeError):
        ex.start("PLAIN")
    with pytest.raises(RuntimeError):
        ex.verdict(True)


# --- with an authenticator ------------------------------------------------

def check(authenticator, creds=PLAIN_ALICE):
    ex = SaslExchange()
    verify = ex.command(f"PLAIN {creds}")
    return asyncio.run(ex.authenticate(verify, authenticator, client_address="192.0.2.1"))


def test_authenticate_good_and_bad():
    """authenticate() turns the authenticator's answer into 235 or 535."""
    auth = CallableAuthenticator(lambda u, p: (u, p) == ("alice", "secret"))
    assert isinstance(check(auth), Done)
    assert str(check(auth, b64("\0alice\0wrong")).reply).startswith("535 5.7.8")


def test_async_function_authenticator():
    """A coroutine function works as well as a plain one."""
    async def good(u, p):
        await asyncio.sleep(0)
        return p == "secret"
    assert isinstance(check(CallableAuthenticator(good)), Done)


@pytest.mark.parametrize("exc", [AuthUnavailable("auth server down"), TableError("db locked")],
                         ids=["unavailable", "table-error"])
def test_unavailable_is_454(exc):
    """An authenticator that cannot answer gives 454 4.7.0, never 235."""
    def broken(u, p):
        raise exc
    event = check(CallableAuthenticator(broken))
    assert isinstance(event, Failed)
    assert str(event.reply).startswith("454 4.7.0 Temporary authentication failure: ")


def test_raising_function_is_a_temporary_failure():
    """A user's function that raises is 454, never an accept."""
    event = check(CallableAuthenticator(lambda u, p: 1 / 0))
    assert str(event.reply) == ("454 4.7.0 Temporary authentication failure: "
                                "authentication function failed")


def test_truthy_non_bool_is_not_an_accept():
    """Only True accepts: a function returning a non-empty string does not log anyone in."""
    assert isinstance(check(CallableAuthenticator(lambda u, p: "no")), Failed)
