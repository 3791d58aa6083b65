"""The queue listing of ``postqueue -p`` (mailq) and ``postqueue -j``, as text.

Owns the layout only (Postfix's showq(8) with long queue IDs): pure
functions from a :class:`~mailflow.interfaces.QueuedMessage` and its deferral
reasons to lines. Never reads the spool; :mod:`mailflow.cli.postqueue`
does that.

>>> from mailflow.interfaces import QueueName
>>> from mailflow.model import Envelope, Message, Recipient
>>> env = Envelope("a@example.com", (Recipient("b@example.net"),), arrival_time=0)
>>> msg = QueuedMessage("4jcpB45NThzJBkk", QueueName.HOLD, env, Message(b""), 270)
>>> print(mailq_entry(msg, {"b@example.net": "connect refused"}, tz="UTC"))
4jcpB45NThzJBkk!       270 Thu Jan  1 00:00:00 a@example.com
                       (connect refused)
                                               b@example.net
<BLANKLINE>
"""

from __future__ import annotations

import json
import time
from typing import Mapping

from mailflow.interfaces import QueueName, QueuedMessage

__all__ = ["MAILQ_HEADER", "MAILQ_EMPTY", "mailq_entry", "mailq_trailer", "json_entry",
           "status_marks", "sender_text"]

# showq.c, long queue ID layout: ID+marks in 17 columns, size in 8, the
# arrival time in 19, then the sender; reasons indented 23, recipients 47.
MAILQ_HEADER = "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------"
MAILQ_EMPTY = "Mail queue is empty"
_REASON_INDENT = " " * 23
_RCPT_INDENT = " " * 47
# The null sender is shown as Postfix's MAIL_ADDR_MAIL_DAEMON.
_NULL_SENDER = "MAILER-DAEMON"


def sender_text(sender: str) -> str:
    """The sender as mailq shows it.

    >>> sender_text(""), sender_text("a@b")
    ('MAILER-DAEMON', 'a@b')
    """
    return sender or _NULL_SENDER


def status_marks(msg: QueuedMessage) -> str:
    """``*`` active, ``!`` on hold, then ``#`` when forced to expire (Postfix 3.5+).

    >>> from mailflow.model import Envelope, Message
    >>> status_marks(QueuedMessage("x", QueueName.ACTIVE, Envelope("", ()), Message(b""), forced_expire=True))
    '*#'
    """
    marks = {QueueName.ACTIVE: "*", QueueName.HOLD: "!"}.get(msg.queue, "")
    return marks + ("#" if msg.forced_expire else "")


def _arrival(seconds: float, tz: str | None) -> str:
    if tz == "UTC":
        t = time.gmtime(seconds)
    else:
        t = time.localtime(seconds)
    # Postfix: asctime() without the year: "Sun Nov 29 13:37:48"
    return time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S", t)


def mailq_entry(msg: QueuedMessage, reasons: Mapping[str, str], *, tz: str | None = None) -> str:
    """One message in mailq layout, ending with an empty line.

    Pending recipients are grouped under their deferral reason, in the order
    they appear; done recipients are not shown (as in Postfix).
    """
    lines = [f"{msg.queue_id + status_marks(msg):<17} {msg.size:>8} "
             f"{_arrival(msg.envelope.arrival_time, tz)} {sender_text(msg.envelope.sender)}"]
    groups: dict[str | None, list[str]] = {}
    for rcpt in msg.envelope.pending():
        groups.setdefault(reasons.get(rcpt.address), []).append(rcpt.address)
    for reason, addresses in groups.items():
        if reason:
            lines.append(f"{_REASON_INDENT}({reason})")
        lines.extend(_RCPT_INDENT + a for a in addresses)
    return "\n".join(lines) + "\n"


def mailq_trailer(total_size: int, count: int) -> str:
    """``-- N Kbytes in M Requests.`` (singular for one).

    >>> mailq_trailer(1042, 4), mailq_trailer(10, 1)
    ('-- 1 Kbytes in 4 Requests.', '-- 0 Kbytes in 1 Request.')
    """
    return f"-- {total_size // 1024} Kbytes in {count} Request{'s' if count != 1 else ''}."


def json_entry(msg: QueuedMessage, reasons: Mapping[str, str]) -> str:
    """One ``postqueue -j`` object, keys in Postfix's order.

    >>> from mailflow.model import Envelope, Message, Recipient
    >>> m = QueuedMessage("4jcpB45NThzJBkk", QueueName.DEFERRED,
    ...                   Envelope("", (Recipient("b@x"),), arrival_time=5.5), Message(b""), 3)
    >>> json_entry(m, {})
    '{"queue_name": "deferred", "queue_id": "4jcpB45NThzJBkk", "arrival_time": 5, "message_size": 3, "forced_expire": false, "sender": "MAILER-DAEMON", "recipients": [{"address": "b@x"}]}'
    """
    rcpts = []
    for rcpt in msg.envelope.pending():
        entry = {"address": rcpt.address}
        if reasons.get(rcpt.address):
            entry["delay_reason"] = reasons[rcpt.address]
        rcpts.append(entry)
    return json.dumps({"queue_name": msg.queue.value, "queue_id": msg.queue_id,
                       "arrival_time": int(msg.envelope.arrival_time), "message_size": msg.size,
                       "forced_expire": msg.forced_expire, "sender": sender_text(msg.envelope.sender),
                       "recipients": rcpts}, ensure_ascii=False)
