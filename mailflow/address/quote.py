"""Postfix's two address forms and the conversions between them.

Postfix keeps addresses in **internal** (unquoted) form: the local part as the
mailbox name itself, ``a b@example.com``, ``"x"@y`` unquoted to ``x@y``. On the
wire, in headers and as lookup-table keys it uses **external** (quoted) form,
where a local part that is not an RFC 5322 dot-atom is written as a quoted
string: ``"a b"@example.com``. This module converts between the two exactly
as Postfix's ``quote_822_local(3)`` does. It does no I/O and parses nothing
beyond one address; see :mod:`mailflow.address.parse` for paths and headers.

>>> quote_address("a b@example.com")
'"a b"@example.com'
>>> unquote_address('"a b"@example.com')
'a b@example.com'
>>> split_address('"x@y"@example.com')
('"x@y"', 'example.com')
"""

from __future__ import annotations

import re

__all__ = ["quote_address", "unquote_address", "split_address", "quote_local_part",
           "is_dot_atom"]

# RFC 822 "specials" plus the quote and backslash force a quoted string
# (Postfix quote_822_local.c, YYY_ESPECIAL), as do space, control characters
# and DEL; "." is special only at the ends or doubled (checked apart).
_NOT_ATOM_TEXT = re.compile(r'[()<>@,;:\\"\[\]\x00-\x20\x7f]')


def is_dot_atom(local: str) -> bool:
    """Whether ``local`` can be written without quotes (an RFC 5322 dot-atom).

    Eight-bit characters count as atom text (RFC 6531, SMTPUTF8), as with
    Postfix's default ``QUOTE_FLAG_8BITCLEAN``.

    >>> is_dot_atom("john.doe"), is_dot_atom("john..doe"), is_dot_atom("a b")
    (True, False, False)
    """
    if not local or local[0] == "." or local[-1] == ".":
        return False
    if ".." in local:
        return False
    # One regexp scan instead of a loop per character: resolve and cleanup
    # quote every address they look up.
    return _NOT_ATOM_TEXT.search(local) is None


def quote_local_part(local: str) -> str:
    """Quote one local part when it is not a dot-atom (quote_822_local).

    Inside the quoted string, ``"`` and ``\\`` get a backslash, as does a
    carriage return (Postfix make_822_quoted_string).

    >>> quote_local_part('say "hi"')
    '"say \\\\"hi\\\\""'
    >>> quote_local_part("")
    '""'
    """
    if is_dot_atom(local):
        return local
    out = ['"']
    for ch in local:
        if ch in '"\\\r':
            out.append("\\")
        out.append(ch)
    out.append('"')
    return "".join(out)


def quote_address(internal: str) -> str:
    """Internal (unquoted) form to external (quoted) form.

    The domain is the text after the *last* ``@``; it is never changed. An
    address without ``@`` is treated as a bare local part. The null address
    stays empty (Postfix writes ``<>`` for it on the wire, not ``""``).

    >>> quote_address("user@example.com")
    'user@example.com'
    >>> quote_address("a@b@example.com")
    '"a@b"@example.com'
    >>> quote_address("")
    ''
    """
    if internal == "":
        return ""
    local, at, domain = internal.rpartition("@")
    if not at:
        return quote_local_part(internal)
    return quote_local_part(local) + "@" + domain


def _last_bare_at(text: str) -> int:
    """Index of the last ``@`` outside quoted strings, or -1."""
    in_quote = False
    escaped = False
    found = -1
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quote = not in_quote
        elif ch == "@" and not in_quote:
            found = i
    return found


def split_address(addr: str) -> tuple[str, str]:
    """Split at the last ``@`` outside quotes: ``(local, domain)``.

    Works on either form. Without such an ``@`` the domain is ``""``.

    >>> split_address("user@example.com")
    ('user', 'example.com')
    >>> split_address("user")
    ('user', '')
    >>> split_address("a@b@example.com")
    ('a@b', 'example.com')
    """
    at = _last_bare_at(addr)
    if at < 0:
        return addr, ""
    return addr[:at], addr[at + 1:]


def unquote_address(external: str) -> str:
    """External (quoted) form to internal (unquoted) form (unquote_822_local).

    Quotes and backslash escapes are removed from the local part; the domain
    after the last unquoted ``@`` is kept as it is. A source-route prefix
    ``@a,@b:`` is kept unchanged in front, as Postfix does.

    >>> unquote_address('"john\\\\"doe"@example.com')
    'john"doe@example.com'
    >>> unquote_address("@a,@b:\\"x y\\"@c")
    '@a,@b:x y@c'
    """
    prefix = ""
    rest = external
    if external.startswith("@"):
        colon = external.find(":")
        if colon < 0 or colon == len(external) - 1:
            return external
        prefix, rest = external[: colon + 1], external[colon + 1:]
    at = _last_bare_at(rest)
    local, domain = (rest, None) if at < 0 else (rest[:at], rest[at:])
    out = []
    i = 0
    while i < len(local):
        ch = local[i]
        if ch == '"':
            i += 1
            continue
        if ch == "\\":
            if i + 1 >= len(local):
                break
            i += 1
            ch = local[i]
        out.append(ch)
        i += 1
    return prefix + "".join(out) + (domain or "")
