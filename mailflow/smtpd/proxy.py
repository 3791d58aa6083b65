"""The HAProxy PROXY protocol, versions 1 and 2: the header a proxy sends
before SMTP starts (``smtpd_upstream_proxy_protocol = haproxy``).

This module owns parsing that header from the bytes received so far:
:func:`parse_proxy_header` answers "need more", or the client and server
addresses and how many bytes the header took, or raises
:class:`ProxyProtocolError` with the reason Postfix's haproxy_srvr.c gives
(logged as ``warning: haproxy read: REASON: ESCAPED-INPUT``). It does no
I/O; the smtpd service reads, feeds, and starts SMTP after ``consumed``.

As Postfix: version 1 ``TCP4``/``TCP6`` and version 2 ``PROXY`` over TCP
(IPv4/IPv6) carry the client's addresses; version 2 ``LOCAL`` (the
proxy's own health check) is a non-proxied connection; TLVs are skipped;
an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) becomes the IPv4
address. Version 1 ``UNKNOWN`` is refused by Postfix, because it would
sidestep address-based access control; ``allow_unknown=True`` accepts it
as non-proxied. Memory is bounded: a version 1 line is at most 107 bytes
(the specification's limit), a version 2 header at most 536 (Postfix's
``HAPROXY_HEADER_MAX_LEN``).

>>> parse_proxy_header(b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\\r\\nEHLO")
(ProxyInfo(client_address='192.0.2.1', client_port=56324, server_address='198.51.100.1', server_port=25, local=False, version=1), 44)
>>> parse_proxy_header(b"PROXY TCP4 192.0.2.1")
(None, 0)
"""

from __future__ import annotations

import ipaddress
import struct

import attrs

__all__ = ["ProxyInfo", "ProxyProtocolError", "parse_proxy_header", "V1_MAX_LENGTH",
           "V2_MAX_LENGTH", "V2_SIGNATURE"]

V1_PREFIX = b"PROXY "
V1_MAX_LENGTH = 107             # "PROXY TCP6 " + 2 * 39 + 2 * 5 + spaces + CRLF
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER_LENGTH = 16
V2_MAX_LENGTH = 536             # Postfix's HAPROXY_HEADER_MAX_LEN
_V2_LOCAL, _V2_PROXY = 0x0, 0x1
_V2_TCP4, _V2_TCP6 = 0x11, 0x21
_V2_ADDRESS_LENGTH = {_V2_TCP4: 12, _V2_TCP6: 36}


@attrs.frozen
class ProxyInfo:
    """What the proxy said about the connection.

    For a proxied connection, the real client's address and port and the
    server address and port it connected to. ``local`` is True for a
    non-proxied connection (version 2 ``LOCAL``, or version 1 ``UNKNOWN``
    when allowed): the addresses are None and the session uses the
    socket's own.

    >>> ProxyInfo("192.0.2.1", 56324, "198.51.100.1", 25).local
    False
    """

    client_address: str | None
    client_port: int | None
    server_address: str | None
    server_port: int | None
    local: bool = False
    version: int = 1


class ProxyProtocolError(ValueError):
    """A malformed PROXY header. ``reason`` is Postfix's wording, ``data``
    the bytes it was found in, ``warning`` the log line Postfix writes.

    >>> try:
    ...     parse_proxy_header(b"PROXY TCP5 a b 1 2\\r\\n")
    ... except ProxyProtocolError as exc:
    ...     print(exc); print(exc.warning)
    bad or missing protocol type
    haproxy read: bad or missing protocol type: PROXY TCP5 a b 1 2\\r\\n
    """

    def __init__(self, reason: str, data: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = bytes(data)

    @property
    def warning(self) -> str:
        """``haproxy read: REASON: INPUT`` with the input escaped as Postfix's escape()."""
        return f"haproxy read: {self.reason}: {_escape(self.data)}"


_C_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
              0x5C: "\\\\"}


def _escape(data: bytes) -> str:
    return "".join(_C_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\{b:03o}")
                   for b in data)


def _unmap(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    mapped = getattr(addr, "ipv4_mapped", None)
    return str(mapped or addr)


def parse_proxy_header(data: bytes, *, allow_unknown: bool = False,
                       max_v2_length: int = V2_MAX_LENGTH) -> tuple[ProxyInfo | None, int]:
    """Parse a PROXY header at the start of ``data``.

    Returns ``(None, 0)`` while ``data`` could still become a valid header
    (feed more bytes and call again with all of them), else ``(info,
    consumed)``: the bytes after ``consumed`` are the SMTP stream. Raises
    :class:`ProxyProtocolError` when the bytes cannot be one.

    >>> v2 = (V2_SIGNATURE + bytes([0x21, 0x11, 0, 12]) + bytes([192, 0, 2, 1, 198, 51, 100, 1])
    ...       + (56324).to_bytes(2, "big") + (25).to_bytes(2, "big"))
    >>> parse_proxy_header(v2 + b"EHLO x\\r\\n")
    (ProxyInfo(client_address='192.0.2.1', client_port=56324, server_address='198.51.100.1', server_port=25, local=False, version=2), 28)
    >>> parse_proxy_header(b"EHLO x\\r\\n")
    Traceback (most recent call last):
    ...
    mailflow.smtpd.proxy.ProxyProtocolError: unrecognized protocol header
    """
    data = bytes(data)
    if not data:
        return None, 0
    if data[:6] == V1_PREFIX[:len(data)] and data[:1] == b"P":
        return _parse_v1(data, allow_unknown)
    if data[:12] == V2_SIGNATURE[:len(data)]:
        return _parse_v2(data, max_v2_length)
    raise ProxyProtocolError("unrecognized protocol header", data[:V1_MAX_LENGTH])


# ---------------------------------------------------------------- version 1
def _parse_v1(data: bytes, allow_unknown: bool) -> tuple[ProxyInfo | None, int]:
    end = data.find(b"\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(data) >= V1_MAX_LENGTH:
            raise ProxyProtocolError("missing protocol header terminator", data[:V1_MAX_LENGTH])
        return None, 0
    consumed = end + 1
    line = data[:consumed]
    # Postfix splits on spaces and CR (mystrtok " \r"), so "\r\n" and a
    # bare "\n" both end the line.
    tokens = [t for t in line[:-1].replace(b"\r", b" ").split(b" ") if t]

    def fail(reason: str) -> ProxyProtocolError:
        return ProxyProtocolError(reason, line)

    def token(n: int) -> str | None:
        if n >= len(tokens):
            return None
        try:
            return tokens[n].decode("ascii")
        except UnicodeDecodeError:
            return "\ufffd"
    if token(0) != "PROXY":
        raise fail("bad or missing protocol header")
    proto = (token(1) or "").upper()
    if proto == "UNKNOWN" and allow_unknown:
        return ProxyInfo(None, None, None, None, local=True, version=1), consumed
    if proto not in ("TCP4", "TCP6"):
        raise fail("bad or missing protocol type")
    version = 4 if proto == "TCP4" else 6
    addresses = []
    for n, which in ((2, "client"), (3, "server")):
        text = token(n)
        try:
            addr = ipaddress.ip_address(text or "")
        except ValueError:
            raise fail(f"bad or missing {which} address") from None
        if addr.version != version:
            raise fail(f"bad or missing {which} address")
        addresses.append(_unmap(addr))
    ports = []
    for n, which in ((4, "client"), (5, "server")):
        text = token(n) or ""
        if not text.isdigit() or len(text) > 5 or int(text) > 65535:
            raise fail(f"bad or missing {which} port")
        ports.append(int(text))
    return ProxyInfo(addresses[0], ports[0], addresses[1], ports[1], version=1), consumed


# ---------------------------------------------------------------- version 2
def _parse_v2(data: bytes, max_length: int) -> tuple[ProxyInfo | None, int]:
    if len(data) < V2_HEADER_LENGTH:
        return None, 0
    ver_cmd, family, length = struct.unpack_from("!BBH", data, 12)
    total = V2_HEADER_LENGTH + length
    header = data[:min(total, max_length)]
    if ver_cmd & 0xF0 != 0x20:
        raise ProxyProtocolError("unrecognized protocol version", header)
    if total > max_length:
        raise ProxyProtocolError(f"version 2 protocol header too long: {total} bytes "
                                 f"(limit {max_length})", header)
    if len(data) < total:
        return None, 0
    command = ver_cmd & 0x0F
    if command == _V2_LOCAL:
        return ProxyInfo(None, None, None, None, local=True, version=2), total
    if command != _V2_PROXY:
        raise ProxyProtocolError("bad command in proxy header", header)
    need = _V2_ADDRESS_LENGTH.get(family)
    if need is None:
        raise ProxyProtocolError("unsupported network protocol", header)
    if length < need:
        raise ProxyProtocolError("short address field", header)
    body = data[V2_HEADER_LENGTH:V2_HEADER_LENGTH + need]
    size = 4 if family == _V2_TCP4 else 16
    client = ipaddress.ip_address(body[:size])
    server = ipaddress.ip_address(body[size:2 * size])
    client_port, server_port = struct.unpack_from("!HH", body, 2 * size)
    # The rest (TLVs: ALPN, authority, SSL, ...) is skipped, as Postfix does.
    return ProxyInfo(_unmap(client), client_port, _unmap(server), server_port,
                     version=2), total
