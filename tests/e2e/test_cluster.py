"""Several nodes behind one MX: two mailflow daemons (127.0.0.1 and 127.0.0.2,
same port, own config and spool) read their domains, mailboxes, aliases and
relay recipients from one PostgreSQL; a third node relays to them through
two equal-preference MX records served by dnsmasq."""

from __future__ import annotations

import smtplib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "delivery"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tables"))
import pg_server  # noqa: E402
from smtp_peers import dnsmasq  # noqa: E402

from e2e_helpers import Mta, free_port, maildir_messages, shut_down, wait_until, write_config  # noqa: E402

SCHEMA = """
DROP TABLE IF EXISTS c_domain, c_mailbox, c_alias, c_relay;
CREATE TABLE c_domain (domain text PRIMARY KEY);
CREATE TABLE c_mailbox (local text, domain text, maildir text);
CREATE TABLE c_alias (address text, goto text);
CREATE TABLE c_relay (address text);
INSERT INTO c_domain VALUES ('cluster.test');
INSERT INTO c_mailbox VALUES ('joe', 'cluster.test', 'joe/Maildir/');
"""

# What the nodes share; retry_interval = 1 so that a restarted database is
# used again a second later.
TABLES = {
    "domains": "SELECT 'yes' FROM c_domain WHERE domain='%s'",
    "mailboxes": "SELECT maildir FROM c_mailbox WHERE local='%u' AND domain='%d'",
    "aliases": "SELECT goto FROM c_alias WHERE address='%s'",
    "relay": "SELECT 'ok' FROM c_relay WHERE address='%s'",
}

NODE_MAIN = """\
virtual_mailbox_domains = pgsql:{tmp}/etc/domains.cf
virtual_mailbox_maps = pgsql:{tmp}/etc/mailboxes.cf
virtual_alias_maps = pgsql:{tmp}/etc/aliases.cf
relay_domains = relay.test
relay_recipient_maps = pgsql:{tmp}/etc/relay.cf
"""

SMTP_SERVICE = "smtp      unix  -       -       n       -       -       smtp\n"


@pytest.fixture(scope="module")
def pg():
    server = pg_server.server()
    server.load(SCHEMA)
    return server


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, pg):
    """Two started nodes sharing the database, for the whole module (tests
    leave them running); returns (node1, node2, port)."""
    tmp = tmp_path_factory.mktemp("cluster")
    port = free_port()
    nodes: list[Mta] = []
    try:
        for n, address in ((1, "127.0.0.1"), (2, "127.0.0.2")):
            node = write_config(tmp / f"node{n}", main_extra=NODE_MAIN + f"inet_interfaces = {address}\n",
                                master_extra=f"{address}:{port} inet n - n - - smtpd\n")
            nodes.append(node)
            for name, query in TABLES.items():
                pg.cf(node.etc / f"{name}.cf", query, retry_interval="1")
            node.start()
        yield nodes[0], nodes[1], port
    finally:
        for node in nodes:
            shut_down(node)


def rcpt(address: str, port: int, recipient: str) -> tuple[int, str]:
    """The reply to RCPT TO from the smtpd at address:port."""
    with smtplib.SMTP(address, port, timeout=30) as client:
        client.ehlo("client.test")
        client.mail("sender@client.test")
        code, text = client.rcpt(recipient)
        client.rset()
    return code, text.decode()


def delivered(*nodes: Mta) -> list[int]:
    """How many messages joe's mailbox holds on each node."""
    return [len(maildir_messages(node.maildir("joe"))) for node in nodes]


def both_reply(port: int, recipient: str) -> list[tuple[int, str]]:
    return [rcpt(a, port, recipient) for a in ("127.0.0.1", "127.0.0.2")]


def test_a_row_changes_routing_on_both_nodes_at_once(cluster, pg):
    """Mailboxes, aliases and relay recipients added in PostgreSQL are known to
    both nodes at the next lookup: no postmap, no reload."""
    node1, node2, port = cluster
    cases = [
        ("ann@cluster.test", "INSERT INTO c_mailbox VALUES ('ann', 'cluster.test', 'ann/Maildir/')",
         "User unknown in virtual mailbox table"),
        ("sales@cluster.test", "INSERT INTO c_alias VALUES ('sales@cluster.test', 'joe@cluster.test')",
         "User unknown in virtual mailbox table"),
        ("bob@relay.test", "INSERT INTO c_relay VALUES ('bob@relay.test')",
         "User unknown in relay recipient table"),
    ]
    for recipient, insert, unknown in cases:
        before = both_reply(port, recipient)
        assert [code for code, _ in before] == [550, 550], before
        assert all(unknown in text for _, text in before), before
        pg.load(insert)
        assert [code for code, _ in both_reply(port, recipient)] == [250, 250]
    # Mail to the new alias reaches joe's mailbox on the node that took it.
    before = delivered(node1, node2)
    with smtplib.SMTP("127.0.0.2", port, timeout=30) as client:
        client.sendmail("sender@client.test", ["sales@cluster.test"], b"Subject: via alias\r\n\r\nhi\r\n")
    wait_until(lambda: delivered(node1, node2) == [before[0], before[1] + 1], "the message on node 2")
    assert any(b"Subject: via alias" in p.read_bytes() for p in maildir_messages(node2.maildir("joe")))


@pytest.fixture(scope="module")
def sender(tmp_path_factory, cluster):
    """A third node that sends cluster.test mail to the two equal-preference
    MX hosts dnsmasq serves (mx1 = 127.0.0.1, mx2 = 127.0.0.2). It takes
    mail itself on 127.0.0.3 (``sender.port``)."""
    _node1, _node2, port = cluster
    with dnsmasq(["--mx-host=cluster.test,mx1.cluster.test,10",
                  "--mx-host=cluster.test,mx2.cluster.test,10",
                  "--host-record=mx1.cluster.test,127.0.0.1",
                  "--host-record=mx2.cluster.test,127.0.0.2"]) as dns_port:
        # No connection reuse: each message picks its MX host afresh. The
        # sender's own address is 127.0.0.3, or MX 127.0.0.1 would be "myself".
        own_port = free_port()
        mta = write_config(tmp_path_factory.mktemp("sender"),
                           master_extra=SMTP_SERVICE + f"127.0.0.3:{own_port} inet n - n - - smtpd\n",
                           main_extra=(f"dns_nameservers = 127.0.0.1:{dns_port}\n"
                                       "inet_protocols = ipv4\ninet_interfaces = 127.0.0.3\n"
                                       "mynetworks = 127.0.0.0/8\n"
                                       "smtp_connection_cache_on_demand = no\n"),
                           transport=f"cluster.test smtp:cluster.test:{port}\n")
        mta.port = own_port  # type: ignore[attr-defined]
        try:
            mta.start()
            yield mta
        finally:
            shut_down(mta)


def submit(sender: Mta, subjects: list[str]) -> None:
    """Hand the sender node one message to joe@cluster.test per subject, in one session."""
    with smtplib.SMTP("127.0.0.3", sender.port, timeout=30) as client:  # type: ignore[attr-defined]
        for subject in subjects:
            client.sendmail("a@example.com", ["joe@cluster.test"],
                            f"Subject: {subject}\r\n\r\nhi\r\n".encode())


def test_mail_spreads_over_both_mx_and_fails_over(cluster, sender):
    """Mail from a third node lands on both MX hosts; with one node stopped it
    all goes to the other, none lost or bounced."""
    node1, node2, _port = cluster
    start1, start2 = delivered(node1, node2)
    sent_before = sender.log_text().count("status=sent")
    count = 16
    submit(sender, [f"spread {i}" for i in range(count)])
    wait_until(lambda: sum(delivered(node1, node2)) >= start1 + start2 + count, "all messages delivered")
    on1, on2 = delivered(node1, node2)
    assert on1 + on2 == start1 + start2 + count and on1 > start1 and on2 > start2, (on1, on2)
    wait_until(sender.queue_is_empty, "the sender's queue empty")

    node2.stop()
    try:
        submit(sender, [f"failover {i}" for i in range(6)])
        wait_until(lambda: delivered(node1)[0] >= on1 + 6, "the failover messages on node 1")
        wait_until(sender.queue_is_empty, "the sender's queue empty")
        assert delivered(node1, node2) == [on1 + 6, on2]
    finally:
        node2.start()
    for node in (sender, node1, node2):
        assert "status=bounced" not in node.log_text()
    assert sender.log_text().count("status=sent") == sent_before + count + 6


def test_database_down_defers_then_delivers(cluster, sender, pg):
    """With PostgreSQL stopped, mail waits: the nodes answer 451 4.3.0 and log
    the table; the sender defers, nothing bounces. Once the database is back,
    postqueue -f delivers it, aliases expanded; local submissions wait in
    maildrop and go through at pickup's next scan."""
    node1, node2, port = cluster
    pg.load("INSERT INTO c_alias VALUES ('info@cluster.test', 'joe@cluster.test')")
    before = sum(delivered(node1, node2))
    pg.stop()
    try:
        pg_server.wait_down(pg)
        deferred_before = sender.log_text().count("status=deferred")
        sender.sendmail("a@example.com", "info@cluster.test", data=b"Subject: during\n\ndown\n")
        node1.sendmail("a@example.com", "info@cluster.test", data=b"Subject: local\n\ndown\n")
        line = wait_until(lambda: [ln for ln in sender.log_text().splitlines()
                                   if "status=deferred" in ln][deferred_before:], "a deferred line")[0]
        assert "dsn=4.3.0" in line and "Temporary lookup failure" in line, line
        code, text = rcpt("127.0.0.1", port, "joe@cluster.test")
        assert code == 451 and "4.3.0" in text and "Temporary lookup failure" in text
        wait_until(lambda: "cleanup failed: 4.3.0" in node1.log_text(), "pickup's will-try-again")
        assert node1.queue_ids("maildrop") and not node1.queue_ids("incoming", "active", "deferred")
        assert "info@cluster.test" in line
        logged = node1.log_text() + node2.log_text()
        assert f"table pgsql:{node1.etc}/" in logged or f"table pgsql:{node2.etc}/" in logged
    finally:
        pg.start()
    sender.cli("postqueue", "-f", check=True)

    def pickup_took_it() -> bool:
        # The table leaves the server alone for retry_interval (1s) after a
        # failure, as Postfix does: wake pickup until it gets through.
        node1.cli("postkick", "public", "pickup", "W", check=True)
        return not node1.queue_ids("maildrop")
    wait_until(pickup_took_it, "pickup to take the local message")
    wait_until(lambda: sum(delivered(node1, node2)) >= before + 2, "both messages in joe's mailboxes")
    for node in (sender, node1, node2):
        wait_until(node.queue_is_empty, "an empty queue")
        assert "status=bounced" not in node.log_text()


def test_a_dead_nodes_queue_is_drained_through_the_other(cluster, tmp_path):
    """The documented drain: a configuration on the dead node's spool with
    smtpd left out and mailbox delivery pointed at a live node; started, it
    hands every queued message to that node."""
    node1, node2, port = cluster
    node2.stop()
    try:
        before = delivered(node1)[0]
        # Mail that was still in node 2's queue when it went down.
        for i in range(3):
            node2.sendmail("a@example.com", "joe@cluster.test", data=f"Subject: left {i}\n\nhi\n")
        assert len(node2.queue_ids("maildrop")) == 3
        drain = Mta(tmp_path / "drain")
        drain.etc.mkdir(parents=True)
        drain.spool, drain.maillog = node2.spool, node2.maillog
        (drain.etc / "main.cf").write_text(
            (node2.etc / "main.cf").read_text()
            + f"virtual_transport = smtp:[127.0.0.1]:{port}\n")
        master = [line for line in (node2.etc / "master.cf").read_text().splitlines(keepends=True)
                  if " smtpd" not in line]
        (drain.etc / "master.cf").write_text("".join(master) + SMTP_SERVICE)
        try:
            drain.start()
            wait_until(lambda: delivered(node1)[0] >= before + 3, "the drained mail on node 1")
            wait_until(drain.queue_is_empty, "node 2's queue empty")
        finally:
            shut_down(drain)
        assert "status=bounced" not in node2.log_text() + node1.log_text()
        assert node2.log_text().count(f"relay=127.0.0.1[127.0.0.1]:{port}") == 3
    finally:
        node2.start()
