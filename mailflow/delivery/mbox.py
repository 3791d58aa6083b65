"""Appending one message to a UNIX mbox file under the mailbox locks.

Owns the write itself: lock (see :mod:`locking`), enforce the size limit,
append, fsync, and on a failed write cut the file back to where it was so a
reader never sees half a message (as Postfix's mbox code does). The bytes
come from :func:`mailcopy.render`. Blocking: agents call it in a thread.

>>> import tempfile, os, mailbox
>>> path = os.path.join(tempfile.mkdtemp(), "alice")
>>> append_mbox(path, b"From a@example.com  Thu Jan  1 00:00:00 1970\\nSubject: hi\\n\\nbody\\n\\n")
>>> box = mailbox.mbox(path)
>>> [m["subject"] for m in box]
['hi']
>>> box.close()
"""

from __future__ import annotations

import errno
import os
from typing import Sequence

from mailflow.delivery.locking import LockError, locked_mailbox
from mailflow.errors import PermanentFailure, TemporaryFailure
from mailflow.model import DsnStatus

__all__ = ["append_mbox", "write_all"]


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def append_mbox(path: str, data: bytes, *, locks: Sequence[str] = ("fcntl", "dotlock"),
                size_limit: int = 0, attempts: int = 20, delay: float = 1.0,
                mode: int = 0o600, fsync: bool = True) -> None:
    """Append ``data`` (already in mbox form) to ``path``.

    Raises :class:`TemporaryFailure` (lock busy, transient I/O error) or
    :class:`PermanentFailure` (cannot open, over ``size_limit``) carrying the
    status local(8) would report.
    """
    try:
        with locked_mailbox(path, locks, attempts=attempts, delay=delay, mode=mode) as fd:
            start = os.fstat(fd).st_size
            if size_limit and start + len(data) > size_limit:
                # Postfix enforces mailbox_size_limit as a file size limit;
                # the write fails with EFBIG and the mail bounces (5.2.2).
                raise PermanentFailure(DsnStatus(
                    "5.2.2", f"cannot update mailbox {path}. error writing message: File too large"))
            try:
                write_all(fd, data)
                if fsync:
                    os.fsync(fd)
            except OSError as exc:
                os.ftruncate(fd, start)
                code = "5.2.2" if exc.errno in (errno.EFBIG, errno.EDQUOT) else "4.3.0"
                failure = PermanentFailure if code[0] == "5" else TemporaryFailure
                raise failure(DsnStatus(code, f"cannot update mailbox {path}. "
                                              f"error writing message: {exc.strerror}")) from None
    except LockError as exc:
        raise TemporaryFailure(DsnStatus("4.2.0", f"cannot update mailbox {path}. {exc.strerror}")) from None
    except OSError as exc:
        code = mbox_dsn(exc.errno, "5.2.0")
        failure = PermanentFailure if code[0] == "5" else TemporaryFailure
        raise failure(DsnStatus(code, f"cannot open mailbox {path}: {exc.strerror}")) from None


def mbox_dsn(err: int | None, default: str) -> str:
    """The status for a mailbox that cannot be opened or written, as
    Postfix's mbox_dsn(): a full file system defers (4.3.0), a busy or stale
    one is tried again (4.2.0), a full mailbox or quota bounces (5.2.2).

    >>> mbox_dsn(errno.ENOSPC, "5.2.0"), mbox_dsn(errno.EDQUOT, "5.2.0"), mbox_dsn(errno.EACCES, "5.2.0")
    ('4.3.0', '5.2.2', '5.2.0')
    """
    if err == errno.ENOSPC:
        return "4.3.0"
    if err in (errno.EAGAIN, errno.ESTALE):
        return "4.2.0"
    if err in (errno.EDQUOT, errno.EFBIG):
        return "5.2.2"
    return default
