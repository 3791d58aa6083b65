"""Per-session command counters: the tail of smtpd's ``disconnect from`` line.

Postfix counts, per command, how many were given and how many succeeded,
and logs them when the client goes away::

    disconnect from localhost[127.0.0.1] ehlo=1 mail=2/7 rcpt=2/7 quit=1 commands=5/16

A command that succeeded every time shows one number; otherwise
``succeeded/given``. Pure bookkeeping, no I/O.

>>> s = CommandStats()
>>> for name, ok in [("ehlo", True), ("mail", True), ("rcpt", False), ("rcpt", True), ("quit", True)]:
...     s.count(name, ok)
>>> s.summary()
'ehlo=1 mail=1 rcpt=1/2 quit=1 commands=4/5'
"""

from __future__ import annotations

__all__ = ["CommandStats", "COMMAND_ORDER"]

#: The order in which Postfix's smtpd lists its counters (its command table).
COMMAND_ORDER = ("helo", "ehlo", "lhlo", "xclient", "xforward", "starttls", "auth", "mail",
                 "rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn", "quit", "unknown")


class CommandStats:
    """Counts of commands given and accepted in one session."""

    def __init__(self) -> None:
        self.given: dict[str, int] = {}
        self.accepted: dict[str, int] = {}

    def count(self, name: str, ok: bool) -> None:
        """Record one ``name`` command (lower-case; unknown verbs as ``unknown``)."""
        self.given[name] = self.given.get(name, 0) + 1
        if ok:
            self.accepted[name] = self.accepted.get(name, 0) + 1

    def summary(self) -> str:
        """The counters as Postfix prints them after ``disconnect from ...``.

        >>> CommandStats().summary()
        'commands=0'
        """
        parts = []
        total_given = total_ok = 0
        for name in COMMAND_ORDER:
            given = self.given.get(name, 0)
            if not given:
                continue
            ok = self.accepted.get(name, 0)
            total_given += given
            total_ok += ok
            parts.append(f"{name}={_ratio(ok, given)}")
        parts.append(f"commands={_ratio(total_ok, total_given)}")
        return " ".join(parts)


def _ratio(ok: int, given: int) -> str:
    return str(ok) if ok == given else f"{ok}/{given}"
