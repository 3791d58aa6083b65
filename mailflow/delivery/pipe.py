"""pipe(8): deliver by running a program from master.cf, never through a shell.

Owns the pipe agent: builds the argv from the service's ``argv=`` with the
message's and recipients' macros, writes the message (with the headers and
quoting the ``flags=`` ask for) to the program's stdin, and maps its exit
status per sysexits.h. One command per request: several recipients expand
``${recipient}`` into several arguments, as pipe(8) does. With the ``D`` or
``O`` flag each recipient gets its own command (Postfix requires a
recipient limit of 1 there).

>>> from mailflow.delivery.registry import ServiceEntry
>>> agent = PipeAgent(None, ServiceEntry("echo", "pipe", ("flags=R", "argv=/bin/cat")))
>>> agent.spec.argv
('/bin/cat',)
"""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

from mailflow.delivery.agentutil import failure_status, is_root, warn_once
from mailflow.delivery.command import run_command
from mailflow.delivery.mailcopy import CopyFlags, delivered_to, render
from mailflow.delivery.pipe_argv import (
    PipeSpec, expand_argv, message_macros, parse_pipe_args, recipient_macros,
)
from mailflow.delivery.settings import Settings, seconds
from mailflow.errors import ConfigError
from mailflow.model import DeliveryRequest, DsnStatus, Outcome, Recipient

__all__ = ["PipeAgent", "EXPORT_ENVIRONMENT"]

log = logging.getLogger("mailflow.pipe")

# Postfix's export_environment default, plus a fixed PATH (_PATH_DEFPATH) so
# that a command named without a directory behaves the same for every user.
EXPORT_ENVIRONMENT = ("TZ", "MAIL_CONFIG", "LANG")
DEFAULT_PATH = "/usr/bin:/bin"


class PipeAgent:
    """The ``pipe`` command of master.cf.

    ``factory(cfg, service)``: ``service`` is the master.cf entry whose words
    after ``pipe`` are parsed by :func:`parse_pipe_args`; ``spec`` may be
    given directly when building the agent from Python.
    """

    def __init__(self, cfg: Any = None, service: Any = None, *, spec: PipeSpec | None = None) -> None:
        self.settings = Settings(cfg)
        self.name = getattr(service, "name", None) or "pipe"
        if spec is None:
            if service is None:
                raise ConfigError("pipe: missing argv= command-line attribute")
            spec = parse_pipe_args(getattr(service, "args", ()), self.name)
        self.spec = spec
        for ch in spec.unknown_flags:
            log.warning("unknown flag: %c (ignored)", ch)
        self.user = self.group = None
        if spec.user:
            if is_root():
                self.user, self.group = spec.user, spec.group or None
            else:
                warn_once(log, f"user:{self.name}",
                          "%s: user=%s ignored: not running as root; commands run as the current user",
                          self.name, spec.user)
        self.time_limit = self._time_limit()
        self.delimiter = self.settings.text("recipient_delimiter")
        self.flags = CopyFlags.from_letters(spec.flags)
        env = {k: os.environ[k] for k in EXPORT_ENVIRONMENT if k in os.environ}
        env["PATH"] = DEFAULT_PATH
        self.env = env

    def _time_limit(self) -> int:
        return seconds(self.settings.transport(self.name, "time_limit", "command_time_limit"))

    def __repr__(self) -> str:
        return f"PipeAgent({self.name!r}, argv={list(self.spec.argv)!r}, flags={self.spec.flags!r})"

    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]:
        recipients = list(request.recipients)
        data = request.message.data
        if self.spec.size_limit and len(data) > self.spec.size_limit:
            status = DsnStatus("5.2.3", "message too large")
            return [Outcome(r, status, relay=self.name) for r in recipients]
        if self.spec.has("D") or self.spec.has("O"):
            out: list[Outcome] = []
            for rcpt in recipients:
                out.extend(await self._run(request, [rcpt]))
            return out
        return await self._run(request, recipients)

    async def _run(self, request: DeliveryRequest, recipients: list[Recipient]) -> list[Outcome]:
        spec, relay = self.spec, self.name
        env = request.envelope
        data = request.message.data
        if spec.has("D"):
            seen = delivered_to(request.message.header_bytes)
            looped = [r for r in recipients if r.address.lower() in seen]
            if looped:
                status = DsnStatus("5.4.6", f"mail forwarding loop for {looped[0].address}")
                return [Outcome(r, status, relay=relay) for r in recipients]
        try:
            macros = message_macros(sender=env.sender, nexthop=request.nexthop,
                                    queue_id=request.queue_id, size=len(data),
                                    client=env.client, flags=spec.flags,
                                    null_sender=spec.null_sender)
            rcpt_macros = [recipient_macros(r.address, r.original, self.delimiter, spec.flags)
                           for r in recipients]
            argv = expand_argv(spec.argv, macros, rcpt_macros)
        except ConfigError as exc:
            status = DsnStatus("4.3.5", f"mail system configuration error: {exc}")
            return [Outcome(r, status, relay=relay) for r in recipients]
        first = recipients[0]
        content = render(data, sender=env.sender or spec.null_sender, recipient=first.address,
                         original=first.original, flags=self.flags,
                         eol=spec.eol.encode("latin-1"))
        try:
            result = await run_command(argv, content, time_limit=self.time_limit, env=self.env,
                                       cwd=spec.directory or None, user=self.user, group=self.group)
        except Exception as exc:  # noqa: BLE001 - report, never crash the service
            status = failure_status(exc)
        else:
            if result.ok:
                # pipe.c: "delivered via SERVICE service" plus any output.
                extra = " (" + " ".join(result.output.split()) + ")" if result.output.strip() else ""
                status = DsnStatus("2.0.0", f"delivered via {self.name} service{extra}")
            else:
                status = result.status(argv[0])
        return [Outcome(r, status, relay=relay) for r in recipients]
