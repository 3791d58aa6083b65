"""smtp_tls_policy_maps: the TLS security policy of one next-hop destination.

Owns the reading of Postfix's per-destination TLS policy (TLS_README,
postconf(5) ``smtp_tls_policy_maps``): which keys a destination is looked up
by (:func:`policy_keys`), what a table entry means (:func:`parse_policy`:
a security level and ``name=value`` attributes) and the level that is left
when DANE is asked for (:func:`without_dnssec`). Pure: the table is any
object with ``get(key)``; nothing here opens a socket or reads main.cf.

Lookup keys are the next-hop destination as written -- the recipient
domain, or the transport's or relayhost's next hop with its brackets and
``:port`` (``[mx.example.com]:587``); ``lmtp``'s ``inet:``/``unix:`` prefix
is not part of the key. A plain domain that is not found is tried again as
its parent domains with a leading dot (``.example.com``, then ``.com``),
as transport(5) does; a bracketed or ``:port`` destination is looked up once.

A bad entry is never read as "no policy": it is a :class:`PolicyError`
whose text is Postfix's warning (table, key, what is wrong), and the
destination is deferred with ``4.7.5 client TLS configuration problem``.

>>> table = {"example.com": "secure match=mx.example.com:.example.com",
...          ".example.net": "encrypt protocols=TLSv1.3"}
>>> lookup_policy(table, "mail.example.net", title="smtp_tls_policy_maps")
TlsPolicy(level='encrypt', protocols='TLSv1.3', ciphers=None, exclude=None, match=(), \
servername=None)
>>> lookup_policy(table, "example.com", title="smtp_tls_policy_maps").match
('mx.example.com', '.example.com')
>>> lookup_policy(table, "[example.com]:587", title="smtp_tls_policy_maps") is None
True
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from mailflow.errors import MailflowError, TableError

__all__ = ["TlsPolicy", "PolicyError", "LEVELS", "CONFIG_PROBLEM", "policy_keys",
           "parse_policy", "lookup_policy", "without_dnssec", "parse_fingerprints"]

#: Postfix's security levels, weakest first (tls_level_lookup()).
LEVELS = ("none", "may", "encrypt", "fingerprint", "dane", "dane-only", "verify", "secure")
#: Postfix's DSN text when a policy cannot be used (smtp_tls_policy.c MARK_INVALID).
CONFIG_PROBLEM = "client TLS configuration problem"

_GRADES = ("high", "medium", "low", "export", "null")
_HOSTNAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_HEX = re.compile(r"^[0-9A-Fa-f]{2}(?::?[0-9A-Fa-f]{2})*$")


class PolicyError(MailflowError):
    """A policy table entry (or lookup) that cannot be used; the text is
    Postfix's warning, e.g. ``smtp_tls_policy_maps, next-hop destination
    "example.com": invalid security level "sometimes"``."""


@attrs.frozen
class TlsPolicy:
    """One destination's TLS policy: the level and the attributes that
    override main.cf (None: main.cf's value).

    ``match`` holds the ``match=`` patterns: certificate names (and the
    words ``hostname``, ``nexthop``, ``dot-nexthop``) at ``verify`` and
    ``secure``, fingerprints at ``fingerprint``. ``ciphers`` is a cipher
    grade, ``protocols`` a Postfix protocol list, ``exclude`` the cipher
    exclusions that replace main.cf's.

    >>> TlsPolicy("may").level, TlsPolicy("verify", match=["hostname"]).match
    ('may', ('hostname',))
    """

    level: str
    protocols: str | None = None
    ciphers: str | None = None
    exclude: str | None = None
    match: tuple = attrs.field(default=(), converter=tuple)
    servername: str | None = None

    @property
    def verifies_name(self) -> bool:
        """Whether the server certificate's chain and name are checked."""
        return self.level in ("verify", "secure")


def _valid_hostname(name: str) -> bool:
    return bool(_HOSTNAME.match(name)) and not name.replace(".", "").isdigit()


def policy_keys(destination: str) -> list[str]:
    """The keys the policy of ``destination`` is looked up by, in order.

    >>> policy_keys("mail.Example.com")
    ['mail.example.com', '.example.com', '.com']
    >>> policy_keys("[mx.example.com]:587"), policy_keys("inet:lmtp.example.com:24")
    (['[mx.example.com]:587'], ['lmtp.example.com:24'])
    >>> policy_keys("unix:/run/dovecot/lmtp")
    ['/run/dovecot/lmtp']
    """
    dest = destination.strip()
    for prefix in ("inet:", "unix:"):
        if dest.lower().startswith(prefix):
            dest = dest[len(prefix):]
            break
    dest = dest.lower()
    if not _valid_hostname(dest):
        # [host], [host]:port, host:port, an address or a socket path: these
        # are explicit next hops and match only their own entry.
        return [dest]
    dest = dest.rstrip(".")
    keys = [dest]
    rest = dest
    while "." in rest[1:]:
        rest = rest[rest.index(".", 1):]
        keys.append(rest)
    return keys


def _tokens(text: str) -> list[str]:
    """Split on commas and whitespace, keeping ``{ ... }`` together (mystrtokq)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if depth == 0 and (ch == "," or ch.isspace()):
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def _name_value(token: str) -> tuple[str, str]:
    """``name=value`` or ``{ name = value }`` -> (name, value); ValueError: why not."""
    if token.startswith("{"):
        if not token.endswith("}"):
            raise ValueError("missing '}'")
        token = " ".join(token[1:-1].split())
    name, sep, value = token.partition("=")
    if not sep:
        raise ValueError("missing '=' after attribute name")
    name, value = name.strip(), value.strip()
    if not name:
        raise ValueError("missing attribute name")
    return name, value


def parse_policy(text: str, *, where: str) -> tuple[TlsPolicy, list[str]]:
    """A policy table value -> (policy, warnings); ``where`` names the
    table and key in every message. Attributes that Postfix refuses make a
    :class:`PolicyError`; attributes given with TLS off are only warned about.

    >>> parse_policy("fingerprint match=AB:CD|EF:01", where="t")
    (TlsPolicy(level='fingerprint', protocols=None, ciphers=None, exclude=None, \
match=('AB:CD', 'EF:01'), servername=None), [])
    >>> parse_policy("none ciphers=high", where="t")[1]
    ['t: ignoring attribute "ciphers=high" with TLS disabled']
    >>> parse_policy("may match=mx.example.com", where='smtp_tls_policy_maps, next-hop destination "x"')
    Traceback (most recent call last):
    ...
    mailflow.delivery.smtp_tls_policy.PolicyError: smtp_tls_policy_maps, next-hop \
destination "x": attribute "match" invalid at security level "may"
    """
    tokens = _tokens(text)
    if not tokens:
        raise PolicyError(f"{where}: invalid empty policy")
    level = tokens[0].lower()
    if level not in LEVELS:
        raise PolicyError(f'{where}: invalid security level "{tokens[0]}"')
    if level == "none":
        return TlsPolicy(level), [f'{where}: ignoring attribute "{t}" with TLS disabled'
                                  for t in tokens[1:]]
    fields: dict[str, Any] = {}
    match: list[str] = []
    for token in tokens[1:]:
        try:
            name, value = _name_value(token)
        except ValueError as exc:
            raise PolicyError(f'{where}: malformed attribute/value pair "{token}": {exc}') from None
        key = name.lower()
        if key in ("ciphers", "protocols", "exclude", "servername") and key in fields:
            raise PolicyError(f'{where}: attribute "{name}" is specified multiple times')
        if key == "ciphers":
            if not value:
                raise PolicyError(f'{where}: attribute "{name}" has empty value')
            if value.lower() not in _GRADES:
                # Postfix finds this only when the handshake starts; either way
                # the mail waits for the table to be fixed.
                raise PolicyError(f'{where}: invalid cipher grade "{value}" (expected one of '
                                  f'{", ".join(_GRADES)})')
            fields["ciphers"] = value.lower()
        elif key == "protocols":
            fields["protocols"] = value
        elif key == "exclude":
            fields["exclude"] = value
        elif key == "servername":
            if value.lower() != "hostname" and not _valid_hostname(value):
                raise PolicyError(f'{where}: "{name}={value}" specifies an invalid hostname')
            fields["servername"] = value
        elif key == "match":
            if not value:
                raise PolicyError(f'{where}: attribute "{name}" has empty value')
            if level == "fingerprint":
                match += [v for v in value.split("|") if v]
            elif level in ("verify", "secure"):
                match += [v for v in value.split(":") if v]
            else:
                raise PolicyError(f'{where}: attribute "{name}" invalid at security level '
                                  f'"{level}"')
        elif key == "connection_reuse":
            # TLS connections are cached like plaintext ones in mailflow:
            # the attribute is checked and has nothing more to switch on.
            if value.lower() not in ("yes", "no"):
                raise PolicyError(f'{where}: attribute "{name}" has bad value: "{value}"')
        elif key == "tafile":
            raise PolicyError(f'{where}: attribute "{name}" is not supported by mailflow '
                              f'(use smtp_tls_CAfile)')
        else:
            raise PolicyError(f'{where}: invalid attribute name: "{name}"')
    return TlsPolicy(level, match=match, **fields), []


def lookup_policy(table: Any, destination: str, *, title: str,
                  warnings: list[str] | None = None) -> TlsPolicy | None:
    """The policy ``table`` gives ``destination`` (see :func:`policy_keys`),
    None when no key is found. ``title`` is the parameter that names the
    table (``smtp_tls_policy_maps``); warnings that do not stop the
    delivery are appended to ``warnings``. A table that cannot be read is
    a :class:`PolicyError` too (Postfix: "policy table lookup error").

    >>> lookup_policy({".example.com": "verify"}, "example.com", title="t") is None
    True
    """
    for key in policy_keys(destination):
        where = f'{title}, next-hop destination "{key}"'
        try:
            value = table.get(key)
        except TableError as exc:
            raise PolicyError(f"{where}: policy table lookup error: {exc}") from exc
        if value is None:
            continue
        policy, notes = parse_policy(value, where=where)
        if warnings is not None:
            warnings += notes
        return policy
    return None


def without_dnssec(policy: TlsPolicy, destination: str, *, unix_socket: bool = False
                   ) -> tuple[TlsPolicy, str | None]:
    """The policy left for ``dane``/``dane-only`` when no DNSSEC-validated
    TLSA records can be had (mailflow never asks for them) and the warning
    Postfix logs: ``dane`` falls back to ``may``; ``dane-only`` cannot be
    met, a :class:`PolicyError`. Over a unix socket both are invalid. Other
    levels come back unchanged, with no warning.

    >>> without_dnssec(TlsPolicy("dane"), "example.com")
    (TlsPolicy(level='may', protocols=None, ciphers=None, exclude=None, match=(), \
servername=None), 'example.com: dane configured with dnssec lookups disabled')
    >>> without_dnssec(TlsPolicy("dane-only"), "example.com")
    Traceback (most recent call last):
    ...
    mailflow.delivery.smtp_tls_policy.PolicyError: example.com: dane-only configured with \
dnssec lookups disabled
    """
    if policy.level not in ("dane", "dane-only"):
        return policy, None
    if unix_socket:
        raise PolicyError(f'{destination}: the "dane" security level is invalid for delivery '
                          f'via unix-domain sockets')
    text = f"{destination}: {policy.level} configured with dnssec lookups disabled"
    if policy.level == "dane-only":
        raise PolicyError(text)
    return attrs.evolve(policy, level="may", match=()), text


def parse_fingerprints(patterns: list[str] | tuple, *, destination: str
                       ) -> tuple[frozenset, list[str]]:
    """The fingerprints of a ``fingerprint`` policy, normalized to
    uppercase hex without colons, and warnings for malformed ones. None
    left is a :class:`PolicyError`, as in Postfix.

    >>> parse_fingerprints(["ab:cd", "zz"], destination="example.com")
    (frozenset({'ABCD'}), ['malformed fingerprint value: zz'])
    """
    out, warnings = set(), []
    for value in patterns:
        value = value.strip()
        if not value:
            continue
        if _HEX.match(value):
            out.add(value.replace(":", "").upper())
        else:
            warnings.append(f"malformed fingerprint value: {value[:384]}")
    if not out:
        raise PolicyError(f"nexthop domain {destination}: configured at fingerprint security "
                          f"level, but with no fingerprints to match.")
    return frozenset(out), warnings
