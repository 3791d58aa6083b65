"""The maillog_file of a daemon run has Postfix-format lines that log tools parse."""

from __future__ import annotations

import re
from e2e_helpers import wait_until

# Postfix's maillog_file layout: "Mmm dd hh:mm:ss host syslog_name/service[pid]: text".
PREFIX = r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d mail mailflow/(?P<service>[\w-]+)\[\d+\]: "


def delivered_run(mta) -> dict[str, str]:
    """Deliver one message; return the log text of each service for its queue ID."""
    mta.sendmail("a@example.com", "b@example.com", data="Subject: log\n\nx\n")
    wait_until(lambda: "removed" in mta.log_text(), "the removed line")
    qid = re.search(r": (\w+): from=<a@example\.com>, size=", mta.log_text()).group(1)
    lines = {}
    for line in mta.log_text().splitlines():
        m = re.match(PREFIX + re.escape(qid) + ": (?P<text>.*)$", line)
        if m:
            lines.setdefault(m["service"], []).append(m["text"])
    return {"qid": qid, **{k: "\n".join(v) for k, v in lines.items()}}


def test_log_has_the_lines_of_a_delivery(mta):
    """qmgr logs from= and removed, the agent logs to=, relay=, delays=, dsn= and status=sent."""
    got = delivered_run(mta)
    assert re.fullmatch(r"from=<a@example\.com>, size=\d+, nrcpt=1 \(queue active\)", got["qmgr"]
                        .splitlines()[0])
    assert got["qmgr"].splitlines()[-1] == "removed"
    assert re.fullmatch(r"to=<b@example\.com>, relay=virtual, delay=[\d.]+, "
                        r"delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                        r"status=sent \(delivered to maildir\)", got["virtual"])
    assert re.fullmatch(r"uid=\d+ from=<a@example\.com>", got["pickup"])
    assert got["cleanup"].startswith("message-id=<")

