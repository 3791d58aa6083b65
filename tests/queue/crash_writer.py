"""Helper process for the SIGKILL test: enqueue forever, print each ID once durable.

Usage: python crash_writer.py KIND PATH  (KIND: file or sqlite). Prints
``E <id> <n>`` after enqueue returned and ``D <id>`` after mark_done returned.
"""

import sys

from mailflow.interfaces import QueueName
from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient

kind, path = sys.argv[1], sys.argv[2]
if kind == "file":
    from mailflow.adapters.queue_store import FileQueueStore
    store = FileQueueStore(path)
else:
    from mailflow.adapters.sqlite_queue_store import SqliteQueueStore
    store = SqliteQueueStore(path)
n = 0
while True:
    n += 1
    env = Envelope("a@example.com", (Recipient("b@example.net"), Recipient("c@example.net")))
    body = b"Subject: %d\n\n" % n + b"x" * (n % 5000) + b"\n"
    qid = store.enqueue(QueueName.INCOMING, env, Message(body))
    sys.stdout.write(f"E {qid} {n}\n")
    sys.stdout.flush()
    store.mark_done(qid, QueueName.INCOMING, [Outcome(env.recipients[0], DsnStatus.parse("2.0.0"))])
    sys.stdout.write(f"D {qid}\n")
    sys.stdout.flush()
