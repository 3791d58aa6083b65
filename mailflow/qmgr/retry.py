"""When deferred mail is tried again, and when it expires.

Postfix's qmgr sets a deferred message's next attempt at ``now + age``
clamped to ``[minimal_backoff_time, maximal_backoff_time]`` (qmgr_active.c):
the gap roughly doubles with each failed attempt, because each attempt
happens about one gap later than the last. We keep that rule.

>>> next_attempt(now=1000.0, arrival=900.0, minimal=300, maximal=4000)
1300.0
>>> next_attempt(now=10_000.0, arrival=4000.0, minimal=300, maximal=4000)
14000.0
>>> is_expired(now=500_000.0, arrival=0.0, lifetime=432000)
True
"""

from __future__ import annotations


def backoff(now: float, arrival: float, minimal: float, maximal: float) -> float:
    """Seconds to wait before the next attempt: the message age, clamped."""
    age = max(0.0, now - arrival)
    return min(max(age, minimal), max(maximal, minimal))


def next_attempt(now: float, arrival: float, minimal: float, maximal: float) -> float:
    """The time at which a just-deferred message becomes due again."""
    return now + backoff(now, arrival, minimal, maximal)


def is_expired(now: float, arrival: float, lifetime: float) -> bool:
    """Whether a message has outlived ``maximal_queue_lifetime`` (or
    ``bounce_queue_lifetime`` for null-sender mail). A lifetime of 0 means
    Postfix's "try once": expired as soon as the first attempt failed."""
    return now - arrival >= lifetime


def needs_delay_warning(now: float, arrival: float, warning_time: float, warned: bool) -> bool:
    """Whether a one-time delay notice is due (``delay_warning_time``; 0 = never).

    >>> needs_delay_warning(now=4000.0, arrival=0.0, warning_time=3600, warned=False)
    True
    >>> needs_delay_warning(now=4000.0, arrival=0.0, warning_time=0, warned=False)
    False
    """
    return warning_time > 0 and not warned and now - arrival >= warning_time
