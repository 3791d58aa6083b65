"""A queue manager on a real file spool in tmp_path, for the failure tests.

Routing: every domain goes to the ``rec`` transport, a recording agent whose
answer per address the test chooses; notices are captured, or (``notices=
"cleanup"``) queued through cleanup like the daemon does. Time is a fake
clock the test moves.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.services.qmgr import QueueManager

T0 = 1_700_000_000.0
CONTENT = b"From: a@sender.example\nSubject: test\n\nhello\n"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingAgent:
    """Answers each recipient with ``answer(address)`` (a status, or an
    exception to raise) and records every recipient it was given."""

    def __init__(self, answer: Callable[[str], object] = lambda a: DsnStatus("2.0.0", "delivered")):
        self.answer = answer
        self.delivered_to: list[str] = []

    async def deliver(self, request):
        out = []
        for r in request.recipients:
            answer = self.answer(r.address)
            if isinstance(answer, BaseException):
                raise answer
            self.delivered_to.append(r.address)
            out.append(Outcome(r, answer, relay="rec"))
        return out


class Harness:
    def __init__(self, tmp_path: Path, store_class=FileQueueStore, **params: str) -> None:
        self.tmp = tmp_path
        base = dict(queue_directory=str(tmp_path / "spool"), myhostname="mx.example.com",
                    myorigin="example.com", mydestination="", relayhost="",
                    default_transport="rec")
        base.update(params)
        self.cfg = Config(**base)
        self.store = store_class(tmp_path / "spool")
        self.clock = FakeClock()
        self.rec = RecordingAgent()
        self.notices: list[tuple[Envelope, Message]] = []

    def notify(self, env: Envelope, msg: Message) -> str:
        self.notices.append((env, msg))
        return "NOTICE%d" % len(self.notices)

    def qmgr(self, **kw) -> QueueManager:
        kw.setdefault("agents", {"rec": self.rec})
        kw.setdefault("notify", self.notify)
        return QueueManager(self.cfg, self.store, clock=self.clock, **kw)

    def enqueue(self, *rcpts: str, sender: str = "a@sender.example",
                queue: QueueName = QueueName.INCOMING) -> str:
        env = Envelope(sender, tuple(Recipient(r) for r in rcpts), arrival_time=self.clock.now)
        return self.store.enqueue(queue, env, Message(CONTENT))

    def ids(self, queue: QueueName) -> list[str]:
        return list(self.store.ids(queue))

    def drive(self, *steps, **qm_kw) -> None:
        """Run a queue manager until idle; each step (``step(qm)``) runs
        between idle points."""
        async def main():
            qm = self.qmgr(**qm_kw)
            await qm.run_until_idle()
            for step in steps:
                step(qm)
                await qm.run_until_idle()
            await qm.stop()
        asyncio.run(main())

    def retry_later(self, qm) -> None:
        """A step: an hour later, run every deferred message again."""
        self.clock.now += 3600
        qm.wake(b"A")
