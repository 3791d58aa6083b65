"""RCPT replies compared with real Postfix 3.7.11 for the same main.cf.

How the expectations were obtained: a private Postfix 3.7.11 instance ran
with MAIN_CF below (plus queue/data directories and
``smtpd_authorized_xclient_hosts = 127.0.0.0/8``) listening on 127.0.0.1.
For each case a Python smtplib client sent ``XCLIENT ADDR=<client>
NAME=[UNAVAILABLE]`` (or the given name), ``EHLO <helo>``, ``MAIL FROM:<sender>``
and ``RCPT TO:<rcpt>``; the RCPT reply is recorded as Postfix sent it (``None``
for ``250 2.1.5 Ok``). The second table used MAIN_CF plus EXTRA_CF. The
warn_if_reject case's log line is from that instance's maillog.
"""

from __future__ import annotations

import pytest

from mailflow.config import Config
from mailflow.smtpd.restrictions import SmtpdRestrictions

from .helpers import facts, rcpt, reply

MAIN_CF = """\
myhostname = mx.example.com
mydomain = example.com
mydestination = example.com, $myhostname
inet_interfaces = 127.0.0.1
mynetworks = 10.0.0.0/8
relay_domains = relay.example
local_recipient_maps = inline:{ann=1, bob=1}
relay_recipient_maps = inline:{ok@relay.example=1}
virtual_alias_domains = alias.example
virtual_alias_maps = inline:{ sales@alias.example=ann@example.com }
virtual_mailbox_domains = vmail.example
virtual_mailbox_maps = inline:{ joe@vmail.example=joe/ }
smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname
smtpd_sender_restrictions = reject_non_fqdn_sender, check_sender_access inline:{ {spam@bad.example=REJECT no spam}, {<>=DUNNO}, {deferme@bad.example=DEFER later}, {x@code.example=550 5.1.1 gone} }
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination
smtpd_recipient_restrictions = reject_non_fqdn_recipient, check_recipient_access inline:{ {blocked@example.com=REJECT} }
"""

EXTRA_CF = """\
smtpd_client_restrictions = check_client_access inline:{ {203.0.113.66=REJECT go away}, {198.51.100=DEFER_IF_PERMIT slow down}, {192.0.2.88=defer_if_reject} }, warn_if_reject reject_unknown_client_hostname
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_non_fqdn_recipient, check_recipient_access inline:{ {blocked@example.com=REJECT}, {code@example.com=421 4.4.2 busy} }
"""

# (client, helo, sender, rcpt) -> Postfix's RCPT reply
FIRST = [
    (("203.0.113.9", None, None, "x@elsewhere.example"),
     "454 4.7.1 <x@elsewhere.example>: Relay access denied"),
    (("10.1.2.3", None, None, "x@elsewhere.example"), None),
    (("203.0.113.9", None, None, "nobody@example.com"),
     "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local "
     "recipient table"),
    (("203.0.113.9", "localhost", None, "ann@example.com"),
     "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"),
    (("203.0.113.9", "bad_name!", None, "ann@example.com"),
     "504 5.5.2 <bad_name!>: Helo command rejected: need fully-qualified hostname"),
    (("203.0.113.9", None, "spam@bad.example", "ann@example.com"),
     "554 5.7.1 <spam@bad.example>: Sender address rejected: no spam"),
    (("203.0.113.9", None, "deferme@bad.example", "ann@example.com"),
     "450 4.7.1 <deferme@bad.example>: Sender address rejected: later"),
    (("203.0.113.9", None, "x@code.example", "ann@example.com"),
     "550 5.1.7 <x@code.example>: Sender address rejected: gone"),
    (("203.0.113.9", None, "joe", "ann@example.com"),
     "504 5.5.2 <joe>: Sender address rejected: need fully-qualified address"),
    (("203.0.113.9", None, None, "nobody@alias.example"),
     "550 5.1.1 <nobody@alias.example>: Recipient address rejected: User unknown in virtual "
     "alias table"),
    (("203.0.113.9", None, None, "nobody@vmail.example"),
     "550 5.1.1 <nobody@vmail.example>: Recipient address rejected: User unknown in virtual "
     "mailbox table"),
    (("203.0.113.9", None, None, "nobody@relay.example"),
     "550 5.1.1 <nobody@relay.example>: Recipient address rejected: User unknown in relay "
     "recipient table"),
    (("203.0.113.9", None, None, "blocked@example.com"),
     "554 5.7.1 <blocked@example.com>: Recipient address rejected: Access denied"),
]

SECOND = [
    (("203.0.113.66", None, None, "ann@example.com"),
     "554 5.7.1 <unknown[203.0.113.66]>: Client host rejected: go away"),
    (("198.51.100.5", None, None, "x@elsewhere.example"),
     "554 5.7.1 <x@elsewhere.example>: Relay access denied"),
    (("198.51.100.5", None, None, "ann@example.com"),
     "450 4.7.1 <unknown[198.51.100.5]>: Client host rejected: slow down"),
    (("192.0.2.88", None, None, "x@elsewhere.example"),
     "554 5.7.1 <x@elsewhere.example>: Relay access denied"),
    (("203.0.113.9", None, None, "code@example.com"),
     "421 4.4.2 <code@example.com>: Recipient address rejected: busy"),
    (("10.1.1.1", None, None, "ann@example.com"), None),
    (("10.1.1.1", None, None, "nobody@example.com"),
     "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local "
     "recipient table"),
]


def _check(cfg_text, case, expected):
    client, helo, sender, recipient = case
    r = SmtpdRestrictions.from_config(Config.from_string(cfg_text))
    d = rcpt(r, client_address=client, helo=helo or "client.example.net",
             sender=sender or "someone@example.net", recipient=recipient)
    assert reply(d) == expected


@pytest.mark.parametrize("case,expected", FIRST, ids=[c[0][3] + "/" + c[0][0] for c in FIRST])
def test_same_reply_as_postfix(case, expected):
    """Relay control, access maps, HELO/sender syntax and validation as Postfix replies."""
    _check(MAIN_CF, case, expected)


@pytest.mark.parametrize("case,expected", SECOND, ids=[c[0][3] + "/" + c[0][0] for c in SECOND])
def test_same_reply_as_postfix_with_client_restrictions(case, expected):
    """Client access, DEFER_IF_PERMIT, defer_if_reject scope and numeric actions as Postfix."""
    _check(MAIN_CF + EXTRA_CF, case, expected)


def test_warn_if_reject_log_line_as_postfix():
    """The reject_warning line has Postfix's wording and fields."""
    r = SmtpdRestrictions.from_config(Config.from_string(MAIN_CF + EXTRA_CF))
    d = rcpt(r, client_address="10.1.1.1", helo="client.example.net",
             sender="someone@example.net", recipient="nobody@example.com")
    assert ("NOQUEUE: reject_warning: RCPT from unknown[10.1.1.1]: 450 4.7.25 Client host "
            "rejected: cannot find your hostname, [10.1.1.1]; from=<someone@example.net> "
            "to=<nobody@example.com> proto=ESMTP helo=<client.example.net>") in d.warnings
    assert facts().protocol == "ESMTP"
