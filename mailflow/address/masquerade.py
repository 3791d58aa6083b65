"""Address masquerading (``masquerade_domains``, ``masquerade_exceptions``).

This module owns the decision Postfix's cleanup_masquerade.c makes: strip
the subdomains of an address's domain down to a listed parent domain, unless
the local part is an exception or an earlier ``!domain`` entry says not to.
It never decides *which* addresses are masqueraded (``masquerade_classes``
is cleanup's business), never reads configuration and does no I/O.

Rules, per postconf(5) ``masquerade_domains``:

* ``user@any.thing.example.com`` with ``example.com`` listed becomes
  ``user@example.com``; a domain equal to a listed one is left alone.
* The list is tried in order and the first entry that matches (equal or a
  parent domain) decides, so with ``foo.example.com, example.com`` an address
  in ``x.foo.example.com`` keeps ``foo.example.com``.
* ``!sub.example.com`` makes that domain and its subdomains an exception:
  with ``!sub.example.com, example.com``, ``user@host.sub.example.com`` is
  left alone. (Each ``!`` toggles, as in Postfix.)
* ``masquerade_exceptions`` lists local parts (compared without regard to
  case) whose addresses are never masqueraded, e.g. ``root``.

>>> masquerade("user@any.thing.example.com", ["example.com"])
'user@example.com'
>>> masquerade("user@host.sub.example.com", ["!sub.example.com", "example.com"])
'user@host.sub.example.com'
>>> masquerade("root@mail.example.com", ["example.com"], ["root"])
'root@mail.example.com'
"""

from __future__ import annotations

from typing import Collection, Sequence

from mailflow.address.quote import quote_local_part

__all__ = ["masquerade"]


def masquerade(address: str, domains: Sequence[str],
               exceptions: Collection[str] = ()) -> str:
    """Masquerade ``address`` (internal form) per ``masquerade_domains``.

    ``domains`` is the parameter's list in order, ``!`` prefixes included;
    ``exceptions`` is ``masquerade_exceptions``. An address without a domain
    is returned unchanged.

    >>> masquerade("user@any.thing.foo.example.com", ["foo.example.com", "example.com"])
    'user@foo.example.com'
    >>> masquerade("user@example.com", ["example.com"])
    'user@example.com'
    """
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    if exceptions:
        # Postfix matches the local part in external (quoted) form, lowercased.
        name = quote_local_part(local).lower()
        if name in {e.lower() for e in exceptions}:
            return address
    domain_l = domain.lower()
    for entry in domains:
        truncate = True
        while entry.startswith("!"):
            entry = entry[1:]
            truncate = not truncate
        if not entry:
            continue
        masq = entry.lower()
        if len(masq) == len(domain_l):
            if masq == domain_l:
                break
        elif len(masq) < len(domain_l):
            if domain_l.endswith("." + masq):
                if truncate:
                    return local + "@" + entry
                break
    return address
