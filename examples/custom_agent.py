"""Write and register your own delivery agent.

A delivery agent is any object with ``async def deliver(request)`` that
returns one Outcome per recipient: 2.x.x delivered, 4.x.x deferred (the
queue manager tries again later), 5.x.x bounced. Register a factory under a
name; master.cf then names it in the command column, or Python code creates
it directly.

Run it:  python examples/custom_agent.py   (from a source checkout:
         PYTHONPATH=. python examples/custom_agent.py)
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile

from mailflow.config import Config
from mailflow.config.master_cf import parse_master_cf
from mailflow.delivery import create_agent, register_agent
from mailflow.model import DeliveryRequest, DsnStatus, Envelope, Message, Outcome, Recipient


class JsonArchiveAgent:
    """Appends each message as one JSON line to a file per recipient domain."""

    def __init__(self, cfg, service):
        # Built once per master.cf service; "-o" overrides are already in cfg
        # and the words after the command are in service.args.
        options = dict(arg.split("=", 1) for arg in (service.args if service else ()))
        self.directory = options.get("directory", tempfile.gettempdir())
        self.relay = service.name if service else "archive"

    async def deliver(self, request: DeliveryRequest) -> list[Outcome]:
        # File I/O off the event loop, like the built-in agents.
        return await asyncio.to_thread(self._deliver, request)

    def _deliver(self, request: DeliveryRequest) -> list[Outcome]:
        outcomes = []
        for rcpt in request.recipients:
            if "@" not in rcpt.address:
                status = DsnStatus("5.1.3", "bad recipient address syntax")
            else:
                domain = rcpt.address.rsplit("@", 1)[1].lower()
                line = json.dumps({"queue_id": request.queue_id, "from": request.envelope.sender,
                                   "to": rcpt.address,
                                   "subject": (request.message.header_values("subject") or [""])[0]})
                try:
                    with open(os.path.join(self.directory, domain + ".jsonl"), "a") as f:
                        f.write(line + "\n")
                    status = DsnStatus("2.0.0", f"archived for {domain}")
                except OSError as exc:
                    # Temporary: the queue manager will retry later.
                    status = DsnStatus("4.3.0", f"cannot write archive: {exc.strerror}")
            outcomes.append(Outcome(rcpt, status, relay=self.relay))
        return outcomes


def main() -> None:
    register_agent("jsonarchive", JsonArchiveAgent)
    directory = tempfile.mkdtemp()

    # The master.cf way: the command column names the registered agent.
    master = parse_master_cf(f"archive unix - n n - - jsonarchive directory={directory}\n")
    agent = create_agent("archive", Config(), master.transport("archive"))

    rcpts = (Recipient("alice@example.com"), Recipient("not-an-address"))
    request = DeliveryRequest("4F1A2B3C", "archive", "example.com",
                              Envelope("bob@example.org", rcpts), rcpts,
                              Message(b"Subject: quarterly report\n\nNumbers inside.\n"))
    for outcome in asyncio.run(agent.deliver(request)):
        print(f"to=<{outcome.recipient.address}>, relay={outcome.relay}, "
              f"dsn={outcome.status.code}, ({outcome.status.text})")
    with open(os.path.join(directory, "example.com.jsonl")) as f:
        print(f.read().strip())


if __name__ == "__main__":
    main()
