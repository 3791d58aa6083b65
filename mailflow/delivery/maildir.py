"""Delivering one message into a Maildir, per the Maildir specification.

Owns unique file names (``time.M<usec>P<pid>Q<n>.host``), the write into
``tmp/``, fsync, the move into ``new/`` and the directory fsync that makes
the delivery durable. Blocking: agents call it in a thread.

>>> import tempfile, os, mailbox
>>> box = os.path.join(tempfile.mkdtemp(), "Maildir")
>>> name = deliver_maildir(box, b"Subject: hi\\n\\nbody\\n")
>>> [m["subject"] for m in mailbox.Maildir(box, create=False)]
['hi']
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import time

from mailflow.adapters.files import fsync_directory
from mailflow.delivery.mbox import write_all
from mailflow.errors import PermanentFailure, TemporaryFailure
from mailflow.model import DsnStatus

__all__ = ["deliver_maildir", "unique_name", "make_maildir"]

_counter = itertools.count(1)
_datasync = getattr(os, "fdatasync", os.fsync)


def _safe_host(host: str) -> str:
    # The spec: "/" and ":" in the host name are written as \057 and \072.
    return host.replace("/", "\\057").replace(":", "\\072")


_HOST = _safe_host(socket.gethostname())


def unique_name(now: float | None = None, pid: int | None = None, host: str | None = None) -> str:
    r"""A Maildir file name unique to this process and moment.

    >>> name = unique_name(1700000000.25, 42, "mx:1")
    >>> name.startswith("1700000000.M250000P42Q"), name.endswith(".mx\\0721")
    (True, True)
    """
    t = time.time() if now is None else now
    sec = int(t)
    usec = int(round((t - sec) * 1_000_000))
    return (f"{sec}.M{usec}P{os.getpid() if pid is None else pid}Q{next(_counter)}."
            f"{_HOST if host is None else _safe_host(host)}")


def make_maildir(path: str, mode: int = 0o700) -> None:
    """Create ``path`` with ``tmp``, ``new`` and ``cur`` (as Postfix does)."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), mode=mode, exist_ok=True)


def deliver_maildir(path: str, data: bytes, *, size_limit: int = 0, fsync: bool = True,
                    mode: int = 0o600) -> str:
    """Write ``data`` into Maildir ``path``; return the name under ``new/``.

    Raises :class:`TemporaryFailure` or :class:`PermanentFailure` with the
    status virtual(8)/local(8) report ("maildir delivery failed: ...").
    """
    if size_limit and len(data) > size_limit:
        raise PermanentFailure(DsnStatus("5.2.2", "maildir delivery failed: "
                                                  "error writing message: File too large"))
    name = unique_name()
    tmp = os.path.join(path, "tmp", name)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileNotFoundError:
            make_maildir(path)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            write_all(fd, data)
            if fsync:
                # fdatasync covers the data and the file size, which is all a
                # reader needs; the directory fsync below makes the name durable.
                _datasync(fd)
        finally:
            os.close(fd)
        new_dir = os.path.join(path, "new")
        # rename() is atomic and the name is unique, so nothing is replaced;
        # the spec's link()+unlink() costs one more system call.
        try:
            os.rename(tmp, os.path.join(new_dir, name))
        except FileNotFoundError:
            # A concurrent first delivery created tmp/ but not yet new/:
            # finish creating the Maildir and try once more.
            make_maildir(path)
            os.rename(tmp, os.path.join(new_dir, name))
        if fsync:
            fsync_directory(new_dir)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        code = "5.2.2" if exc.errno in (errno.EFBIG, errno.EDQUOT) else "4.2.0"
        text = f"maildir delivery failed: create maildir file {tmp}: {exc.strerror}"
        if code[0] == "5":
            raise PermanentFailure(DsnStatus(code, text)) from None
        raise TemporaryFailure(DsnStatus(code, text)) from None
    return name
