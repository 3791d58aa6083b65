"""The spool: queue IDs, the queue-file format, and the in-memory store.

The file spool and the sqlitedict store live in :mod:`mailflow.adapters`
(they do I/O); this package is pure, except :mod:`mailflow.queue.space`,
the one ``statvfs`` call behind ``queue_minfree``. The names below are
imported when first used, so that sendmail can import ``space`` without
the model's dependencies.
"""

from typing import Any

__all__ = ["QueueId", "make_queue_id", "validate_queue_id"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mailflow.queue import names
        return getattr(names, name)
    raise AttributeError(f"module 'mailflow.queue' has no attribute {name!r}")
