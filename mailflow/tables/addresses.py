"""Address lookups in Postfix's documented search orders, implemented once.

Owns the order in which partial keys of an address are tried against a
table or a list of tables (virtual(5), canonical(5), aliases(5),
transport(5)), recipient-delimiter splitting, and which tables see partial
keys. It never rewrites the address: callers decide what to do with the
match (for example appending the unmatched extension).

Search orders, for ``user+ext@domain`` with ``recipient_delimiter = +``:

========== ==================================================================
style      keys tried, in order
========== ==================================================================
virtual    ``user+ext@domain``, ``user@domain``, ``user+ext`` and ``user``
           (only when ``local_domain(domain)``), ``@domain``
canonical  the same as virtual
alias      the local part only: ``user+ext``, ``user``
transport  ``user+ext@domain``, ``user@domain``, ``domain``, then ``.parent``
           domains (``.example.com`` for ``a.example.com``; ``example.com``
           with ``match_subdomains``, as parent_domain_matches_subdomains
           asks), then ``*``
========== ==================================================================

Keys other than the full address (``user+ext@domain`` for
virtual/canonical/transport, ``user+ext`` for alias) are never given to
pattern tables (regexp, pcre, cidr): Postfix applies a regular expression to
the whole address only. The transport wildcard ``*`` is the exception: Postfix
looks it up as a full key (transport.c), so a pattern table sees it too. With a list of tables (:class:`~mailflow.tables.maps.Maps`)
each key is tried against every table before the next key, as Postfix's
mail_addr_find does.

>>> from mailflow.tables.memory import MemoryTable
>>> t = MemoryTable({"joe@example.com": "joe@elsewhere", "@example.com": "catchall"})
>>> lookup_address(t, "joe+news@example.com", delimiter="+")
AddressMatch(value='joe@elsewhere', key='joe@example.com', extension='news')
>>> lookup_address(t, "ann@example.com").key
'@example.com'
"""

from __future__ import annotations

from typing import Callable, Iterator

import attrs

from mailflow.interfaces import Table

__all__ = ["AddressMatch", "lookup_address", "search_keys", "split_extension", "STYLES"]

STYLES = ("virtual", "canonical", "alias", "transport")


@attrs.frozen
class AddressMatch:
    """A hit: the table's value, the key that matched, and the extension
    that the key did not contain (None when the key kept it, when there was
    none, and for ``@domain`` and transport domain keys, as Postfix)."""

    value: str
    key: str
    extension: str | None = None


def split_extension(localpart: str, delimiter: str) -> tuple[str, str | None]:
    """Split ``user+ext`` at the first of any delimiter character.

    As Postfix's split_addr(), nothing is split off an empty user, and with
    ``-`` as delimiter ``owner-*`` and ``*-request`` are left whole.

    >>> split_extension("joe+a+b", "+"), split_extension("joe-x", "+-")
    (('joe', 'a+b'), ('joe', 'x'))
    >>> split_extension("owner-list", "-"), split_extension("+x", "+")
    (('owner-list', None), ('+x', None))
    """
    if not delimiter:
        return localpart, None
    if "-" in delimiter:
        low = localpart.lower()
        if low.startswith("owner-") or low.endswith("-request"):
            return localpart, None
    positions = [p for p in (localpart.find(c) for c in delimiter) if p > 0]
    if not positions:
        return localpart, None
    pos = min(positions)
    return localpart[:pos], localpart[pos + 1:]


def _external(local: str) -> str:
    # Imported here: mailflow.address imports this module.
    from mailflow.address.quote import is_dot_atom, quote_local_part
    return quote_local_part(local) if local and not is_dot_atom(local) else local


def search_keys(address: str, *, delimiter: str = "",
                local_domain: Callable[[str], bool] | None = None,
                style: str = "virtual",
                match_subdomains: bool = False) -> Iterator[tuple[str, str | None, bool]]:
    """Yield ``(key, unmatched extension, partial)`` in the style's order.

    >>> [k for k, _, _ in search_keys("a+x@b.example.com", delimiter="+", style="transport")]
    ['a+x@b.example.com', 'a@b.example.com', 'b.example.com', '.example.com', '.com', '*']
    >>> [k for k, _, _ in search_keys("a@b.example.com", style="transport",
    ...                                match_subdomains=True)]
    ['a@b.example.com', 'b.example.com', 'example.com', 'com', '*']
    >>> [k for k, _, _ in search_keys("a+x@b", delimiter="+", local_domain=lambda d: True)]
    ['a+x@b', 'a@b', 'a+x', 'a', '@b']
    >>> [k for k, _, _ in search_keys("john..doe@example.com")]
    ['"john..doe"@example.com', '@example.com']
    """
    if style not in STYLES:
        raise ValueError(f"unknown address lookup style {style!r}; expected one of {STYLES}")
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    user, ext = split_extension(local, delimiter)
    if style == "alias":
        yield local, None, False
        if ext is not None:
            yield user, ext, True
        return
    # Postfix 3.5 and later look addresses up in external form: a local
    # part that is not a dot-atom is quoted ("john..doe"@example.com), as
    # postmap stores such keys.
    local, user = _external(local), _external(user)
    full = f"{local}@{domain}" if at else local
    yield full, None, False
    if ext is not None and at:
        yield f"{user}@{domain}", ext, True
    if style == "transport":
        if domain:
            yield domain, None, True
            labels = domain.split(".")
            dot = "" if match_subdomains else "."
            for i in range(1, len(labels)):
                yield dot + ".".join(labels[i:]), None, True
        yield "*", None, False
        return
    if not at or (local_domain is not None and local_domain(domain)):
        if ext is not None:
            if at:
                yield local, None, True
            yield user, ext, True
        elif at:
            yield local, None, True
    if at and domain:
        # mail_addr_find.c reports an unmatched extension only for the
        # user@domain and user keys, never for @domain.
        yield f"@{domain}", None, True


def _is_pattern(table: Table) -> bool:
    return bool(getattr(table, "pattern", False))


def lookup_address(table: Table, address: str, *, delimiter: str = "",
                   local_domain: Callable[[str], bool] | None = None,
                   style: str = "virtual", match_subdomains: bool = False
                   ) -> AddressMatch | None:
    """Look ``address`` up in the style's order; the first hit wins.

    ``table`` may be one table or a :class:`~mailflow.tables.maps.Maps`.
    A TableError from any table propagates (the caller defers the mail).

    >>> from mailflow.tables.memory import MemoryTable
    >>> lookup_address(MemoryTable({"root": "admin"}), "root+x@host", delimiter="+",
    ...                style="alias")
    AddressMatch(value='admin', key='root', extension='x')
    """
    members = list(getattr(table, "tables", None) or [table]) \
        if getattr(table, "is_maps", False) else [table]
    for key, ext, partial in search_keys(address, delimiter=delimiter, local_domain=local_domain,
                                         style=style, match_subdomains=match_subdomains):
        for member in members:
            if partial and _is_pattern(member):
                continue
            value = member.get(key)
            if value is not None:
                return AddressMatch(value, key, ext)
    return None
