"""ETRN's work: make the deferred mail of one destination due now.

Postfix's flush(8) keeps a log per destination of ``fast_flush_domains``;
an ``ETRN example.com`` makes the mail listed there due and wakes the
queue manager. mailflow keeps no per-destination log: :func:`flush_site`
reads the envelopes of ``deferred/`` (heads only, never the content) and
makes due now every message with a pending recipient at that domain. The
caller (smtpd) runs it in a thread and then asks the queue manager for a
scan of due deferred mail.

>>> import tempfile
>>> from mailflow.adapters.queue_store import FileQueueStore
>>> from mailflow.interfaces import QueueName
>>> from mailflow.model import Envelope, Message, Recipient
>>> store = FileQueueStore(tempfile.mkdtemp(), fsync=False)
>>> qid = store.enqueue(QueueName.DEFERRED, Envelope("a@example.org",
...                     [Recipient("b@Relay.Example")]), Message(b"Subject: x\\n\\nhi\\n"))
>>> store.set_next_attempt(qid, QueueName.DEFERRED, 4e9)
>>> flush_site(store, "relay.example", now=1e9), flush_site(store, "other.example", now=1e9)
(1, 0)
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mailflow.errors import NoSuchMessage, QueueError
from mailflow.interfaces import QueueName

__all__ = ["flush_site"]

log = logging.getLogger("mailflow.flush")


def flush_site(store: Any, domain: str, *, now: float | None = None) -> int:
    """Make due at ``now`` every deferred message with a pending recipient
    whose domain is ``domain`` (case-insensitive); how many were made due.

    A message that left ``deferred/`` meanwhile is skipped; one that cannot
    be read is skipped with a warning (the queue manager reports it when it
    gets to it).
    """
    when = time.time() if now is None else now
    site = domain.lower().rstrip(".")
    flushed = 0
    for queue_id in list(store.ids(QueueName.DEFERRED)):
        try:
            queued = store.read(queue_id, QueueName.DEFERRED, with_content=False)
            if any(r.address.rpartition("@")[2].lower() == site
                   for r in queued.envelope.pending()):
                store.set_next_attempt(queue_id, QueueName.DEFERRED, when)
                flushed += 1
        except NoSuchMessage:
            continue
        except (OSError, QueueError) as exc:
            log.warning("%s: cannot flush: %s", queue_id, exc)
    return flushed
