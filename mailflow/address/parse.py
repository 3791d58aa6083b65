"""Parsing RFC 5321 paths and RFC 5322 header address lists.

This module owns the syntax of addresses: it turns what arrives in
``MAIL FROM:<...>``/``RCPT TO:<...>`` and in ``From:``/``To:``/``Cc:`` header
values into Postfix's internal (unquoted) form, and rewrites addresses inside
a header value while keeping everything around them (display names,
comments, spacing, encoded words) as it was. It never rewrites an address
itself (that is :mod:`mailflow.address.rewrite`'s and cleanup's business),
never lowercases, and does no I/O.

Internal vs external form (see :mod:`mailflow.address.quote`): a parsed
address is returned in internal form, ``"a b"@example.com`` becomes
``a b@example.com``; :func:`quote_address` turns it back into external form
for the wire, for headers and for table keys.

>>> parse_path("<\\"john doe\\"@example.com>")
'john doe@example.com'
>>> parse_path("<>")
''
>>> [a.address for a in parse_header_addresses('Ann <ann@example.com>, bob@example.com (Bob)')]
['ann@example.com', 'bob@example.com']
>>> rewrite_header_addresses('"Ann" <ann@old.example>', lambda a: a.replace("old", "new"))
'"Ann" <ann@new.example>'
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

import attrs

from mailflow.address.quote import quote_address, quote_local_part, split_address, unquote_address
from mailflow.errors import AddressError

__all__ = ["parse_path", "parse_header_addresses", "rewrite_header_addresses",
           "HeaderAddress", "AddressSyntaxError", "split_address", "quote_address",
           "unquote_address", "quote_local_part", "externalize"]


class AddressSyntaxError(AddressError):
    """An address that does not parse, with where and why.

    >>> try:
    ...     parse_path("<user@example.com")
    ... except AddressSyntaxError as e:
    ...     (e.position, e.reason)
    (17, "missing '>'")
    """

    def __init__(self, text: str, position: int, reason: str) -> None:
        self.text = text
        self.position = position
        self.reason = reason
        super().__init__(f"bad address {text!r}: {reason} at position {position}")


@attrs.frozen
class HeaderAddress:
    """One address found in a header value.

    ``address`` is in internal form (``""`` for ``<>``); it is ``None`` only
    for an empty group such as ``undisclosed-recipients:;``, which is listed
    so callers can see the group. ``group`` names the group an address is in.
    ``display_name`` has quotes removed and spaces collapsed; encoded words
    (RFC 2047) are left encoded. ``comment`` joins the comments next to a
    bare address (``user@example.com (User Name)``). ``span`` is the slice
    of the header value that holds the address itself.

    >>> parse_header_addresses("undisclosed-recipients:;")
    [HeaderAddress(display_name='', address=None, group='undisclosed-recipients', comment='', span=None)]
    """

    display_name: str
    address: str | None
    group: str | None = None
    comment: str = ""
    span: tuple[int, int] | None = None


# --- tokens --------------------------------------------------------------

@attrs.frozen
class _Tok:
    kind: str        # atom, qstring, literal, comment, ws, or the special itself
    text: str
    start: int
    end: int


_SPECIAL_TOKENS = "<>@,;:."
_ATOM_STOP = frozenset('()<>@,;:\\".[] \t\r\n')


def _scan_delimited(text: str, i: int, close: str, what: str, nest: str = "") -> int:
    """Index after the ``close`` that ends a quoted/commented/literal run at ``i``."""
    depth = 1
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if nest and ch == nest:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise AddressSyntaxError(text, i, f"unterminated {what}")


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            j = i
            while j < n and text[j] in " \t\r\n":
                j += 1
            out.append(_Tok("ws", text[i:j], i, j))
        elif ch == '"':
            j = _scan_delimited(text, i, '"', "quoted string")
            out.append(_Tok("qstring", text[i:j], i, j))
        elif ch == "(":
            j = _scan_delimited(text, i, ")", "comment", nest="(")
            out.append(_Tok("comment", text[i:j], i, j))
        elif ch == "[":
            j = _scan_delimited(text, i, "]", "domain literal")
            out.append(_Tok("literal", text[i:j], i, j))
        elif ch in _SPECIAL_TOKENS:
            j = i + 1
            out.append(_Tok(ch, ch, i, j))
        elif ch in ")]\\":
            raise AddressSyntaxError(text, i, f"unexpected {ch!r}")
        else:
            j = i
            while j < n and text[j] not in _ATOM_STOP:
                j += 1
            out.append(_Tok("atom", text[i:j], i, j))
        i = j
    return out


def _unquote_qstring(qs: str) -> str:
    """Content of a quoted string with backslash escapes removed."""
    body = qs[1:-1]
    out = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            i += 1
        out.append(body[i])
        i += 1
    return "".join(out)


def _addr_spec(text: str, toks: list[_Tok], allow_cfws: bool) -> tuple[str, int, int]:
    """Internal form and span of ``local-part [@ domain]`` made of ``toks``."""
    sig = []
    for t in toks:
        if t.kind in ("ws", "comment"):
            if not allow_cfws:
                raise AddressSyntaxError(text, t.start, "whitespace or comment in address")
            continue
        sig.append(t)
    if not sig:
        pos = toks[0].start if toks else len(text)
        raise AddressSyntaxError(text, pos, "empty address")
    local_parts: list[str] = []
    i = 0
    expect_word = True
    while i < len(sig) and sig[i].kind != "@":
        t = sig[i]
        if expect_word:
            if t.kind == "atom":
                local_parts.append(t.text)
            elif t.kind == "qstring":
                local_parts.append(_unquote_qstring(t.text))
            else:
                raise AddressSyntaxError(text, t.start, f"unexpected {t.text!r} in local part")
        else:
            if t.kind != ".":
                raise AddressSyntaxError(text, t.start, "expected '.' or '@' in local part")
            local_parts.append(".")
        expect_word = not expect_word
        i += 1
    if expect_word:
        pos = sig[i].start if i < len(sig) else sig[-1].end
        raise AddressSyntaxError(text, pos, "empty or malformed local part")
    local = "".join(local_parts)
    if i == len(sig):
        return local, sig[0].start, sig[-1].end
    at = sig[i]
    dom = sig[i + 1:]
    if not dom:
        raise AddressSyntaxError(text, at.end, "missing domain after '@'")
    domain_parts: list[str] = []
    expect_word = True
    for t in dom:
        if expect_word and t.kind in ("atom", "literal"):
            domain_parts.append(t.text)
        elif not expect_word and t.kind == ".":
            domain_parts.append(".")
        else:
            raise AddressSyntaxError(text, t.start, f"unexpected {t.text!r} in domain")
        expect_word = not expect_word
    if expect_word:
        raise AddressSyntaxError(text, dom[-1].start, "domain ends in '.'")
    return local + "@" + "".join(domain_parts), sig[0].start, sig[-1].end


def _route_and_addr(text: str, toks: list[_Tok], allow_cfws: bool) -> tuple[str, int, int]:
    """Handle an optional source route ``@a,@b:`` in front of an addr-spec.

    The route is kept in front of the internal form, as given: whether to
    strip it is trivial-rewrite's decision (RFC 5321 section 4.1.1.3 asks
    receivers to accept and ignore it).
    """
    sig = [t for t in toks if t.kind not in ("ws", "comment")]
    if not sig or sig[0].kind != "@":
        return _addr_spec(text, toks, allow_cfws)
    colon = next((k for k, t in enumerate(toks) if t.kind == ":"), None)
    if colon is None:
        raise AddressSyntaxError(text, sig[0].start, "source route without ':'")
    route = "".join(t.text for t in toks[:colon] if t.kind not in ("ws", "comment"))
    addr, _, end = _addr_spec(text, toks[colon + 1:], allow_cfws)
    return route + ":" + addr, sig[0].start, end


# --- SMTP paths ----------------------------------------------------------

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def parse_path(text: str, *, strict: bool = False) -> str:
    """An RFC 5321 ``Reverse-path``/``Forward-path`` to internal form.

    ``<>`` is the null address ``""``. A source route is kept as given
    (``<@a,@b:user@c>`` gives ``@a,@b:user@c``). UTF-8 in local part and
    domain is accepted (RFC 6531 SMTPUTF8). Without ``strict``, a path
    without angle brackets is accepted, as Postfix's smtpd does by default
    (``strict_rfc821_envelopes = no``).

    >>> parse_path("<@a.example,@b.example:user@c.example>")
    '@a.example,@b.example:user@c.example'
    >>> parse_path("jöran@exämple.se")
    'jöran@exämple.se'
    >>> try:
    ...     parse_path("<a b@example.com>")
    ... except AddressSyntaxError as e:
    ...     print(e)
    bad address '<a b@example.com>': whitespace or comment in address at position 2
    >>> try:
    ...     parse_path('<"a' + chr(10) + 'X-Evil: 1"@example.com>')
    ... except AddressSyntaxError as e:
    ...     print(e.reason)
    control character in address
    """
    bad = _CONTROL.search(text)
    if bad is not None:
        # RFC 5321 allows no control character in a path, quoted or not
        # (qtextSMTP); one here could end a header line or a log line.
        raise AddressSyntaxError(text, bad.start(), "control character in address")
    stripped = text.strip(" \t")
    offset = len(text) - len(text.lstrip(" \t"))
    if stripped.startswith("<"):
        if not stripped.endswith(">") or len(stripped) < 2:
            raise AddressSyntaxError(text, offset + len(stripped), "missing '>'")
        inner_start = offset + 1
        inner = stripped[1:-1]
    else:
        if strict:
            raise AddressSyntaxError(text, offset, "missing '<'")
        inner_start = offset
        inner = stripped
    if inner == "":
        return ""
    toks = [attrs.evolve(t, start=t.start + inner_start, end=t.end + inner_start)
            for t in _tokens_at(text, inner, inner_start)]
    body = toks
    if inner.startswith("@"):
        # A source route: its commas and colon belong to it.
        colon = next((k for k, t in enumerate(toks) if t.kind == ":"), len(toks))
        body = toks[colon + 1:]
    for t in body:
        if t.kind in ("<", ">", ",", ";", ":"):
            raise AddressSyntaxError(text, t.start, f"unexpected {t.text!r}")
    addr, _, _ = _route_and_addr(text, toks, allow_cfws=False)
    return addr


def _tokens_at(full: str, part: str, offset: int) -> list[_Tok]:
    """Tokenize ``part`` but report errors at positions within ``full``."""
    try:
        return _tokens(part)
    except AddressSyntaxError as e:
        raise AddressSyntaxError(full, e.position + offset, e.reason) from None


# --- header address lists ------------------------------------------------

def _display(toks: list[_Tok]) -> str:
    words = []
    for t in toks:
        if t.kind == "qstring":
            words.append(_unquote_qstring(t.text))
        elif t.kind in ("atom", ".", "@", "literal"):
            words.append(t.text)
        elif t.kind == "ws":
            words.append(" ")
    return " ".join("".join(words).split())


def _comments(toks: list[_Tok]) -> str:
    return " ".join(t.text[1:-1] for t in toks if t.kind == "comment")


def _mailbox(text: str, toks: list[_Tok], group: str | None) -> HeaderAddress:
    lt = next((k for k, t in enumerate(toks) if t.kind == "<"), None)
    if lt is None:
        addr, start, end = _route_and_addr(text, toks, allow_cfws=True)
        return HeaderAddress("", addr, group, _comments(toks), (start, end))
    gt = next((k for k, t in enumerate(toks) if t.kind == ">" and k > lt), None)
    if gt is None:
        raise AddressSyntaxError(text, toks[-1].end, "missing '>'")
    for t in toks[gt + 1:]:
        if t.kind not in ("ws", "comment"):
            raise AddressSyntaxError(text, t.start, f"unexpected {t.text!r} after '>'")
    for t in toks[:lt]:
        # '@' is tolerated in a display name: mailers write
        # "john@example.com <john@example.com>" often enough.
        if t.kind not in ("atom", "qstring", "ws", "comment", ".", "@", "literal"):
            raise AddressSyntaxError(text, t.start, f"unexpected {t.text!r} in display name")
    inner = toks[lt + 1: gt]
    if not [t for t in inner if t.kind not in ("ws", "comment")]:
        pos = toks[lt].end
        return HeaderAddress(_display(toks[:lt]), "", group, "", (pos, pos))
    addr, start, end = _route_and_addr(text, inner, allow_cfws=True)
    return HeaderAddress(_display(toks[:lt]), addr, group, "", (start, end))


def _split_top(toks: list[_Tok], seps: str) -> Iterator[list[_Tok]]:
    """Split at separators outside angle brackets."""
    cur: list[_Tok] = []
    in_angle = False
    for t in toks:
        if t.kind == "<":
            in_angle = True
        elif t.kind == ">":
            in_angle = False
        if t.kind in seps and not in_angle:
            yield cur
            cur = []
        else:
            cur.append(t)
    yield cur


def _is_blank(toks: list[_Tok]) -> bool:
    return all(t.kind in ("ws", "comment") for t in toks)


def parse_header_addresses(value: str) -> list[HeaderAddress]:
    """Every address in an address-list header value (RFC 5322 section 3.4).

    Handles display names (quoted or not), ``<...>`` with optional source
    route, bare addresses with comments, groups (``team: a@x, b@y;``),
    quoted strings with escapes, and folded (multi-line) values. Empty list
    elements (``a@x,,b@y``) are skipped as RFC 5322's obsolete syntax allows.
    Raises :class:`AddressSyntaxError` for a value that does not parse.

    >>> [(a.display_name, a.address) for a in parse_header_addresses('"Doe, John" <john@example.com>')]
    [('Doe, John', 'john@example.com')]
    >>> [(a.group, a.address) for a in parse_header_addresses("team: a@x, b@y;, c@z")]
    [('team', 'a@x'), ('team', 'b@y'), (None, 'c@z')]
    """
    toks = _tokens(value)
    out: list[HeaderAddress] = []
    i = 0
    n = len(toks)
    while i < n:
        # An element runs to the next top-level comma; a group runs to its ';'.
        j = i
        in_angle = False
        colon = None
        while j < n:
            k = toks[j].kind
            if k == "<":
                in_angle = True
            elif k == ">":
                in_angle = False
            elif not in_angle and k == ":" and colon is None and _is_phrase(toks[i:j]):
                colon = j
            elif not in_angle and k == "," and colon is None:
                break
            elif not in_angle and k == ";" and colon is not None:
                break
            j += 1
        element = toks[i:j]
        if colon is not None:
            name = _display(toks[i:colon])
            members = toks[colon + 1: j]
            found = False
            for part in _split_top(members, ","):
                if not _is_blank(part):
                    out.append(_mailbox(value, part, name))
                    found = True
            if not found:
                out.append(HeaderAddress("", None, name))
            if j == n:
                raise AddressSyntaxError(value, len(value), "group without ';'")
            j += 1
            # After a group's ';' only blanks and a comma may follow.
            while j < n and toks[j].kind in ("ws", "comment"):
                j += 1
            if j < n and toks[j].kind != ",":
                raise AddressSyntaxError(value, toks[j].start, f"unexpected {toks[j].text!r} after group")
        elif not _is_blank(element):
            for t in element:
                if t.kind == ";":
                    raise AddressSyntaxError(value, t.start, "unexpected ';'")
            out.append(_mailbox(value, element, None))
        i = j + 1
    return out


def _is_phrase(toks: list[_Tok]) -> bool:
    """Whether tokens form a phrase (group name): words, no '@' or '<'."""
    return any(t.kind in ("atom", "qstring") for t in toks) and all(
        t.kind in ("atom", "qstring", "ws", "comment", ".") for t in toks)


def externalize(address: str) -> str:
    """Internal form to the text written inside a header or path.

    Like :func:`quote_address`, but a source-route prefix ``@a,@b:`` stays
    in front unquoted.

    >>> externalize("@a,@b:x y@c")
    '@a,@b:"x y"@c'
    """
    if address.startswith("@") and ":" in address:
        route, _, rest = address.partition(":")
        return route + ":" + quote_address(rest)
    return quote_address(address)


def rewrite_header_addresses(value: str, func: Callable[[str], str]) -> str:
    """Replace each address in a header value by ``func(address)``.

    ``func`` gets and returns internal form; the result is quoted as needed
    and put where the old address was, so display names, comments, groups,
    spacing and folding stay as they were. The null address ``<>`` and empty
    groups are left alone. A value that does not parse is returned unchanged
    (a header is never made worse by rewriting).

    >>> rewrite_header_addresses("team: a@x (A), b@x;", lambda a: a.upper())
    'team: A@X (A), B@X;'
    >>> rewrite_header_addresses("John <john@x>", lambda a: "john doe@y")
    'John <"john doe"@y>'
    """
    try:
        found = parse_header_addresses(value)
    except AddressSyntaxError:
        return value
    out = value
    for item in reversed(found):
        if not item.address or item.span is None:
            continue
        new = func(item.address)
        if new == item.address:
            continue
        start, end = item.span
        out = out[:start] + externalize(new) + out[end:]
    return out

