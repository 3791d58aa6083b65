"""SMTP AUTH (RFC 4954): the server's mechanisms, authenticators and password hashes.

Owns the AUTH exchange of the SMTP server as a state machine with no I/O
(:class:`SaslExchange`: the PLAIN and LOGIN mechanisms, the checks Postfix's
smtpd_sasl_proto.c makes before them, and Postfix's reply texts), the
:class:`Authenticator` protocol that checks a username and password, two
authenticators (:class:`TableAuthenticator` over a lookup table of password
hashes, :class:`CallableAuthenticator` around a Python function), the
password hash format (:func:`hash_password`, :func:`verify_password`), the
choice of authenticator from main.cf (:func:`authenticator_from_config`), and
the client side's pure parts: which mechanism to send and how
(:func:`client_auth_lines`), and where ``smtp_sasl_password_maps`` is
looked up (:func:`sasl_password_keys`, :func:`sasl_password_lookup`).

It never reads a socket: the smtpd service feeds it the AUTH arguments and
each client line, and sends the replies it returns. Dovecot's authenticator
talks to a socket and lives in :mod:`mailflow.adapters.dovecot_auth`.

An exchange, as the service drives it::

    >>> ex = SaslExchange(["PLAIN", "LOGIN"])
    >>> event = ex.command("LOGIN")
    >>> str(event.reply)
    '334 VXNlcm5hbWU6'
    >>> str(ex.step("YWxpY2U=").reply)
    '334 UGFzc3dvcmQ6'
    >>> event = ex.step("c2VjcmV0")
    >>> event.username, event.password
    ('alice', 'secret')
    >>> str(ex.verdict(True).reply)
    '235 2.7.0 Authentication successful'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import logging
import os
from typing import Any, Awaitable, Callable, Iterable, Protocol, Sequence, Union, runtime_checkable

import attrs

from mailflow.errors import ConfigError, MailflowError, TableError

__all__ = ["SaslReply", "Challenge", "Verify", "Done", "Failed", "SaslExchange",
           "AuthUnavailable", "Authenticator", "TableAuthenticator", "CallableAuthenticator",
           "authenticator_from_config", "hash_password", "verify_password", "SERVER_MECHANISMS",
           "ClientAuth", "client_auth_lines", "sasl_password_keys", "sasl_password_lookup",
           "DEFAULT_ITERATIONS", "server_mechanisms"]

log = logging.getLogger("mailflow.smtpd")

#: The mechanisms mailflow's own exchange implements, in the order EHLO lists them.
SERVER_MECHANISMS = ("PLAIN", "LOGIN")

# RFC 4954 and Postfix's smtpd_sasl_proto.c / smtpd_sasl_glue.c texts.
_LOGIN_USERNAME = base64.b64encode(b"Username:").decode()   # VXNlcm5hbWU6
_LOGIN_PASSWORD = base64.b64encode(b"Password:").decode()   # UGFzc3dvcmQ6
# Cyrus SASL's text for a wrong password (SASL_BADAUTH), which Postfix puts
# after "authentication failed:"; the texts below for a bad mechanism or bad
# base64 are Postfix's own (xsasl_dovecot_server.c).
BAD_PASSWORD = "authentication failure"
BAD_MECHANISM = "Invalid authentication mechanism"
BAD_PROTOCOL = "bad protocol / cancel"


@attrs.frozen
class SaslReply:
    """One SMTP reply of the AUTH exchange: code, enhanced status (may be empty), text.

    >>> str(SaslReply(535, "5.7.8", "Error: authentication failed: authentication failure"))
    '535 5.7.8 Error: authentication failed: authentication failure'
    >>> str(SaslReply(334, "", ""))
    '334 '
    """

    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        if self.enhanced:
            return f"{self.code} {self.enhanced} {self.text}"
        return f"{self.code} {self.text}"


@attrs.frozen
class Challenge:
    """Send ``reply`` (a ``334`` challenge); the client's next line goes to
    :meth:`SaslExchange.step`."""

    reply: SaslReply


@attrs.frozen
class Verify:
    """The client has given credentials: check them, then call :meth:`SaslExchange.verdict`
    (or :meth:`SaslExchange.unavailable` when the check could not be made)."""

    mechanism: str
    username: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class Done:
    """Authenticated: send ``reply`` (``235``); the session's SASL user is ``username``."""

    reply: SaslReply
    mechanism: str
    username: str


@attrs.frozen
class Failed:
    """The exchange is over without a login: send ``reply``.

    ``log`` is Postfix's warning text (after ``host[addr]: ``), or empty when
    Postfix logs nothing (a command rejected before any exchange). ``error``
    says how Postfix counts it: ``protocol`` or ``auth`` (a 5xx
    authentication failure, which Postfix tar-pits).
    """

    reply: SaslReply
    log: str = ""
    username: str | None = None
    error: str = "protocol"


Event = Union[Challenge, Verify, Done, Failed]


class AuthUnavailable(MailflowError):
    """An authenticator that cannot answer now (Dovecot down, table error).

    The client gets ``454 4.7.0 Temporary authentication failure: REASON``;
    it is never an accept.
    """


def _fail(reply: tuple[int, str, str], log_text: str = "", *, username: str | None = None,
          error: str = "protocol") -> Failed:
    return Failed(SaslReply(*reply), log_text, username, error)


def _b64decode(text: str) -> bytes | None:
    if text == "=":  # RFC 4954 4: an empty response
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


class SaslExchange:
    """One AUTH command's exchange on the server side, as Postfix runs it.

    ``offered`` are the mechanisms EHLO announced (matched case-insensitively;
    only PLAIN and LOGIN are implemented here). Feed :meth:`command` the AUTH
    arguments, then :meth:`step` each client line while the answer is a
    :class:`Challenge`; a :class:`Verify` asks the service to check the
    credentials and report with :meth:`verdict` or :meth:`unavailable`
    (:meth:`authenticate` does that with an :class:`Authenticator`).
    ``response_limit`` is ``smtpd_sasl_response_limit``. One object serves
    one AUTH command; make a new one for the next.

    >>> ex = SaslExchange(["PLAIN"])
    >>> str(ex.command("PLAIN").reply)
    '334 '
    >>> ex.step("AGFsaWNlAHNlY3JldA==")
    Verify(mechanism='PLAIN', username='alice')
    >>> print(ex.verdict(False).reply)
    535 5.7.8 Error: authentication failed: authentication failure
    """

    def __init__(self, offered: Iterable[str] = SERVER_MECHANISMS, *,
                 response_limit: int = 12288) -> None:
        self.offered = [m.upper() for m in offered]
        self.response_limit = response_limit
        self.mechanism = ""
        self._state = "start"       # start, username, password, plain, verify, done
        self._username = ""

    def __repr__(self) -> str:
        return f"<SaslExchange {self.mechanism or '-'} {self._state}>"

    # --- the AUTH command -------------------------------------------------
    def command(self, args: str, *, enabled: bool = True, helo_seen: bool = True,
                helo_required: bool = False, in_transaction: bool = False,
                tls_active: bool = False, tls_auth_only: bool = False,
                authenticated: bool = False) -> Event:
        """Start with the AUTH command's arguments (``"PLAIN dGVzdA=="``).

        The session state decides first, in Postfix's order: HELO required
        and missing (503), AUTH not enabled or not offered (503), inside a
        mail transaction (503), plaintext with ``smtpd_tls_auth_only`` (504),
        already authenticated (503), wrong number of arguments (501).

        >>> print(SaslExchange().command("PLAIN", tls_auth_only=True).reply)
        504 5.5.4 Encryption required for requested authentication mechanism
        >>> print(SaslExchange().command("PLAIN x y").reply)
        501 5.5.4 Syntax: AUTH mechanism
        """
        if helo_required and not helo_seen:
            return _fail((503, "5.5.1", "Error: send HELO/EHLO first"), error="policy")
        if not enabled:
            return _fail((503, "5.5.1", "Error: authentication not enabled"))
        if in_transaction:
            return _fail((503, "5.5.1", "Error: MAIL transaction in progress"))
        if tls_auth_only and not tls_active:
            # RFC 4954, Section 4; Postfix uses 504 5.5.4 here (not 538).
            return _fail((504, "5.5.4",
                          "Encryption required for requested authentication mechanism"))
        if authenticated:
            return _fail((503, "5.5.1", "Error: already authenticated"))
        words = args.split()
        if not 1 <= len(words) <= 2:
            return _fail((501, "5.5.4", "Syntax: AUTH mechanism"))
        return self.start(words[0], words[1] if len(words) == 2 else None)

    def start(self, mechanism: str, initial_response: str | None = None) -> Event:
        """Begin ``mechanism`` with an optional initial response (base64, ``=`` for empty).

        >>> print(SaslExchange(["PLAIN"]).start("CRAM-MD5").reply)
        535 5.7.8 Error: authentication failed: Invalid authentication mechanism
        """
        if self._state != "start":
            raise RuntimeError("start() called twice on one SaslExchange")
        self.mechanism = mechanism.upper()
        if self.mechanism not in self.offered or self.mechanism not in SERVER_MECHANISMS:
            return self._failed(BAD_MECHANISM)
        if initial_response is not None:
            if len(initial_response) > self.response_limit:
                return self._over_limit()
            data = _b64decode(initial_response)
            if data is None:
                return self._failed("Invalid base64 data in initial response")
        else:
            data = None
        if self.mechanism == "PLAIN":
            self._state = "plain"
            if data is None:
                return Challenge(SaslReply(334, "", ""))
            return self._plain(data)
        self._state = "username"
        if data is None:
            return Challenge(SaslReply(334, "", _LOGIN_USERNAME))
        return self._login(data)

    def step(self, line: str) -> Event:
        """The client's line after a :class:`Challenge` (``*`` cancels).

        >>> ex = SaslExchange(); _ = ex.start("LOGIN")
        >>> print(ex.step("*").reply)
        501 5.7.0 Authentication aborted
        """
        if self._state not in ("plain", "username", "password"):
            raise RuntimeError(f"step() in state {self._state}")
        if len(line) > self.response_limit:
            return self._over_limit()
        if line == "*":
            self._state = "done"
            return _fail((501, "5.7.0", "Authentication aborted"),
                         f"SASL {self.mechanism} authentication aborted")
        data = _b64decode(line)
        if data is None:
            return self._failed("Invalid base64 data in continued response")
        if self._state == "plain":
            return self._plain(data)
        return self._login(data)

    # --- the verdict --------------------------------------------------------
    def verdict(self, ok: bool) -> Done | Failed:
        """The authenticator's answer for the :class:`Verify` just returned."""
        if self._state != "verify":
            raise RuntimeError(f"verdict() in state {self._state}")
        self._state = "done"
        if ok:
            return Done(SaslReply(235, "2.7.0", "Authentication successful"),
                        self.mechanism, self._username)
        return self._failed(BAD_PASSWORD)

    def unavailable(self, reason: str) -> Failed:
        """The credentials could not be checked now: ``454 4.7.0``, never a login.

        >>> ex = SaslExchange(); _ = ex.start("PLAIN", "AGEAYg==")
        >>> print(ex.unavailable("Connection lost to authentication server").reply)
        454 4.7.0 Temporary authentication failure: Connection lost to authentication server
        """
        if self._state != "verify":
            raise RuntimeError(f"unavailable() in state {self._state}")
        self._state = "done"
        reason = reason or "(reason unavailable)"
        return _fail((454, "4.7.0", f"Temporary authentication failure: {reason}"),
                     self._log_failed(reason), username=self._username, error="auth")

    async def authenticate(self, verify: Verify, authenticator: "Authenticator",
                           **context: Any) -> Done | Failed:
        """Check ``verify``'s credentials with ``authenticator`` and give the verdict.

        ``context`` goes to :meth:`Authenticator.authenticate` (``service``,
        ``client_address``, ``tls``). :class:`AuthUnavailable` and
        :class:`~mailflow.errors.TableError` become ``454``.
        """
        try:
            ok = await authenticator.authenticate(verify.username, verify.password, **context)
        except (AuthUnavailable, TableError) as exc:
            return self.unavailable(str(exc))
        return self.verdict(bool(ok))

    # --- mechanisms -----------------------------------------------------------
    def _plain(self, data: bytes) -> Event:
        # RFC 4616: [authzid] NUL authcid NUL passwd
        parts = data.split(b"\0")
        if len(parts) != 3 or not parts[1]:
            return self._failed(BAD_PROTOCOL)
        try:
            authzid, authcid, passwd = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            return self._failed(BAD_PROTOCOL)
        self._username = authcid
        if authzid and authzid != authcid:
            # Acting as another user needs proxy rights nobody has here.
            return self._failed(BAD_PASSWORD)
        self._state = "verify"
        return Verify(self.mechanism, authcid, passwd)

    def _login(self, data: bytes) -> Event:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return self._failed(BAD_PROTOCOL)
        if self._state == "username":
            if not text:
                return self._failed(BAD_PROTOCOL)
            self._username = text
            self._state = "password"
            return Challenge(SaslReply(334, "", _LOGIN_PASSWORD))
        self._state = "verify"
        return Verify(self.mechanism, self._username, text)

    def _log_failed(self, reason: str) -> str:
        return (f"SASL {self.mechanism} authentication failed: {reason}, "
                f"sasl_username={self._username or '(unavailable)'}")

    def _failed(self, reason: str) -> Failed:
        self._state = "done"
        return _fail((535, "5.7.8", f"Error: authentication failed: {reason}"),
                     self._log_failed(reason), username=self._username or None, error="auth")

    def _over_limit(self) -> Failed:
        self._state = "done"
        return _fail((500, "5.5.6", "SASL response limit exceeded"))


# --- authenticators ------------------------------------------------------------

@runtime_checkable
class Authenticator(Protocol):
    """Checks a username and password; the extension point of SMTP AUTH.

    ``authenticate`` returns True (good), False (bad password or unknown
    user) or raises :class:`AuthUnavailable` (cannot tell now: ``454``).
    ``mechanisms`` lists the SASL mechanisms it can serve, from
    :data:`SERVER_MECHANISMS`.
    """

    def mechanisms(self) -> Sequence[str]: ...

    async def authenticate(self, username: str, password: str, *, service: str = "smtp",
                           client_address: str = "", tls: bool = False) -> bool: ...


#: How many PBKDF2 rounds :func:`hash_password` uses (OWASP's 2023 advice for SHA-256).
DEFAULT_ITERATIONS = 600_000
_SCHEME = "pbkdf2-sha256"


def _ab64encode(data: bytes) -> str:
    # passlib's "adapted base64": standard alphabet with "." for "+", no padding.
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def _ab64decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS,
                  salt: bytes | None = None) -> str:
    """A salted PBKDF2-HMAC-SHA256 hash: ``$pbkdf2-sha256$ROUNDS$SALT$HASH``.

    SALT and HASH are base64 with ``.`` for ``+`` and no padding -- the
    format of passlib's ``pbkdf2_sha256``, so either tool can make entries.

    >>> hash_password("secret", iterations=1000, salt=b"0123456789abcdef")
    '$pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg$tiKWHy4FAGCWE8gn6GtKhaxD2OeeAUUWXFT/p1aaNl8'
    """
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"${_SCHEME}${iterations}${_ab64encode(salt)}${_ab64encode(digest)}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant time).

    A value that is not such a string is a :class:`ValueError` saying why.

    >>> verify_password("secret", hash_password("secret", iterations=1000))
    True
    >>> verify_password("secret", "secret")
    Traceback (most recent call last):
    ...
    ValueError: not a $pbkdf2-sha256$ROUNDS$SALT$HASH password hash
    """
    parts = hashed.strip().split("$")
    if len(parts) != 5 or parts[0] or parts[1] != _SCHEME:
        raise ValueError(f"not a ${_SCHEME}$ROUNDS$SALT$HASH password hash")
    try:
        iterations = int(parts[2])
        salt, want = _ab64decode(parts[3]), _ab64decode(parts[4])
    except (ValueError, binascii.Error):
        raise ValueError(f"bad ${_SCHEME}$ password hash: rounds, salt or hash "
                         "does not decode") from None
    if iterations < 1 or not want:
        raise ValueError(f"bad ${_SCHEME}$ password hash: rounds, salt or hash "
                         "does not decode")
    got = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations,
                              len(want))
    return hmac.compare_digest(got, want)


Offload = Callable[..., Awaitable[Any]]

# hash_password("", salt=16 NUL bytes) at DEFAULT_ITERATIONS: what an unknown
# user's password is checked against, so that the answer takes as long as
# for a known user (a test checks that it matches).
_DUMMY_HASH = ("$pbkdf2-sha256$600000$AAAAAAAAAAAAAAAAAAAAAA$"
               "ZCf5sFgmzUyINw9KHbD3D7yfZeEhzG4rZ3uutOc2Yog")


class TableAuthenticator:
    """Passwords from a lookup table of ``username  $pbkdf2-sha256$...`` entries.

    ``table`` is anything with ``get(key) -> str | None`` (a Maps from
    ``smtpd_sasl_password_maps``, any opened table, a dict). An unknown user
    costs as much time as a known one (a dummy hash is checked), so timing
    does not tell which users exist. An entry that is not a valid hash is
    logged and refuses the login; a table that cannot answer is
    :class:`AuthUnavailable`. PBKDF2 takes ~0.1 s of CPU: pass
    ``offload=asyncio.to_thread`` to keep it off the event loop.

    >>> import asyncio
    >>> auth = TableAuthenticator({"alice": hash_password("secret", iterations=1000)})
    >>> asyncio.run(auth.authenticate("alice", "secret"))
    True
    >>> asyncio.run(auth.authenticate("bob", "x"))
    False
    """

    def __init__(self, table: Any, *, offload: Offload | None = None,
                 mechanisms: Sequence[str] = SERVER_MECHANISMS) -> None:
        self.table = table
        self.offload = offload
        self._mechanisms = tuple(m.upper() for m in mechanisms)

    def __repr__(self) -> str:
        return f"TableAuthenticator({self.table!r})"

    def mechanisms(self) -> Sequence[str]:
        return self._mechanisms

    async def authenticate(self, username: str, password: str, *, service: str = "smtp",
                           client_address: str = "", tls: bool = False) -> bool:
        try:
            hashed = self.table.get(username)
        except TableError as exc:
            raise AuthUnavailable(f"password table lookup error: {exc}") from exc
        if self.offload is not None:
            return bool(await self.offload(self._check, username, password, hashed))
        return self._check(username, password, hashed)

    def _check(self, username: str, password: str, hashed: str | None) -> bool:
        if hashed is None:
            verify_password(password, _DUMMY_HASH)  # same work as a real check
            return False
        try:
            return verify_password(password, hashed)
        except ValueError as exc:
            log.warning("SASL password table entry for %s: %s", username, exc)
            return False


class CallableAuthenticator:
    """A Python function ``(username, password) -> bool`` (or an awaitable bool).

    A function that raises is a temporary failure (``454``), never an accept.

    >>> import asyncio
    >>> auth = CallableAuthenticator(lambda u, p: (u, p) == ("alice", "secret"))
    >>> asyncio.run(auth.authenticate("alice", "secret"))
    True
    """

    def __init__(self, func: Callable[[str, str], "bool | Awaitable[bool]"], *,
                 mechanisms: Sequence[str] = SERVER_MECHANISMS) -> None:
        self.func = func
        self._mechanisms = tuple(m.upper() for m in mechanisms)

    def __repr__(self) -> str:
        return f"CallableAuthenticator({self.func!r})"

    def mechanisms(self) -> Sequence[str]:
        return self._mechanisms

    async def authenticate(self, username: str, password: str, *, service: str = "smtp",
                           client_address: str = "", tls: bool = False) -> bool:
        try:
            result = self.func(username, password)
            if inspect.isawaitable(result):
                result = await result
        except AuthUnavailable:
            raise
        except Exception as exc:  # a user's hook: any failure means "cannot tell", not "yes"
            log.warning("SASL authentication function %r failed: %s", self.func, exc)
            raise AuthUnavailable("authentication function failed") from exc
        return result is True


def authenticator_from_config(cfg: Any, *, custom: Any = None,
                              offload: Offload | None = None) -> Authenticator:
    """The authenticator ``smtpd_sasl_type`` names (called when AUTH is enabled).

    - ``dovecot``: Dovecot's auth server at ``smtpd_sasl_path`` (relative
      to ``queue_directory``, like Postfix's ``private/auth``, or absolute).
    - ``mailflow``: :class:`TableAuthenticator` over ``smtpd_sasl_password_maps``.
    - ``python``: ``custom``, an :class:`Authenticator` or a function for
      :class:`CallableAuthenticator`.
    - ``cyrus`` (Postfix's default) is not available: a :class:`ConfigError`
      that suggests the others.

    >>> from mailflow.config import Config
    >>> authenticator_from_config(Config(smtpd_sasl_type="mailflow",
    ...                                  smtpd_sasl_password_maps="inline:{a=b}"))
    TableAuthenticator(Maps(inline:{a=b}))
    """
    kind = cfg.expand("smtpd_sasl_type").strip().lower()
    if kind == "dovecot":
        # The only adapter this module reaches: imported here so that the
        # pure exchange and the table authenticator never load socket code.
        from mailflow.adapters.dovecot_auth import DovecotAuthenticator
        return DovecotAuthenticator.from_config(cfg)
    if kind == "mailflow":
        from mailflow.tables import open_maps
        spec = cfg.expand("smtpd_sasl_password_maps").strip()
        if not spec:
            raise ConfigError("smtpd_sasl_type = mailflow needs smtpd_sasl_password_maps "
                              "(a table of username and password hash)",
                              name="smtpd_sasl_password_maps", value="")
        try:
            maps = open_maps(spec, cfg)
        except TableError as exc:
            raise ConfigError(str(exc), name="smtpd_sasl_password_maps", value=spec) from None
        return TableAuthenticator(maps, offload=offload)
    if kind == "python":
        if custom is None:
            raise ConfigError("smtpd_sasl_type = python needs an authenticator passed in "
                              "from Python (custom=...)", name="smtpd_sasl_type", value=kind)
        if isinstance(custom, Authenticator):
            return custom
        if callable(custom):
            return CallableAuthenticator(custom)
        raise ConfigError(f"{custom!r} is neither an Authenticator nor a function",
                          name="smtpd_sasl_type", value=kind)
    if kind == "cyrus":
        raise ConfigError("Cyrus SASL is not available in mailflow; use smtpd_sasl_type = "
                          "dovecot (with smtpd_sasl_path) or mailflow (with "
                          "smtpd_sasl_password_maps)", name="smtpd_sasl_type", value=kind)
    raise ConfigError("unsupported SASL server implementation; expected dovecot, mailflow "
                      "or python", name="smtpd_sasl_type", value=kind)


def server_mechanisms(cfg: Any, available: Iterable[str], *, tls: bool) -> list[str]:
    """The mechanisms EHLO announces (``250-AUTH PLAIN LOGIN``), in ``available``'s order.

    ``smtpd_sasl_security_options`` (``smtpd_sasl_tls_security_options``
    inside TLS) with ``noplaintext`` removes PLAIN and LOGIN. Then
    ``smtpd_sasl_mechanism_filter``: a list matched first-match-wins, of
    names, ``!name`` (exclude) and ``static:...`` (everything else matches);
    a mechanism nothing matches is left out, as in Postfix. An empty list
    means no filter.

    >>> from mailflow.config import Config
    >>> server_mechanisms(Config(), ["PLAIN", "LOGIN"], tls=False)
    ['PLAIN', 'LOGIN']
    >>> server_mechanisms(Config(smtpd_sasl_mechanism_filter="!login, static:all"),
    ...                   ["PLAIN", "LOGIN"], tls=True)
    ['PLAIN']
    >>> server_mechanisms(Config(smtpd_sasl_security_options="noanonymous, noplaintext"),
    ...                   ["PLAIN", "LOGIN"], tls=False)
    []
    """
    options_param = "smtpd_sasl_tls_security_options" if tls else "smtpd_sasl_security_options"
    options = {o.lower() for o in cfg[options_param]}
    mechanisms = [m.upper() for m in available]
    if "noplaintext" in options:
        mechanisms = [m for m in mechanisms if m not in ("PLAIN", "LOGIN")]
    patterns = [str(p).strip() for p in cfg["smtpd_sasl_mechanism_filter"] if str(p).strip()]
    if not patterns:
        return mechanisms
    for pattern in patterns:
        body = pattern.lstrip("!")
        if ":" in body and not body.lower().startswith("static:"):
            raise ConfigError("only mechanism names, !name and static:... are supported here",
                              name="smtpd_sasl_mechanism_filter",
                              value=cfg.expand("smtpd_sasl_mechanism_filter"))

    def allowed(mech: str) -> bool:
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern.lstrip("!")
            if body.lower().startswith("static:") or body.upper() == mech:
                return not negate
        return False
    return [m for m in mechanisms if allowed(m)]


# --- the client side -----------------------------------------------------------

@attrs.frozen
class ClientAuth:
    """What the SMTP client sends to log in: ``command``, then one response per ``334``.

    >>> client_auth_lines(["LOGIN"], "alice", "secret").responses
    ('c2VjcmV0',)
    """

    mechanism: str
    command: str
    responses: tuple[str, ...] = attrs.field(repr=False)


def client_auth_lines(offered: Iterable[str], username: str, password: str, *,
                      security_options: Iterable[str] = ("noanonymous",),
                      mechanism_filter: Iterable[str] = ()) -> ClientAuth | None:
    """The AUTH command and responses for a server that offers ``offered``.

    PLAIN (with the credentials as initial response) is preferred, then
    LOGIN (username as initial response, password after ``334``). None when
    neither is usable: not offered, removed by ``mechanism_filter``
    (``smtp_sasl_mechanism_filter``; empty: no filter), or forbidden by
    ``security_options`` containing ``noplaintext`` -- Postfix's default
    ``smtp_sasl_security_options`` does, so a caller normally passes
    ``noanonymous`` alone or the value for a TLS session. Postfix then
    defers with "SASL authentication failed; cannot authenticate to server
    HOST[ADDR]: no mechanism available".

    >>> client_auth_lines(["LOGIN", "PLAIN"], "alice", "secret").command
    'AUTH PLAIN AGFsaWNlAHNlY3JldA=='
    >>> client_auth_lines(["PLAIN"], "a", "b", security_options=["noplaintext"]) is None
    True
    """
    offered_set = {m.upper() for m in offered}
    wanted = {m.upper() for m in mechanism_filter}
    if "NOPLAINTEXT" in {o.upper() for o in security_options}:
        return None
    for mech in ("PLAIN", "LOGIN"):
        if mech not in offered_set or (wanted and mech not in wanted):
            continue
        if mech == "PLAIN":
            token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
            return ClientAuth(mech, f"AUTH PLAIN {token}", ())
        user = base64.b64encode(username.encode()).decode() or "="
        return ClientAuth(mech, f"AUTH LOGIN {user}",
                          (base64.b64encode(password.encode()).decode(),))
    return None


def sasl_password_keys(*, host: str, dest: str, sender: str | None = None,
                       sender_dependent: bool = False) -> list[str]:
    """The ``smtp_sasl_password_maps`` keys Postfix tries, in order.

    With ``smtp_sender_dependent_authentication`` the sender address, then
    its ``@domain``; then the server's host name (the MX name) and then the
    destination as the next hop writes it (``[mail.isp.example]:587``) --
    smtp_sasl_glue.c's order. Each key is asked of the whole table list
    before the next key.

    >>> sasl_password_keys(host="mail.isp.example", dest="[mail.isp.example]:587")
    ['mail.isp.example', '[mail.isp.example]:587']
    >>> sasl_password_keys(host="mx", dest="d", sender="a@b.example", sender_dependent=True)
    ['a@b.example', '@b.example', 'mx', 'd']
    """
    keys: list[str] = []
    if sender_dependent and sender:
        keys.append(sender)
        if "@" in sender:
            keys.append("@" + sender.rsplit("@", 1)[1])
    for key in (host, dest):
        if key and key not in keys:
            keys.append(key)
    return keys


def sasl_password_lookup(table: Any, **keys: Any) -> tuple[str, str] | None:
    """``(username, password)`` for a destination, from ``username:password`` entries.

    ``keys`` are those of :func:`sasl_password_keys`. A table that cannot
    answer raises :class:`~mailflow.errors.TableError` (Postfix defers the
    mail), never "no password".

    >>> sasl_password_lookup({"[smtp.isp.example]:587": "me@isp:pass:word"},
    ...                      host="smtp.isp.example", dest="[smtp.isp.example]:587")
    ('me@isp', 'pass:word')
    """
    for key in sasl_password_keys(**keys):
        value = table.get(key)
        if value is not None:
            username, _, password = value.partition(":")
            return username, password
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mailflow.smtpd.sasl hash [USERNAME]``: print a password table line.

    The password is read from standard input (one line), so it does not
    show in the process list. With USERNAME the output is a whole
    ``username hash`` line for ``smtpd_sasl_password_maps``.
    """
    import sys
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "hash" or len(args) > 2:
        print("usage: python -m mailflow.smtpd.sasl hash [USERNAME] < password", file=sys.stderr)
        return 64  # EX_USAGE
    if sys.stdin.isatty():
        import getpass
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("mailflow: fatal: empty password", file=sys.stderr)
        return 65  # EX_DATAERR
    hashed = hash_password(password)
    print(f"{args[1]} {hashed}" if len(args) == 2 else hashed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
