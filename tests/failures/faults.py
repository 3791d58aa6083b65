"""Fault injection for the spool and the delivery agents: make the Nth
file-system call that changes something fail.

:class:`Faults` replaces the ``os`` module seen by the modules that write
mail (the queue store, sendmail's maildrop writer, fsync of directories,
the mailbox and Maildir writers) with a proxy. Every call that changes the
disk (write, pwrite, fsync, ftruncate, rename, replace, unlink, mkdir,
makedirs, link, utime, chmod, and an ``open`` that can create or write)
is a *fault point*: the proxy counts them, and the one numbered
``fail_at`` (0-based) raises an OSError, as a full or failing disk would.
Only that one call fails: the fault then clears, as a disk that got room
again does, so a later retry shows whether the mail survived.

    with Faults() as f:                     # counting run
        run_the_path()
    points = f.calls                        # [("write", "/spool/..."), ...]
    with Faults(fail_at=3, error=errno.ENOSPC):
        run_the_path()                      # the 4th call fails
"""

from __future__ import annotations

import errno
import importlib
import os
import threading
from typing import Any

#: The modules whose ``os`` is replaced: every module that writes mail.
MODULES = (
    "mailflow.adapters.queue_store",
    "mailflow.adapters.files",
    "mailflow.submit",
    "mailflow.delivery.maildir",
    "mailflow.delivery.mbox",
    "mailflow.delivery.locking",
    "mailflow.delivery.virtual",
    "mailflow.delivery.local",
)

#: The errors injected, in turn (fault point N gets ERRORS[N % 4]).
ERRORS = (errno.EIO, errno.ENOSPC, errno.EROFS, errno.EACCES)

_CHANGING_OPS = ("write", "pwrite", "fsync", "ftruncate", "rename", "replace", "unlink",
                 "mkdir", "makedirs", "link", "utime", "chmod")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def strerror(code: int) -> str:
    return os.strerror(code)


class _OsProxy:
    """``os`` with the changing calls routed through :meth:`Faults._point`."""

    def __init__(self, faults: "Faults") -> None:
        self._faults = faults
        for op in _CHANGING_OPS:
            setattr(self, op, self._wrap(op, getattr(os, op)))

    def _wrap(self, op: str, real: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            self._faults._point(op, args[0] if args else None)
            return real(*args, **kw)
        return call

    def open(self, path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if flags & _WRITE_FLAGS:
            self._faults._point("open", path)
        return os.open(path, flags, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


class Faults:
    """Count fault points, and fail the one numbered ``fail_at`` with ``error``
    (an errno; ``None``: ERRORS[fail_at % 4])."""

    def __init__(self, fail_at: int | None = None, error: int | None = None) -> None:
        self.fail_at = fail_at
        self.error = error if error is not None or fail_at is None else ERRORS[fail_at % len(ERRORS)]
        self.calls: list[tuple[str, str]] = []
        self.fired: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self.active = False

    def __enter__(self) -> "Faults":
        proxy = _OsProxy(self)
        self._saved = []
        for name in MODULES:
            module = importlib.import_module(name)
            self._saved.append((module, module.os))
            module.os = proxy
        self.active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False
        for module, real in self._saved:
            module.os = real

    @property
    def strerror(self) -> str:
        return os.strerror(self.error) if self.error is not None else ""

    def _point(self, op: str, path: Any) -> None:
        if not self.active:
            return
        with self._lock:
            n = len(self.calls)
            self.calls.append((op, str(path)))
            fire = n == self.fail_at
            if fire:
                self.fired = (op, str(path))
        if fire:
            raise OSError(self.error, os.strerror(self.error), str(path))
