"""Canonical address mapping (``canonical_maps``, ``sender_canonical_maps``,
``recipient_canonical_maps``) and the one address-mapping step that it
shares with virtual alias expansion.

This module owns Postfix's ``mail_addr_map`` step (look an address up in
canonical(5)/virtual(5) order, turn the table's value into addresses,
handle ``@otherdomain`` results and propagate an unmatched extension) and
cleanup's one-to-one mapping loop on top of it (cleanup_map11.c). It never
opens tables or reads configuration; a :class:`~mailflow.errors.TableError`
from a table propagates so the caller can defer the message.

canonical(5) semantics:

* Lookup order for ``user+ext@domain``: ``user+ext@domain``,
  ``user@domain``, ``user+ext`` and ``user`` (only when
  ``local_domain(domain)``, i.e. the domain is ``$myorigin``,
  ``$mydestination`` or an interface address), then ``@domain``.
* The result replaces the whole address; ``@otherdomain`` keeps the user
  and replaces the domain.
* An extension removed to find a match is put back on the result when
  ``propagate_extension`` (``canonical`` in propagate_unmatched_extensions).
* The result is looked up again until it maps to itself or has no entry,
  at most 10 times (Postfix's fixed limit; past it the last result stands).
* Only the first address of a multi-address result is used.

>>> from mailflow.tables import MemoryTable
>>> t = MemoryTable({"wietse@porcupine.org": "Wietse.Venema@porcupine.org",
...                  "@example.com": "@example.net"})
>>> canonical_map("wietse@porcupine.org", t)
'Wietse.Venema@porcupine.org'
>>> canonical_map("joe@example.com", t)
'joe@example.net'
>>> canonical_map("nobody@elsewhere.example", t)
'nobody@elsewhere.example'
"""

from __future__ import annotations

from typing import Callable

import attrs

from mailflow.address.parse import AddressSyntaxError, externalize, parse_header_addresses
from mailflow.address.quote import quote_address, unquote_address
from mailflow.errors import TableError
from mailflow.interfaces import Table
from mailflow.tables.addresses import lookup_address

__all__ = ["canonical_map", "map_address", "split_result", "MAX_CANONICAL_RECURSION"]

#: cleanup_map11.c MAX_RECURSION: canonical results are followed this many times.
MAX_CANONICAL_RECURSION = 10


def split_result(value: str) -> list[str]:
    """Split a table result into external-form addresses.

    Commas and whitespace separate addresses outside quoted strings; angle
    brackets are dropped. An empty result or ``<>`` is the null address
    (Postfix mail_addr_crunch).

    >>> split_result('a@x, "b c"@y  d@z')
    ['a@x', '"b c"@y', 'd@z']
    >>> split_result("<>")
    ['']
    >>> split_result("Sales Team <sales@example.com> (desk), b@y")
    ['sales@example.com', 'b@y']
    """
    text = value.strip()
    if text in ("", "<>"):
        return [""]
    if "<" in text or "(" in text:
        # RFC 5322 syntax with display names or comments: only the
        # addresses count (Postfix parses results with tok822).
        try:
            return [externalize(a.address) for a in parse_header_addresses(text)
                    if a.address is not None]
        except AddressSyntaxError:
            pass
    out: list[str] = []
    cur: list[str] = []
    in_quote = escaped = False
    for ch in text:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == '"':
            cur.append(ch)
            in_quote = not in_quote
        elif in_quote:
            cur.append(ch)
        elif ch in ", \t\r\n":
            if cur:
                out.append("".join(cur))
                cur = []
        elif ch not in "<>":
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


@attrs.frozen
class _Match:
    value: str
    extension: str | None     # with its delimiter character, as Postfix keeps it


def _lookup(table: Table, address: str, delimiter: str,
            local_domain: Callable[[str], bool] | None, style: str) -> _Match | None:
    match = lookup_address(table, address, delimiter=delimiter,
                           local_domain=local_domain, style=style)
    if match is None:
        return None
    ext = match.extension
    if ext is None:
        return _Match(match.value, None)
    local = address.rpartition("@")[0] if "@" in address else address
    # The shared lookup gives the extension without its delimiter; Postfix
    # propagates it with the delimiter character that was found.
    return _Match(match.value, local[len(local) - len(ext) - 1:])


def map_address(address: str, table: Table, *, delimiter: str = "",
                local_domain: Callable[[str], bool] | None = None,
                propagate_extension: bool = True,
                rewrite: Callable[[str], str] | None = None,
                style: str = "canonical") -> list[str] | None:
    """One Postfix ``mail_addr_map`` step for an internal-form address.

    Returns the result addresses in internal form, ``None`` when the table
    has no entry, or an empty list when the entry holds no address. Each
    result is passed through ``rewrite`` (Postfix canonicalizes results with
    trivial-rewrite, local context) before the unmatched extension is added.

    >>> from mailflow.tables import MemoryTable
    >>> map_address("joe+x@example.com", MemoryTable({"joe@example.com": "a@x, b@y"}), delimiter="+")
    ['a+x@x', 'b+x@y']
    """
    # Postfix queries with the external (quoted) form first, then with the
    # internal form when the two differ (MA_FORM_EXTERNAL_FIRST).
    external = quote_address(address)
    match = _lookup(table, external, delimiter, local_domain, style)
    if match is None and external != address:
        match = _lookup(table, address, delimiter, local_domain, style)
    if match is None:
        return None
    value = match.value
    if value.startswith("@"):
        # "@otherdomain": the original user in otherdomain. An unmatched
        # extension is cut here and added back below when propagating.
        local = address.rpartition("@")[0] if "@" in address else address
        if match.extension and local.endswith(match.extension):
            local = local[: len(local) - len(match.extension)]
        value = quote_address(local + value)
    results = []
    for external_result in split_result(value):
        internal = unquote_address(external_result)
        if rewrite is not None:
            internal = rewrite(internal)
        if propagate_extension and match.extension:
            local, at, domain = internal.rpartition("@")
            internal = (local + match.extension + "@" + domain) if at else internal + match.extension
        results.append(internal)
    return results


def canonical_map(address: str, table: Table, *, delimiter: str = "",
                  local_domain: Callable[[str], bool] | None = None,
                  propagate_extension: bool = True,
                  rewrite: Callable[[str], str] | None = None) -> str:
    """Map ``address`` (internal form) through a canonical(5) table.

    Returns the mapped address, or ``address`` unchanged when the table has
    no entry. The null address is never mapped. An entry that holds no
    address raises :class:`~mailflow.errors.TableError`, as a lookup problem. ``rewrite`` is applied to
    each table result as Postfix does through trivial-rewrite.

    >>> from mailflow.tables import MemoryTable
    >>> t = MemoryTable({"joe@example.com": "joseph.doe@example.com"})
    >>> canonical_map("joe+lists@example.com", t, delimiter="+")
    'joseph.doe+lists@example.com'
    >>> canonical_map("joe+lists@example.com", t, delimiter="+", propagate_extension=False)
    'joseph.doe@example.com'
    """
    if address == "":
        return address
    current = address
    for _ in range(MAX_CANONICAL_RECURSION):
        results = map_address(current, table, delimiter=delimiter, local_domain=local_domain,
                              propagate_extension=propagate_extension, rewrite=rewrite,
                              style="canonical")
        if results is None:
            return current
        if not results:
            # Postfix: "lookup of ... returns non-address result", a lookup
            # problem that defers the message (cleanup_map11.c).
            raise TableError(f"canonical lookup of {current} returns non-address result")
        previous, current = current, results[0]
        if previous.lower() == current.lower():
            return current
    return current

