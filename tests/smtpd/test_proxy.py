"""The HAProxy PROXY protocol header, v1 and v2: parsed whole and one byte at a
time, with Postfix's reasons for what it refuses."""

from __future__ import annotations

import struct

import pytest

from mailflow.smtpd.proxy import (V1_MAX_LENGTH, V2_MAX_LENGTH, V2_SIGNATURE, ProxyInfo,
                                  ProxyProtocolError, parse_proxy_header)

SMTP = b"EHLO client.example\r\n"


def v2(command: int = 1, family: int = 0x11, body: bytes | None = None, version: int = 2,
       tlvs: bytes = b"") -> bytes:
    if body is None:
        body = bytes([192, 0, 2, 1, 198, 51, 100, 1]) + struct.pack("!HH", 56324, 25)
    payload = body + tlvs
    return V2_SIGNATURE + bytes([(version << 4) | command, family]) + struct.pack(
        "!H", len(payload)) + payload


def v2_tcp6(client: str, server: str, cport: int = 40000, sport: int = 25) -> bytes:
    import ipaddress
    body = (ipaddress.IPv6Address(client).packed + ipaddress.IPv6Address(server).packed
            + struct.pack("!HH", cport, sport))
    return v2(family=0x21, body=body)


def feed_bytewise(data: bytes, **kw):
    """Feed ``data`` one byte more at a time, as reads would deliver it; the
    first complete answer and how many bytes it took to get there."""
    for n in range(1, len(data) + 1):
        info, consumed = parse_proxy_header(data[:n], **kw)
        if info is not None:
            return info, consumed, n
        assert consumed == 0
    return None, 0, len(data)


GOOD = [
    (b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\n",
     ProxyInfo("192.0.2.1", 56324, "198.51.100.1", 25)),
    (b"PROXY TCP6 2001:db8::1 2001:db8::25 40000 587\r\n",
     ProxyInfo("2001:db8::1", 40000, "2001:db8::25", 587)),
    (b"PROXY TCP6 ::ffff:192.0.2.1 ::ffff:198.51.100.1 1 25\r\n",
     ProxyInfo("192.0.2.1", 1, "198.51.100.1", 25)),
    (b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\n",           # Postfix takes a bare LF
     ProxyInfo("192.0.2.1", 56324, "198.51.100.1", 25)),
    (b"PROXY tcp4 192.0.2.1 198.51.100.1 0 65535\r\n",
     ProxyInfo("192.0.2.1", 0, "198.51.100.1", 65535)),
    (v2(), ProxyInfo("192.0.2.1", 56324, "198.51.100.1", 25, version=2)),
    (v2(tlvs=b"\x01\x00\x04smtp" + b"\x02\x00\x0bexample.com"),   # ALPN, authority: skipped
     ProxyInfo("192.0.2.1", 56324, "198.51.100.1", 25, version=2)),
    (v2_tcp6("2001:db8::1", "2001:db8::25"),
     ProxyInfo("2001:db8::1", 40000, "2001:db8::25", 25, version=2)),
    (v2_tcp6("::ffff:192.0.2.7", "::ffff:198.51.100.1"),
     ProxyInfo("192.0.2.7", 40000, "198.51.100.1", 25, version=2)),
    (v2(command=0, family=0, body=b""), ProxyInfo(None, None, None, None, local=True, version=2)),
    (v2(command=0, family=0x11),                                  # LOCAL with addresses: ignored
     ProxyInfo(None, None, None, None, local=True, version=2)),
]


@pytest.mark.parametrize("header, want", GOOD, ids=range(len(GOOD)))
def test_header_then_smtp(header, want):
    """A header followed by SMTP: the info, and exactly the header's bytes consumed."""
    assert parse_proxy_header(header + SMTP) == (want, len(header))


@pytest.mark.parametrize("header, want", GOOD, ids=range(len(GOOD)))
def test_header_one_byte_at_a_time(header, want):
    """Fed one byte at a time, the parser needs more until the header's last byte, then answers."""
    info, consumed, fed = feed_bytewise(header + SMTP)
    assert (info, consumed, fed) == (want, len(header), len(header))


def test_empty_input_needs_more():
    """No bytes yet: need more."""
    assert parse_proxy_header(b"") == (None, 0)


def test_unknown_is_refused_as_postfix_does():
    """PROXY UNKNOWN is refused by default (it would sidestep address-based access control)."""
    with pytest.raises(ProxyProtocolError, match="^bad or missing protocol type$"):
        parse_proxy_header(b"PROXY UNKNOWN\r\n")


@pytest.mark.parametrize("line", [b"PROXY UNKNOWN\r\n",
                                  b"PROXY UNKNOWN 192.0.2.1 198.51.100.1 1 25\r\n"])
def test_unknown_when_allowed_is_a_local_connection(line):
    """With allow_unknown, PROXY UNKNOWN (with or without addresses) is a non-proxied connection."""
    assert parse_proxy_header(line + SMTP, allow_unknown=True) == (
        ProxyInfo(None, None, None, None, local=True, version=1), len(line))


BAD = [
    (b"EHLO client.example\r\n", "unrecognized protocol header"),
    (b"\r\n\r\n\x00\r\nQUI!", "unrecognized protocol header"),
    (b"PROXYTCP4\r\n", "unrecognized protocol header"),
    (b"PROXY TCP5 192.0.2.1 198.51.100.1 1 25\r\n", "bad or missing protocol type"),
    (b"PROXY \r\n", "bad or missing protocol type"),
    (b"PROXY TCP4 192.0.2.300 198.51.100.1 1 25\r\n", "bad or missing client address"),
    (b"PROXY TCP4 2001:db8::1 198.51.100.1 1 25\r\n", "bad or missing client address"),
    (b"PROXY TCP6 2001:db8::1 198.51.100.1 1 25\r\n", "bad or missing server address"),
    (b"PROXY TCP4 192.0.2.1\r\n", "bad or missing server address"),
    (b"PROXY TCP4 192.0.2.1 198.51.100.1 x 25\r\n", "bad or missing client port"),
    (b"PROXY TCP4 192.0.2.1 198.51.100.1 65536 25\r\n", "bad or missing client port"),
    (b"PROXY TCP4 192.0.2.1 198.51.100.1 1\r\n", "bad or missing server port"),
    (b"PROXY TCP4 192.0.2.1 198.51.100.1 1 -25\r\n", "bad or missing server port"),
    (b"PROXY TCP4 " + b"1" * 200, "missing protocol header terminator"),
    (v2(version=1), "unrecognized protocol version"),
    (v2(command=2), "bad command in proxy header"),
    (v2(family=0x12), "unsupported network protocol"),               # UDP over IPv4
    (v2(family=0x31, body=b"\0" * 216), "unsupported network protocol"),   # AF_UNIX
    (v2(family=0x00, body=b""), "unsupported network protocol"),
    (v2(body=b"\xc0\x00\x02\x01"), "short address field"),
    (v2(family=0x21), "short address field"),                        # a TCP4-sized body
    (v2(tlvs=b"\0" * V2_MAX_LENGTH), "version 2 protocol header too long: 564 bytes (limit 536)"),
]


@pytest.mark.parametrize("data, reason", BAD, ids=[r for _, r in BAD])
def test_malformed_headers_give_postfix_reasons(data, reason):
    """Each malformed header raises ProxyProtocolError with Postfix's reason."""
    with pytest.raises(ProxyProtocolError) as info:
        parse_proxy_header(data + SMTP)
    assert info.value.reason == reason == str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("data, reason", BAD, ids=[r for _, r in BAD])
def test_malformed_headers_one_byte_at_a_time(data, reason):
    """Fed one byte at a time, a malformed header is refused with the same reason, never accepted."""
    with pytest.raises(ProxyProtocolError) as info:
        feed_bytewise(data + SMTP)
    assert info.value.reason == reason


def test_v1_line_is_bounded():
    """A v1 line is refused once 107 bytes came without a line end, not later."""
    data = b"PROXY TCP4 " + b" " * 200
    assert parse_proxy_header(data[:V1_MAX_LENGTH - 1]) == (None, 0)
    with pytest.raises(ProxyProtocolError, match="missing protocol header terminator"):
        parse_proxy_header(data[:V1_MAX_LENGTH])


def test_longest_v1_line_fits():
    """The longest valid v1 line (TCP6, full addresses, 5-digit ports) is exactly 104 bytes and parses."""
    addr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
    line = f"PROXY TCP6 {addr} {addr} 65535 65535\r\n".encode()
    assert len(line) <= V1_MAX_LENGTH
    info, consumed = parse_proxy_header(line)
    assert consumed == len(line) and info.client_port == 65535


def test_v2_too_long_is_refused_from_the_fixed_header():
    """A v2 header announcing more than the limit is refused as soon as its length field arrives."""
    data = v2(tlvs=b"\0" * 1000)
    with pytest.raises(ProxyProtocolError, match="too long"):
        parse_proxy_header(data[:16])


def test_warning_line_escapes_the_input_as_postfix():
    """The warning Postfix logs shows the header with C escapes."""
    with pytest.raises(ProxyProtocolError) as info:
        parse_proxy_header(b"PROXY TCP4 192.0.2.1\t\x01 198.51.100.1 1 25\r\n")
    assert info.value.warning == ("haproxy read: bad or missing client address: "
                                  "PROXY TCP4 192.0.2.1\\t\\001 198.51.100.1 1 25\\r\\n")


def test_non_ascii_in_v1_is_refused():
    """Bytes that are not ASCII in an address are a bad address, not a crash."""
    with pytest.raises(ProxyProtocolError, match="bad or missing client address"):
        parse_proxy_header("PROXY TCP4 19é.0.2.1 198.51.100.1 1 25\r\n".encode())


def test_accepts_bytearray_and_memoryview():
    """A read buffer (bytearray) or a view of it parses the same."""
    header = b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\n"
    assert parse_proxy_header(bytearray(header))[1] == len(header)
    assert parse_proxy_header(memoryview(header))[1] == len(header)
