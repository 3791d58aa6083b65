"""Recipient validation at RCPT: unknown users per address class, with Postfix's texts."""

from __future__ import annotations

import pytest

from mailflow.errors import TableError
from mailflow.smtpd.recipients import RecipientValidator
from mailflow.tables import CallableTable

from .helpers import rcpt, reply, restrictions

SITE = dict(virtual_alias_domains="alias.example",
            virtual_alias_maps="inline:{ sales@alias.example=ann@example.com }",
            virtual_mailbox_domains="vmail.example",
            virtual_mailbox_maps="inline:{ joe@vmail.example=joe/ }",
            relay_recipient_maps="inline:{ ok@relay.example=x }")


@pytest.mark.parametrize("recipient,expected", [
    ("ann@example.com", None),
    ("nobody@example.com",
     "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table"),
    ("sales@alias.example", None),
    ("nobody@alias.example",
     "550 5.1.1 <nobody@alias.example>: Recipient address rejected: User unknown in virtual alias table"),
    ("joe@vmail.example", None),
    ("nobody@vmail.example",
     "550 5.1.1 <nobody@vmail.example>: Recipient address rejected: User unknown in virtual mailbox table"),
    ("ok@relay.example", None),
    ("nobody@relay.example",
     "550 5.1.1 <nobody@relay.example>: Recipient address rejected: User unknown in relay recipient table"),
])
def test_unknown_recipients_per_address_class(recipient, expected):
    """Each address class is validated against its own table, with Postfix's wording."""
    assert reply(rcpt(restrictions(**SITE), recipient=recipient)) == expected


def test_reject_codes_are_configurable():
    """unknown_local_recipient_reject_code sets the code (450 while testing a table)."""
    r = restrictions(unknown_local_recipient_reject_code="450")
    assert reply(rcpt(r, recipient="nobody@example.com")).startswith("450 4.1.1 ")


def test_table_name_can_be_hidden():
    """show_user_unknown_table_name = no leaves out the table name."""
    r = restrictions(show_user_unknown_table_name="no")
    assert reply(rcpt(r, recipient="nobody@example.com")) == \
        "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"


@pytest.mark.parametrize("user", ["postmaster", "MAILER-DAEMON", "double-bounce"])
def test_special_local_users_are_always_accepted(user):
    """postmaster, MAILER-DAEMON and double-bounce need no table entry."""
    assert rcpt(restrictions(), recipient=f"{user}@example.com").verdict == "accept"


def test_empty_local_recipient_maps_accepts_everyone():
    """local_recipient_maps = (empty) turns local validation off."""
    assert rcpt(restrictions(local_recipient_maps=""), recipient="x@example.com").verdict == "accept"


def test_smtpd_reject_unlisted_recipient_no_turns_the_implicit_check_off():
    """Without the implicit check, only an explicit reject_unlisted_recipient validates."""
    r = restrictions(smtpd_reject_unlisted_recipient="no")
    assert rcpt(r, recipient="nobody@example.com").verdict == "accept"
    r = restrictions(smtpd_reject_unlisted_recipient="no",
                     smtpd_recipient_restrictions="reject_unlisted_recipient")
    assert rcpt(r, recipient="nobody@example.com").verdict == "reject"


def test_recipient_extension_is_found_without_it():
    """user+ext@domain is found as user@domain / user (recipient_delimiter)."""
    r = restrictions(recipient_delimiter="+")
    assert rcpt(r, recipient="ann+news@example.com").verdict == "accept"


def test_reject_unlisted_sender():
    """reject_unlisted_sender validates the sender with Sender address wording."""
    r = restrictions(smtpd_reject_unlisted_sender="yes")
    assert reply(rcpt(r, sender="nobody@example.com")) == \
        "550 5.1.0 <nobody@example.com>: Sender address rejected: User unknown in local recipient table"
    assert rcpt(r, sender="ann@example.com").verdict == "accept"


def test_table_failure_defers_never_rejects():
    """A validation table that cannot answer gives 451 4.3.0 Temporary lookup failure."""
    def broken(key: str):
        raise TableError("db down")
    validator = RecipientValidator.from_config(
        None, mydestination="example.com", local_recipient_maps="test:x",
        opener=lambda spec: CallableTable(broken))
    check = validator.check("ann@example.com")
    assert str(check.reply) == "451 4.3.0 <ann@example.com>: Temporary lookup failure"
    assert "db down" in check.detail


def test_table_failure_through_restrictions_is_a_defer():
    """The 451 reaches the SMTP decision as a deferral."""
    r = restrictions(local_recipient_maps="hash:/nonexistent/users")
    d = rcpt(r)
    assert d.verdict == "defer"
    assert reply(d) == "451 4.3.0 <ann@example.com>: Temporary lookup failure"
