"""Postfix-format delivery log lines. Pure: returns text, logs nothing.

These are the lines log tools (pflogsumm, grep scripts) read, so their shape
follows Postfix exactly::

    QUEUEID: from=<a@example.com>, size=1234, nrcpt=2 (queue active)
    QUEUEID: to=<b@example.com>, orig_to=<sales@example.com>, relay=virtual, delay=0.05, delays=0.02/0.01/0/0.02, dsn=2.0.0, status=sent (delivered to maildir)
    QUEUEID: removed

>>> format_delay(0.0), format_delay(0.0432), format_delay(1.26), format_delay(42.7)
('0', '0.04', '1.3', '43')
"""

from __future__ import annotations

from typing import Sequence

from mailflow.model import Outcome

STATUS_WORDS = {2: "sent", 4: "deferred", 5: "bounced"}


def format_delay(seconds: float) -> str:
    """Postfix's delay style: two decimals under a second, one under ten,
    whole seconds above; trailing zeros dropped."""
    seconds = max(0.0, seconds)
    if seconds >= 10:
        return str(int(round(seconds)))
    text = f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2f}"
    text = text.rstrip("0").rstrip(".")
    return text or "0"


def active_line(queue_id: str, sender: str, size: int, nrcpt: int) -> str:
    """The line qmgr writes when a message enters the active queue.

    >>> active_line("4AbC", "a@example.com", 1234, 2)
    '4AbC: from=<a@example.com>, size=1234, nrcpt=2 (queue active)'
    """
    return f"{queue_id}: from=<{sender}>, size={size}, nrcpt={nrcpt} (queue active)"


def delivery_line(queue_id: str, outcome: Outcome, *, delay: float,
                  delays: Sequence[float], status_word: str | None = None) -> str:
    """One line per recipient per attempt.

    ``delays`` are Postfix's a/b/c/d: before the queue manager, in the queue
    manager, connection set-up, transmission. ``status_word`` overrides the
    word derived from the DSN class (e.g. ``expired``).

    >>> from mailflow.model import DsnStatus, Recipient
    >>> o = Outcome(Recipient("b@example.com", original="sales@example.com"),
    ...             DsnStatus("2.0.0", "delivered to maildir"), relay="virtual")
    >>> delivery_line("4AbC", o, delay=0.05, delays=(0.02, 0.01, 0, 0.02))
    '4AbC: to=<b@example.com>, orig_to=<sales@example.com>, relay=virtual, delay=0.05, delays=0.02/0.01/0/0.02, dsn=2.0.0, status=sent (delivered to maildir)'

    A message sent over a cached connection (its second use) says so:

    >>> o = Outcome(Recipient("c@example.net"), DsnStatus("2.0.0", "250 2.0.0 Ok"),
    ...             relay="mx.example.net[192.0.2.1]:25", conn_use=2)
    >>> delivery_line("4AbD", o, delay=0.1, delays=(0, 0, 0, 0.1))
    '4AbD: to=<c@example.net>, relay=mx.example.net[192.0.2.1]:25, conn_use=2, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)'
    """
    rcpt = outcome.recipient
    parts = [f"{queue_id}: to=<{rcpt.address}>"]
    if rcpt.original and rcpt.original != rcpt.address:
        parts.append(f"orig_to=<{rcpt.original}>")
    parts.append(f"relay={outcome.relay}")
    if outcome.conn_use:
        # Postfix's smtp(8): only a reused connection says how often it served.
        parts.append(f"conn_use={outcome.conn_use}")
    parts.append(f"delay={format_delay(delay)}")
    parts.append("delays=" + "/".join(format_delay(d) for d in delays))
    parts.append(f"dsn={outcome.status.code}")
    word = status_word or STATUS_WORDS[outcome.status.klass]
    text = outcome.status.text
    parts.append(f"status={word} ({text})" if text else f"status={word}")
    return ", ".join(parts)


def removed_line(queue_id: str) -> str:
    """The line written when a message leaves the queue for good.

    >>> removed_line("4AbC")
    '4AbC: removed'
    """
    return f"{queue_id}: removed"


def expired_line(queue_id: str, sender: str) -> str:
    """The line Postfix's qmgr writes when a message outlives its lifetime.

    >>> expired_line("4AbC", "a@example.com")
    '4AbC: from=<a@example.com>, status=expired, returned to sender'
    """
    return f"{queue_id}: from=<{sender}>, status=expired, returned to sender"
