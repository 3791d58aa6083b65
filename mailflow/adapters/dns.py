"""DNS lookups for the smtp/lmtp clients, over dnspython's asyncio resolver.

This is the only module that imports dnspython. :class:`DnsPythonResolver`
speaks :class:`mailflow.interfaces.DnsResolver`: ``await query(name, rtype)``
returns the answers as text, in dnspython's presentation form
(``"10 mx.example.com."`` for MX, ``"192.0.2.1"`` for A, ``"0 ."`` for a
null MX). The three outcomes Postfix tells apart stay apart:

* the name exists but has no record of that type: an empty list;
* the name does not exist (NXDOMAIN): :class:`~mailflow.errors.DnsNotFound`;
* no answer now (SERVFAIL, timeout, no server reachable):
  :class:`~mailflow.errors.DnsTemporaryError`.

Both exceptions carry Postfix's wording (dns_lookup.c), e.g. ``Host or
domain name not found. Name service error for name=x.test type=MX: Host not
found, try again``.

The mailflow-only parameter ``dns_nameservers`` (``host`` or ``host:port``,
IPv6 as ``[addr]:port``) points the resolver at given servers; empty means
the system's resolver (``/etc/resolv.conf``).

>>> parse_nameserver("127.0.0.1:5353"), parse_nameserver("[::1]:53"), parse_nameserver("192.0.2.1")
(('127.0.0.1', 5353), ('::1', 53), ('192.0.2.1', 53))
"""

from __future__ import annotations

from typing import Any, Sequence

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from mailflow.errors import ConfigError, DnsNotFound, DnsTemporaryError

__all__ = ["DnsPythonResolver", "parse_nameserver", "resolver_from_config",
           "not_found_text", "try_again_text"]


def not_found_text(name: str, rtype: str) -> str:
    """Postfix's text for a name that does not exist (HOST_NOT_FOUND).

    >>> not_found_text("x.test", "A")
    'Host or domain name not found. Name service error for name=x.test type=A: Host not found'
    """
    return (f"Host or domain name not found. Name service error for "
            f"name={name} type={rtype.upper()}: Host not found")


def try_again_text(name: str, rtype: str) -> str:
    """Postfix's text for a lookup that could not be answered now (TRY_AGAIN).

    >>> try_again_text("x.test", "mx")
    'Host or domain name not found. Name service error for name=x.test type=MX: Host not found, try again'
    """
    return not_found_text(name, rtype) + ", try again"


def parse_nameserver(text: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> (address, port).

    >>> parse_nameserver("::1")
    ('::1', 53)
    >>> parse_nameserver("127.0.0.1:x")
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: dns_nameservers = 127.0.0.1:x: bad port
    """
    text = text.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = rest[1:] if rest.startswith(":") else "?"
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("bad port", name="dns_nameservers", value=text)
    if not host:
        raise ConfigError("empty host", name="dns_nameservers", value=text)
    return host, int(port)


class DnsPythonResolver:
    """A :class:`~mailflow.interfaces.DnsResolver` on dnspython's asyncio resolver.

    ``nameservers`` are ``host``/``host:port`` strings (empty: the system's
    resolver); ``timeout`` bounds one whole lookup, retries included.

    >>> DnsPythonResolver(["127.0.0.1:5353"])
    DnsPythonResolver(['127.0.0.1:5353'])
    """

    def __init__(self, nameservers: Sequence[str] = (), *, timeout: float = 10.0) -> None:
        self.nameservers = [n for n in nameservers if n.strip()]
        self.timeout = timeout
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._servers = [parse_nameserver(n) for n in self.nameservers]

    def __repr__(self) -> str:
        return f"DnsPythonResolver({self.nameservers!r})"

    def _get(self, name: str, rtype: str) -> dns.asyncresolver.Resolver:
        # Built on first use: reading resolv.conf is I/O, and a missing one
        # is an error of the lookup (defer), not of building the agent.
        if self._resolver is None:
            if self._servers:
                r = dns.asyncresolver.Resolver(configure=False)
                r.nameservers = [dns.nameserver.Do53Nameserver(host, port)
                                 for host, port in self._servers]
            else:
                try:
                    r = dns.asyncresolver.Resolver()
                except dns.resolver.NoResolverConfiguration as exc:
                    raise DnsTemporaryError(
                        try_again_text(name, rtype) + f" (no resolver configuration: {exc})"
                    ) from exc
            r.lifetime = self.timeout
            r.cache = None           # Postfix asks every time; TTLs are the server's job
            self._resolver = r
        return self._resolver

    async def query(self, name: str, rtype: str) -> list[str]:
        """The answers for ``name``/``rtype`` as text ([] when the name has none
        of that type); raises DnsNotFound (NXDOMAIN) or DnsTemporaryError."""
        rtype = rtype.upper()
        name = name.rstrip(".")
        resolver = self._get(name, rtype)
        try:
            answer = await resolver.resolve(name + ".", rtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            raise DnsNotFound(not_found_text(name, rtype)) from exc
        except dns.resolver.NoAnswer:
            return []
        except dns.exception.DNSException as exc:
            # SERVFAIL from every server, timeouts, refused queries: the
            # answer may come later (Postfix's TRY_AGAIN).
            raise DnsTemporaryError(try_again_text(name, rtype)) from exc
        return [rdata.to_text() for rdata in answer]


def resolver_from_config(cfg: Any) -> DnsPythonResolver:
    """The resolver ``dns_nameservers`` asks for (the system's when empty).

    >>> from mailflow.config import Config
    >>> resolver_from_config(Config(dns_nameservers="127.0.0.1:5353, 192.0.2.53"))
    DnsPythonResolver(['127.0.0.1:5353', '192.0.2.53'])
    """
    from mailflow.delivery.settings import Settings
    return DnsPythonResolver(Settings(cfg).list("dns_nameservers"))
