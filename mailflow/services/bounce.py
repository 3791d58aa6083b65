"""Sending delivery status notices: compose, submit through cleanup, log.

Owns what Postfix's bounce(8) daemon does for the queue manager: turn a
:class:`~mailflow.qmgr.active.NoticePlan` into a notice with
:func:`mailflow.bounce.compose_notice` (templates from
``bounce_template_file``, read once), hand it to cleanup like any other mail
(``origin="bounce"``) and log Postfix's line
(``QUEUEID: sender non-delivery notification: NEWID``). It never decides
who gets a notice (that is :func:`mailflow.qmgr.active.plan_finish`) and
never touches the spool itself: ``submit`` does.

>>> from mailflow.model import DsnStatus, Envelope, Message, Outcome, Recipient
>>> from mailflow.qmgr.active import NoticePlan
>>> from mailflow.bounce import NoticeKind
>>> sent = []
>>> n = Notifier(None, lambda env, msg: sent.append((env, msg)) or "NEWID")
>>> env = Envelope("a@example.com", (Recipient("b@example.com"),), arrival_time=0.0)
>>> out = Outcome(env.recipients[0], DsnStatus("5.1.1", "User unknown"))
>>> n.send(NoticePlan(NoticeKind.FAILURE, "a@example.com", [out]), env,
...        Message(b"Subject: hi\\n\\nbody\\n"), queue_id="4AbC", now=60.0)
'NEWID'
>>> sent[0][0].sender, sent[0][0].recipients[0].address
('', 'a@example.com')
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import attrs

from mailflow.bounce import NoticeKind, compose_notice, load_templates
from mailflow.errors import MailflowError
from mailflow.model import DsnStatus, Envelope, Message, Outcome
from mailflow.qmgr.active import NoticePlan, QmgrSettings
from mailflow.services.skeleton import ServiceBase, ServiceContext

__all__ = ["Notifier", "Submit", "BounceService", "return_rejected"]

log = logging.getLogger("mailflow.bounce")

#: submit(envelope, message) -> the new queue ID (or None); raises when the
#: notice could not be queued (the queue manager then keeps the logs).
Submit = Callable[[Envelope, Message], Any]

# bounce(8)'s log wording for each kind of notice.
_WHAT = {
    (NoticeKind.FAILURE, False): "sender non-delivery notification",
    (NoticeKind.FAILURE, True): "postmaster non-delivery notification",
    (NoticeKind.DELAY, False): "sender delay notification",
    (NoticeKind.DELAY, True): "postmaster delay notification",
    (NoticeKind.SUCCESS, False): "sender delivery status notification",
    (NoticeKind.SUCCESS, True): "postmaster delivery status notification",
}

_TEMPLATE_TIMES = ("delay_warning_time", "maximal_queue_lifetime", "bounce_queue_lifetime",
                   "maximal_backoff_time", "minimal_backoff_time", "queue_run_delay")


def _template_text(cfg: Any) -> tuple[str | None, str]:
    name = str(cfg["bounce_template_file"]) if cfg is not None else ""
    if not name:
        return None, "bounce_template_file"
    with open(name, encoding="utf-8") as fh:
        return fh.read(), name


class Notifier:
    """Compose and submit notices for one configuration.

    ``submit`` queues a notice (the queue manager passes cleanup's
    ``submit``); ``settings`` defaults to the config's queue manager settings.

    >>> Notifier(None, lambda env, msg: None).templates["failure_template"].subject
    'Undelivered Mail Returned to Sender'
    """

    def __init__(self, cfg: Any, submit: Submit, *, settings: QmgrSettings | None = None) -> None:
        self.settings = settings or QmgrSettings.from_config(cfg)
        self.submit = submit
        text, filename = _template_text(cfg)
        self.templates = load_templates(text, filename)
        params: dict[str, object] = {"myhostname": self.settings.myhostname}
        for name in _TEMPLATE_TIMES:
            try:
                params[name] = int(float(cfg[name])) if cfg is not None else int(
                    getattr(self.settings, name, 0))
            except (KeyError, TypeError, ValueError):
                continue
        self.params = params

    def compose(self, plan: NoticePlan, envelope: Envelope, message: Message, *,
                queue_id: str, now: float) -> tuple[Envelope, Message]:
        """The notice for ``plan`` as an envelope and message, not yet queued."""
        s = self.settings
        retry_until = envelope.arrival_time + s.lifetime(envelope) if plan.kind is NoticeKind.DELAY else None
        env, msg = compose_notice(plan.kind, envelope, message, plan.outcomes, queue_id=queue_id,
                                  myhostname=s.myhostname, now=now, to=plan.to,
                                  templates=self.templates, template_params=self.params,
                                  bounce_size_limit=s.bounce_size_limit, retry_until=retry_until,
                                  postmaster_copy=plan.postmaster_copy)
        if plan.sender:
            env = attrs.evolve(env, sender=plan.sender)
        return env, msg

    def send(self, plan: NoticePlan, envelope: Envelope, message: Message, *,
             queue_id: str, now: float) -> str | None:
        """Compose, queue and log one notice; return the notice's queue ID.

        Blocking (cleanup writes the spool): the queue manager runs it in a thread.
        """
        env, msg = self.compose(plan, envelope, message, queue_id=queue_id, now=now)
        new_id = self.submit(env, msg)
        new_id = getattr(new_id, "queue_id", new_id)
        # A double bounce goes to the postmaster too (its sender is double-bounce).
        to_postmaster = plan.postmaster_copy or bool(plan.sender)
        log.info("%s: %s: %s", queue_id, _WHAT[(plan.kind, to_postmaster)], new_id or "")
        return new_id


def return_rejected(notifier: Notifier, queued: Any, reply: Any, *, now: float) -> str | None:
    """Return a message cleanup rejected at pickup to its sender, with
    cleanup's status for every recipient (Postfix's cleanup bounce for
    locally submitted mail); the last notice's queue ID, or None when no
    notice is due (NOTIFY=NEVER, a failed double bounce). Raises when a
    notice cannot be queued: the caller keeps the message.

    >>> from mailflow.interfaces import QueueName, QueuedMessage
    >>> from mailflow.model import Recipient
    >>> sent = []
    >>> n = Notifier(None, lambda env, msg: sent.append(env) or "NEWID")
    >>> q = QueuedMessage("4AbC", QueueName.MAILDROP, Envelope("a@example.com", (Recipient("b@x"),)),
    ...                   Message(b"Subject: hi\\n\\nx\\n"))
    >>> from types import SimpleNamespace
    >>> return_rejected(n, q, SimpleNamespace(status=DsnStatus("5.7.1", "no")), now=0.0)
    'NEWID'
    >>> sent[0].recipients[0].address
    'a@example.com'
    """
    from mailflow.qmgr.active import plan_finish
    status = getattr(reply, "status", None) or DsnStatus("5.0.0", "message rejected")
    env = queued.envelope
    failed = [Outcome(r, status, relay="none") for r in env.recipients]
    plan = plan_finish(notifier.settings, env, bounced=failed, deferred=[], now=now)
    new_id = None
    for notice in plan.notices:
        new_id = notifier.send(notice, env, queued.message, queue_id=queued.queue_id, now=now)
    return new_id


class BounceService(ServiceBase):
    """The master.cf ``bounce`` service: returns mail that cleanup rejected
    at pickup (``return_rejected``); the queue manager's own notices do not
    need it (it sends them with a :class:`Notifier` of its own).

    >>> from mailflow.services.skeleton import service_spec
    >>> service_spec("bounce").factory is BounceService
    True
    """

    async def start(self, ctx: ServiceContext) -> None:
        await super().start(ctx)
        self._notifier = self._make(ctx.config)

    def reload(self, cfg: Any) -> None:
        super().reload(cfg)
        self._notifier = self._make(cfg)

    def _make(self, cfg: Any) -> Notifier:
        from mailflow.services.cleanup import CleanupService
        cleanup = CleanupService(cfg, self.ctx.store)

        def submit(env: Envelope, msg: Message) -> str | None:
            reply = cleanup.submit(env, msg, origin="bounce")
            if not reply.accepted:
                raise MailflowError(f"cleanup refused the notice: {reply.status}")
            return reply.queue_id
        return Notifier(cfg, submit)

    def return_rejected(self, queued: Any, reply: Any) -> str | None:
        """Return a message cleanup rejected to its sender
        (:func:`return_rejected`). Blocking; called from pickup's worker
        thread; raises when the notice cannot be queued."""
        return return_rejected(self._notifier, queued, reply, now=time.time())
