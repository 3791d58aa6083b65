"""Durability helpers shared by everything that renames files into place.

Owns the directory fsync that makes a created, renamed or removed name
survive a crash: fsync() of a file covers its data, not the directory entry
that names it (fsync(2): "Calling fsync() does not necessarily ensure that
the entry in the directory containing the file has also reached disk. For
that an explicit fsync() on a file descriptor for the directory is also
needed."). It never decides whether a caller should sync; callers that skip
it for speed do so themselves.

>>> import tempfile
>>> fsync_directory(tempfile.mkdtemp())
"""

from __future__ import annotations

import os

__all__ = ["fsync_directory"]


def fsync_directory(path: str) -> None:
    """Flush the directory ``path`` itself, so the names in it are durable.

    Raises OSError when ``path`` cannot be opened as a directory.

    >>> fsync_directory("/nonexistent/dir")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent/dir'
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
