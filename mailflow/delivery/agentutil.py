"""Small helpers every built-in agent shares: running blocking work off the
event loop, turning a failure into an Outcome, and the "not root" rule.

Owns nothing but these helpers; never delivers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Callable, TypeVar

from mailflow.errors import DeliveryFailure, TableError
from mailflow.model import DsnStatus

__all__ = ["in_thread", "failure_status", "is_root", "warn_once"]

T = TypeVar("T")
_warned: set[tuple[str, str]] = set()


async def in_thread(func: Callable[..., T], *args, **kwargs) -> T:
    """Run blocking file work (writes, fsync, locks) in the default thread pool."""
    return await asyncio.to_thread(func, *args, **kwargs)


def failure_status(exc: BaseException) -> DsnStatus:
    """The status for an exception raised while delivering.

    >>> failure_status(TableError("hash:/etc/aliases: cannot open")).code
    '4.3.0'
    """
    if isinstance(exc, DeliveryFailure):
        return exc.status
    if isinstance(exc, TableError):
        # A table that cannot answer defers; it is never "not found".
        return DsnStatus("4.3.0", f"table lookup problem: {exc}")
    if isinstance(exc, OSError):
        return DsnStatus("4.3.0", f"mail system error: {exc.strerror or exc}")
    return DsnStatus("4.3.0", f"mail system error: {exc}")


def is_root() -> bool:
    """Settings that name another user apply only when running as root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def warn_once(log: logging.Logger, key: str, text: str, *args) -> None:
    """Log a warning the first time only (DESIGN: "one warning at start")."""
    if (log.name, key) not in _warned:
        _warned.add((log.name, key))
        log.warning(text, *args)
