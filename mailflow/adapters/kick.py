"""The wake-up channel: ``$queue_directory/public/<service>`` as a FIFO.

Postfix wakes its pickup and qmgr daemons by writing a one-byte request into
``public/pickup`` and ``public/qmgr`` (mail_trigger(3); fifo_trigger(3)).
mailflow does the same with a named pipe: a writer opens it non-blocking and
writes a few bytes; when nobody holds the read end open, ``open`` fails with
ENXIO and :func:`kick` returns False ("the mail system is down"). A FIFO has
no path-length limit (a unix socket path is at most 107 bytes, and a
``queue_directory`` may be deep), and writes up to PIPE_BUF bytes are atomic.

This module owns only the channel: :func:`kick` (the sending side, best
effort, never raises) and :class:`KickListener` (the master's receiving side,
an asyncio reader). It never interprets requests; qmgr's request letters are
given here as constants because several tools send them.

>>> kick("/nonexistent/queue/dir", "pickup")
False
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    # kick() runs in every sendmail process; only the listener needs asyncio,
    # which costs more to import than the whole kick.
    import asyncio

__all__ = ["kick", "fifo_path", "KickListener", "WAKEUP", "QMGR_REQ_FLUSH_DEAD",
           "QMGR_REQ_SCAN_ALL", "QMGR_REQ_SCAN_DEFERRED", "QMGR_REQ_SCAN_INCOMING",
           "FLUSH_REQUEST"]

# qmgr(8) trigger requests, the letters of Postfix's qmgr.h.
WAKEUP = b"W"                    # TRIGGER_REQ_WAKEUP: look for work
QMGR_REQ_FLUSH_DEAD = b"F"       # forget "dead destination" state
QMGR_REQ_SCAN_ALL = b"A"         # ignore deferred-file time stamps
QMGR_REQ_SCAN_DEFERRED = b"D"    # scan the deferred queue
QMGR_REQ_SCAN_INCOMING = b"I"    # scan the incoming queue
# What `postqueue -f` sends (mail_flush.c mail_flush_deferred()).
FLUSH_REQUEST = QMGR_REQ_FLUSH_DEAD + QMGR_REQ_SCAN_ALL + QMGR_REQ_SCAN_DEFERRED + QMGR_REQ_SCAN_INCOMING

_MAX_REQUEST = 512  # POSIX PIPE_BUF minimum: writes up to this size are atomic


def fifo_path(queue_directory: str, service: str, klass: str = "public") -> str:
    """Where the wake-up FIFO of ``service`` lives.

    >>> fifo_path("/var/spool/mailflow", "qmgr")
    '/var/spool/mailflow/public/qmgr'
    """
    if not service or "/" in service or service in (".", ".."):
        raise ValueError(f"bad service name {service!r}")
    if klass not in ("public", "private"):
        raise ValueError(f"bad service class {klass!r}; expected public or private")
    return os.path.join(queue_directory, klass, service)


def kick(queue_directory: str, service: str, message: bytes = WAKEUP, *,
         klass: str = "public") -> bool:
    """Wake ``service``; True when a listener got the request.

    Best effort: never raises. False when nobody listens (no FIFO, no reader)
    or the request could not be written. A full pipe counts as delivered:
    the service already has wake-ups pending.

    >>> kick("/tmp", "../etc")
    False
    """
    try:
        path = fifo_path(queue_directory, service, klass)
        data = bytes(message)[:_MAX_REQUEST]
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError, TypeError):
        return False  # ENOENT: no such service; ENXIO: nobody reads
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        os.write(fd, data)
        return True
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


class KickListener:
    """The master's end of one wake-up FIFO: creates it, reads requests on the
    running event loop and hands each chunk read to ``callback``.

    It also keeps a write end open itself (as Postfix's master does) so that
    the FIFO never reports end-of-file when a writer closes.

    >>> listener = KickListener("/tmp/qdir", "pickup", print)
    >>> listener.path
    '/tmp/qdir/public/pickup'
    """

    def __init__(self, queue_directory: str, service: str,
                 callback: Callable[[bytes], None], *, klass: str = "public") -> None:
        self.path = fifo_path(queue_directory, service, klass)
        self.callback = callback
        self._rfd: int | None = None
        self._wfd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> None:
        """Create the FIFO if needed and start reading on the running loop."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            if not stat.S_ISFIFO(os.lstat(self.path).st_mode):
                os.unlink(self.path)  # a stale file of another kind
                raise FileNotFoundError(self.path)
        except FileNotFoundError:
            try:
                os.mkfifo(self.path, 0o622)
            except FileExistsError:
                pass
        self._rfd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._wfd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        import asyncio
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._rfd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._rfd, 4096)  # type: ignore[arg-type]
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise
            return
        if data:
            self.callback(data)

    def close(self, *, unlink: bool = True) -> None:
        """Stop reading; remove the FIFO so later kicks report "not running"."""
        if self._rfd is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._rfd)
            os.close(self._rfd)
            self._rfd = None
        if self._wfd is not None:
            os.close(self._wfd)
            self._wfd = None
        if unlink:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
