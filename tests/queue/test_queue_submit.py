"""The Python submission API: sync and async, bytes and EmailMessage, and the pickup wake-up."""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage

import pytest

from mailflow.adapters.queue_store import FileQueueStore
from mailflow.config import Config
from mailflow.interfaces import QueueName as Q
from mailflow.model import Notify, Ret
from mailflow.queue.memory import MemoryQueueStore
from mailflow.submit import submit, submit_async


def test_bytes_into_a_queue_directory(tmp_path):
    """submit() writes a durable maildrop file and returns its ID."""
    qid = submit(b"Subject: a\r\n\r\nb\r\n", "a@x.test", ["b@y.test"], queue_directory=tmp_path)
    msg = FileQueueStore(tmp_path).read(qid, Q.MAILDROP)
    assert msg.message.data == b"Subject: a\n\nb\n"
    assert msg.envelope.sender == "a@x.test"


def test_email_message_is_serialised(tmp_path):
    """An EmailMessage is stored with LF line ends and its headers intact."""
    m = EmailMessage()
    m["Subject"] = "Grüße"
    m["To"] = "b@y.test"
    m.set_content("hello\n")
    qid = submit(m, "", ["b@y.test"], queue_directory=tmp_path)
    data = FileQueueStore(tmp_path).read(qid).message.data
    assert b"\r\n" not in data and b"Subject: =?utf-8?" in data and data.endswith(b"hello\n")


def test_config_names_the_spool(tmp_path):
    """With only a Config, the spool is its queue_directory (with its hashing)."""
    cfg = Config(queue_directory=str(tmp_path / "q"), hash_queue_depth="2")
    qid = submit(b"x\n", "a@x.test", ["b@y.test"], config=cfg)
    assert FileQueueStore.from_config(cfg).read(qid).queue is Q.MAILDROP


def test_any_store_can_be_given():
    """A store argument (here the memory store) receives the message."""
    store = MemoryQueueStore()
    qid = submit(b"x\n", "a@x.test", ["b@y.test"], store=store, notify=["success"], ret="hdrs", envid="e")
    env = store.read(qid, Q.MAILDROP).envelope
    assert env.ret is Ret.HDRS and env.envid == "e" and env.recipients[0].notify == {Notify.SUCCESS}


def test_async_submit_returns_after_the_write(tmp_path):
    """submit_async gives the ID once the file is readable."""
    async def main():
        return await asyncio.gather(*(submit_async(b"x\n", "a@x.test", ["b@y.test"], queue_directory=tmp_path)
                                      for _ in range(5)))
    ids = asyncio.run(main())
    store = FileQueueStore(tmp_path)
    assert len(set(ids)) == 5 and all(store.read(i).queue is Q.MAILDROP for i in ids)


def test_pickup_is_woken(tmp_path):
    """After the write, one wake-up request reaches the pickup FIFO."""
    fifo = tmp_path / "public" / "pickup"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        submit(b"x\n", "a@x.test", ["b@y.test"], queue_directory=tmp_path)
        assert os.read(reader, 10) == b"W"
    finally:
        os.close(reader)


def test_unwritable_spool_raises_oserror(tmp_path):
    """A spool that cannot be created raises OSError (sendmail turns it into exit 75)."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        submit(b"x\n", "a@x.test", ["b@y.test"], queue_directory=blocker / "q")
