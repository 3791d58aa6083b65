"""Build a mail pipeline in Python, without the daemon.

The pieces are Postfix's: cleanup writes accepted mail into a spool, the
queue manager routes each recipient (trivial-rewrite) and hands it to a
delivery agent. Here the spool is a directory, ``virtual`` delivers to
Maildirs, and mail for one partner domain goes to our own agent through
``transport_maps``. The log lines are Postfix's.

Run it:  python examples/pipeline_in_python.py   (from a source checkout:
         PYTHONPATH=. python examples/pipeline_in_python.py)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from mailflow import (CleanupService, Config, DsnStatus, Envelope, FileQueueStore, Message,
                      Outcome, QueueManager, Recipient, configure_logging, explain)


class Archive:
    """A delivery agent: keeps each message and says 2.0.0 for each recipient."""

    def __init__(self) -> None:
        self.kept: list[tuple[str, bytes]] = []

    async def deliver(self, request):
        self.kept.append((request.queue_id, request.message.data))
        return [Outcome(r, DsnStatus("2.0.0", "archived"), relay="archive")
                for r in request.recipients]


async def main(workdir: Path) -> None:
    cfg = Config(myhostname="mx.example.com", mydestination="",
                 virtual_mailbox_domains="example.com",
                 virtual_mailbox_base=str(workdir / "mail"),
                 virtual_mailbox_maps="inline:{ ann@example.com=ann/ }",
                 transport_maps="inline:{ partner.example=archive: }")
    configure_logging(cfg, foreground=True, stream=sys.stdout)   # Postfix-format lines

    # Where will mail go? (No mail is sent to find out.)
    for entry in explain(["ann@example.com", "orders@partner.example"], cfg):
        print(f"explain: {entry.recipient} -> {entry.transport}:{entry.nexthop}")

    store = FileQueueStore(workdir / "spool")
    cleanup = CleanupService(cfg, store, wake=False)
    reply = cleanup.submit(
        Envelope("bob@example.org", (Recipient("ann@example.com"),
                                     Recipient("orders@partner.example"))),
        Message(b"Subject: order 42\n\nTwo boxes, please.\n"))
    print(f"cleanup: {reply.status}")

    archive = Archive()
    qmgr = QueueManager(cfg, store, agents={"archive": archive})
    await qmgr.run_until_idle()          # deliver what is queued, then return
    await qmgr.stop()

    maildir = sorted((workdir / "mail" / "ann" / "new").iterdir())
    print(f"maildir: {len(maildir)} message(s) for ann")
    print(f"archive: {len(archive.kept)} message(s) kept")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(Path(tmp)))
