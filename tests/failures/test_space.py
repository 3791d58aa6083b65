"""queue_minfree: mail is refused for now when the spool is short of space,
and a really full spool loses nothing that was accepted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.queue import space
from mailflow.queue.space import SPACE_FACTOR, enough_space, free_space, has_room

EX_TEMPFAIL = 75


@pytest.mark.parametrize("free, minfree, limit, want", [
    (100, 0, 0, True),
    (0, 0, 0, False),                       # nothing free at all
    (100, 100 * 1024, 0, False),            # queue_minfree not exceeded
    (101, 100 * 1024, 0, True),
    (150, 0, 100 * 1024, False),            # 1.5 x message_size_limit: not below 100 blocks
    (151, 0, 100 * 1024, True),
    (151, 100 * 1024, 100 * 1024, True),    # the two tests are separate, as in Postfix
    (100, 512, 0, True),                    # under a block: counts as nothing
])
def test_postfix_rule(free, minfree, limit, want):
    """has_room is smtpd_check_queue's test: minfree below the free blocks, and message_size_limit below free/1.5 (in blocks)."""
    assert has_room(free_blocks=free, block_size=1024, queue_minfree=minfree,
                    message_size_limit=limit) is want


def test_enough_space_reads_the_file_system(tmp_path):
    """enough_space asks statvfs: a minfree above what is free refuses, zero accepts."""
    blocks, size = free_space(tmp_path)
    assert enough_space(tmp_path, 0, 0)
    assert not enough_space(tmp_path, (blocks + 1) * size, 0)
    assert not enough_space(tmp_path, 0, int(blocks * size / SPACE_FACTOR) + size)
    assert not enough_space(tmp_path / "missing", 0, 0)


def run_cli(*args, stdin=b""):
    import contextlib
    import io
    err = io.StringIO()
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main([str(a) for a in args])
    finally:
        sys.stdin = saved
    return status, err.getvalue()


@pytest.fixture
def etc(tmp_path):
    d = tmp_path / "etc"
    d.mkdir()
    (d / "master.cf").write_text("")
    (tmp_path / "spool" / "maildrop").mkdir(parents=True)
    return d


def test_sendmail_refuses_when_short_of_space(tmp_path, etc):
    """sendmail exits 75 with Postfix's warning text when free space is under queue_minfree, and nothing is written."""
    blocks, size = free_space(tmp_path)
    (etc / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\n"
                                 f"queue_minfree = {(blocks + 10) * size}\n")
    status, err = run_cli("-c", etc, "sendmail", "-f", "a@example.com", "b@example.com",
                          stdin=b"Subject: x\n\nx\n")
    assert status == EX_TEMPFAIL
    assert err.startswith("sendmail: fatal: not enough free space in mail queue: ")
    assert err.rstrip().endswith("bytes < 1.5*message size limit")
    assert os.listdir(tmp_path / "spool" / "maildrop") == []


def test_sendmail_accepts_with_room(tmp_path, etc):
    """The same with a queue_minfree the file system has: accepted (exit 0)."""
    (etc / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\nqueue_minfree = 1024\n")
    status, err = run_cli("-c", etc, "sendmail", "-f", "a@example.com", "b@example.com",
                          stdin=b"Subject: x\n\nx\n")
    assert (status, err) == (0, "")
    assert len(os.listdir(tmp_path / "spool" / "maildrop")) == 1


def test_postdrop_refuses_when_short_of_space(tmp_path, etc):
    """postdrop follows the same rule (exit 75)."""
    from mailflow.model import Envelope, Message, Recipient
    from mailflow.queue import records
    blocks, size = free_space(tmp_path)
    (etc / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\n"
                                 f"message_size_limit = {blocks * size}\n")
    data = records.encode(Envelope("a@example.com", (Recipient("b@example.com"),)), Message(b"x\n"))
    status, err = run_cli("-c", etc, "postdrop", stdin=data)
    assert status == EX_TEMPFAIL and "not enough free space in mail queue" in err


def test_space_helper_imports_nothing_heavy():
    """sendmail imports the helper on its fast path: it must not pull in attrs or the model."""
    code = ("import sys, mailflow.queue.space; "
            "print(sorted(m for m in ('attr', 'attrs', 'mailflow.model') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
    assert space.SPACE_FACTOR == 1.5


# --- a really full spool (a 2 MB tmpfs) ---------------------------------------------

def _can_mount() -> str | None:
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs"
    if not Path("/proc/filesystems").exists() or "tmpfs" not in Path("/proc/filesystems").read_text():
        return "no tmpfs in this kernel"
    return None


@pytest.fixture
def small_spool(tmp_path):
    """A 2 MB tmpfs mounted as the spool, unmounted afterwards; ``grow()`` gives it room."""
    why = _can_mount()
    if why:
        pytest.skip(why)
    mnt = tmp_path / "spool"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def grow():
        subprocess.run(["mount", "-o", "remount,size=16m", str(mnt)], check=True)
    try:
        yield mnt, grow
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(etc, limit: int) -> tuple[list[int], list[str]]:
    """sendmail 18 KB messages until five in a row are refused; the numbers accepted and the refusals."""
    accepted, refusals = [], []
    body = b"x" * 100 + b"\n"
    for n in range(400):
        data = b"Subject: msg %d\n\n" % n + body * 180     # 18 KB: 5 blocks, no exact fit
        status, err = run_cli("-c", etc, "sendmail", "-f", "a@example.com", "b@example.com", stdin=data)
        if status == 0:
            accepted.append(n)
        else:
            assert status == EX_TEMPFAIL, err
            refusals.append(err)
            if len(refusals) >= 5 and all(r for r in refusals[-5:]) and n - accepted[-1] >= 5:
                break
    return accepted, refusals


def _deliver_all(spool: Path) -> list[int]:
    """Pickup and the queue manager until every queue is empty; the message numbers delivered."""
    import asyncio
    import re

    from mailflow.adapters.queue_store import FileQueueStore
    from mailflow.config import Config
    from mailflow.interfaces import QueueName
    from mailflow.model import DsnStatus, Outcome
    from mailflow.services.pickup import Pickup
    from mailflow.services.qmgr import QueueManager
    delivered: list[int] = []

    class Rec:
        async def deliver(self, request):
            delivered.append(int(re.search(rb"Subject: msg (\d+)", request.message.data).group(1)))
            return [Outcome(r, DsnStatus("2.0.0", "delivered"), relay="rec") for r in request.recipients]
    cfg = Config(queue_directory=str(spool), default_transport="rec", myhostname="mx.example.com",
                 mydestination="", relayhost="")
    store = FileQueueStore(spool)

    async def qmgr():
        qm = QueueManager(cfg, store, agents={"rec": Rec()})
        await qm.run_until_idle()
        await qm.stop()
    for _ in range(50):
        Pickup(cfg, store).drain()
        asyncio.run(qmgr())
        if not any(list(store.ids(q)) for q in (QueueName.MAILDROP, QueueName.INCOMING,
                                                 QueueName.ACTIVE, QueueName.DEFERRED)):
            break
    assert list(store.ids(QueueName.CORRUPT)) == []
    return delivered


def test_full_spool_loses_nothing_accepted(tmp_path, small_spool):
    """With no free-space rule, sendmail fills a 2 MB spool until the disk refuses (exit 75); every message it accepted is delivered once the file system has room again."""
    spool, grow = small_spool
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "master.cf").write_text("")
    (etc / "main.cf").write_text(f"queue_directory = {spool}\nmessage_size_limit = 0\n")
    from mailflow.adapters.queue_store import FileQueueStore
    FileQueueStore(spool)                               # the spool's directories
    accepted, refusals = _fill(etc, 0)
    assert accepted and refusals
    assert any("No space left on device" in r for r in refusals)      # the disk refused, not the rule
    assert len(os.listdir(spool / "maildrop")) == len(accepted)
    # pickup on the full disk: cleanup cannot write, every file stays in
    # maildrop (a full disk is not a file's fault: never corrupt/).
    from mailflow.config import Config
    from mailflow.services.pickup import MAX_TRIES, Pickup
    from mailflow.adapters.queue_store import FileQueueStore as Store
    cfg = Config(queue_directory=str(spool), myhostname="mx.example.com")
    pickup = Pickup(cfg, Store(spool))
    for _ in range(MAX_TRIES + 1):
        pickup.drain()
    assert len(os.listdir(spool / "maildrop")) == len(accepted) and os.listdir(spool / "corrupt") == []
    grow()
    assert sorted(set(_deliver_all(spool))) == accepted


def test_queue_minfree_refuses_before_the_disk_is_full(tmp_path, small_spool):
    """With message_size_limit = 100 KB, sendmail refuses with Postfix's text while at least 1.5 times that is still free, so pickup and cleanup always have room to work: everything accepted is delivered without growing the disk."""
    spool, _ = small_spool
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "master.cf").write_text("")
    (etc / "main.cf").write_text(f"queue_directory = {spool}\nmessage_size_limit = 102400\n")
    from mailflow.adapters.queue_store import FileQueueStore
    FileQueueStore(spool)
    accepted, refusals = _fill(etc, 102400)
    assert accepted and refusals
    assert all(r.startswith("sendmail: fatal: not enough free space in mail queue") for r in refusals)
    blocks, size = free_space(spool)
    assert blocks * size >= 102400          # room for cleanup to copy a message
    assert sorted(set(_deliver_all(spool))) == accepted
