"""A recipient whose local part needs quotes is found under its quoted key,
as Postfix 3.5+ looks it up (and postmap stores it)."""

from __future__ import annotations

import asyncio

import attrs

from mailflow.config import Config
from mailflow.smtpd.facts import SessionFacts
from mailflow.smtpd.restrictions import SmtpdRestrictions


def check(recipient: str):
    cfg = Config(myhostname="mx.example.test", mydestination="", alias_maps="",
                 virtual_mailbox_domains="example.com",
                 virtual_mailbox_maps='inline:{ {"john..doe"@example.com=johndoe/} }')
    facts = SessionFacts("192.0.2.1", helo="client.example", protocol="ESMTP",
                         sender="a@client.example", stage="RCPT")
    return asyncio.run(SmtpdRestrictions.from_config(cfg).check_rcpt(
        attrs.evolve(facts, recipient=recipient)))


def test_rcpt_to_a_quoted_key_is_accepted():
    assert check("john..doe@example.com").accepted


def test_an_unknown_neighbour_is_still_refused():
    decision = check("jane..doe@example.com")
    assert str(decision.reply) == ("550 5.1.1 <jane..doe@example.com>: Recipient address rejected: "
                                   "User unknown in virtual mailbox table")
