"""The spool: queue IDs, the queue-file format, and the in-memory store.

The file spool and the sqlitedict store live in :mod:`mailflow.adapters`
(they do I/O); this package is pure.
"""

from mailflow.queue.names import QueueId, make_queue_id, validate_queue_id

__all__ = ["QueueId", "make_queue_id", "validate_queue_id"]
