"""Restrictions that ask the DNS: unknown domains and hosts, DNS blocklists."""

from __future__ import annotations

import pytest

from mailflow.errors import DnsNotFound, DnsTemporaryError
from mailflow.testing import StaticResolver

from .helpers import rcpt, reply, restrictions


def dns() -> StaticResolver:
    d = StaticResolver()
    d.add("example.net", "MX", "10 mx.example.net")
    d.add("a-only.example", "A", "192.0.2.10")
    d.add("null.example", "MX", "0 .")
    d.add("client.example.net", "A", "203.0.113.9")
    d.fail("down.example", "MX", DnsTemporaryError("down.example"))
    d.fail("down.example", "A", DnsTemporaryError("down.example"))
    d.fail("down.example", "AAAA", DnsTemporaryError("down.example"))
    d.fail("gone.example", "MX", DnsNotFound("gone.example"))
    # zen.example lists 203.0.113.9 with code 127.0.0.2 and a reason.
    d.add("9.113.0.203.zen.example", "A", "127.0.0.2")
    d.add("9.113.0.203.zen.example", "TXT", '"listed, see https://zen.example/q"')
    d.add("spam.example.dbl.example", "A", "127.0.1.2")
    return d


UNKNOWN_SENDER = "reject_unknown_sender_domain"


@pytest.mark.parametrize("sender,expected", [
    ("a@example.net", None),
    ("a@a-only.example", None),
    ("a@nowhere.example", "450 4.1.8 <a@nowhere.example>: Sender address rejected: Domain not found"),
    ("a@gone.example", "450 4.1.8 <a@gone.example>: Sender address rejected: Domain not found"),
    ("a@null.example", "550 5.7.27 <a@null.example>: Sender address rejected: Domain null.example "
                       "does not accept mail (nullMX)"),
    ("a@example.com", None),      # a local domain is not looked up
])
def test_reject_unknown_sender_domain(sender, expected):
    """Postfix's codes and texts for a sender domain without MX/A/AAAA."""
    r = restrictions(dns=dns(), smtpd_sender_restrictions=UNKNOWN_SENDER)
    assert reply(rcpt(r, sender=sender)) == expected


def test_unknown_domain_code_follows_unknown_address_reject_code():
    """unknown_address_reject_code = 550 makes the rejection permanent (5.1.8)."""
    r = restrictions(dns=dns(), smtpd_sender_restrictions=UNKNOWN_SENDER,
                     unknown_address_reject_code="550")
    assert reply(rcpt(r, sender="a@nowhere.example")).startswith("550 5.1.8 ")


def test_temporary_dns_failure_is_defer_if_permit():
    """A DNS outage defers (450 4.1.8) only when the mail would be permitted."""
    r = restrictions(dns=dns(), smtpd_sender_restrictions=UNKNOWN_SENDER)
    d = rcpt(r, sender="a@down.example")
    assert reply(d) == "450 4.1.8 <a@down.example>: Sender address rejected: Domain not found"
    r = restrictions(dns=dns(), smtpd_sender_restrictions=UNKNOWN_SENDER,
                     smtpd_recipient_restrictions="reject")
    assert rcpt(r, sender="a@down.example").reply.code == 554


def test_reject_unknown_recipient_domain():
    """The recipient variant uses 4.1.2 (for relayed recipients)."""
    r = restrictions(dns=dns(), smtpd_recipient_restrictions="reject_unknown_recipient_domain",
                     relay_domains="nowhere.example", relay_recipient_maps="")
    assert reply(rcpt(r, recipient="x@nowhere.example")) == \
        "450 4.1.2 <x@nowhere.example>: Recipient address rejected: Domain not found"


def test_reject_unknown_helo_hostname():
    """A HELO name without A/AAAA/MX is 450 4.7.1 Host not found."""
    r = restrictions(dns=dns(), smtpd_helo_restrictions="reject_unknown_helo_hostname")
    assert rcpt(r).verdict == "accept"
    assert reply(rcpt(r, helo="ghost.example")) == \
        "450 4.7.1 <ghost.example>: Helo command rejected: Host not found"


def test_reject_rbl_client_uses_default_rbl_reply():
    """A listed client gets default_rbl_reply with the TXT reason."""
    r = restrictions(dns=dns(), smtpd_client_restrictions="reject_rbl_client zen.example")
    assert reply(rcpt(r)) == ("554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked "
                              "using zen.example; listed, see https://zen.example/q")
    assert rcpt(r, client_address="198.51.100.1").verdict == "accept"


@pytest.mark.parametrize("spec,listed", [("zen.example=127.0.0.2", True),
                                         ("zen.example=127.0.0.[3..11]", False),
                                         ("zen.example=127.0.0.[1;2]", True)])
def test_rbl_reply_filter(spec, listed):
    """=127.0.0.N filters which answers count as listed."""
    r = restrictions(dns=dns(), smtpd_client_restrictions=f"reject_rbl_client {spec}")
    assert (rcpt(r).verdict == "reject") is listed


def test_rbl_reply_maps_template(tmp_path):
    """rbl_reply_maps gives a per-list template with $rbl_* and session macros."""
    table = tmp_path / "rbl_reply"
    table.write_text("zen.example $rbl_code 5.7.9 $client_address is on $rbl_domain\n")
    r = restrictions(dns=dns(), smtpd_client_restrictions="reject_rbl_client zen.example",
                     rbl_reply_maps=f"texthash:{table}")
    assert reply(rcpt(r)) == "554 5.7.9 203.0.113.9 is on zen.example"


def test_rhsbl_sender_and_unreachable_list():
    """reject_rhsbl_sender looks the sender domain up; a failing list is not a hit."""
    d = dns()
    d.fail("example.net.broken.example", "A", DnsTemporaryError("x"))
    r = restrictions(dns=d, smtpd_sender_restrictions="reject_rhsbl_sender broken.example, "
                                                      "reject_rhsbl_sender dbl.example")
    assert rcpt(r).verdict == "accept"
    assert reply(rcpt(r, sender="x@spam.example")) == (
        "554 5.7.1 Service unavailable; Sender address [x@spam.example] blocked using dbl.example")


def test_dns_restriction_without_resolver_is_a_server_error():
    """No resolver configured: 451 4.3.5, never a silent accept."""
    r = restrictions(smtpd_client_restrictions="reject_rbl_client zen.example")
    assert reply(rcpt(r)) == "451 4.3.5 Server configuration error"
