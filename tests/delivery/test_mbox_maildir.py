"""mbox and Maildir writing on real files, read back with Python's mailbox module."""

import fcntl
import mailbox
import multiprocessing
import os

import pytest
from hypothesis import given, settings, strategies as st

from mailflow.delivery.locking import LockError, dotlock, locked_mailbox
from mailflow.delivery.mailcopy import CopyFlags, quote_from, render
from mailflow.delivery.maildir import deliver_maildir
from mailflow.delivery.mbox import append_mbox
from mailflow.errors import PermanentFailure, TemporaryFailure


def mbox_entry(subject: str, body: bytes = b"text\n") -> bytes:
    return render(b"Subject: " + subject.encode() + b"\n\n" + body, sender="s@example.org",
                  recipient="r@example.com", flags=CopyFlags.MBOX)


def read_mbox(path):
    box = mailbox.mbox(str(path))
    try:
        return [(m["subject"], m.get_payload()) for m in box]
    finally:
        box.close()


def test_mbox_messages_read_back_with_quoted_from_lines(tmp_path):
    """Two appended messages read back intact; a body "From " line stays quoted."""
    path = tmp_path / "alice"
    append_mbox(str(path), mbox_entry("one", b"From the start\nmore\n"))
    append_mbox(str(path), mbox_entry("two"))
    assert read_mbox(path) == [("one", ">From the start\nmore\n"), ("two", "text\n")]


def test_mbox_is_created_private(tmp_path):
    """A new mailbox file is created mode 0600."""
    path = tmp_path / "bob"
    append_mbox(str(path), mbox_entry("x"))
    assert (path.stat().st_mode & 0o777) == 0o600


def test_mbox_size_limit_bounces_and_leaves_file_alone(tmp_path):
    """Going over mailbox_size_limit bounces 5.2.2 and writes nothing."""
    path = tmp_path / "carol"
    first = mbox_entry("first")
    append_mbox(str(path), first)
    with pytest.raises(PermanentFailure) as info:
        append_mbox(str(path), mbox_entry("second"), size_limit=len(first) + 10)
    assert info.value.status.code == "5.2.2"
    assert path.read_bytes() == first


def test_dotlock_is_removed_after_delivery(tmp_path):
    """The FILE.lock dot-lock exists only while writing."""
    path = tmp_path / "dan"
    append_mbox(str(path), mbox_entry("x"), locks=["dotlock"])
    assert not (tmp_path / "dan.lock").exists()


def test_held_dotlock_defers(tmp_path):
    """A dot-lock held by someone else defers the delivery (4.2.0)."""
    path = tmp_path / "erin"
    (tmp_path / "erin.lock").write_text("")
    with pytest.raises(TemporaryFailure) as info:
        append_mbox(str(path), mbox_entry("x"), locks=["dotlock"], attempts=2, delay=0.01)
    assert info.value.status.code == "4.2.0"


def test_stale_dotlock_is_broken(tmp_path):
    """A dot-lock older than the stale time is removed and taken over."""
    lock = tmp_path / "f.lock"
    lock.write_text("")
    os.utime(lock, (0, 0))
    with dotlock(str(tmp_path / "f"), attempts=1, stale=60):
        assert lock.exists()


def _hold_fcntl(path, ready, release):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    ready.set()
    release.wait(10)
    os.close(fd)


def test_fcntl_lock_held_by_another_process_defers(tmp_path):
    """An fcntl lock held by another program (a mail reader) makes us wait, then defer."""
    path = str(tmp_path / "gus")
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_fcntl, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockError):
            with locked_mailbox(path, ["fcntl"], attempts=2, delay=0.01):
                pass
    finally:
        release.set()
        holder.join(10)


def _writer(path, n, tag):
    for i in range(n):
        append_mbox(path, mbox_entry(f"{tag}-{i}", (f"{tag} line\n" * 200).encode()),
                    locks=["fcntl", "dotlock"], delay=0.001, attempts=5000, fsync=False)


def test_concurrent_writers_produce_intact_messages(tmp_path):
    """Four processes appending under the lock leave every message whole."""
    path = str(tmp_path / "shared")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, 25, f"w{k}")) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    messages = read_mbox(path)
    assert len(messages) == 100
    for subject, payload in messages:
        tag = subject.split("-")[0]
        assert payload == f"{tag} line\n" * 200


def test_maildir_delivery_reads_back(tmp_path):
    """Delivered files land in new/, tmp/ is left empty, mailbox.Maildir reads them."""
    box = str(tmp_path / "Maildir")
    names = [deliver_maildir(box, b"Subject: m%d\n\nbody\n" % i) for i in range(3)]
    assert len(set(names)) == 3
    assert os.listdir(os.path.join(box, "tmp")) == []
    assert sorted(m["subject"] for m in mailbox.Maildir(box, create=False)) == ["m0", "m1", "m2"]


def test_maildir_name_follows_the_spec(tmp_path):
    """Names are time.M<usec>P<pid>Q<n>.host."""
    name = deliver_maildir(str(tmp_path / "md"), b"x\n")
    sec, rest = name.split(".", 1)
    assert sec.isdigit() and rest.startswith("M") and f"P{os.getpid()}Q" in rest


def test_maildir_size_limit_bounces(tmp_path):
    """A message over the limit bounces 5.2.2 and leaves nothing behind."""
    with pytest.raises(PermanentFailure) as info:
        deliver_maildir(str(tmp_path / "md"), b"x" * 100, size_limit=10)
    assert info.value.status.code == "5.2.2"
    assert not (tmp_path / "md" / "new").exists() or not os.listdir(tmp_path / "md" / "new")


def test_maildir_unwritable_defers(tmp_path):
    """A Maildir path that cannot be created defers (4.2.0) instead of bouncing."""
    (tmp_path / "file").write_text("")
    with pytest.raises(TemporaryFailure):
        deliver_maildir(str(tmp_path / "file" / "md"), b"x\n")


def test_flock_style_conflicts_with_another_flock_holder(tmp_path):
    """With mailbox_delivery_lock = flock, a flock() held elsewhere blocks delivery."""
    path = str(tmp_path / "hal")
    with open(path, "w") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(TemporaryFailure):
            append_mbox(path, mbox_entry("x"), locks=["flock"], attempts=2, delay=0.01)
    append_mbox(path, mbox_entry("y"), locks=["flock"])
    assert [s for s, _ in read_mbox(path)] == ["y"]

_LINES = st.lists(st.one_of(st.sampled_from(["From ", "From x", ">From y", "", ".", "From"]),
                            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                    max_size=20)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(bodies=st.lists(_LINES, min_size=1, max_size=3))
def test_any_bodies_stay_separate_messages(tmp_path_factory, bodies):
    """Whatever the bodies hold, each appended message reads back as one message
    whose body is the original with "From " lines quoted."""
    path = tmp_path_factory.mktemp("prop") / "box"
    for i, lines in enumerate(bodies):
        body = "".join(line + "\n" for line in lines).encode()
        append_mbox(str(path), mbox_entry(f"m{i}", body), fsync=False)
    got = read_mbox(path)
    assert [s for s, _ in got] == [f"m{i}" for i in range(len(bodies))]
    for (_, payload), lines in zip(got, bodies):
        want = "".join(line + "\n" for line in lines)
        assert payload == quote_from(want.encode()).decode()
