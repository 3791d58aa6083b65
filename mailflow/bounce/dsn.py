"""RFC 3464 delivery status notices in Postfix's shape. Pure.

:func:`compose_notice` builds a ``multipart/report;
report-type=delivery-status`` message with three parts: the human-readable
text (a bounce(5) template plus one line per recipient), the
``message/delivery-status`` part (per-message and per-recipient fields), and
the original message (``message/rfc822``) or only its headers
(``text/rfc822-headers``, for ``RET=HDRS``, for messages larger than
``bounce_size_limit``, and for delay and success notices).

>>> from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient
>>> env = Envelope("alice@example.com", (Recipient("nobody@example.com"),), arrival_time=0.0)
>>> out = Outcome(env.recipients[0], DsnStatus("5.1.1", 'unknown user: "nobody"'), relay="local")
>>> notice_env, notice = compose_notice(NoticeKind.FAILURE, env, Message(b"Subject: hi\\n\\nbody\\n"),
...     [out], queue_id="4AbC", myhostname="mx.example.com", now=60.0)
>>> notice_env.sender, [r.address for r in notice_env.recipients]
('', ['alice@example.com'])
>>> report = notice.email_message()
>>> report.get_content_type(), report["Subject"]
('multipart/report', 'Undelivered Mail Returned to Sender')
>>> status = report.get_payload()[1].get_payload()[1]
>>> status["Action"], status["Status"], status["Final-Recipient"]
('failed', '5.1.1', 'rfc822; nobody@example.com')
"""

from __future__ import annotations

import enum
from email.utils import format_datetime
from datetime import datetime, timezone
from typing import Mapping, Sequence

from mailflow.bounce.templates import Template, load_templates
from mailflow.model import Envelope, Message, Outcome, Recipient, Ret

__all__ = ["NoticeKind", "compose_notice", "arrival_date"]


class NoticeKind(str, enum.Enum):
    """Which notice bounce(8) sends; the value names its template (``failure_template``, ...).

    >>> NoticeKind("delay") is NoticeKind.DELAY, f"{NoticeKind.SUCCESS.value}_template"
    (True, 'success_template')
    """

    FAILURE = "failure"     # non-delivery (bounce), including expiry
    DELAY = "delay"         # delay warning (delay_warning_time)
    SUCCESS = "success"     # NOTIFY=SUCCESS delivery report
    VERIFY = "verify"       # address verification report (sendmail -bv)


_ACTIONS = {NoticeKind.FAILURE: "failed", NoticeKind.DELAY: "delayed",
            NoticeKind.SUCCESS: "delivered", NoticeKind.VERIFY: "deliverable"}
_ORIGINAL_PART = {NoticeKind.FAILURE: "Undelivered Message", NoticeKind.DELAY: "Undelivered Message Headers",
                  NoticeKind.SUCCESS: "Delivered Message Headers", NoticeKind.VERIFY: "Message Headers"}


def arrival_date(when: float) -> str:
    """RFC 5322 date with the zone name, as Postfix writes Arrival-Date.

    >>> arrival_date(0.0).endswith(")")
    True
    """
    dt = datetime.fromtimestamp(when, timezone.utc).astimezone()
    return f"{format_datetime(dt)} ({dt.tzname()})"


def _recipient_line(outcome: Outcome) -> str:
    rcpt = outcome.recipient
    who = f"<{rcpt.address}>"
    if rcpt.original and rcpt.original != rcpt.address:
        who += f" (expanded from <{rcpt.original}>)"
    return f"{who}: {outcome.status.text}"


def _recipient_fields(outcome: Outcome, kind: NoticeKind, retry_until: float | None) -> list[str]:
    rcpt = outcome.recipient
    fields = [f"Final-Recipient: rfc822; {rcpt.address}"]
    if rcpt.orcpt:
        fields.append(f"Original-Recipient: {rcpt.orcpt}")
    elif rcpt.original:
        # Postfix writes it whenever the original recipient is known
        # (bounce_notify_util.c), not only when it differs.
        fields.append(f"Original-Recipient: rfc822;{rcpt.original}")
    action = _ACTIONS[kind]
    if kind is NoticeKind.SUCCESS and outcome.relay not in ("local", "virtual", "pipe"):
        action = "relayed"          # RFC 3464: handed to a system that sends no DSN
    fields.append(f"Action: {action}")
    fields.append(f"Status: {outcome.status.code}")
    if outcome.remote_mta:
        fields.append(f"Remote-MTA: dns; {outcome.remote_mta}")
    if outcome.diagnostic:
        fields.append(f"Diagnostic-Code: {outcome.diagnostic}")
    else:
        fields.append(f"Diagnostic-Code: X-Postfix; {outcome.status.text}")
    if kind is NoticeKind.DELAY and retry_until is not None:
        fields.append(f"Will-Retry-Until: {arrival_date(retry_until)}")
    return fields


def compose_notice(kind: NoticeKind, envelope: Envelope, message: Message,
                   outcomes: Sequence[Outcome], *, queue_id: str, myhostname: str,
                   now: float, to: str | None = None, templates: Mapping[str, Template] | None = None,
                   template_params: Mapping[str, object] | None = None,
                   bounce_size_limit: int = 50000, retry_until: float | None = None,
                   postmaster_copy: bool = False) -> tuple[Envelope, Message]:
    """Build the notice for ``outcomes`` of one message.

    The notice goes to ``to`` (default: the envelope sender) from the null
    sender, so that it can never cause another notice. ``template_params``
    expands the template (``myhostname``, ``delay_warning_time``,
    ``maximal_queue_lifetime``, ... in seconds for time values). A
    postmaster copy uses the template's Postmaster-Subject and carries only
    the original headers.
    """
    templates = templates or load_templates()
    template = templates[f"{kind.value}_template"]
    params = {"myhostname": myhostname, **(template_params or {})}
    recipient = envelope.sender if to is None else to
    boundary = f"{queue_id}.{int(now)}/{myhostname}"
    sender_name, _, sender_addr = template.sender.rpartition("<")
    sender_addr = sender_addr.rstrip(">")
    if "@" not in sender_addr:
        sender_addr += "@" + myhostname
    headers_only = (postmaster_copy or kind is not NoticeKind.FAILURE or envelope.ret is Ret.HDRS
                    or len(message.data) > bounce_size_limit)
    original = message.header_bytes if headers_only else message.data
    eight_bit = any(b > 127 for b in original)

    text = template.render(params).rstrip("\n") + "\n\n" + "".join(
        _recipient_line(o) + "\n" for o in outcomes)
    per_message = [f"Reporting-MTA: dns; {myhostname}",
                   f"X-Postfix-Queue-ID: {queue_id}",
                   f"X-Postfix-Sender: rfc822; {envelope.sender}"]
    if envelope.envid:
        per_message.append(f"Original-Envelope-Id: {envelope.envid}")
    per_message.append(f"Arrival-Date: {arrival_date(envelope.arrival_time)}")
    status_part = "\n".join(per_message) + "\n"
    for outcome in outcomes:
        status_part += "\n" + "\n".join(_recipient_fields(outcome, kind, retry_until)) + "\n"

    subject = template.postmaster_subject if postmaster_copy else template.subject
    head = [f"From: {sender_name.strip() or 'Mail Delivery System'} <{sender_addr}>",
            f"Subject: {subject}",
            f"To: {recipient}",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status;",
            f'\tboundary="{boundary}"',
            f"Content-Transfer-Encoding: {'8bit' if eight_bit else '7bit'}",
            ]
    original_type = "text/rfc822-headers" if headers_only else "message/rfc822"
    parts = [
        "\n".join(head) + "\n\nThis is a MIME-encapsulated message.\n",
        f"--{boundary}\nContent-Description: Notification\n"
        f"Content-Type: text/plain; charset={template.charset}\n\n{text}",
        f"--{boundary}\nContent-Description: Delivery report\n"
        f"Content-Type: message/delivery-status\n\n{status_part}",
        f"--{boundary}\nContent-Description: {_ORIGINAL_PART[kind]}\n"
        f"Content-Type: {original_type}\n"
        f"Content-Transfer-Encoding: {'8bit' if eight_bit else '7bit'}\n\n",
    ]
    data = "\n".join(parts).encode("utf-8") + original
    if not data.endswith(b"\n"):
        data += b"\n"
    data += f"\n--{boundary}--\n".encode()
    notice_env = Envelope(sender="", recipients=(Recipient(recipient),), arrival_time=now)
    return notice_env, Message(data)
