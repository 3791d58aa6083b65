"""trivial-rewrite's *rewrite* half: an address to canonical form.

This module owns the ``local`` and ``remote`` rewriting contexts of Postfix's
trivial-rewrite(8) (ADDRESS_REWRITING_README, "canonicalize"): strip a source
route, ``site!user`` to ``user@site`` (``swap_bangpath``), ``user%domain`` to
``user@domain`` (``allow_percent_hack``), append ``@$myorigin``
(``append_at_myorigin``) and ``.$mydomain`` (``append_dot_mydomain``). The
``remote`` context uses ``remote_header_rewrite_domain`` for both, and does
nothing when that is empty. Like Postfix, rewriting never changes letter case
and keeps quoted local parts intact.

It never does I/O and never decides where mail goes (that is
:mod:`mailflow.address.resolve`).

>>> s = RewriteSettings(myorigin="example.com", mydomain="example.com")
>>> rewrite_address("alice", "local", s)
'alice@example.com'
>>> rewrite_address("host!bob", "local", s)
'bob@host'
>>> rewrite_address("alice", "remote", s)
'alice'
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from mailflow.address.quote import quote_address

__all__ = ["RewriteSettings", "rewrite_address", "rewrite_tokens", "tokenize",
           "detokenize", "quote_local", "config_value", "config_bool"]

def config_value(cfg: Any, name: str) -> str:
    """``name`` from ``cfg`` with ``$name`` expanded ("" for an unknown name).

    ``cfg`` None means Postfix's defaults: the shared parameter table
    (:mod:`mailflow.config.params`) is the one place they are written.

    >>> config_value(None, "default_transport")
    'smtp'
    """
    if cfg is None:
        from mailflow.config import default_config
        cfg = default_config()
    if cfg.raw(name) is None:
        return ""
    return cfg.expand(name).strip()


def config_bool(cfg: Any, name: str) -> bool:
    """A yes/no parameter as bool (Postfix accepts yes/true/1).

    >>> config_bool(None, "swap_bangpath")
    True
    """
    return config_value(cfg, name).lower() in ("yes", "true", "1")


@attrs.frozen
class RewriteSettings:
    """The rewriting parameters, read once from a Config.

    >>> RewriteSettings.from_config(None).swap_bangpath
    True
    """

    myorigin: str = "localhost.localdomain"
    mydomain: str = "localdomain"
    remote_domain: str = ""
    swap_bangpath: bool = True
    allow_percent_hack: bool = True
    append_at_myorigin: bool = True
    append_dot_mydomain: bool = False

    @classmethod
    def from_config(cls, cfg: Any) -> "RewriteSettings":
        """Compile the settings from ``cfg`` (a Config, or None for defaults)."""
        return cls(
            myorigin=config_value(cfg, "myorigin"),
            mydomain=config_value(cfg, "mydomain"),
            remote_domain=config_value(cfg, "remote_header_rewrite_domain"),
            swap_bangpath=config_bool(cfg, "swap_bangpath"),
            allow_percent_hack=config_bool(cfg, "allow_percent_hack"),
            append_at_myorigin=config_bool(cfg, "append_at_myorigin"),
            append_dot_mydomain=config_bool(cfg, "append_dot_mydomain"),
        )


# --- tokens ------------------------------------------------------------------
# A small subset of Postfix's tok822: an address as a list of tokens, each a
# (kind, text) pair. kind is one operator character, "a" (atom), "q" (quoted
# string, text without quotes and escapes) or "d" (domain literal with []).
# "%" and "!" are operators so the routing forms can be found (tok822 does
# the same when scanning addresses).
_OPERATORS = set('@.:,!%<>;()')
_ATOM_END = re.compile(r'[@.:,!%<>;()"\[\s]')

Token = tuple[str, str]
_ROUTE = re.compile(r"@[^:\"]*:")


def tokenize(text: str) -> list[Token]:
    """Split an address in external (quoted) form into tokens.

    >>> tokenize('"a b"@x.y')
    [('q', 'a b'), ('@', '@'), ('a', 'x'), ('.', '.'), ('a', 'y')]
    """
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            out.append(("q", "".join(buf)))
            i = j + 1
        elif ch == "[":
            j = text.find("]", i)
            j = n - 1 if j < 0 else j
            out.append(("d", text[i:j + 1]))
            i = j + 1
        elif ch in _OPERATORS:
            out.append((ch, ch))
            i += 1
        else:
            m = _ATOM_END.search(text, i + 1)
            j = m.start() if m else n
            out.append(("a", text[i:j]))
            i = j
    return out


def detokenize(tokens: list[Token], external: bool = False) -> str:
    """Join tokens back; ``external`` re-quotes quoted strings.

    >>> detokenize([('q', 'a b'), ('@', '@'), ('a', 'x')], external=True)
    '"a b"@x'
    """
    parts = []
    for kind, text in tokens:
        if kind == "q" and external:
            parts.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            parts.append(text)
    return "".join(parts)


def quote_local(address: str) -> str:
    """Internal form to external: quote the local part when it needs it.

    Postfix's quote_822_local, as :func:`mailflow.address.quote.quote_address`
    (kept under this name for the rewrite and resolve callers).

    >>> quote_local("a b@example.com"), quote_local("a.b@example.com")
    ('"a b"@example.com', 'a.b@example.com')
    """
    return quote_address(address)


def _rfind(tokens: list[Token], kind: str, start: int = 0) -> int:
    for i in range(len(tokens) - 1, start - 1, -1):
        if tokens[i][0] == kind:
            return i
    return -1


def rewrite_tokens(tokens: list[Token], origin: str, domain: str,
                   settings: RewriteSettings) -> list[Token]:
    """trivial-rewrite's rewrite_tree on a token list (used by resolve too).

    >>> detokenize(rewrite_tokens(tokenize("@a,@b:u@c"), "", "", RewriteSettings()))
    'u@c'
    """
    tokens = list(tokens)
    if not tokens:
        return tokens
    # An empty address stays empty; a lone "@" is treated as one.
    if len(tokens) == 1 and tokens[0] == ("q", ""):
        return tokens
    if len(tokens) == 1 and tokens[0][0] == "@":
        return [("q", "")]
    # RFC 5321 section C: "@a,@b:user@c" -- the source route is dropped.
    if tokens[0][0] == "@":
        colon = next((i for i, t in enumerate(tokens) if t[0] == ":"), -1)
        if 0 <= colon < len(tokens) - 1:
            tokens = tokens[colon + 1:]
    if _rfind(tokens, "@") < 0:
        bang = next((i for i, t in enumerate(tokens) if t[0] == "!"), -1)
        percent = _rfind(tokens, "%")
        if settings.swap_bangpath and bang >= 0:
            # site!user -> user@site (the first "!" separates the site).
            tokens = tokens[bang + 1:] + [("@", "@")] + tokens[:bang]
        elif settings.allow_percent_hack and percent >= 0:
            # user%domain -> user@domain (the last "%" becomes the "@").
            tokens[percent] = ("@", "@")
        elif settings.append_at_myorigin and origin:
            tokens = tokens + [("@", "@")] + tokenize(origin)
    at = _rfind(tokens, "@")
    if (settings.append_dot_mydomain and domain and at >= 0 and at != len(tokens) - 1
            and not any(k in ("d", ".") for k, _ in tokens[at + 1:])):
        tokens = tokens + [(".", ".")] + tokenize(domain)
    # Strip one trailing dot, but leave "..", "@." alone (bogus forms stay
    # visible in diagnostics, as in Postfix).
    if len(tokens) > 1 and tokens[-1][0] == "." and tokens[-2][0] not in (".", "@"):
        tokens = tokens[:-1]
    return tokens


def rewrite_address(address: str, context: str, settings: RewriteSettings) -> str:
    """Rewrite an internal-form address in context ``local`` or ``remote``.

    The address is quoted, rewritten and unquoted again, as Postfix's
    rewrite_clnt_internal() does; the empty address stays empty.

    >>> s = RewriteSettings(myorigin="example.com", mydomain="example.com",
    ...                     append_dot_mydomain=True)
    >>> rewrite_address("a b@host", "local", s)
    'a b@host.example.com'
    >>> rewrite_address("user%other.example@relay.example", "local", s)
    'user%other.example@relay.example'
    """
    if context == "local":
        origin, domain = settings.myorigin, settings.mydomain
    elif context == "remote":
        origin = domain = settings.remote_domain
    else:
        raise ValueError(f"unknown rewrite context {context!r}; expected 'local' or 'remote'")
    if not address:
        return address
    # A source route (RFC 5321 Appendix C) arrives in internal form as given;
    # drop it here, before quoting would hide its "@" and ":" in a string.
    route = _ROUTE.match(address)
    if route and route.end() < len(address):
        address = address[route.end():]
    tokens = rewrite_tokens(tokenize(quote_local(address)), origin, domain, settings)
    return detokenize(tokens)
