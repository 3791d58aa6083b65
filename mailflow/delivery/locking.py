"""Mailbox locks compatible with other mail programs (mailbox_delivery_lock).

Owns opening a mailbox file for appending while holding the locks Postfix's
mbox_open() takes: a ``FILE.lock`` dot-lock (created before the file is
opened, as mail readers expect), then ``fcntl`` and/or ``flock`` on the open
file. Blocking calls: services run them in a thread. Never writes content.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "mbox")
>>> with locked_mailbox(path, ["fcntl", "dotlock"]) as fd:
...     os.path.exists(path + ".lock")
True
>>> os.path.exists(path + ".lock")
False
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from typing import Iterator, Sequence

from mailflow.errors import ConfigError

__all__ = ["LOCK_STYLES", "LockError", "parse_lock_styles", "dotlock", "locked_mailbox"]

LOCK_STYLES = ("fcntl", "flock", "dotlock")


class LockError(OSError):
    """The mailbox could not be locked in time: the delivery is deferred."""


def parse_lock_styles(text: str | Sequence[str], name: str = "mailbox_delivery_lock") -> list[str]:
    """``"fcntl, dotlock"`` -> ``["fcntl", "dotlock"]``; unknown styles are a ConfigError.

    >>> parse_lock_styles("flock dotlock")
    ['flock', 'dotlock']
    >>> parse_lock_styles("bogus")
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: unknown mailbox_delivery_lock value "bogus" in "bogus"
    """
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    for item in items:
        if item not in LOCK_STYLES:
            shown = text if isinstance(text, str) else ", ".join(items)
            # Postfix's wording (postlock -l bogus).
            raise ConfigError(f'unknown {name} value "{item}" in "{shown}"')
    return items


@contextlib.contextmanager
def dotlock(path: str, *, attempts: int = 20, delay: float = 1.0,
            stale: float = 500.0) -> Iterator[str]:
    """Hold ``path.lock`` (created with O_EXCL); remove a stale one older than ``stale`` seconds."""
    lock = path + ".lock"
    # O_CREAT|O_EXCL: the dot-lock protocol mail readers (mutt, procmail's
    # lockfile, Postfix's dot_lockfile.c) use on local file systems.
    attempt = 0
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                if time.time() - os.stat(lock).st_mtime > stale:
                    os.unlink(lock)   # stale: its owner died (stale_lock_time)
                    continue
            except FileNotFoundError:
                continue
            attempt += 1
            if attempt >= max(attempts, 1):
                raise LockError(errno.EAGAIN, f"unable to create lock file {lock}: file exists") from None
            time.sleep(delay)
            continue
        except OSError as exc:
            raise LockError(exc.errno, f"unable to create lock file {lock}: {exc.strerror}") from None
        os.close(fd)
        break
    try:
        yield lock
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def _kernel_lock(fd: int, style: str, attempts: int, delay: float, path: str) -> None:
    for attempt in range(max(attempts, 1)):
        try:
            if style == "fcntl":
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except (BlockingIOError, PermissionError):
            if attempt + 1 < attempts:
                time.sleep(delay)
    raise LockError(errno.EAGAIN, f"unable to lock {path} for exclusive access: "
                    "Resource temporarily unavailable")


@contextlib.contextmanager
def locked_mailbox(path: str, styles: Sequence[str] = ("fcntl", "dotlock"), *,
                   attempts: int = 20, delay: float = 1.0, stale: float = 500.0,
                   mode: int = 0o600, create: bool = True) -> Iterator[int]:
    """Open ``path`` for appending under the given lock styles; yield the fd.

    The file is created (``mode``) when missing. Raises :class:`LockError`
    when a lock cannot be had after ``attempts`` tries ``delay`` apart.
    """
    with contextlib.ExitStack() as stack:
        if "dotlock" in styles:
            stack.enter_context(dotlock(path, attempts=attempts, delay=delay, stale=stale))
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0)
        fd = os.open(path, flags, mode)
        stack.callback(os.close, fd)
        for style in styles:
            if style in ("fcntl", "flock"):
                _kernel_lock(fd, style, attempts, delay, path)
        yield fd
