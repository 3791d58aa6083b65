"""A small, complete mail system in one directory, for the fault matrix.

One message from ``s@md.example`` goes to a recipient of each local kind of
delivery: ``alice@mbox.example`` (local, mbox in mail_spool_directory),
``bob@md.example`` (local, ~/Maildir/, NOTIFY=SUCCESS so a success notice
is sent through the trace log), ``u@virt.example`` (virtual, Maildir),
``p@pipe.example`` (pipe, ``tee -a`` into a file, no shell),
``x@bad.example`` (error transport: bounced, through the bounce log), and
``later@later.example`` (deferred while ``World.defer_later`` is set,
through the defer log). Notices go through cleanup into incoming/ and are
delivered to ``s``'s Maildir like any mail.

:meth:`World.copies` counts what reached each mailbox, so a test can say
"at least once, at most twice" for every recipient and notice.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
from pathlib import Path

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.delivery import ServiceEntry, create_agent
from mailflow.delivery.local import LocalAgent
from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Notify, Outcome, Recipient
from mailflow.services.pickup import Pickup
from mailflow.services.qmgr import QueueManager

T0 = 1_700_000_000.0
SENDER = "s@md.example"
MARK = b"Subject: fault matrix"
CONTENT = b"From: s@md.example\nTo: everyone\n" + MARK + b"\n\nhello\n"
RECIPIENTS = ("alice@mbox.example", "bob@md.example", "u@virt.example", "p@pipe.example",
              "x@bad.example", "later@later.example")
QUEUES = (QueueName.MAILDROP, QueueName.INCOMING, QueueName.ACTIVE, QueueName.DEFERRED,
          QueueName.HOLD, QueueName.CORRUPT)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class LaterAgent:
    """``rec`` transport: defers while the world says so, then delivers."""

    def __init__(self, world: "World") -> None:
        self.world = world
        self.delivered = 0

    async def deliver(self, request):
        out = []
        for r in request.recipients:
            if self.world.defer_later:
                out.append(Outcome(r, DsnStatus("4.4.1", "connect to later.example: Connection refused"),
                                   relay="rec"))
            else:
                self.delivered += 1
                out.append(Outcome(r, DsnStatus("2.0.0", "delivered"), relay="rec"))
        return out


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.spool = root / "spool"
        self.homes = {name: str(root / "home" / name) for name in ("alice", "bob", "s")}
        for home in self.homes.values():
            os.makedirs(home, exist_ok=True)
        (root / "mboxes").mkdir(exist_ok=True)
        (root / "vmail").mkdir(exist_ok=True)
        self.etc = root / "etc"
        self.etc.mkdir(exist_ok=True)
        params = dict(
            queue_directory=str(self.spool), myhostname="mx.example.com", myorigin="example.com",
            mydestination="", relayhost="", default_transport="rec",
            virtual_mailbox_domains="virt.example", virtual_mailbox_base=str(root / "vmail"),
            virtual_mailbox_maps="inline:{ u@virt.example=u/ }",
            transport_maps="inline:{ mbox.example=local: , md.example=localmd: , "
                           "virt.example=virtual: , pipe.example=pipe: , later.example=rec: , "
                           "{ bad.example = error:5.1.1 no such user } }",
        )
        (self.etc / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in params.items()))
        (self.etc / "master.cf").write_text("")
        self.cfg = Config(**params)
        self.store = FileQueueStore(self.spool)
        self.clock = Clock()
        self.defer_later = True
        self.later = LaterAgent(self)

    # --- mail in -------------------------------------------------------------
    def envelope(self) -> Envelope:
        rcpts = tuple(Recipient(r, notify=frozenset({Notify.SUCCESS}) if r.startswith("bob@") else frozenset())
                      for r in RECIPIENTS)
        return Envelope(SENDER, rcpts, arrival_time=self.clock.now)

    def enqueue(self, queue: QueueName) -> str:
        return self.store.enqueue(queue, self.envelope(), Message(CONTENT))

    # --- the services -----------------------------------------------------------
    def agents(self) -> dict:
        local = dict(users=self.homes, alias_maps={}, is_local_domain=lambda d: True)
        pipe = ServiceEntry("pipe", "pipe", ("flags=", "argv=/usr/bin/tee", "-a", str(self.root / "pipe.out")))
        return {
            "local": LocalAgent(self.cfg, None, mail_spool_directory=str(self.root / "mboxes"),
                                home_mailbox="", **local),
            "localmd": LocalAgent(self.cfg, None, home_mailbox="Maildir/", **local),
            "virtual": create_agent("virtual", self.cfg),
            "pipe": create_agent("pipe", self.cfg, pipe),
            "rec": self.later,
        }

    def pickup(self) -> int:
        return Pickup(self.cfg, self.store).drain()

    def run_qmgr(self, *wakes: bytes) -> None:
        """Run the queue manager until idle, then once more for each of
        ``wakes`` (each a wake-up request, e.g. b"A": all deferred mail)."""
        async def main():
            qm = QueueManager(self.cfg, self.store, agents=self.agents(), clock=self.clock)
            await qm.run_until_idle()
            for letters in wakes:
                qm.wake(letters)
                await qm.run_until_idle()
            await qm.stop()
        asyncio.run(main())

    def recover(self) -> None:
        """Everything after the fault has cleared: an hour later, pickup and
        the queue manager run until every message is delivered or returned."""
        self.defer_later = False
        for _ in range(2):
            self.clock.now += 3600
            self._age_locks(3600)
            self.pickup()
            self.run_qmgr(b"A", b"I")

    def _age_locks(self, seconds: float) -> None:
        # A dot-lock whose removal failed (a fault point) is stale once it is
        # older than stale_lock_time; "an hour later" holds for the file
        # system too, whose clock the fake clock does not move.
        for lock in self.root.rglob("*.lock"):
            st = lock.stat()
            os.utime(lock, (st.st_atime - seconds, st.st_mtime - seconds))

    # --- what came out ---------------------------------------------------------
    def ids(self, queue: QueueName) -> list[str]:
        return list(self.store.ids(queue))

    def queued(self) -> dict[str, list[str]]:
        return {q.value: self.ids(q) for q in QUEUES if self.ids(q)}

    def _maildir(self, path: str) -> list[bytes]:
        new = Path(path) / "new"
        cur = Path(path) / "cur"
        files = [p for d in (new, cur) if d.is_dir() for p in d.iterdir()]
        return [p.read_bytes() for p in files]

    def returned(self) -> set[str]:
        """The local parts of recipients named as failed in a non-delivery notice."""
        found = set()
        for m in self._maildir(self.homes["s"] + "/Maildir"):
            if b"Undelivered Mail Returned to Sender" in m:
                for r in RECIPIENTS:
                    if f"Final-Recipient: rfc822; {r}".encode() in m:
                        found.add(r.split("@")[0])
        return found

    def copies(self) -> dict[str, int]:
        """How many copies of the message (and of each notice) arrived."""
        box_path = self.root / "mboxes" / "alice"
        alice = 0
        if box_path.exists():
            box = mailbox.mbox(str(box_path))
            try:
                alice = sum(1 for m in box if MARK in m.as_bytes())
            finally:
                box.close()
        bob = sum(MARK in m for m in self._maildir(self.homes["bob"] + "/Maildir"))
        u = sum(MARK in m for m in self._maildir(str(self.root / "vmail" / "u")))
        pipe = self.root / "pipe.out"
        p = pipe.read_bytes().count(MARK) if pipe.exists() else 0
        notices = self._maildir(self.homes["s"] + "/Maildir")
        bounce = sum(b"Undelivered Mail Returned to Sender" in m for m in notices)
        success = sum(b"Successful Mail Delivery Report" in m for m in notices)
        return {"alice": alice, "bob": bob, "u": u, "p": p, "later": self.later.delivered,
                "bounce": bounce, "success": success}
