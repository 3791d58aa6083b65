"""explain compared with real Postfix 3.7.11 address verification.

How the expectations were obtained: a private Postfix 3.7.11 instance ran with
the main.cf settings in MAIN_CF below (myhostname = mx.example.test, mydomain =
example.test, inet_interfaces = 127.0.0.1); for each address we ran
``sendmail -bv -f report@discard.test ADDRESS`` and read the verification
results from its mail log, one ``to=<FINAL>, orig_to=<GIVEN>, relay=...,
dsn=..., status=deliverable|undeliverable (TEXT)`` line per final recipient
("delivers to file: PATH" / "delivers to command: CMD" name file and command
targets). Recorded here per given address as (final, transport, nexthop or
error text); ``unknown user`` results were recorded as plain local mailbox
deliveries (that instance had no such system users), and the virtual alias loop
(``unreasonable virtual_alias_maps map nesting ... try again later``, the
message deferred by cleanup) as a ``retry`` entry.
"""

from __future__ import annotations

import pytest

from mailflow.config import Config
from mailflow.address.explain import explain

MAIN_CF = """\
myhostname = mx.example.test
mydomain = example.test
inet_interfaces = 127.0.0.1
mydestination = $myhostname, localhost, example.test
alias_maps = inline:{ {postmaster=root}, {root=admin, /var/mail/archive.mbox}, {help=|/usr/bin/true --new}, {loop=loop2}, {loop2=loop}, {self=self, other}, {ext=ann+tag}, {help2="|/usr/bin/true --new"} }
virtual_alias_domains = virt.test
virtual_alias_maps = inline:{ {sales@virt.test=ann@virt.test, bob@example.org}, ann@virt.test=ann@example.test, @catch.test=catch@example.test, x@catch.test=xx@example.test, a@virt.test=b@virt.test, b@virt.test=a@virt.test }
transport_maps = inline:{ {example.org=error:5.7.1 relay test}, discard.test=discard: }
recipient_canonical_maps = inline:{ old@example.test=new@example.test }
recipient_delimiter = +
"""

LOCAL = ("local", "mx.example.test")

# given -> sorted [(final, transport, nexthop)] as Postfix reported them
POSTFIX = {
    "postmaster": [("/var/mail/archive.mbox",) + LOCAL, ("admin@mx.example.test",) + LOCAL],
    "sales@virt.test": [("ann@example.test",) + LOCAL,
                        ("bob@example.org", "error", "5.7.1 relay test")],
    "nobody@virt.test": [("nobody@virt.test", "error", "5.1.1 User unknown in virtual alias table")],
    "help": [("--new@mx.example.test", "error", "5.1.3 bad address syntax"),
             ("|/usr/bin/true",) + LOCAL],
    "help2": [("|/usr/bin/true --new",) + LOCAL],
    "old@example.test": [("new@example.test",) + LOCAL],
    "loop": [("loop2@mx.example.test", "error", "5.4.6 alias database loop for loop2")],
    "self": [("other@mx.example.test",) + LOCAL, ("self@mx.example.test",) + LOCAL],
    "u@catch.test": [("catch@example.test",) + LOCAL],
    "x@catch.test": [("xx@example.test",) + LOCAL],
    "ext": [("ann+tag@mx.example.test",) + LOCAL],
    "ann+foo@example.test": [("ann+foo@example.test",) + LOCAL],
    "a@virt.test": [("a@virt.test", "retry", "4.6.0 Alias expansion error")],
}


@pytest.fixture(scope="module")
def cfg() -> Config:
    return Config.from_string(MAIN_CF)


@pytest.mark.parametrize("given", list(POSTFIX))
def test_explain_matches_postfix_verification(cfg, given):
    """Each final recipient, transport and nexthop matches what Postfix's sendmail -bv found."""
    got = sorted((e.final, e.transport, e.nexthop) for e in explain(given, cfg))
    assert got == sorted(POSTFIX[given])
