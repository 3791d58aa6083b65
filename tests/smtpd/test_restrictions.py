"""smtpd restriction lists: the chain rule, access actions and Postfix's reply texts."""

from __future__ import annotations

import asyncio

import pytest

from mailflow.config import Config
from mailflow.errors import ConfigError
from mailflow.smtpd.restrictions import SmtpdRestrictions, register_restriction

from .helpers import facts, rcpt, reply, restrictions


# --- relay control ---------------------------------------------------------------------

def test_default_relay_restrictions_defer_unauthorized_relaying():
    """With Postfix's default smtpd_relay_restrictions, relaying is 454 4.7.1."""
    d = rcpt(restrictions(), recipient="x@elsewhere.example")
    assert d.verdict == "defer"
    assert reply(d) == "454 4.7.1 <x@elsewhere.example>: Relay access denied"


def test_reject_unauth_destination_is_554():
    """reject_unauth_destination answers 554 5.7.1 Relay access denied."""
    r = restrictions(smtpd_relay_restrictions="permit_mynetworks reject_unauth_destination")
    d = rcpt(r, recipient="x@elsewhere.example")
    assert (d.verdict, reply(d)) == ("reject", "554 5.7.1 <x@elsewhere.example>: Relay access denied")


@pytest.mark.parametrize("recipient", ["ann@example.com", "u@relay.example", "u@sub.relay.example"])
def test_authorized_destinations_pass(recipient):
    """Local and relay domains (and relay subdomains, parent style) are accepted."""
    r = restrictions(relay_recipient_maps="")
    assert rcpt(r, recipient=recipient).verdict == "accept"


@pytest.mark.parametrize("client,sasl", [("10.1.2.3", None), ("203.0.113.9", "ann")])
def test_mynetworks_and_sasl_clients_may_relay(client, sasl):
    """permit_mynetworks and permit_sasl_authenticated end the relay list with OK."""
    d = rcpt(restrictions(), client_address=client, sasl_username=sasl,
             recipient="x@elsewhere.example")
    assert d.verdict == "accept"
    relay = [s for s in d.trace if s.restriction_list == "smtpd_relay_restrictions"]
    assert relay[-1].result == "OK"


def test_relay_code_follows_relay_domains_reject_code():
    """relay_domains_reject_code sets the code; defer_unauth_destination uses it minus 100."""
    r = restrictions(relay_domains_reject_code="550")
    assert reply(rcpt(r, recipient="x@elsewhere.example")).startswith("450 4.7.1 ")


def test_postmaster_without_domain_is_always_accepted():
    """RCPT TO:<postmaster> is accepted whatever the lists say (RFC 5321 4.5.1)."""
    r = restrictions(smtpd_recipient_restrictions="reject")
    assert rcpt(r, recipient="postmaster").verdict == "accept"


def test_config_without_a_rejecting_restriction_is_refused():
    """Postfix refuses relay/recipient lists that can never reject; so do we."""
    with pytest.raises(ConfigError, match="specify at least one working instance"):
        restrictions(smtpd_relay_restrictions="permit_mynetworks",
                     smtpd_recipient_restrictions="permit_sasl_authenticated")


# --- generic restrictions ------------------------------------------------------------------

def test_reject_and_defer_texts():
    """reject gives 554 5.7.1 Access denied; defer gives 450 4.3.2 Try again later."""
    d = rcpt(restrictions(smtpd_client_restrictions="reject"))
    assert reply(d) == "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied"
    d = rcpt(restrictions(smtpd_helo_restrictions="defer"))
    assert reply(d) == "450 4.3.2 <client.example.net>: Helo command rejected: Try again later"


def test_permit_ends_only_its_own_list():
    """permit in the client list does not skip the recipient list."""
    r = restrictions(smtpd_client_restrictions="permit",
                     smtpd_recipient_restrictions="reject")
    assert reply(rcpt(r)) == "554 5.7.1 <ann@example.com>: Recipient address rejected: Access denied"


def test_warn_if_reject_turns_the_next_reject_into_a_warning():
    """warn_if_reject logs reject_warning and lets the mail through."""
    r = restrictions(smtpd_client_restrictions="warn_if_reject reject")
    d = rcpt(r)
    assert d.verdict == "accept"
    assert any("reject_warning: RCPT from unknown[203.0.113.9]: 554 5.7.1 "
               "<unknown[203.0.113.9]>: Client host rejected: Access denied;" in w
               for w in d.warnings)
    assert d.trace[1].result == "WARN"


def test_defer_if_permit_defers_a_later_permit():
    """defer_if_permit turns a later OK into 450 4.7.0 with its own text."""
    r = restrictions(smtpd_client_restrictions="defer_if_permit")
    d = rcpt(r)
    assert reply(d) == ("450 4.7.0 <unknown[203.0.113.9]>: Client host rejected: "
                        "defer_if_permit requested")


def test_defer_if_permit_yields_to_a_reject():
    """A later reject wins over a pending defer_if_permit."""
    r = restrictions(smtpd_client_restrictions="defer_if_permit",
                     smtpd_recipient_restrictions="reject")
    assert rcpt(r).verdict == "reject"


def test_defer_if_reject_turns_a_reject_into_a_deferral():
    """defer_if_reject makes a later 5xx rejection the earlier 4xx reason."""
    r = restrictions(smtpd_client_restrictions="defer_if_reject reject")
    assert reply(rcpt(r)) == ("450 4.7.0 <unknown[203.0.113.9]>: Client host rejected: "
                              "defer_if_reject requested")


def test_unknown_restriction_is_a_server_configuration_error():
    """A misspelled restriction gives 451 4.3.5, never an accept."""
    d = rcpt(restrictions(smtpd_client_restrictions="permit_mynetwork"))
    assert reply(d) == "451 4.3.5 Server configuration error"


def test_reject_unauth_pipelining():
    """A pipelined command gets 503 5.5.0 Improper use of SMTP command pipelining."""
    r = restrictions(smtpd_data_restrictions="reject_unauth_pipelining")
    d = asyncio.run(r.check_data(facts(stage="DATA", pipelined=True, recipient_count=1)))
    assert reply(d) == ("503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP "
                        "command pipelining")
    assert asyncio.run(r.check_data(facts(stage="DATA", recipient_count=1))).verdict == "accept"


def test_soft_bounce_turns_5xx_into_4xx():
    """soft_bounce = yes makes every 5xx restriction reply a 4xx one."""
    r = restrictions(soft_bounce="yes", smtpd_client_restrictions="reject")
    assert reply(rcpt(r)).startswith("454 4.7.1 ")


# --- HELO and addresses ----------------------------------------------------------------------

@pytest.mark.parametrize("helo,expected", [
    ("localhost", "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"),
    ("[300.1.1.1]", "501 5.5.2 <[300.1.1.1]>: Helo command rejected: invalid ip address"),
    ("mx.example.org.", None),
])
def test_reject_non_fqdn_helo_hostname(helo, expected):
    """Postfix's texts for non-FQDN and bad address-literal HELO names."""
    r = restrictions(smtpd_helo_restrictions="reject_non_fqdn_helo_hostname")
    assert reply(rcpt(r, helo=helo)) == expected


def test_reject_invalid_helo_hostname():
    """A HELO name with bad characters gets 501 5.5.2 Invalid name."""
    r = restrictions(smtpd_helo_restrictions="reject_invalid_helo_hostname")
    assert reply(rcpt(r, helo="bad_name!")) == "501 5.5.2 <bad_name!>: Helo command rejected: Invalid name"
    assert rcpt(r, helo="192.0.2.1").verdict == "accept"


@pytest.mark.parametrize("sender,expected", [
    ("joe", "504 5.5.2 <joe>: Sender address rejected: need fully-qualified address"),
    ("joe@host", "504 5.5.2 <joe@host>: Sender address rejected: need fully-qualified address"),
    ("joe@[192.0.2.1]", None), ("", None),
])
def test_reject_non_fqdn_sender(sender, expected):
    """Non-FQDN senders are rejected; address literals and <> are not checked."""
    r = restrictions(smtpd_sender_restrictions="reject_non_fqdn_sender")
    assert reply(rcpt(r, sender=sender)) == expected


def test_reject_non_fqdn_recipient():
    """reject_non_fqdn_recipient names the recipient."""
    r = restrictions(smtpd_recipient_restrictions="reject_non_fqdn_recipient, reject_unauth_destination")
    assert reply(rcpt(r, client_address="10.0.0.1", recipient="ann@localhost")) == \
        "504 5.5.2 <ann@localhost>: Recipient address rejected: need fully-qualified address"


def test_unknown_client_and_reverse_hostname():
    """reject_unknown_client_hostname and _reverse_ use 450 and Postfix's texts."""
    r = restrictions(smtpd_client_restrictions="reject_unknown_reverse_client_hostname")
    assert reply(rcpt(r)) == ("450 4.7.1 Client host rejected: cannot find your reverse "
                              "hostname, [203.0.113.9]")
    r = restrictions(smtpd_client_restrictions="reject_unknown_client_hostname")
    assert reply(rcpt(r)) == ("450 4.7.25 Client host rejected: cannot find your hostname, "
                              "[203.0.113.9]")
    assert rcpt(r, client_name="c.example.net").verdict == "accept"


# --- smtpd_delay_reject -----------------------------------------------------------------------

def test_delay_reject_moves_client_rejection_to_rcpt():
    """With smtpd_delay_reject = yes, connect and MAIL are accepted; RCPT rejects."""
    r = restrictions(smtpd_client_restrictions="reject")
    f = facts(stage="CONNECT", helo=None, sender=None, recipient=None)
    assert asyncio.run(r.check_connect(f)).verdict == "accept"
    assert asyncio.run(r.check_mail(facts(stage="MAIL", recipient=None))).verdict == "accept"
    assert rcpt(r).verdict == "reject"


def test_without_delay_reject_the_client_is_rejected_at_connect():
    """With smtpd_delay_reject = no, the client list runs at connect."""
    r = restrictions(smtpd_delay_reject="no", smtpd_client_restrictions="reject")
    f = facts(stage="CONNECT", helo=None, sender=None, recipient=None)
    d = asyncio.run(r.check_connect(f))
    assert reply(d) == "554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: Access denied"
    assert d.warnings[0].startswith("NOQUEUE: reject: CONNECT from unknown[203.0.113.9]: 554 ")


def test_without_delay_reject_a_pending_defer_carries_to_rcpt():
    """A defer_if_permit raised at connect is applied when RCPT is permitted."""
    r = restrictions(smtpd_delay_reject="no", smtpd_client_restrictions="defer_if_permit")
    f = facts(stage="CONNECT", helo=None, sender=None, recipient=None)
    d = asyncio.run(r.check_connect(f))
    assert d.verdict == "accept" and d.defer_if_permit is not None
    d = rcpt(r, defer_if_permit=d.defer_if_permit)
    assert reply(d).startswith("450 4.7.0 <unknown[203.0.113.9]>: Client host rejected")


# --- access(5) tables --------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("REJECT", "554 5.7.1 <someone@example.net>: Sender address rejected: Access denied"),
    ("REJECT go away", "554 5.7.1 <someone@example.net>: Sender address rejected: go away"),
    ("DEFER later", "450 4.7.1 <someone@example.net>: Sender address rejected: later"),
    ("550 5.1.1 no such user", "550 5.1.7 <someone@example.net>: Sender address rejected: no such user"),
    ("421 bye", "421 4.7.1 <someone@example.net>: Sender address rejected: bye"),
    ("OK", None), ("DUNNO", None), ("12345", None),
])
def test_sender_access_actions(value, expected):
    """Access actions give Postfix's replies (DSN fixed for a sender address)."""
    r = restrictions(smtpd_sender_restrictions=f"check_sender_access inline:{{{{someone@example.net={value}}}}}")
    assert reply(rcpt(r)) == expected


@pytest.mark.parametrize("key", ["someone@example.net", "example.net", "net", "someone@"])
def test_mail_access_lookup_order_finds_each_key(key):
    """Full address, domain, parent domains and user@ are all tried."""
    r = restrictions(smtpd_sender_restrictions=f"check_sender_access inline:{{{key}=REJECT}}")
    assert rcpt(r).verdict == "reject"


def test_subdomain_keys_follow_parent_domain_matches_subdomains():
    """Without smtpd_access_maps in the parent style list, only .domain matches subdomains."""
    spec = "check_sender_access inline:{example.net=REJECT}"
    r = restrictions(smtpd_sender_restrictions=spec, parent_domain_matches_subdomains="")
    assert rcpt(r, sender="a@sub.example.net").verdict == "accept"
    r = restrictions(smtpd_sender_restrictions=spec)
    assert rcpt(r, sender="a@sub.example.net").verdict == "reject"


def test_null_sender_uses_the_null_access_lookup_key():
    """The null sender is looked up as <> (smtpd_null_access_lookup_key)."""
    r = restrictions(smtpd_sender_restrictions="check_sender_access inline:{ {<>=REJECT no bounces} }")
    assert reply(rcpt(r, sender="")) == "554 5.7.1 <>: Sender address rejected: no bounces"


def test_client_access_by_network_prefix(tmp_path):
    """check_client_access tries the address and its parent networks."""
    r = restrictions(smtpd_client_restrictions="check_client_access inline:{203.0.113=REJECT}")
    assert rcpt(r).verdict == "reject"
    assert rcpt(r, client_address="198.51.100.1").verdict == "accept"


def test_client_access_with_a_cidr_table(tmp_path):
    """A cidr: table sees the full client address."""
    table = tmp_path / "clients.cidr"
    table.write_text("203.0.113.0/24 REJECT listed network\n")
    r = restrictions(smtpd_client_restrictions=f"check_client_access cidr:{table}")
    assert reply(rcpt(r)) == ("554 5.7.1 <unknown[203.0.113.9]>: Client host rejected: "
                              "listed network")


def test_helo_access_by_parent_domain():
    """check_helo_access matches a parent domain of the HELO name."""
    r = restrictions(smtpd_helo_restrictions="check_helo_access inline:{example.net=REJECT}")
    assert reply(rcpt(r)) == "554 5.7.1 <client.example.net>: Helo command rejected: Access denied"


def test_side_effect_actions_are_collected():
    """HOLD, FILTER, REDIRECT and PREPEND are returned for the service to apply."""
    table = ("inline:{ {a@example.net=HOLD suspicious}, {b@example.net=FILTER smtp:[127.0.0.1]:10025},"
             " {c@example.net=REDIRECT boss@example.com}, {d@example.net=PREPEND X-Seen: yes} }")
    r = restrictions(smtpd_sender_restrictions=f"check_sender_access {table}")
    assert rcpt(r, sender="a@example.net").hold == "suspicious"
    assert rcpt(r, sender="b@example.net").filter == "smtp:[127.0.0.1]:10025"
    assert rcpt(r, sender="c@example.net").redirect == "boss@example.com"
    d = rcpt(r, sender="d@example.net")
    assert d.prepend == ("X-Seen: yes",) and d.verdict == "accept"


def test_discard_stops_evaluation_and_accepts():
    """DISCARD accepts and skips every later restriction, including recipient validation."""
    r = restrictions(smtpd_sender_restrictions="check_sender_access inline:{someone@example.net=DISCARD}",
                     smtpd_recipient_restrictions="reject")
    d = rcpt(r, recipient="nobody@example.com")
    assert d.verdict == "accept" and d.discard == "triggers DISCARD action"


def test_warn_action_logs_and_continues():
    """WARN logs a warn: line and does not decide."""
    r = restrictions(smtpd_sender_restrictions="check_sender_access inline:{ {someone@example.net=WARN look} }")
    d = rcpt(r)
    assert d.verdict == "accept"
    assert any(": warn: RCPT from unknown[203.0.113.9]: look;" in w for w in d.warnings)


def test_table_value_may_be_a_restriction_list_or_class():
    """A value naming restrictions (or a class) is evaluated in place."""
    r = restrictions(smtpd_restriction_classes="strict", strict="reject_non_fqdn_helo_hostname, permit",
                     smtpd_sender_restrictions="check_sender_access inline:{someone@example.net=strict}")
    assert rcpt(r, helo="localhost").verdict == "reject"
    assert rcpt(r, helo="c.example.net").verdict == "accept"
    r = restrictions(smtpd_sender_restrictions="check_sender_access inline:{someone@example.net=reject}")
    assert rcpt(r).verdict == "reject"


def test_broken_table_is_a_451_never_an_accept():
    """A table that cannot be opened gives 451 4.3.5 Server configuration error."""
    r = restrictions(smtpd_client_restrictions="check_client_access hash:/nonexistent/access")
    assert reply(rcpt(r)) == ("451 4.3.5 <unknown[203.0.113.9]>: Client host rejected: Server "
                              "configuration error")


def test_bare_table_uses_the_lists_own_check():
    """A bare type:name in a list is the list's check_*_access (Postfix def_acl)."""
    r = restrictions(smtpd_recipient_restrictions="inline:{ann@example.com=REJECT}, reject_unauth_destination")
    assert rcpt(r).verdict == "reject"


# --- user restrictions ---------------------------------------------------------------------------

def test_registered_restriction_returns_an_access_action():
    """A registered callable's action is applied like a table value."""
    register_restriction("reject_net_senders",
                         lambda f: "REJECT no .net" if (f.sender or "").endswith(".net") else None)
    r = restrictions(smtpd_sender_restrictions="reject_net_senders")
    assert reply(rcpt(r)) == "554 5.7.1 <someone@example.net>: Sender address rejected: no .net"
    assert rcpt(r, sender="a@example.org").verdict == "accept"


def test_custom_async_restriction_per_instance():
    """An async callable passed in custom= works for that instance."""
    async def slow_down(f):
        return "450 4.7.1 slow down"
    r = restrictions(custom={"slow_down": slow_down}, smtpd_client_restrictions="slow_down")
    assert reply(rcpt(r)) == "450 4.7.1 <unknown[203.0.113.9]>: Client host rejected: slow down"


# --- data and end of data ----------------------------------------------------------------------------

def test_multi_recipient_bounce_at_data():
    """reject_multi_recipient_bounce rejects a null sender with several recipients at DATA."""
    r = restrictions(smtpd_data_restrictions="reject_multi_recipient_bounce")
    d = asyncio.run(r.check_data(facts(stage="DATA", sender="", recipient_count=2)))
    assert reply(d) == "550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce"
    d = asyncio.run(r.check_data(facts(stage="DATA", sender="", recipient_count=1)))
    assert d.verdict == "accept"


def test_end_of_data_restrictions():
    """smtpd_end_of_data_restrictions use the End-of-data class."""
    r = restrictions(smtpd_end_of_data_restrictions="reject")
    d = asyncio.run(r.check_end_of_data(facts(stage="END-OF-MESSAGE", recipient_count=1)))
    assert reply(d) == "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied"


def test_etrn_access():
    """check_etrn_access decides per ETRN domain."""
    r = restrictions(smtpd_etrn_restrictions="check_etrn_access inline:{example.org=REJECT}")
    d = asyncio.run(r.check_etrn(facts(stage="ETRN", sender=None, recipient=None,
                                       etrn_domain="example.org")))
    assert reply(d) == "554 5.7.1 <example.org>: Etrn command rejected: Access denied"


# --- sender login maps ----------------------------------------------------------------------------------

@pytest.mark.parametrize("user,sender,expected", [
    ("ann", "ann@example.com", None),
    ("bob", "ann@example.com", "553 5.7.1 <ann@example.com>: Sender address rejected: not owned by user bob"),
    (None, "ann@example.com", "553 5.7.1 <ann@example.com>: Sender address rejected: not logged in"),
    (None, "free@example.org", None),
])
def test_reject_sender_login_mismatch(user, sender, expected):
    """The logged-in user must own the sender; an owned sender needs a login."""
    r = restrictions(smtpd_sasl_auth_enable="yes",
                     smtpd_sender_login_maps="inline:{ann@example.com=ann}",
                     smtpd_sender_restrictions="reject_sender_login_mismatch")
    assert reply(rcpt(r, sasl_username=user, sender=sender)) == expected


def test_trace_names_the_table_entry():
    """The trace step names the table, key and value that decided."""
    r = restrictions(smtpd_sender_restrictions="check_sender_access inline:{example.net=REJECT}")
    step = [s for s in rcpt(r).trace if s.restriction.startswith("check_sender_access")][0]
    assert step.restriction_list == "smtpd_sender_restrictions"
    assert step.detail == "inline:{example.net=REJECT}: key=example.net value=REJECT"
    assert step.result.startswith("REJECT 554 5.7.1 ")


def test_from_config_with_defaults_builds():
    """None means Postfix's defaults."""
    assert isinstance(SmtpdRestrictions.from_config(None), SmtpdRestrictions)
    assert SmtpdRestrictions.from_config(Config()).delay_reject is True


def test_decision_reply_is_the_protocol_engines_reply():
    """The service sends Decision.reply as it is: it formats to wire bytes."""
    d = rcpt(restrictions(), recipient="x@elsewhere.example")
    assert d.reply.format() == b"454 4.7.1 <x@elsewhere.example>: Relay access denied\r\n"


def test_vrfy_runs_the_rcpt_checks_and_logs_vrfy():
    """check_vrfy answers as RCPT TO would, and logs the VRFY stage."""
    r = restrictions()
    d = asyncio.run(r.check_vrfy(facts(stage="VRFY", recipient="nobody@example.com")))
    assert reply(d).startswith("550 5.1.1 <nobody@example.com>: Recipient address rejected")
    assert d.warnings[-1].startswith("NOQUEUE: reject: VRFY from unknown[203.0.113.9]: 550 ")
