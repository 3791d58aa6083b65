"""Where the smtp/lmtp clients connect: next hops, MX ordering, address lists.

Owns Postfix's smtp_connect.c/smtp_addr.c decisions, with DNS behind the
injected :class:`~mailflow.interfaces.DnsResolver` (no sockets here):

* :func:`parse_nexthop` reads a next hop as trivial-rewrite, relayhost,
  transport_maps and smtp_fallback_relay write it: ``domain`` (MX lookup),
  ``domain:port``, ``[host]`` and ``[host]:port`` (no MX lookup), and for
  LMTP ``inet:host:port`` and ``unix:/path``.
* :func:`find_targets` turns a next hop into the addresses to try, in order:
  MX records by preference with equal preferences shuffled, each MX host's
  A/AAAA records (per ``inet_protocols``), the implicit MX (the domain's own
  address) when there is no MX record, RFC 7505 null MX, the "mail for X
  loops back to myself" check, and ``smtp_mx_address_limit``.

A failure is a :class:`RouteError` carrying the status Postfix gives it:
``4.4.3 Host or domain name not found. Name service error for name=x
type=MX: Host not found, try again`` (defer) or ``5.4.4 Host or domain name
not found. Name service error for name=x type=A: Host not found`` (bounce).

>>> import asyncio
>>> from mailflow.testing import StaticResolver
>>> dns = StaticResolver({("example.com", "MX"): ["20 b.example.com.", "10 a.example.com."],
...                       ("a.example.com", "A"): ["192.0.2.1"], ("b.example.com", "A"): ["192.0.2.2"]})
>>> [t.relay for t in asyncio.run(find_targets(parse_nexthop("example.com"), dns))]
['a.example.com[192.0.2.1]:25', 'b.example.com[192.0.2.2]:25']
>>> str(parse_nexthop("[127.0.0.1]:2525"))
'[127.0.0.1]:2525'
"""

from __future__ import annotations

import ipaddress
import random
from typing import Callable, Collection, Iterable, Sequence

import attrs

from mailflow.errors import (ConfigError, DeliveryFailure, DnsNotFound, DnsTemporaryError,
                             MailflowError)
from mailflow.interfaces import DnsResolver
from mailflow.model import DsnStatus

__all__ = ["Nexthop", "Target", "RouteError", "parse_nexthop", "parse_mx", "find_targets",
           "address_types", "is_ip_literal", "SERVICES"]

#: Port names a next hop may use instead of a number (services(5)).
SERVICES = {"smtp": 25, "lmtp": 24, "submission": 587, "smtps": 465, "submissions": 465}


class RouteError(MailflowError):
    """No address to try: carries the status (4.x.x defer, 5.x.x bounce).

    >>> str(RouteError(DsnStatus("5.4.6", "mail for x loops back to myself")))
    '5.4.6 mail for x loops back to myself'
    """

    def __init__(self, status: DsnStatus) -> None:
        self.status = status
        super().__init__(str(status))


@attrs.frozen
class Nexthop:
    """One parsed next hop. ``host`` is a domain, a host name or an address
    (no brackets); ``path`` is set for a unix-domain LMTP socket.

    >>> Nexthop("example.com", 25, use_mx=True)
    Nexthop(host='example.com', port=25, use_mx=True, path='')
    """

    host: str
    port: int = 25
    use_mx: bool = True
    path: str = ""

    def __str__(self) -> str:
        if self.path:
            return f"unix:{self.path}"
        host = self.host if self.use_mx else f"[{self.host}]"
        return host if self.port == 25 and self.use_mx else f"{host}:{self.port}"


@attrs.frozen
class Target:
    """One address to connect to: the MX (or host) name, its address, the
    port and the MX preference. ``relay`` is what the log shows.

    >>> Target("mx.example.com", "192.0.2.1", 25, 10).relay
    'mx.example.com[192.0.2.1]:25'
    >>> Target("private/dovecot-lmtp", "", 0, path="/run/dovecot/lmtp").relay
    'private/dovecot-lmtp'
    """

    name: str
    address: str
    port: int
    pref: int = 0
    path: str = ""

    @property
    def relay(self) -> str:
        if self.path:
            return self.name
        return f"{self.name}[{self.address}]:{self.port}"

    @property
    def remote_mta(self) -> str:
        """The DSN's Remote-MTA name (the host name, or the address)."""
        return self.name or self.address


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IPv4/IPv6 address (``ipv6:`` prefix allowed).

    >>> is_ip_literal("192.0.2.1"), is_ip_literal("ipv6:2001:db8::1"), is_ip_literal("mx.example")
    (True, True, False)
    """
    if host.lower().startswith("ipv6:"):
        host = host[5:]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _port(text: str, nexthop: str) -> int:
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    if text in SERVICES:
        return SERVICES[text]
    raise ConfigError("bad port in next hop", value=nexthop)


def parse_nexthop(text: str, default_port: int = 25) -> Nexthop:
    """Read a next hop the way Postfix's SMTP/LMTP client does.

    >>> parse_nexthop("Example.COM.")
    Nexthop(host='example.com', port=25, use_mx=True, path='')
    >>> parse_nexthop("[192.0.2.1]:2525")
    Nexthop(host='192.0.2.1', port=2525, use_mx=False, path='')
    >>> parse_nexthop("example.com:submission")
    Nexthop(host='example.com', port=587, use_mx=True, path='')
    >>> parse_nexthop("inet:localhost:24", 24)
    Nexthop(host='localhost', port=24, use_mx=False, path='')
    >>> parse_nexthop("unix:/run/dovecot/lmtp", 24).path
    '/run/dovecot/lmtp'
    >>> parse_nexthop("[2001:db8::1]").host
    '2001:db8::1'
    """
    raw = text.strip()
    if not raw:
        raise ConfigError("empty next hop")
    lmtp_form = default_port != 25
    if raw.startswith("unix:"):
        return Nexthop(raw[5:], 0, use_mx=False, path=raw[5:])
    if raw.startswith("inet:"):
        raw = raw[5:]
        lmtp_form = True
    port = default_port
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError("bad next hop: missing ]", value=text)
        if rest:
            port = _port(rest[1:], text)
        host = host[5:] if host.lower().startswith("ipv6:") else host
        return Nexthop(host.lower(), port, use_mx=False)
    host = raw
    if raw.count(":") == 1:
        host, port_text = raw.split(":")
        port = _port(port_text, text)
    elif is_ip_literal(raw):
        return Nexthop(raw, port, use_mx=False)
    # LMTP never looks up MX records (Postfix's lmtp has no MX support).
    return Nexthop(host.rstrip(".").lower(), port, use_mx=not lmtp_form)


def parse_mx(answer: str) -> tuple[int, str]:
    """One MX answer as text -> (preference, exchange); the null MX's
    exchange is ``""``.

    >>> parse_mx("10 MX.Example.com."), parse_mx("0 .")
    ((10, 'mx.example.com'), (0, ''))
    """
    pref, _, host = answer.strip().partition(" ")
    return int(pref), host.strip().rstrip(".").lower()


def address_types(inet_protocols: Iterable[str]) -> tuple[str, ...]:
    """The record types to look up for ``inet_protocols``.

    >>> address_types(["all"]), address_types(["ipv4"]), address_types(["ipv6"])
    (('A', 'AAAA'), ('A',), ('AAAA',))
    """
    protocols = {p.lower() for p in inet_protocols}
    if not protocols or "all" in protocols:
        return ("A", "AAAA")
    return tuple(t for p, t in (("ipv4", "A"), ("ipv6", "AAAA")) if p in protocols)


def _status_of(exc: BaseException, permanent: str) -> DsnStatus:
    if isinstance(exc, DnsNotFound):
        return DsnStatus(permanent, str(exc))
    if isinstance(exc, DeliveryFailure):       # a fake resolver's own status
        return exc.status
    return DsnStatus("4.4.3", str(exc))


async def _addresses(dns: DnsResolver, host: str, types: Sequence[str]) -> list[str]:
    """The host's addresses (A before AAAA); raises RouteError when it has none."""
    if is_ip_literal(host):
        return [host[5:] if host.lower().startswith("ipv6:") else host]
    found: list[str] = []
    error: DsnStatus | None = None
    for rtype in types:
        try:
            found += await dns.query(host, rtype)
        except (DnsNotFound, DnsTemporaryError, DeliveryFailure) as exc:
            status = _status_of(exc, "5.4.4")
            # A temporary error wins over "not found": the answer may come.
            if error is None or (status.is_temporary and not error.is_temporary):
                error = status
    if found:
        return found
    if error is None:
        error = DsnStatus("5.4.4", f"Host or domain name not found. Name service error for "
                                   f"name={host} type={types[-1]}: Host found but no data "
                                   f"record of requested type")
    raise RouteError(error)


async def find_targets(nexthop: Nexthop, dns: DnsResolver, *,
                       inet_protocols: Iterable[str] = ("all",),
                       mx_address_limit: int = 5,
                       my_addresses: Collection[str] = (),
                       shuffle: Callable[[list], None] = random.shuffle) -> list[Target]:
    """The addresses to try for ``nexthop``, best first; raises RouteError.

    ``my_addresses`` are this host's (for the loop check, done only after
    an MX lookup, as Postfix); ``shuffle`` orders equal MX preferences
    (injected so tests can fix it).

    >>> import asyncio
    >>> from mailflow.testing import StaticResolver
    >>> dns = StaticResolver({("null.example", "MX"): ["0 ."]})
    >>> asyncio.run(find_targets(parse_nexthop("null.example"), dns))
    Traceback (most recent call last):
    ...
    mailflow.delivery.smtp_route.RouteError: 5.1.10 Domain null.example does not accept mail (nullMX)
    """
    types = address_types(inet_protocols)
    if not types:
        raise ConfigError("no usable protocol", name="inet_protocols")
    if nexthop.path:
        return [Target(nexthop.path, "", 0, path=nexthop.path)]
    if not nexthop.use_mx or is_ip_literal(nexthop.host):
        addrs = await _addresses(dns, nexthop.host, types)
        return _limit([Target(nexthop.host, a, nexthop.port) for a in addrs], mx_address_limit)
    domain = nexthop.host
    try:
        answers = await dns.query(domain, "MX")
    except DnsNotFound:
        answers = []          # Postfix: NOTFOUND -> the host's own address (smtp_host_addr)
    except (DnsTemporaryError, DeliveryFailure) as exc:
        raise RouteError(_status_of(exc, "5.4.4")) from exc
    if not answers:
        addrs = await _addresses(dns, domain, types)
        return _limit([Target(domain, a, nexthop.port) for a in addrs], mx_address_limit)
    records = sorted({parse_mx(a) for a in answers})
    if any(host == "" for _, host in records):
        # RFC 7505: the domain accepts no mail at all.
        raise RouteError(DsnStatus("5.1.10", f"Domain {domain} does not accept mail (nullMX)"))
    records = _shuffle_equal(records, shuffle)
    targets: list[Target] = []
    error: DsnStatus | None = None
    for pref, host in records:
        try:
            addrs = await _addresses(dns, host, types)
        except RouteError as exc:
            if error is None or (exc.status.is_temporary and not error.is_temporary):
                error = exc.status
            continue
        targets += [Target(host, a, nexthop.port, pref) for a in addrs]
    if not targets:
        assert error is not None
        raise RouteError(error)
    best_pref = records[0][0]
    mine = {_norm(a) for a in my_addresses}
    self_prefs = [t.pref for t in targets if _norm(t.address) in mine]
    if self_prefs:
        targets = [t for t in targets if t.pref < min(self_prefs)]
        if not targets:
            if best_pref != min(self_prefs):
                raise RouteError(DsnStatus("4.4.4", f"unable to find primary relay for {domain}"))
            raise RouteError(DsnStatus("5.4.6", f"mail for {domain} loops back to myself"))
    return _limit(targets, mx_address_limit)


def _norm(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address.lower()


def _limit(targets: list[Target], limit: int) -> list[Target]:
    return targets[:limit] if limit > 0 else targets


def _shuffle_equal(records: list[tuple[int, str]],
                   shuffle: Callable[[list], None]) -> list[tuple[int, str]]:
    """Keep preference order; shuffle hosts of equal preference (RFC 5321 5.1)."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(records):
        j = i
        while j < len(records) and records[j][0] == records[i][0]:
            j += 1
        group = records[i:j]
        shuffle(group)
        out += group
        i = j
    return out
