"""cleanup: the message pipeline between the receiving services and the queue.

Postfix's cleanup(8) as a pure library: missing headers, address rewriting,
virtual alias expansion, header/body checks and limits. The pure pipeline is
:class:`CleanupPipeline`; :mod:`mailflow.services.cleanup` runs it and writes
the result to the spool. Nothing in this package does I/O.

>>> from mailflow.model import Envelope, Message, Recipient
>>> result = CleanupPipeline.from_config(None).process(
...     Envelope("alice@example.com", (Recipient("bob@example.com"),)),
...     Message(b"Subject: hi\\n\\nhello\\n"), queue_id="ABC", now=0)
>>> result.action, [n for n, _ in result.message.headers()]
('queue', ['Received', 'Subject', 'Message-Id', 'Date', 'From'])
"""

from mailflow.cleanup.headers import Header
from mailflow.cleanup.pipeline import CleanupPipeline
from mailflow.cleanup.result import DISCARD, HOLD, QUEUE, REJECT, CleanupResult
from mailflow.cleanup.rules import BodyRule, HeaderRule, Verdict, body_rule, header_rule
from mailflow.cleanup.settings import CleanupSettings

__all__ = ["CleanupPipeline", "CleanupResult", "CleanupSettings", "Header", "Verdict",
           "HeaderRule", "BodyRule", "header_rule", "body_rule",
           "QUEUE", "HOLD", "DISCARD", "REJECT"]
