"""DNS answers for smtpd restrictions: name lookups, DNS lists, reply templates.

This module owns the DNS side of Postfix's smtpd checks, over an injected
:class:`~mailflow.interfaces.DnsResolver`: whether a host or mail domain
exists (:func:`host_status`, :func:`mailhost_status`, telling "not found"
from "try again" and seeing null MX), DNS blocklist queries for a client
address or a domain (:func:`dnsxl_query`, :func:`dnsxl_lookup` with
``=127.0.0.N`` result filters), and the ``default_rbl_reply`` /
``rbl_reply_maps`` template expansion (:func:`expand_rbl_reply`). It decides
nothing about the session.

>>> dnsxl_query("192.0.2.1", "zen.example")
'1.2.0.192.zen.example'
>>> dnsxl_query("2001:db8::1", "v6.example")[:20]
'1.0.0.0.0.0.0.0.0.0.'
>>> ip_filter_matches("127.0.0.[2..11]", "127.0.0.4")
True
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable, Mapping

import attrs

from mailflow.errors import DnsNotFound, DnsTemporaryError, TemporaryFailure

__all__ = ["DnsxlResult", "dnsxl_lookup", "dnsxl_query", "expand_rbl_reply", "host_status",
           "filter_text", "ip_filter_matches", "mailhost_status", "OK", "NOTFOUND", "RETRY", "NULLMX"]

OK, NOTFOUND, RETRY, NULLMX = "ok", "notfound", "retry", "nullmx"

#: Postfix concatenates TXT records up to this many characters (RBL_TXT_LIMIT).
TXT_LIMIT = 500


async def _query(resolver: Any, name: str, rtype: str) -> tuple[str, list[str]]:
    try:
        answers = await resolver.query(name, rtype)
    except DnsNotFound:
        return NOTFOUND, []
    except (DnsTemporaryError, TemporaryFailure):
        return RETRY, []
    return (OK if answers else NOTFOUND), list(answers)


async def host_status(resolver: Any, name: str) -> str:
    """Whether ``name`` has an A, AAAA or MX record (Postfix
    ``reject_unknown_hostname``): ``ok``, ``notfound`` or ``retry``.

    >>> import asyncio
    >>> from mailflow.testing import StaticResolver
    >>> dns = StaticResolver().add("mx.example", "MX", "0 .")
    >>> asyncio.run(host_status(dns, "mx.example")), asyncio.run(host_status(dns, "no.example"))
    ('ok', 'notfound')
    """
    retry = False
    for rtype in ("A", "AAAA", "MX"):
        status, _ = await _query(resolver, name, rtype)
        if status == OK:
            return OK
        retry = retry or status == RETRY
    return RETRY if retry else NOTFOUND


async def mailhost_status(resolver: Any, domain: str) -> str:
    """Whether mail can go to ``domain`` (Postfix ``reject_unknown_mailhost``):
    an MX record, else an A or AAAA record. A null MX (``0 .``, RFC 7505)
    gives ``nullmx``.

    >>> import asyncio
    >>> from mailflow.testing import StaticResolver
    >>> dns = StaticResolver().add("null.example", "MX", "0 .").fail("down.example", "MX")
    >>> asyncio.run(mailhost_status(dns, "null.example")), asyncio.run(mailhost_status(dns, "down.example"))
    ('nullmx', 'retry')
    """
    status, answers = await _query(resolver, domain, "MX")
    if status == OK:
        hosts = [a.split()[-1].rstrip(".") for a in answers if a.split()]
        if len(hosts) == 1 and hosts[0] == "":
            return NULLMX
        return OK
    retry = status == RETRY
    for rtype in ("A", "AAAA"):
        status, _ = await _query(resolver, domain, rtype)
        if status == OK:
            return OK
        retry = retry or status == RETRY
    return RETRY if retry else NOTFOUND


def dnsxl_query(address: str, domain: str) -> str:
    """The DNS name to ask for a client address in a DNS list: the reversed
    IPv4 octets or IPv6 nibbles, then the list's domain."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        nibbles = ip.exploded.replace(":", "")
        return ".".join(reversed(nibbles)) + "." + domain
    return ".".join(reversed(address.split("."))) + "." + domain


def _octet_values(spec: str) -> set[int] | None:
    if spec.isdigit():
        return {int(spec)}
    if not (spec.startswith("[") and spec.endswith("]")):
        return None
    values: set[int] = set()
    for part in spec[1:-1].split(";"):
        lo, dots, hi = part.partition("..")
        if not lo.isdigit() or (dots and not hi.isdigit()):
            return None
        values.update(range(int(lo), int(hi if dots else lo) + 1))
    return values


def ip_filter_matches(pattern: str, address: str) -> bool:
    """Whether an A record ``address`` matches a reply filter such as
    ``127.0.0.2`` or ``127.0.0.[2..11;20]`` (Postfix ip_match).

    >>> ip_filter_matches("127.0.0.[2;4]", "127.0.0.3"), ip_filter_matches("127.0.0.2", "127.0.0.2")
    (False, True)
    """
    specs, octets = re.findall(r"\[[^\]]*\]|[^.]+", pattern), address.split(".")
    if len(specs) != 4 or len(octets) != 4:
        return False
    for spec, octet in zip(specs, octets):
        values = _octet_values(spec)
        if values is None or not octet.isdigit() or int(octet) not in values:
            return False
    return True


@attrs.frozen
class DnsxlResult:
    """A DNS list hit: the A records and the TXT text (``""`` when none)."""

    addresses: tuple[str, ...]
    txt: str = ""


async def dnsxl_lookup(resolver: Any, query: str, reply_filter: str | None = None,
                       warn: Callable[[str], None] | None = None) -> DnsxlResult | None:
    """Look ``query`` up in a DNS list; a hit (filtered by ``reply_filter``)
    or None. A lookup that fails is a miss with a warning: a broken list must
    not block all mail (Postfix rbl_pagein).

    >>> import asyncio
    >>> from mailflow.testing import StaticResolver
    >>> dns = StaticResolver().add("2.0.0.127.bl.example", "A", "127.0.0.2")
    >>> asyncio.run(dnsxl_lookup(dns, "2.0.0.127.bl.example"))
    DnsxlResult(addresses=('127.0.0.2',), txt='')
    >>> asyncio.run(dnsxl_lookup(dns, "2.0.0.127.bl.example", "127.0.0.3")) is None
    True
    """
    status, answers = await _query(resolver, query, "A")
    if status == RETRY:
        if warn is not None:
            warn(f"{query}: RBL lookup error: Host or domain name not found. "
                 f"Name service error for name={query} type=A: Host not found, try again")
        return None
    if status != OK:
        return None
    if reply_filter is not None and not any(ip_filter_matches(reply_filter, a) for a in answers):
        return None
    tstatus, texts = await _query(resolver, query, "TXT")
    txt = ""
    if tstatus == OK:
        txt = " / ".join(t.strip('"') for t in texts)[:TXT_LIMIT]
    return DnsxlResult(tuple(answers), txt)


def expand_rbl_reply(template: str, values: Mapping[str, str],
                     session: Callable[[str], str | None]) -> str:
    """Expand ``default_rbl_reply`` or an ``rbl_reply_maps`` value: the
    ``$rbl_*`` names from ``values``, other names (``$client_address``...)
    from ``session``.

    >>> expand_rbl_reply("$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
    ...                  "$rbl_domain${rbl_reason?; $rbl_reason}",
    ...                  {"rbl_code": "554", "rbl_class": "Client host", "rbl_what": "192.0.2.1",
    ...                   "rbl_domain": "zen.example", "rbl_reason": ""}, lambda n: None)
    '554 Service unavailable; Client host [192.0.2.1] blocked using zen.example'
    """
    from mailflow.config.expand import expand_value

    def lookup(name: str) -> str | None:
        if name in values:
            return values[name]
        if name == "rbl_txt":
            return values.get("rbl_reason") or None
        return session(name)

    return expand_value(template, lookup)


_SAFE = re.compile(r"[^\t !-~]")


def filter_text(text: str) -> str:
    """Replace characters outside ``smtpd_expansion_filter``'s default set
    with ``_`` (client-supplied text going into a reply).

    >>> filter_text("bad\\x01name")
    'bad_name'
    """
    return _SAFE.sub("_", text)
