"""The per-message ``bounce``/``defer``/``trace`` logs: pure encode and decode.

Owns the bytes of one log entry; never does I/O. Like Postfix's logs under
``defer/`` and ``bounce/``, a log is a sequence of ``name=value`` blocks, one
per recipient outcome, each ended by an empty line; values are
percent-encoded so they stay on one line. An entry cut short by a crash (no
closing empty line) is ignored when read back, so appending is crash-safe.

>>> from mailflow.model import DsnStatus, Outcome, Recipient
>>> o = Outcome(Recipient("b@example.net"), DsnStatus.parse("4.4.1", "connection refused"), relay="smtp")
>>> decode_log(encode_log_entry(o) * 2)[1].status.text
'connection refused'
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from mailflow.errors import QueueError
from mailflow.model import DsnStatus, Notify, Outcome, Recipient

__all__ = ["LOG_KINDS", "check_log_kind", "encode_log_entry", "decode_log", "action_for"]

LOG_KINDS = ("bounce", "defer", "trace")
_SAFE = "@!#$&'*+/=?^_`{|}~.-:;<>[](),\"\\ "


def check_log_kind(kind: str) -> str:
    """``kind`` when it names a per-message log, else :class:`~mailflow.errors.QueueError`.

    >>> check_log_kind("defer")
    'defer'
    >>> check_log_kind("junk")
    Traceback (most recent call last):
    mailflow.errors.QueueError: unknown log kind 'junk'; expected one of bounce, defer, trace
    """
    if kind not in LOG_KINDS:
        raise QueueError(f"unknown log kind {kind!r}; expected one of {', '.join(LOG_KINDS)}")
    return kind


def action_for(outcome: Outcome) -> str:
    """RFC 3464 Action for an outcome: delivered, delayed or failed.

    >>> from mailflow.model import Recipient
    >>> action_for(Outcome(Recipient("a@b"), DsnStatus.parse("5.1.1")))
    'failed'
    """
    return {2: "delivered", 4: "delayed", 5: "failed"}[outcome.status.klass]


def encode_log_entry(outcome: Outcome) -> bytes:
    """One log block for ``outcome``, ending in an empty line."""
    rcpt = outcome.recipient
    fields = [("recipient", rcpt.address), ("original_recipient", rcpt.original),
              ("orcpt", rcpt.orcpt),
              ("notify", ",".join(sorted(n.value for n in rcpt.notify)) or None),
              ("status", outcome.status.code), ("reason", outcome.status.text),
              ("action", action_for(outcome)), ("relay", outcome.relay),
              ("diagnostic", outcome.diagnostic), ("remote_mta", outcome.remote_mta)]
    lines = [f"{k}={quote(v, safe=_SAFE)}\n" for k, v in fields if v is not None]
    return ("".join(lines) + "\n").encode("utf-8", "surrogateescape")


def decode_log(data: bytes) -> list[Outcome]:
    """All complete entries in a log, in the order written."""
    out: list[Outcome] = []
    text = data.decode("utf-8", "surrogateescape")
    blocks = text.split("\n\n")
    for block in blocks[:-1]:          # the last piece has no closing blank line
        attrs_: dict[str, str] = {}
        for line in block.split("\n"):
            name, sep, value = line.partition("=")
            if sep:
                attrs_[name] = unquote(value, errors="surrogateescape")
        if "recipient" not in attrs_ or "status" not in attrs_:
            continue
        notify = attrs_.get("notify")
        try:
            rcpt = Recipient(attrs_["recipient"], attrs_.get("original_recipient"), attrs_.get("orcpt"),
                             frozenset(Notify(n) for n in notify.split(",")) if notify else frozenset())
            status = DsnStatus.parse(attrs_["status"], attrs_.get("reason", ""))
        except Exception:   # a damaged entry is skipped, never fatal (the log is advisory)
            continue
        out.append(Outcome(rcpt, status, attrs_.get("relay", "none"),
                           attrs_.get("diagnostic"), attrs_.get("remote_mta")))
    return out
