"""What a check verdict does to the message, and cleanup's own refusals.

This module owns :class:`CleanupState` (what one message's processing has
decided so far: action, status, FILTER/REDIRECT/BCC, log lines), the effect
of each header_checks(5) action on it, the rule chain (ask rules in order,
first verdict wins, a failing rule or table makes the message wait), and
the status texts of Postfix's cleanup_strerror.c. No I/O.

>>> from mailflow.cleanup.rules import Verdict
>>> state = CleanupState("QID", "local", None, sender="a@example.com", rcpt="b@example.com")
>>> state.apply(Verdict("HOLD", "review"), "header", "Subject: x")
>>> state.action, state.log[0]
('hold', 'QID: hold: header Subject: x from local; from=<a@example.com> to=<b@example.com>: review')
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import attrs

from mailflow.cleanup.checks import UnknownAction
from mailflow.cleanup.result import DISCARD, HOLD, QUEUE, REJECT
from mailflow.cleanup.rules import Verdict, to_verdict
from mailflow.errors import TableError
from mailflow.model import ClientInfo, DsnStatus

__all__ = ["CleanupState", "ask_rules", "CONTENT_REJECTED", "TOO_BIG", "TOO_MANY_HOPS",
           "NO_RECIPIENTS", "WRITE_ERROR", "IGNORE", "REPLACE", "PREPEND"]

# cleanup_strerror.c: the replies for cleanup's own refusals.
CONTENT_REJECTED = "message content rejected"
TOO_BIG = DsnStatus("5.3.4", "message file too big")
TOO_MANY_HOPS = DsnStatus("5.4.0", "too many hops")
NO_RECIPIENTS = DsnStatus("5.1.0", "no recipients specified")
WRITE_ERROR = DsnStatus("4.3.0", "queue file write error")

# Line edits a verdict asks for (returned by CleanupState.apply).
IGNORE, REPLACE, PREPEND = "ignore", "replace", "prepend"

_DSN_PREFIX = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s+(.*)$", re.S)


@attrs.define
class CleanupState:
    """What the processing of one message has decided so far.

    ``client`` is what the log shows after ``from`` (``local`` or
    ``name[addr]``); ``smtp`` is set for smtpd mail (adds ``proto=`` and
    ``helo=`` to action log lines).
    """

    queue_id: str
    client: str
    smtp: ClientInfo | None
    sender: str = ""
    rcpt: str = ""
    action: str = QUEUE
    status: DsnStatus | None = None
    reason: str = ""
    filter: str | None = None
    redirect: str | None = None
    bcc: list = attrs.Factory(list)
    log: list = attrs.Factory(list)

    @property
    def stopped(self) -> bool:
        """Whether the message is refused or discarded: no more to inspect."""
        return self.action in (REJECT, DISCARD)

    def warn(self, text: str) -> None:
        """Add a ``warning: QUEUEID: text`` log line."""
        self.log.append(f"warning: {self.queue_id}: {text}")

    def act_log(self, action: str, where: str, text: str, extra: str = "") -> None:
        """Postfix's cleanup_act_log():
        ``QID: action: header TEXT from CLIENT; from=<s> to=<r>[ proto=P helo=<H>]: extra``."""
        line = f"{self.queue_id}: {action}: {where} {text[:200]} from {self.client};"
        line += f" from=<{self.sender}>"
        if self.rcpt:
            line += f" to=<{self.rcpt}>"
        if self.smtp is not None:
            line += f" proto={self.smtp.protocol}"
            if self.smtp.helo:
                line += f" helo=<{self.smtp.helo}>"
        if extra:
            line += f": {extra}"
        self.log.append(line)

    def reject(self, status: DsnStatus) -> None:
        """Refuse the message (the first refusal or discard stands)."""
        if not self.stopped:
            self.action, self.status = REJECT, status

    def apply(self, verdict: Verdict, where: str, text: str) -> str | None:
        """Carry out a verdict on the message as a whole; return IGNORE,
        REPLACE or PREPEND when the line itself must change, else None.

        ``where`` is ``header`` or ``body``; ``text`` the line, for the log.
        """
        action, vtext = verdict.action, verdict.text
        if self.stopped or action in ("DUNNO", "OK"):
            return None
        if action in ("REJECT", "DEFER"):
            default = "4.7.1" if action == "DEFER" else "5.7.1"
            m = _DSN_PREFIX.match(vtext)
            if m and m.group(1)[0] == default[0]:
                status = DsnStatus(m.group(1), m.group(2))
            else:
                status = DsnStatus(default, vtext or ("Service unavailable" if action == "DEFER"
                                                      else CONTENT_REJECTED))
            self.act_log(action.lower(), where, text, str(status))
            self.reject(status)
            self.reason = vtext
        elif action == "DISCARD":
            self.act_log("discard", where, text, vtext)
            self.action, self.reason = DISCARD, vtext
        elif action == "HOLD":
            # cleanup_act.c: only the first HOLD is logged and counts.
            if self.action != HOLD:
                self.act_log("hold", where, text, vtext)
                self.action, self.reason = HOLD, vtext
        elif action == "REDIRECT":
            self.act_log("redirect", where, text, vtext)
            self.redirect = vtext
        elif action == "FILTER":
            self.act_log("filter", where, text, vtext)
            self.filter = vtext
        elif action == "BCC":
            self.bcc.append(vtext)
        elif action in ("WARN", "INFO"):
            self.act_log("warning" if action == "WARN" else "info", where, text, vtext)
        elif action in ("PREPEND", "REPLACE"):
            self.act_log(action.lower(), where, text, vtext)
            return PREPEND if action == "PREPEND" else REPLACE
        elif action == "IGNORE":
            return IGNORE
        return None


def ask_rules(rules: Sequence[object], ask: Callable[[object], object], state: CleanupState,
              default_name: str) -> Verdict | None:
    """Ask ``rules`` in order with ``ask(rule)``; the first verdict wins.

    A table answer that is no action is warned about and skipped (Postfix
    does the same). A table that cannot answer, or a rule that raises,
    makes the message wait (4.3.0): never an accept.

    >>> state = CleanupState("QID", "local", None)
    >>> ask_rules([lambda: None, lambda: "HOLD"], lambda rule: rule(), state, "header_checks")
    Verdict(action='HOLD', text='')
    """
    for rule in rules:
        try:
            verdict = to_verdict(ask(rule))
        except UnknownAction as exc:
            state.warn(f"unknown command in {getattr(rule, 'name', default_name)} map: {exc}")
            continue
        except TableError:
            state.warn(f"{getattr(rule, 'name', default_name)} map lookup problem"
                       " -- message not accepted, try again later")
            state.reject(WRITE_ERROR)
            return None
        except Exception as exc:  # a user's rule: fail safe
            state.warn(f"cleanup rule {rule!r} failed: {exc!r} -- message not accepted, try again later")
            state.reject(WRITE_ERROR)
            return None
        if verdict is not None:
            return verdict
    return None
