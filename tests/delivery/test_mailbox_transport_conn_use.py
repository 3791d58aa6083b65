"""``conn_use=N`` in the delivery log line when a message went over a cached
connection: the smtp agent against Postfix's smtp-sink, and local mail
handed to Dovecot by mailbox_transport through the running daemon."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from delivery_helpers import make_request
from dovecot_peer import dovecot
from smtp_peers import smtp_sink

from mailflow.config import Config
from mailflow.delivery.smtp import SmtpAgent
from mailflow.qmgr.status_log import delivery_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_helpers import shut_down, wait_until, write_config  # noqa: E402


def lines_for(agent, requests):
    async def run():
        out = []
        try:
            for req in requests:
                out += [delivery_line(req.queue_id, o, delay=0.01, delays=(0, 0, 0, 0.01))
                        for o in await agent.deliver(req)]
        finally:
            await agent.aclose()
        return out
    return asyncio.run(run())


def test_second_and_third_message_on_one_connection_say_conn_use(tmp_path):
    with smtp_sink(tmp_path) as port:
        agent = SmtpAgent(Config())
        reqs = [make_request(f"u{i}@remote.example", transport="smtp",
                             nexthop=f"[127.0.0.1]:{port}", queue_id=f"Q{i}") for i in range(3)]
        first, second, third = lines_for(agent, reqs)
    relay = f"relay=127.0.0.1[127.0.0.1]:{port}, "
    assert relay + "delay=" in first and "conn_use" not in first
    assert relay + "conn_use=2, delay=" in second and "status=sent (250 2.0.0 Ok)" in second
    assert relay + "conn_use=3, delay=" in third


def test_no_conn_use_when_the_cache_is_off_or_the_count_limit_reached(tmp_path):
    with smtp_sink(tmp_path) as port:
        reqs = [make_request(f"u{i}@remote.example", transport="smtp",
                             nexthop=f"[127.0.0.1]:{port}", queue_id=f"Q{i}") for i in range(3)]
        off = lines_for(SmtpAgent(Config(smtp_connection_cache_on_demand="no")), reqs)
        limited = lines_for(SmtpAgent(Config(smtp_connection_reuse_count_limit="2")), reqs)
    assert not any("conn_use" in line for line in off)
    # Two uses at most: the third message opens a new connection.
    assert ["conn_use=2" in line for line in limited] == [False, True, False]


def test_mailbox_transport_lmtp_reuse_shows_in_the_daemon_log(tmp_path):
    with dovecot(tmp_path / "dovecot", {"erin": "pw"}) as server:
        mta = write_config(tmp_path / "mta",
                           main_extra=f"mailbox_transport = lmtp:unix:{server.lmtp_socket}\n",
                           master_extra="lmtp      unix  -       -       n       -       -       lmtp\n")
        try:
            mta.start()
            for n in (1, 2):
                mta.sendmail("a@example.org", "erin@localhost", data=f"Subject: {n}\n\nx\n".encode())
                wait_until(lambda: mta.log_text().count("status=sent") >= n, f"sent line {n}")
            log = mta.log_text()
        finally:
            shut_down(mta)
    first, second = [ln for ln in log.splitlines() if "status=sent" in ln]
    assert "conn_use" not in first
    assert re.search(rf"/lmtp\[\d+\]: \w+: to=<erin@localhost>, "
                     rf"relay={re.escape(server.lmtp_socket)}, conn_use=2, delay=", second), second
