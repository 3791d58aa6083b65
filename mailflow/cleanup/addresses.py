"""Address rewriting inside cleanup: canonical maps, masquerading, and the
addresses in message headers.

This module owns the order in which cleanup(8) rewrites one address (context
rewrite, ``sender_``/``recipient_canonical_maps``, ``canonical_maps``,
masquerading) and finding the addresses inside ``From:``/``To:``-style
headers. Trivial-rewrite's context rewrite comes from
:mod:`mailflow.address.rewrite`; virtual alias expansion from
:mod:`mailflow.address.virtual`. Tables are passed in already opened; a table
that cannot answer raises :class:`~mailflow.errors.TableError`. No I/O.

>>> from mailflow.tables import MemoryTable
>>> canonical_lookup("joe@example.com", [MemoryTable({"joe@example.com": "Joe.Doe@example.com"})])
'Joe.Doe@example.com'
>>> masquerade("bob@host.eng.example.com", ("eng.example.com",))
'bob@eng.example.com'
>>> rewrite_header_value("Ann <ann@host.example.com>, bob", lambda a: a.upper())
'Ann <ANN@HOST.EXAMPLE.COM>, BOB'
"""

from __future__ import annotations

from typing import Callable, Sequence

from mailflow.address.quote import quote_address, split_address, unquote_address
from mailflow.interfaces import Table

__all__ = ["canonical_lookup", "masquerade", "rewrite_header_value",
           "SENDER_HEADERS", "RECIPIENT_HEADERS", "count_tokens"]

# cleanup(8)/header_opts.c: headers whose addresses are sender or recipient
# addresses for canonical_classes/masquerade_classes.
SENDER_HEADERS = frozenset({
    "from", "sender", "reply-to", "return-receipt-to", "errors-to",
    "resent-from", "resent-sender", "resent-reply-to", "disposition-notification-to",
})
RECIPIENT_HEADERS = frozenset({
    "to", "cc", "bcc", "apparently-to", "resent-to", "resent-cc", "resent-bcc",
})

# canonical(5): a chain of one-to-one lookups stops after this many steps.
_MAX_RECURSION = 1000


def _lookup_one(table: Table, address: str, delimiter: str,
                local_domain: Callable[[str], bool] | None) -> tuple[str, str] | None:
    """canonical(5) search order: user+ext@domain, user@domain, user+ext and
    user (local domains only), @domain. Returns (value, unmatched extension)."""
    local, domain = split_address(address)
    if not domain and "@" not in address:
        local = address
    bare = ext = None
    if delimiter:
        cut = min((i for i in (local.find(d) for d in delimiter) if i > 0), default=-1)
        if cut > 0:
            bare, ext = local[:cut], local[cut:]
    at = "@" + domain if domain else ""
    keys: list[tuple[str, str]] = [(local + at, "")]
    if bare is not None:
        keys.append((bare + at, ext or ""))
    if domain and local_domain is not None and local_domain(domain):
        keys.append((local, ""))
        if bare is not None:
            keys.append((bare, ext or ""))
    if domain:
        keys.append(("@" + domain, ""))
    for key, extension in keys:
        value = table.get(key.lower())
        if value is None and key.lower() != key:
            value = table.get(key)
        if value is not None:
            return value.strip(), extension
    return None


def canonical_lookup(address: str, tables: Sequence[Table], *, delimiter: str = "",
                     local_domain: Callable[[str], bool] | None = None,
                     propagate_extension: bool = True) -> str:
    """Rewrite ``address`` (internal form) through canonical-style ``tables``.

    The first table that has an entry wins; the result is looked up again
    until it maps to itself or has no entry (cleanup_map11.c). A result
    ``@domain`` keeps the user part. An extension that had to be removed to
    find the entry is put back when ``propagate_extension`` (``canonical`` in
    ``propagate_unmatched_extensions``).

    >>> from mailflow.tables import MemoryTable
    >>> t = MemoryTable({"@old.example": "@new.example"})
    >>> canonical_lookup("ann@old.example", [t])
    'ann@new.example'
    >>> canonical_lookup("ann+x@a.example", [MemoryTable({"ann@a.example": "a@b.example"})], delimiter="+")
    'a+x@b.example'
    """
    current = address
    for _ in range(_MAX_RECURSION):
        found = None
        external = quote_address(current)
        for table in tables:
            found = _lookup_one(table, external, delimiter, local_domain)
            if found is None and external != current:
                found = _lookup_one(table, current, delimiter, local_domain)
            if found is not None:
                break
        if found is None:
            return current
        value, ext = found
        value = value.split(",")[0].split()[0] if value.strip() else current
        if value.startswith("@"):
            local = split_address(current)[0] if "@" in current else current
            if ext and local.endswith(ext):
                local = local[: len(local) - len(ext)]
                ext = ""
            value = quote_address(local) + value
        new = unquote_address(value)
        if propagate_extension and ext:
            local, domain = split_address(new)
            new = local + ext + ("@" + domain if domain else "")
        if new.lower() == current.lower():
            return new
        current = new
    return current


def masquerade(address: str, domains: Sequence[str], exceptions: frozenset = frozenset()) -> str:
    """Strip subdomain detail per ``masquerade_domains`` (postconf(5)).

    The list is tried in order: the first entry that equals the address's
    domain leaves it alone, the first entry the domain is a subdomain of
    replaces the domain, unless that entry starts with ``!`` (an exception).
    Users in ``masquerade_exceptions`` are never masqueraded.

    >>> masquerade("a@x.foo.example.com", ("!foo.example.com", "example.com"))
    'a@x.foo.example.com'
    >>> masquerade("root@x.example.com", ("example.com",), frozenset({"root"}))
    'root@x.example.com'
    """
    local, domain = split_address(address)
    if not domain or not domains:
        return address
    if exceptions and local.lower() in exceptions:
        return address
    ldomain = domain.lower()
    for entry in domains:
        excluded = entry.startswith("!")
        masq = entry[1:].lower() if excluded else entry.lower()
        if not masq:
            continue
        if ldomain == masq:
            return address
        if ldomain.endswith("." + masq):
            return address if excluded else f"{local}@{masq}"
    return address


def count_tokens(value: str) -> int:
    """A rough RFC 822 token count, for header_address_token_limit.

    >>> count_tokens("Ann <ann@example.com>")
    8
    """
    count, word = 0, False
    for ch in value:
        if ch in "<>()@,;:\".[]":
            count += 1
            word = False
        elif ch.isspace():
            word = False
        elif not word:
            count += 1
            word = True
    return count


def _split_items(value: str) -> list[tuple[int, int]]:
    """Spans of the comma-separated items of an address list, honouring
    quotes, comments and angle brackets (RFC 5322 section 3.4)."""
    spans, start, depth, quoted, angle, i = [], 0, 0, False, False, 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth:
            pass
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch in ",;" and not angle:
            spans.append((start, i))
            start = i + 1
        elif ch == ":" and not angle:
            start = i + 1          # "group-name:" starts a group; skip the name
        i += 1
    spans.append((start, len(value)))
    return spans


def _strip_comments(text: str) -> tuple[int, int]:
    """Span of ``text`` without surrounding blanks and trailing comments."""
    end = len(text)
    while True:
        stripped = text[:end].rstrip()
        if stripped.endswith(")"):
            depth, j = 0, len(stripped) - 1
            while j >= 0:
                if stripped[j] == ")":
                    depth += 1
                elif stripped[j] == "(":
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            end = max(j, 0)
            continue
        end = len(stripped)
        break
    start = len(text[:end]) - len(text[:end].lstrip())
    return start, end


def rewrite_header_value(value: str, rewrite: Callable[[str], str]) -> str:
    """Apply ``rewrite`` (internal form in, internal form out) to every
    address in an address-list header value, keeping phrases, comments,
    groups and layout; returns the value unchanged when nothing changed.

    >>> rewrite_header_value('"Doe, J" <j@a> (work), undisclosed:;', lambda a: a + ".example")
    '"Doe, J" <j@a.example> (work), undisclosed:;'
    """
    out: list[str] = []
    last = 0
    for start, end in _split_items(value):
        item = value[start:end]
        if not item.strip():
            continue
        lt = _find_angle(item)
        if lt is not None:
            a, b = start + lt[0], start + lt[1]
        else:
            s, e = _strip_comments(item)
            a, b = start + s, start + e
            if a >= b or " " in value[a:b].strip() or '"' == value[a:b][:1] and "@" not in value[a:b]:
                continue
        external = value[a:b].strip()
        if not external:
            continue
        new = quote_address(rewrite(unquote_address(external)))
        if new != external:
            out.append(value[last:a])
            out.append(new)
            last = b
    if not out:
        return value
    out.append(value[last:])
    return "".join(out)


def _find_angle(item: str) -> tuple[int, int] | None:
    quoted, depth = False, 0
    for i, ch in enumerate(item):
        if quoted:
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch == "<" and not depth:
            close = item.find(">", i)
            if close > i:
                return i + 1, close
    return None
