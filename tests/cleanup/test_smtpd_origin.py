"""Mail from smtpd: Received: layout, local_header_rewrite_clients, log lines.

POSTFIX_* expectations come from a private Postfix 3.7.11 instance
(myhostname = mx.example.test, TZ=UTC, header_checks ``/^Subject: via smtp/
HOLD``) fed over SMTP from 127.0.0.1 with Python's smtplib
(``ehlo("helo.example")``, MAIL FROM carol@other.example), read back with
``postcat -bh -q`` and from the maillog.
"""

from __future__ import annotations

import pytest

from mailflow.model import ClientInfo
from tests.cleanup.conftest import submit

LOCALHOST = ClientInfo("localhost", "127.0.0.1", "helo.example")

POSTFIX_ONE_RCPT = (
    "Received: from helo.example (localhost [127.0.0.1])\n"
    "\tby mx.example.test (Postfix) with ESMTP id A7F4E20D55D\n"
    "\tfor <bob@remote.example>; Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "Subject: via smtp\n"
    "To: bob@mx.example.test\n"
    "Message-Id: <20261129132401.A7F4E20D55D@mx.example.test>\n"
    "Date: Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "From: carol@other.example\n"
    "\n"
    "hello\n")

POSTFIX_TWO_RCPTS = (
    "Received: from helo.example (localhost [127.0.0.1])\n"
    "\tby mx.example.test (Postfix) with ESMTP id A966F20D559;\n"
    "\tSun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "Subject: via smtp two\n"
    "Message-Id: <20261129132401.A966F20D559@mx.example.test>\n"
    "Date: Sun, 29 Nov 2026 13:24:01 +0000 (UTC)\n"
    "From: carol@other.example\n"
    "\n"
    "hello\n")

POSTFIX_HOLD_LOG = ("A966F20D559: hold: header Subject: via smtp two from localhost[127.0.0.1]; "
                    "from=<carol@other.example> to=<dan@remote.example> proto=ESMTP helo=<helo.example>")


@pytest.mark.parametrize("data, rcpts, qid, expected", [
    (b"Subject: via smtp\nTo: bob\n\nhello\n", ("bob@remote.example",), "A7F4E20D55D", POSTFIX_ONE_RCPT),
    (b"Subject: via smtp two\n\nhello\n", ("bob@remote.example", "dan@remote.example"), "A966F20D559",
     POSTFIX_TWO_RCPTS),
], ids=["one-recipient", "two-recipients"])
def test_local_smtp_client_as_postfix(pipeline, utc, data, rcpts, qid, expected):
    """A client on 127.0.0.1 is local (permit_inet_interfaces): headers are added and rewritten."""
    r = submit(pipeline(), data, sender="carol@other.example", rcpts=rcpts, origin="smtpd",
               client=LOCALHOST, queue_id=qid)
    assert r.message.data.decode() == expected.replace("(Postfix)", "(mailflow)")


def test_hold_log_line_as_postfix(pipeline, rules_file):
    """The action log names the client, the last recipient, protocol and HELO."""
    p = pipeline(header_checks=rules_file("/^Subject: via smtp/ HOLD\n"))
    r = submit(p, b"Subject: via smtp two\n\nhello\n", sender="carol@other.example",
               rcpts=("bob@remote.example", "dan@remote.example"), origin="smtpd",
               client=LOCALHOST, queue_id="A966F20D559")
    assert r.log[0] == POSTFIX_HOLD_LOG


@pytest.mark.parametrize("clients, address, local", [
    ("permit_inet_interfaces", "127.0.0.1", True),
    ("permit_inet_interfaces", "192.0.2.7", False),
    ("permit_mynetworks", "192.0.2.7", True),
    ("static:all", "198.51.100.1", True),
], ids=["loopback", "remote", "mynetworks", "static-all"])
def test_local_header_rewrite_clients(pipeline, clients, address, local):
    """local_header_rewrite_clients decides whether smtpd mail gets missing headers."""
    p = pipeline(local_header_rewrite_clients=clients, mynetworks="192.0.2.0/24")
    r = submit(p, b"Subject: x\n\nhi\n", origin="smtpd", client=ClientInfo("c.example", address, "c"))
    assert ("Message-Id" in [n for n, _ in r.message.headers()]) is local
