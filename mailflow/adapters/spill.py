"""Message content as it arrives, in memory up to a limit, then on disk.

Owns :class:`MessageBuffer`: smtpd appends each piece of DATA or BDAT
content as it arrives; past ``memory_limit`` bytes the rest goes to an
unlinked temporary file (in the queue directory: nothing is left behind
when the client vanishes or the process dies), so a session holds at most
``memory_limit`` bytes of a message whatever its size. At the end the
in-memory part (:meth:`MessageBuffer.head`, which holds the headers) goes
through cleanup, and the queue file copies the rest from the file
(:meth:`MessageBuffer.fileno`) without reading it into memory.

>>> buf = MessageBuffer(memory_limit=12)
>>> buf.append(b"Subject: x\\n\\n")
>>> buf.append(b"line one\\nline two\\n")
>>> buf.head(), buf.tail_size, buf.size, buf.spilled
(b'Subject: x\\n\\n', 18, 30, True)
>>> buf.read_tail()
b'line one\\nline two\\n'
>>> buf.close()
"""

from __future__ import annotations

import os
import tempfile
from typing import Protocol

__all__ = ["MessageBuffer", "copy_file", "read_range", "SupportsFileno"]

_COPY_CHUNK = 1 << 20


class MessageBuffer:
    """Pieces of one message: the first ``memory_limit`` bytes (cut at a line
    end) in memory, the rest in an unlinked temporary file in ``directory``
    (the system's temporary directory when None)."""

    def __init__(self, memory_limit: int, directory: str | None = None) -> None:
        self.memory_limit = memory_limit
        self.directory = directory
        self._chunks: list[bytes] = []
        self._held = 0
        self._fd: int | None = None
        self.tail_size = 0

    def __del__(self) -> None:
        self.close()

    @property
    def size(self) -> int:
        """Bytes appended so far."""
        return self._held + self.tail_size

    @property
    def spilled(self) -> bool:
        """Whether part of the message is in the temporary file."""
        return self._fd is not None

    def append(self, data: bytes) -> None:
        """Add the next piece (OSError when the temporary file cannot take it)."""
        if self._fd is not None:
            self._write(data)
            return
        self._chunks.append(data)
        self._held += len(data)
        if self._held > self.memory_limit:
            self._spill()

    def _spill(self) -> None:
        held = b"".join(self._chunks)
        # The in-memory part ends at a line end, so that cleanup never sees
        # half a line; a first line longer than the limit stays whole.
        cut = (held.rfind(b"\n", 0, self.memory_limit) + 1
               or held.find(b"\n") + 1 or len(held))
        self._chunks = [held[:cut]]
        self._held = cut
        self._fd = _unlinked_file(self.directory)
        self._write(held[cut:])

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        self.tail_size += len(data)

    def head(self) -> bytes:
        """The part kept in memory (the whole message when nothing spilled)."""
        if len(self._chunks) != 1:
            self._chunks = [b"".join(self._chunks)]
        return self._chunks[0]

    def fileno(self) -> int:
        """The temporary file's descriptor (ValueError when nothing spilled):
        :attr:`tail_size` bytes from offset 0."""
        if self._fd is None:
            raise ValueError("nothing was spilled to a file")
        return self._fd

    def read_tail(self) -> bytes:
        """The spilled part read into memory (for a consumer that needs the
        whole message as bytes, such as a program's own handler)."""
        return read_range(self._fd, self.tail_size) if self._fd is not None else b""

    def close(self) -> None:
        """Forget the content; the temporary file goes away."""
        self._chunks = []
        self._held = 0
        self.tail_size = 0
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _unlinked_file(directory: str | None) -> int:
    directory = directory or tempfile.gettempdir()
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        try:
            return os.open(directory, flag | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except OSError:
            pass            # a file system without O_TMPFILE: make and unlink
    fd, path = tempfile.mkstemp(dir=directory, prefix=".spill.")
    os.unlink(path)
    return fd


def read_range(fd: int, size: int) -> bytes:
    """``size`` bytes from offset 0 of ``fd`` (OSError when it holds fewer)."""
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(size - offset, _COPY_CHUNK), offset)
        if not chunk:
            raise OSError(f"message content ended {size - offset} bytes early")
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def copy_file(src: "SupportsFileno", dst_fd: int, size: int) -> None:
    """Copy ``size`` bytes from offset 0 of ``src`` (anything with
    ``fileno()``) to the descriptor ``dst_fd``, in the kernel where it can
    (copy_file_range), else a chunk at a time: never the whole content in
    memory. Raises OSError when fewer than ``size`` bytes could be read.
    """
    src_fd = src.fileno()
    offset = 0
    left = size
    copy_range = getattr(os, "copy_file_range", None)
    while left:
        if copy_range is not None:
            try:
                done = copy_range(src_fd, dst_fd, min(left, _COPY_CHUNK), offset)
            except OSError:
                copy_range = None       # not on this file system: plain copy
                continue
        else:
            chunk = os.pread(src_fd, min(left, _COPY_CHUNK), offset)
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst_fd, view):]
            done = len(chunk)
        if done <= 0:
            raise OSError(f"message content ended {left} bytes early")
        offset += done
        left -= done


class SupportsFileno(Protocol):
    def fileno(self) -> int: ...
