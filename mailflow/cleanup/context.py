"""Which SMTP clients count as local for header rewriting
(``local_header_rewrite_clients``).

This module owns the decision cleanup(8) makes per message: rewrite header
addresses in the ``local`` context and add missing headers (local clients),
or use the ``remote`` context and add nothing (everyone else). Postfix 2.2+
evaluates ``local_header_rewrite_clients``; the default,
``permit_inet_interfaces``, means "a client on one of this host's own
addresses". No I/O: interface addresses are those in ``inet_interfaces`` and
``proxy_interfaces`` plus the loopback networks.

>>> from mailflow.model import ClientInfo
>>> is_local_client(ClientInfo("localhost", "127.0.0.1"), ["permit_inet_interfaces"])
True
>>> is_local_client(ClientInfo("x.example", "192.0.2.9"), ["permit_mynetworks"],
...                 mynetworks=["192.0.2.0/24"])
True
>>> is_local_client(ClientInfo("x.example", "192.0.2.9"), ["permit_inet_interfaces"])
False
"""

from __future__ import annotations

import ipaddress
from typing import Sequence

from mailflow.model import ClientInfo

__all__ = ["is_local_client"]

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _address(text: str) -> ipaddress._BaseAddress | None:
    try:
        addr = ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped or addr


def _in_networks(addr: ipaddress._BaseAddress, networks: Sequence[str]) -> bool:
    for item in networks:
        item = item.strip()
        if ":" in item and "/" not in item and not item.startswith("["):
            continue                    # a table (type:name): not evaluated here
        try:
            net = ipaddress.ip_network(item.replace("[", "").replace("]", ""), strict=False)
        except ValueError:
            continue
        if addr.version == net.version and addr in net:
            return True
    return False


def is_local_client(client: ClientInfo | None, rules: Sequence[str], *,
                    mynetworks: Sequence[str] = (), inet_interfaces: Sequence[str] = ("all",),
                    proxy_interfaces: Sequence[str] = ()) -> bool:
    """Whether ``client`` matches ``local_header_rewrite_clients`` (``rules``).

    Supported: ``permit_inet_interfaces``, ``permit_mynetworks``,
    ``permit_sasl_authenticated``, ``static:all``; other entries (tables)
    do not match.

    >>> is_local_client(ClientInfo("x", "203.0.113.5", sasl_username="ann"),
    ...                 ["permit_sasl_authenticated"])
    True
    """
    if client is None:
        return True
    addr = _address(client.address)
    for rule in rules:
        rule = rule.strip().lower()
        if rule == "static:all":
            return True
        if rule == "permit_sasl_authenticated" and client.sasl_username:
            return True
        if addr is None:
            continue
        if rule == "permit_mynetworks" and _in_networks(addr, mynetworks):
            return True
        if rule == "permit_inet_interfaces":
            if any(addr.version == net.version and addr in net for net in _LOOPBACK):
                return True
            own = [i for i in list(inet_interfaces) + list(proxy_interfaces)
                   if i not in ("all", "loopback-only")]
            if any(_address(i) == addr for i in own):
                return True
    return False
