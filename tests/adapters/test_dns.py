"""The dnspython adapter against a real dnsmasq on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "delivery"))
from smtp_peers import dnsmasq  # noqa: E402

from mailflow.adapters.dns import DnsPythonResolver, resolver_from_config  # noqa: E402
from mailflow.config import Config  # noqa: E402
from mailflow.errors import ConfigError, DnsNotFound, DnsTemporaryError  # noqa: E402

RECORDS = [
    "--mx-host=example.test,mx1.example.test,10",
    "--mx-host=example.test,mx2.example.test,20",
    "--host-record=mx1.example.test,192.0.2.1",
    "--host-record=mx2.example.test,192.0.2.2,2001:db8::2",
    "--host-record=nomx.test,192.0.2.9",
    # RFC 7505 null MX: preference 0, the root as exchange.
    "--dns-rr=nullmx.test,15,0000:00",
]


@pytest.fixture(scope="module")
def dns_port():
    with dnsmasq(RECORDS) as port:
        yield port


def query(port, name, rtype, timeout=5.0):
    resolver = DnsPythonResolver([f"127.0.0.1:{port}"], timeout=timeout)
    return asyncio.run(resolver.query(name, rtype))


def test_mx_and_address_answers_come_back_as_text(dns_port):
    """MX answers read "pref exchange.", A/AAAA answers the address."""
    assert sorted(query(dns_port, "example.test", "MX")) == ["10 mx1.example.test.",
                                                             "20 mx2.example.test."]
    assert query(dns_port, "MX2.example.test.", "a") == ["192.0.2.2"]
    assert query(dns_port, "mx2.example.test", "AAAA") == ["2001:db8::2"]


def test_null_mx_reads_as_root_exchange(dns_port):
    assert query(dns_port, "nullmx.test", "MX") == ["0 ."]


def test_name_without_records_of_the_type_is_an_empty_list(dns_port):
    """NODATA is not NXDOMAIN: the name exists, it just has no MX."""
    assert query(dns_port, "nomx.test", "MX") == []


def test_nxdomain_raises_not_found_with_postfix_text(dns_port):
    with pytest.raises(DnsNotFound) as info:
        query(dns_port, "nosuch.test", "MX")
    assert str(info.value) == ("Host or domain name not found. Name service error for "
                               "name=nosuch.test type=MX: Host not found")


def test_server_failure_is_temporary(dns_port):
    """dnsmasq has no upstream for names outside .test and refuses them; a
    server that cannot answer is "try again", never "not found"."""
    with pytest.raises(DnsTemporaryError) as info:
        query(dns_port, "x.broken.example", "A")
    assert str(info.value).endswith("name=x.broken.example type=A: Host not found, try again")


def test_server_that_never_answers_times_out_as_temporary():
    """A UDP socket that reads queries and never replies: the lookup's
    time limit ends it with a temporary error, not a hang."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        with pytest.raises(DnsTemporaryError):
            query(port, "example.test", "MX", timeout=0.5)


def test_config_builds_resolver_and_rejects_bad_port():
    r = resolver_from_config(Config(dns_nameservers="127.0.0.1:5353 [::1]:53"))
    assert r._servers == [("127.0.0.1", 5353), ("::1", 53)]
    with pytest.raises(ConfigError, match="dns_nameservers = 127.0.0.1:99999: bad port"):
        resolver_from_config(Config(dns_nameservers="127.0.0.1:99999"))
