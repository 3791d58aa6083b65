"""``explain --smtpd``: how smtpd's restrictions would answer, without a socket.

This module owns turning :meth:`SmtpdRestrictions.explain
<mailflow.smtpd.restrictions.SmtpdRestrictions.explain>` into the objects and
text the command prints: one object per recipient and SMTP stage, with the
keys ``recipient``, ``stage``, ``verdict`` (``accept``/``reject``/``defer``),
``reply`` (the SMTP reply text, or null), ``trace`` (a list of
``{restriction_list, restriction, result, detail}``), ``hold``, ``discard``,
``filter``, ``redirect``, ``prepend`` and ``warnings`` (the log lines).
The command line is :mod:`mailflow.cli.explain`.

>>> import asyncio
>>> from mailflow.config import Config
>>> out = asyncio.run(explain_smtpd(Config(mydestination="example.com", local_recipient_maps=""),
...                                 ["x@elsewhere.example"], client="203.0.113.5"))
>>> [(o["stage"], o["verdict"]) for o in out]
[('CONNECT', 'accept'), ('RCPT', 'defer')]
>>> print(render_text(out).splitlines()[2])
  RCPT: defer: 454 4.7.1 <x@elsewhere.example>: Relay access denied
"""

from __future__ import annotations

from typing import Any, Iterable

from mailflow.smtpd.facts import SessionFacts
from mailflow.smtpd.restrictions import SmtpdRestrictions

__all__ = ["explain_smtpd", "render_text"]


async def explain_smtpd(cfg: Any, recipients: Iterable[str], *, client: str = "127.0.0.1",
                        client_name: str = "unknown", helo: str | None = None,
                        sender: str | None = None, dns: Any = None, policy_client: Any = None,
                        restrictions: SmtpdRestrictions | None = None) -> list[dict[str, Any]]:
    """The explain objects for each recipient, in order (see the module doc).

    ``sender`` None means no MAIL FROM was given; Postfix then evaluates the
    sender restrictions with no sender, as for a client that skipped MAIL.
    """
    owned = restrictions is None and policy_client is None
    r = restrictions or SmtpdRestrictions.from_config(cfg, dns=dns, policy_client=policy_client)
    out: list[dict[str, Any]] = []
    try:
        for rcpt in recipients:
            facts = SessionFacts(client, client_name=client_name, reverse_client_name=client_name,
                                 helo=helo, protocol="ESMTP" if helo else "SMTP", sender=sender,
                                 recipient=rcpt, recipient_count=1, stage="RCPT")
            for decision in await r.explain(facts):
                obj = decision.to_json()
                out.append({"recipient": rcpt, **obj})
    finally:
        # A policy client made here on first use is closed here; one passed
        # in belongs to the caller.
        close = getattr(r.policy_client, "close", None) if owned else None
        if close is not None:
            await close()
    return out


def render_text(results: list[dict[str, Any]]) -> str:
    """The human-readable report: per recipient, each stage's verdict and
    then the restrictions it evaluated.

    >>> print(render_text([{"recipient": "a@b", "stage": "RCPT", "verdict": "accept",
    ...                     "reply": None, "trace": [], "hold": None, "discard": None,
    ...                     "filter": None, "redirect": None, "prepend": [], "warnings": []}]))
    a@b:
      RCPT: accept
    """
    lines: list[str] = []
    current = None
    for obj in results:
        if obj["recipient"] != current:
            current = obj["recipient"]
            lines.append(f"{current}:")
        extras = [f"{name} {obj[name]}" for name in ("hold", "discard", "filter", "redirect")
                  if obj[name]]
        extras += [f"prepend {p}" for p in obj["prepend"]]
        verdict = obj["verdict"] + (f": {obj['reply']}" if obj["reply"] else "")
        lines.append(f"  {obj['stage']}: {verdict}" + (f" [{'; '.join(extras)}]" if extras else ""))
        for step in obj["trace"]:
            detail = f" ({step['detail']})" if step["detail"] else ""
            lines.append(f"      {step['restriction_list']}: {step['restriction']} -> "
                         f"{step['result']}{detail}")
    return "\n".join(lines)
