"""Is there room in the queue file system to accept mail? (``queue_minfree``)

Owns Postfix's free-space rule (smtpd_check.c ``smtpd_check_queue``): mail
is refused for now when the free space, counted in file-system blocks, is
at most ``queue_minfree``, or when ``message_size_limit`` is not below two
thirds of it (free space must be more than 1.5 times the largest message
that may arrive). :func:`has_room` is the pure rule; :func:`enough_space`
asks the file system (``statvfs``, the blocks an unprivileged writer may
use) and is what smtpd and sendmail call. :func:`shortage_text` is
Postfix's warning, for the log and for sendmail's error message.

>>> has_room(free_blocks=1000, block_size=4096, queue_minfree=0, message_size_limit=10240000)
False
>>> has_room(free_blocks=10000, block_size=4096, queue_minfree=0, message_size_limit=10240000)
True
"""

from __future__ import annotations

import os

__all__ = ["SPACE_FACTOR", "has_room", "free_space", "enough_space", "shortage_text"]

#: Free space must exceed this many times message_size_limit (smtpd_space_multf).
SPACE_FACTOR = 1.5


def has_room(*, free_blocks: int, block_size: int, queue_minfree: int,
             message_size_limit: int) -> bool:
    """Postfix's rule on the counts ``statvfs`` gives.

    Both limits are in bytes and compared in whole blocks, as Postfix does
    (no overflow, and a limit smaller than a block counts as none).
    ``message_size_limit = 0`` (no limit) leaves only the ``queue_minfree``
    test, and an empty file system is always full.

    >>> has_room(free_blocks=10, block_size=1024, queue_minfree=20480, message_size_limit=0)
    False
    >>> has_room(free_blocks=0, block_size=1024, queue_minfree=0, message_size_limit=0)
    False
    """
    block_size = max(1, int(block_size))
    if int(queue_minfree) // block_size >= free_blocks:
        return False
    return int(message_size_limit) // block_size < free_blocks / SPACE_FACTOR


def free_space(queue_directory: str | os.PathLike) -> tuple[int, int]:
    """``(free_blocks, block_size)`` of the file system holding the spool:
    the blocks available to a writer that is not root (``f_bavail``).

    >>> blocks, size = free_space(".")
    >>> blocks >= 0 and size > 0
    True
    """
    st = os.statvfs(os.fspath(queue_directory))
    return int(st.f_bavail), int(st.f_frsize or st.f_bsize)


def enough_space(queue_directory: str | os.PathLike, queue_minfree: int,
                 message_size_limit: int) -> bool:
    """Whether the spool may take mail now (smtpd answers ``452 4.3.1
    Insufficient system storage`` and sendmail exits 75 when not). A spool
    whose file system cannot be asked counts as full.

    >>> enough_space(".", 0, 0)
    True
    """
    try:
        blocks, size = free_space(queue_directory)
    except OSError:
        return False
    return has_room(free_blocks=blocks, block_size=size, queue_minfree=int(queue_minfree),
                    message_size_limit=int(message_size_limit))


def shortage_text(queue_directory: str | os.PathLike) -> str:
    """Postfix's warning for a spool without room (smtpd logs it).

    >>> shortage_text(".").startswith("not enough free space in mail queue: ")
    True
    """
    try:
        blocks, size = free_space(queue_directory)
    except OSError as exc:
        return f"cannot get free space of mail queue: {exc.strerror or exc}"
    return (f"not enough free space in mail queue: {blocks * size} bytes < "
            f"{SPACE_FACTOR:g}*message size limit")
