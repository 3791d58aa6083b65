"""Shared helpers for the smtpd restriction tests: build, check, read replies."""

from __future__ import annotations

import asyncio
from typing import Any

from mailflow.config import Config
from mailflow.smtpd.facts import SessionFacts
from mailflow.smtpd.restrictions import Decision, SmtpdRestrictions

# A small site: local domain example.com with users ann and bob, a relay
# domain relay.example, a virtual mailbox domain vmail.example.
BASE = dict(myhostname="mx.example.com", mydomain="example.com",
            mydestination="example.com, $myhostname", inet_interfaces="127.0.0.1",
            local_recipient_maps="inline:{ann=1, bob=1}",
            relay_domains="relay.example", mynetworks="127.0.0.0/8, 10.0.0.0/8")


def restrictions(dns: Any = None, policy_client: Any = None, custom: Any = None,
                 **params: Any) -> SmtpdRestrictions:
    return SmtpdRestrictions.from_config(Config(**{**BASE, **params}), dns=dns,
                                         policy_client=policy_client, custom=custom)


def facts(**kw: Any) -> SessionFacts:
    kw.setdefault("client_address", "203.0.113.9")
    kw.setdefault("helo", "client.example.net")
    kw.setdefault("protocol", "ESMTP")
    kw.setdefault("sender", "someone@example.net")
    kw.setdefault("recipient", "ann@example.com")
    kw.setdefault("stage", "RCPT")
    return SessionFacts(**kw)


def rcpt(r: SmtpdRestrictions, **kw: Any) -> Decision:
    return asyncio.run(r.check_rcpt(facts(**kw)))


def reply(decision: Decision) -> str | None:
    return None if decision.reply is None else str(decision.reply)
