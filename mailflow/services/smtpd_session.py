"""One SMTP session: smtpd's side of the conversation with one client.

Owns what Postfix's smtpd(8) does between ``connect from`` and
``disconnect from``: the order of commands and their replies, the mail
transaction (sender, recipients, DSN parameters, data), limits (message
size, recipients, errors, junk commands, the idle timeout), the restriction
checks at each stage (through :class:`~mailflow.smtpd.restrictions.SmtpdRestrictions`),
handing accepted mail to a :class:`MessageSink` (cleanup and the spool, or
a user's handler) and the log lines in Postfix's wording.

It does no socket I/O itself: bytes come and go through a :class:`Channel`
(the service's asyncio transport, or a test's in-memory pair), the protocol
grammar is :class:`~mailflow.smtp.server.ServerEngine`'s, and the spool is
the sink's. The ``250 ... queued as ID`` reply is written only after the
sink has returned, that is after the queue file is durable.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any, Awaitable, Callable, Protocol

import attrs

from mailflow.adapters.spill import MessageBuffer
from mailflow.model import ClientInfo, Envelope, Message, Notify, Recipient, Ret
from mailflow.smtp import events as ev
from mailflow.smtp.replies import (BYE, IN_TRANSACTION, MAIL_OK,
                                   MUST_STARTTLS, NEED_HELO, NEED_MAIL, NEED_RCPT, NESTED_MAIL,
                                   NO_AUTHORIZATION, NO_STORAGE, NO_VALID_RCPT, NOT_IMPLEMENTED,
                                   NOT_RECOGNIZED, OK, RCPT_OK, READY_TLS, SIZE_EXCEEDS,
                                   START_DATA, TLS_ACTIVE, TOO_BIG, TOO_MANY_RCPT, VRFY_DISABLED,
                                   WRITE_ERROR)
from mailflow.smtp.reply import Reply
from mailflow.smtp.server import ServerEngine
from mailflow.smtpd.anvil import ExceptionList
from mailflow.smtpd.facts import SessionFacts
from mailflow.smtpd.sasl import Challenge, Done, Failed, SaslExchange, Verify
from mailflow.smtpd.settings import SmtpdSettings
from mailflow.smtpd.stats import CommandStats

__all__ = ["Channel", "MessageSink", "SinkResult", "SmtpdSession", "ClientEndpoint",
           "Transaction"]

log = logging.getLogger("mailflow.smtpd")

# 8BITMIME/SMTPUTF8 parameters the session accepts (BINARYMIME is not offered).
_BODY_TYPES = frozenset({"7BIT", "8BITMIME"})


def wire(reply: Any) -> Reply:
    """Any reply-like value (``code``, ``enhanced``, ``text``) as an engine
    :class:`~mailflow.smtp.reply.Reply`: restriction, SASL and anvil
    replies are converted at this one place.

    >>> str(wire(Reply.of(250, "Ok", "2.0.0")))
    '250 2.0.0 Ok'
    """
    if isinstance(reply, Reply):
        return reply
    return Reply.of(reply.code, reply.text, reply.enhanced or None)


class Channel(Protocol):
    """The byte stream to one client, as the session sees it.

    ``read`` returns what has arrived (``b""`` when the client closed) or
    raises :class:`TimeoutError` after ``timeout`` seconds of silence;
    ``write`` queues bytes; ``drain`` waits until they are handed to the
    kernel; ``start_tls`` upgrades the stream in place (server side) and
    returns the :class:`ssl.SSLObject`.
    """

    async def read(self, timeout: float) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    async def start_tls(self, context: Any, timeout: float) -> Any: ...

    def close(self) -> None: ...


@attrs.frozen
class SinkResult:
    """What the sink answers for one message: the queue ID (None when it
    was not accepted) and the reply for the client."""

    queue_id: str | None
    reply: Reply


class MessageSink(Protocol):
    """Where the session hands each accepted message.

    ``deliver`` returns only when the message is durable (or refused); the
    session then sends ``result.reply``. ``transaction`` carries what the
    restrictions decided (HOLD, DISCARD, FILTER, REDIRECT, PREPEND).
    """

    async def deliver(self, envelope: Envelope, message: Message,
                      transaction: "Transaction") -> SinkResult: ...


@attrs.frozen
class ClientEndpoint:
    """Who is connected: the address, port and names smtpd logs and checks.

    >>> ClientEndpoint("192.0.2.1", 4321, "mail.example.org").label
    'mail.example.org[192.0.2.1]'
    """

    address: str
    port: int = 0
    name: str = "unknown"
    reverse_name: str = "unknown"

    @property
    def label(self) -> str:
        return f"{self.name}[{self.address}]"


@attrs.define
class Transaction:
    """One mail transaction: from MAIL FROM to the end of data or RSET."""

    sender: str
    params: Any                        # mailflow.smtp.esmtp.MailParams
    queue_id: str | None = None
    recipients: list = attrs.field(factory=list)
    rcpt_given: int = 0
    size: int = 0
    bdat_bytes: int = 0                # BDAT counts as sent, CRLF and all (Postfix's reply)
    content: Any = None                # a MessageBuffer once content arrives
    too_big: bool = False
    write_error: bool = False          # the spill file refused content
    refused: Reply | None = None      # a BDAT sequence already refused
    hold: str | None = None
    discard: str | None = None
    filter: str | None = None
    redirect: str | None = None
    prepend: list = attrs.field(factory=list)

    def note(self, decision: Any) -> None:
        """Keep the side effects an access(5) action asked for (a
        :class:`~mailflow.smtpd.restrictions.Decision`)."""
        self.hold = decision.hold or self.hold
        self.discard = decision.discard or self.discard
        self.filter = decision.filter or self.filter
        self.redirect = decision.redirect or self.redirect
        self.prepend.extend(decision.prepend)


class _Closing(Exception):
    """The session must end now (QUIT, a 421, a dead client)."""


class SmtpdSession:
    """Serve one client until it leaves; see the module docstring.

    ``restrictions`` is a :class:`~mailflow.smtpd.restrictions.SmtpdRestrictions`;
    ``sink`` a :class:`MessageSink`; ``tls_context`` an
    :class:`ssl.SSLContext` for STARTTLS (None: not offered);
    ``authenticator`` a SASL server (None: AUTH not offered);
    ``anvil`` the client rate limiter (None: no limits); ``on_etrn`` is
    called with the domain of an ETRN the restrictions passed, and returns
    False when the domain may not be flushed (459).
    """

    def __init__(self, channel: Channel, settings: SmtpdSettings, client: ClientEndpoint, *,
                 restrictions: Any, sink: MessageSink, tls_context: Any = None,
                 authenticator: Any = None,
                 sasl_mechanisms: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
                 anvil: Any = None, service: str = "smtp",
                 lmtp: bool = False, on_etrn: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.time,
                 server_address: tuple[str, int] = ("", 0), initial_data: bytes = b"") -> None:
        self.channel = channel
        self.settings = settings
        self.client = client
        self.restrictions = restrictions
        self.sink = sink
        self.tls_context = tls_context
        self.authenticator = authenticator
        self.sasl_mechanisms = sasl_mechanisms
        self.anvil = anvil
        self.service = service
        self.lmtp = lmtp
        self.on_etrn = on_etrn
        self.clock = clock
        self.server_address = server_address
        self.initial_data = initial_data
        # smtpd_forbid_bare_newline for this client (its exclusions decided once).
        self.bare_newline = self._bare_newline_policy()
        self.engine = ServerEngine(lmtp=lmtp, line_length_limit=settings.line_length_limit,
                                   bare_newline=self.bare_newline,
                                   strict_rfc821_envelopes=settings.strict_rfc821_envelopes,
                                   hostname=settings.myhostname,
                                   smtputf8=settings.smtputf8_enable)
        self.stats = CommandStats()
        self.helo: str | None = None
        self.protocol = "LMTP" if lmtp else "SMTP"
        self.esmtp = False
        self.tls: Any = None               # the SSL object once TLS is on
        self.sasl_method: str | None = None
        self.sasl_username: str | None = None
        self.transaction: Transaction | None = None
        self.error_count = 0
        self.junk_count = 0
        self.last_command = "CONNECT"
        self._out: list[bytes] = []
        self._in_data = False
        self._defer_if_permit: Any = None
        self._forwarded: dict[str, str | None] = {}

    # --- the session ---------------------------------------------------------
    async def run(self) -> None:
        """Greet, serve commands until QUIT or the end, log the disconnect."""
        log.info("connect from %s", self.client.label)
        try:
            try:
                await self._serve()
            except _Closing:
                pass
            except TimeoutError:
                self._timeout()
            except ConnectionError:
                self._lost()
            try:
                await self._flush()
            except (ConnectionError, TimeoutError):
                pass
        finally:
            self.channel.close()
            if self.anvil is not None:
                self.anvil.close()
            log.info("disconnect from %s %s", self.client.label, self.stats.summary())

    async def _serve(self) -> None:
        if self.initial_data:
            self.engine.receive_data(self.initial_data)
        refusal = self._anvil_connect()
        if refusal is not None:
            self._send(refusal)
            raise _Closing
        decision = await self.restrictions.check_connect(self._facts("CONNECT"))
        reply = self._refusal(decision, "CONNECT")
        if reply is not None and not self.settings.delay_reject:
            # Postfix answers the greeting with the rejection and then
            # refuses every command (smtpd_client_restrictions, no delay).
            self._send(Reply.of(reply.code, f"{self.settings.myhostname} {reply.text}",
                                reply.enhanced) if reply.code == 421 else reply)
            raise _Closing
        self._send(Reply.of(220, self.settings.banner))
        handlers = self._handlers()
        while True:
            event = await self._event()
            handler = handlers.get(type(event))
            if handler is None:
                self._command("unknown", NOT_RECOGNIZED)
                continue
            await handler(event)
            if self.error_count >= self.settings.hard_error_limit:
                log.info("too many errors after %s from %s", self.last_command, self.client.label)
                self._send(Reply.of(421, f"{self.settings.myhostname} Error: too many errors", "4.7.0"))
                raise _Closing

    async def _event(self) -> Any:
        """The next event, reading (and first sending the replies so far) as needed."""
        while True:
            event = self.engine.next_event()
            if event is not ev.NEED_DATA:
                break
            await self._flush()
            data = await self.channel.read(self.settings.timeout)
            self.engine.receive_data(data)
        if isinstance(event, ev.ConnectionClosed):
            self._lost()
            raise _Closing
        return event

    def _handlers(self) -> dict[type, Callable[[Any], Awaitable[None]]]:
        return {
            ev.Hello: self._hello, ev.MailFrom: self._mail, ev.RcptTo: self._rcpt,
            ev.Data: self._data, ev.Bdat: self._bdat, ev.MessageData: self._message_data,
            ev.BdatChunkEnd: self._bdat_chunk_end, ev.EndOfMessage: self._end_of_message,
            ev.Rset: self._rset, ev.Noop: self._noop, ev.Quit: self._quit, ev.Vrfy: self._vrfy,
            ev.Etrn: self._etrn, ev.StartTls: self._starttls, ev.Auth: self._auth,
            ev.Help: self._unknown, ev.Xclient: self._xclient, ev.Xforward: self._xforward,
            ev.UnknownCommand: self._unknown, ev.BadCommand: self._bad,
        }

    # --- output ---------------------------------------------------------------
    def _send(self, reply: Reply) -> None:
        self._out.append(reply.format())

    async def _flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self.channel.write(data)
            await self.channel.drain()

    def _command(self, name: str, reply: Reply, *, junk: bool = False) -> None:
        """Answer one command: count it, count an error, send the reply."""
        ok = reply.code < 400
        self.stats.count(name, ok)
        if not ok:
            self.error_count += 1
        if junk:
            self.junk_count += 1
        self._send(reply)

    async def _error_pause(self) -> None:
        # smtpd_error_sleep_time: a client past the soft error limit waits
        # before each reply (Postfix sleeps before answering).
        if self.error_count >= self.settings.soft_error_limit and self.settings.error_sleep_time:
            await self._flush()
            await asyncio.sleep(self.settings.error_sleep_time)

    async def _answer(self, name: str, reply: Reply, *, junk: bool = False) -> None:
        if reply.code >= 400:
            await self._error_pause()
        self._command(name, reply, junk=junk)
        # smtpd_junk_command_limit: past it, each NOOP/VRFY/ETRN/RSET counts
        # as an error; delivering mail starts the count again.
        if junk and self.junk_count > self.settings.junk_command_limit:
            self.error_count += 1

    # --- facts and decisions ---------------------------------------------------
    def _facts(self, stage: str, *, recipient: str | None = None, size: int = 0,
               pipelined: bool = False, etrn: str | None = None) -> SessionFacts:
        t = self.transaction
        return SessionFacts(
            client_address=self.client.address, client_name=self.client.name,
            reverse_client_name=self.client.reverse_name, client_port=self.client.port,
            helo=self.helo, protocol=self.protocol, sender=t.sender if t else None,
            recipient=recipient, recipient_count=len(t.recipients) if t else 0,
            size=size, sasl_method=self.sasl_method, sasl_username=self.sasl_username,
            tls=self.tls is not None, pipelined=pipelined, etrn_domain=etrn,
            queue_id=t.queue_id if t else None, stage=stage,
            server_address=self.server_address[0], server_port=self.server_address[1],
            defer_if_permit=self._defer_if_permit)

    def _refusal(self, decision: Any, stage: str, *, recipient: str | None = None) -> Reply | None:
        """The reply when ``decision`` refuses. The restrictions wrote the
        log lines (``NOQUEUE: reject: ...``) already; they are logged here."""
        for line in decision.warnings:
            log.info("%s", line)
        self._defer_if_permit = decision.defer_if_permit
        if self.transaction is not None:
            self.transaction.note(decision)
        if decision.accepted:
            return None
        return wire(decision.reply)

    def _log_reject(self, stage: str, reply: Reply, *, recipient: str | None = None) -> None:
        t = self.transaction
        parts = []
        if t is not None:
            parts.append(f"from=<{t.sender}>")
        if recipient is not None:
            parts.append(f"to=<{recipient}>")
        parts.append(f"proto={self.protocol}")
        if self.helo is not None:
            parts.append(f"helo=<{self.helo}>")
        qid = t.queue_id if t is not None and t.queue_id else "NOQUEUE"
        log.info("%s: reject: %s from %s: %s; %s", qid, stage, self.client.label, reply,
                 " ".join(parts))

    def _anvil_connect(self) -> Reply | None:
        refusal = getattr(self.anvil, "refusal", None)
        if refusal is None:
            return None
        log.warning("%s", refusal.warning)
        return wire(refusal)

    def _bare_newline_policy(self) -> str:
        policy = self.settings.bare_newline
        if policy == "no" or not self.settings.bare_newline_exclusions:
            return policy
        from mailflow.cleanup.context import is_local_client
        excluded = is_local_client(ClientInfo(self.client.name, self.client.address),
                                   self.settings.bare_newline_exclusions,
                                   mynetworks=self.settings.mynetworks)
        return "no" if excluded else policy

    # --- commands --------------------------------------------------------------
    async def _hello(self, e: Any) -> None:
        verb = e.verb.upper()
        self.last_command = verb
        name = verb.lower()
        self.transaction = None
        self.helo = e.domain
        self.esmtp = verb != "HELO"
        self.protocol = self._protocol_name()
        reply = self._refusal(await self.restrictions.check_helo(self._facts("HELO")), "HELO")
        if reply is not None and not self.settings.delay_reject:
            await self._answer(name, reply)
            return
        if verb == "HELO":
            await self._answer(name, Reply.of(250, self.settings.myhostname))
            return
        await self._answer(name, Reply.of(250, "\n".join(
            [self.settings.myhostname] + self.settings.ehlo_keywords(
                starttls=self._offer_starttls(), auth=self._offer_auth(),
                xclient=self._authorized(self.settings.authorized_xclient_hosts),
                xforward=self._authorized(self.settings.authorized_xforward_hosts)))))

    def _protocol_name(self) -> str:
        if self.lmtp:
            return "LMTP"
        if not self.esmtp:
            return "SMTP"
        return "ESMTP" + ("S" if self.tls is not None else "") + ("A" if self.sasl_username else "")

    def _offer_starttls(self) -> bool:
        return self.tls_context is not None and self.tls is None

    def _offer_auth(self) -> tuple[str, ...]:
        if self.authenticator is None or self.sasl_username:
            return ()
        if self.settings.tls_auth_only and self.tls is None:
            return ()
        return self._mechanisms()

    def _mechanisms(self) -> tuple[str, ...]:
        """What this connection may use: smtpd_sasl_mechanism_filter and the
        (TLS) security options applied (smtpd.sasl.server_mechanisms)."""
        if self.sasl_mechanisms is None:
            return tuple(self.authenticator.mechanisms()) if self.authenticator else ()
        return self.sasl_mechanisms[1 if self.tls is not None else 0]

    def _authorized(self, patterns: tuple) -> bool:
        """Whether the client is in a host list (``smtpd_authorized_*_hosts``)."""
        if not patterns:
            return False
        return ExceptionList(patterns).match(self.client.address, self.client.name)

    async def _mail(self, e: Any) -> None:
        self.last_command = "MAIL"
        s = self.settings
        if self.helo is None and (s.helo_required or self.lmtp):
            await self._answer("mail", NEED_HELO)
            return
        if self.transaction is not None:
            await self._answer("mail", NESTED_MAIL)
            return
        if s.tls_security_level == "encrypt" and self.tls is None:
            await self._answer("mail", MUST_STARTTLS)
            return
        params = e.params
        problem = self._mail_param_problem(params)
        if problem is not None:
            await self._answer("mail", problem)
            return
        if s.message_size_limit and params.size and params.size > s.message_size_limit:
            self.transaction = Transaction(e.address, params)
            self._log_reject("MAIL", SIZE_EXCEEDS)
            self.transaction = None
            await self._answer("mail", SIZE_EXCEEDS)
            return
        refusal = self._anvil_event("mail")
        if refusal is not None:
            await self._answer("mail", refusal)
            return
        room = getattr(self.sink, "has_room", None)
        if room is not None and not room():
            self.transaction = Transaction(e.address, params)
            self._log_reject("MAIL", NO_STORAGE)
            self.transaction = None
            await self._answer("mail", NO_STORAGE)
            return
        self.transaction = Transaction(e.address, params)
        reply = self._refusal(await self.restrictions.check_mail(
            self._facts("MAIL", size=params.size or 0)), "MAIL")
        if reply is not None and not s.delay_reject:
            self.transaction = None
            await self._answer("mail", reply)
            return
        await self._answer("mail", MAIL_OK)

    def _mail_param_problem(self, params: Any) -> Reply | None:
        if params.body is not None and params.body.upper() not in _BODY_TYPES:
            return Reply.of(555, f"Unsupported option: BODY={params.body}", "5.5.4")
        if params.smtputf8 and not self.settings.smtputf8_enable:
            return Reply.of(555, "Unsupported option: SMTPUTF8", "5.5.4")
        return None

    async def _rcpt(self, e: Any) -> None:
        self.last_command = "RCPT"
        t = self.transaction
        if t is None:
            await self._answer("rcpt", NEED_MAIL)
            return
        t.rcpt_given += 1
        if self.settings.recipient_limit and len(t.recipients) >= self.settings.recipient_limit:
            await self._answer("rcpt", TOO_MANY_RCPT)
            return
        refusal = self._anvil_event("rcpt")
        if refusal is not None:
            await self._answer("rcpt", refusal)
            return
        decision = await self.restrictions.check_rcpt(
            self._facts("RCPT", recipient=e.address, pipelined=self._improper(e)))
        reply = self._refusal(decision, "RCPT", recipient=e.address)
        if reply is not None:
            await self._answer("rcpt", reply)
            return
        p = e.params
        notify = frozenset(Notify(n) for n in (p.notify or ()))
        t.recipients.append(Recipient(e.address, orcpt=p.orcpt, notify=notify))
        await self._answer("rcpt", RCPT_OK)

    def _anvil_event(self, kind: str) -> Reply | None:
        if self.anvil is None:
            return None
        refusal = getattr(self.anvil, kind)()
        if refusal is None:
            return None
        log.warning("%s", refusal.warning)
        return wire(refusal)

    def _improper(self, e: Any) -> bool:
        # Pipelining is allowed after EHLO; DATA may only end a group.
        return bool(getattr(e, "pipelined", False)) and (not self.esmtp or isinstance(e, ev.Data))

    async def _start_message(self, name: str, e: Any) -> Reply | None:
        """The checks DATA and the first BDAT share; None when the message may come."""
        t = self.transaction
        if t is None:
            return NEED_MAIL if name == "bdat" else NEED_RCPT
        if not t.recipients:
            return NO_VALID_RCPT if t.rcpt_given else NEED_RCPT
        return self._refusal(await self.restrictions.check_data(
            self._facts("DATA", pipelined=self._improper(e))), "DATA")

    async def _data(self, e: Any) -> None:
        self.last_command = "DATA"
        reply = await self._start_message("data", e)
        if reply is not None:
            await self._answer("data", reply)
            return
        self._begin_content()
        self.engine.start_data()
        self._send(START_DATA)

    def _begin_content(self) -> None:
        t = self.transaction
        assert t is not None
        if t.queue_id is None:
            t.queue_id = self.sink_queue_id()
            extra = ""
            if self.sasl_username:
                extra = f", sasl_method={self.sasl_method}, sasl_username={self.sasl_username}"
            log.info("%s: client=%s%s", t.queue_id, self.client.label, extra)
        self._in_data = True

    def sink_queue_id(self) -> str | None:
        """A queue ID chosen before the content arrives (the sink's, when it
        can choose one), so smtpd's ``client=`` line comes first."""
        chooser = getattr(self.sink, "new_queue_id", None)
        return chooser() if chooser is not None else None

    async def _bdat(self, e: Any) -> None:
        self.last_command = "BDAT"
        t = self.transaction
        if t is not None:
            t.bdat_bytes += e.size
        if t is not None and (t.size or t.refused) and self._in_data:
            # A later chunk of a message under way.
            if t.refused is not None:
                self.engine.stop_data()
            return
        reply = await self._start_message("bdat", e)
        if reply is not None:
            # Refuse this chunk and every later one up to LAST, reading
            # their data so the conversation stays in step.
            self.engine.stop_data()
            if t is not None:
                t.refused = reply
                self._in_data = True
            else:
                await self._answer("bdat", reply)
            return
        self._begin_content()

    async def _message_data(self, e: Any) -> None:
        t = self.transaction
        if t is None or t.too_big or t.write_error:
            return
        t.size += len(e.data)
        limit = self.settings.message_size_limit
        if limit and t.size > limit:
            # Keep reading to the end marker but drop what came: memory stays
            # flat however much the client sends (552 at the end).
            t.too_big = True
            self._drop_content(t)
            self.engine.stop_data()
            return
        if t.content is None:
            # Past message_memory_limit the content goes to an unlinked file
            # in the spool as it arrives: a session's memory stays bounded.
            t.content = MessageBuffer(self.settings.message_memory_limit,
                                      getattr(self.sink, "spill_directory", None))
        try:
            t.content.append(e.data)
        except OSError as exc:
            # The spool cannot take it (disk full): read to the end, then 451.
            log.warning("%s: queue file write error: %s", t.queue_id, exc)
            t.write_error = True
            self._drop_content(t)
            self.engine.stop_data()

    @staticmethod
    def _drop_content(t: Transaction) -> None:
        if t.content is not None:
            t.content.close()
            t.content = None

    async def _bdat_chunk_end(self, e: Any) -> None:
        t = self.transaction
        if e.last:
            return          # EndOfMessage follows and answers
        if t is not None and t.refused is not None:
            await self._answer("bdat", t.refused)
            return
        await self._answer("bdat", Reply.of(250, f"Ok: {t.bdat_bytes if t else 0} bytes", "2.0.0"))

    async def _end_of_message(self, e: Any) -> None:
        t = self.transaction
        self._in_data = False
        name = "bdat" if self.last_command == "BDAT" else "data"
        self.transaction = None
        if t is None:
            await self._answer(name, NEED_MAIL)
            return
        if t.refused is not None:
            await self._answer(name, t.refused)
            return
        if t.too_big:
            self.transaction = t
            self._log_reject("END-OF-MESSAGE", TOO_BIG)
            self.transaction = None
            await self._answer(name, TOO_BIG)
            return
        if t.write_error:
            await self._answer(name, WRITE_ERROR)
            return
        if e.bare_newline and self.bare_newline == "reject":
            reply = Reply.of(self.settings.bare_newline_reject_code,
                             "Error: bare <LF> received", "5.5.2")
            self.transaction = t
            self._log_reject("END-OF-MESSAGE", reply)
            self.transaction = None
            await self._answer(name, reply)
            return
        self.transaction = t
        try:
            reply = self._refusal(await self.restrictions.check_end_of_data(
                self._facts("END-OF-MESSAGE", size=t.size)), "END-OF-MESSAGE")
        finally:
            self.transaction = None
        if reply is not None:
            await self._answer(name, reply)
            return
        reply = await self._hand_over(t, bdat=name == "bdat")
        if reply.code == 250:
            self.junk_count = 0
        await self._answer(name, reply)

    async def _hand_over(self, t: Transaction, *, bdat: bool) -> Reply:
        try:
            return await self._deliver(t, bdat=bdat)
        finally:
            self._drop_content(t)

    async def _deliver(self, t: Transaction, *, bdat: bool) -> Reply:
        # The part in memory; a spilled rest stays in t.content for the sink.
        data = t.content.head() if t.content is not None else b""
        if t.prepend:
            data = "".join(h.rstrip("\n") + "\n" for h in t.prepend).encode("utf-8", "surrogateescape") + data
        ret = Ret(t.params.ret.upper()) if t.params.ret else None
        fwd, self._forwarded = self._forwarded, {}
        client = ClientInfo(fwd.get("NAME") or self.client.name,
                            fwd.get("ADDR") or self.client.address,
                            fwd.get("HELO") or self.helo or "",
                            fwd.get("PROTO") or self.protocol, self.sasl_username or "",
                            self._received_comments())
        envelope = Envelope(
            t.sender, tuple(t.recipients), arrival_time=self.clock(), envid=t.params.envid,
            ret=ret, client=client,
            queue_id=t.queue_id, content_filter=t.filter)
        result = await self.sink.deliver(envelope, Message(data), t)
        reply = result.reply
        if bdat and reply.code == 250 and result.queue_id:
            reply = Reply.of(250, f"Ok: {t.bdat_bytes} bytes queued as {result.queue_id}", "2.0.0")
        return reply

    def _received_comments(self) -> tuple[str, ...]:
        """smtpd_tls_received_header's TLS lines and
        smtpd_sasl_authenticated_header's sender line for Received:."""
        lines: tuple[str, ...] = ()
        if self.tls is not None and self.settings.tls_received_header:
            from mailflow.adapters.tls import smtpd_received_tls_info
            lines += smtpd_received_tls_info(self.tls, ask_ccert=self.settings.tls_ask_ccert)
        if self.sasl_username and self.settings.sasl_authenticated_header:
            lines += (f"(Authenticated sender: {self.sasl_username})",)
        return lines

    async def _rset(self, e: Any) -> None:
        self.last_command = "RSET"
        self.transaction = None
        await self._answer("rset", OK, junk=True)

    async def _noop(self, e: Any) -> None:
        self.last_command = "NOOP"
        await self._answer("noop", OK, junk=True)

    async def _quit(self, e: Any) -> None:
        self.last_command = "QUIT"
        self._command("quit", BYE)
        raise _Closing

    async def _vrfy(self, e: Any) -> None:
        self.last_command = "VRFY"
        if self.settings.disable_vrfy:
            await self._answer("vrfy", VRFY_DISABLED, junk=True)
            return
        address = e.argument.strip()
        if address.startswith("<") and address.endswith(">"):
            address = address[1:-1]
        check = getattr(self.restrictions, "check_vrfy", None)
        if check is not None:
            reply = self._refusal(await check(self._facts("VRFY", recipient=address)), "VRFY",
                                  recipient=address)
            if reply is not None:
                await self._answer("vrfy", reply, junk=True)
                return
        await self._answer("vrfy", Reply.of(252, address, "2.0.0"), junk=True)

    async def _etrn(self, e: Any) -> None:
        self.last_command = "ETRN"
        if self.helo is None and self.settings.helo_required:
            await self._answer("etrn", NEED_HELO, junk=True)
            return
        if self.transaction is not None:
            await self._answer("etrn", IN_TRANSACTION, junk=True)
            return
        domain = e.argument.strip()
        reply = self._refusal(await self.restrictions.check_etrn(
            self._facts("ETRN", etrn=domain)), "ETRN")
        if reply is not None:
            await self._answer("etrn", reply, junk=True)
            return
        if self.on_etrn is None or self.on_etrn(domain.lstrip("@#")) is False:
            # No flush here, or not a fast_flush_domains destination
            # (Postfix's flush says DENY).
            await self._answer("etrn", Reply.of(459, f"<{domain}>: service unavailable"), junk=True)
            return
        await self._answer("etrn", Reply.of(250, "Queuing started"), junk=True)

    async def _starttls(self, e: Any) -> None:
        self.last_command = "STARTTLS"
        if self.tls is not None:
            await self._answer("starttls", TLS_ACTIVE)
            return
        if self.tls_context is None:
            await self._answer("starttls", NOT_IMPLEMENTED)
            return
        refusal = self._anvil_event("starttls")
        if refusal is not None:
            await self._answer("starttls", refusal)
            return
        self._command("starttls", READY_TLS)
        await self._flush()
        dropped = self.engine.start_tls()
        if dropped:
            # CVE-2011-0411: never act on plaintext sent after STARTTLS.
            log.info("improper command pipelining after STARTTLS from %s: %s",
                     self.client.label, _printable(dropped[:100]))
        try:
            self.tls = await self.channel.start_tls(self.tls_context,
                                                    self.settings.tls_handshake_timeout)
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            # A handshake of garbage or a client that gave up: this session
            # ends, the server goes on.
            log.warning("TLS handshake failed from %s: %s", self.client.label, exc)
            self._lost()
            raise _Closing from None
        self._log_tls()
        refusal = self._anvil_event("new_tls")
        if refusal is not None:
            self._send(refusal)
            raise _Closing
        self.helo = None          # RFC 3207: the client starts over with EHLO
        self.esmtp = False
        self.transaction = None
        self.protocol = self._protocol_name()

    def _log_tls(self) -> None:
        try:
            from mailflow.adapters.tls import describe_tls
        except ImportError:
            return
        log.info("%s", describe_tls(self.tls, self.client.label, trusted=None))

    async def _auth(self, e: Any) -> None:
        self.last_command = "AUTH"
        exchange = SaslExchange(self._mechanisms())
        args = e.mechanism + (f" {e.initial}" if e.initial is not None else "")
        step = exchange.command(
            args, enabled=self.authenticator is not None, helo_seen=self.helo is not None,
            helo_required=self.settings.helo_required, in_transaction=self.transaction is not None,
            tls_active=self.tls is not None, tls_auth_only=self.settings.tls_auth_only,
            authenticated=self.sasl_username is not None)
        if not isinstance(step, Failed):
            refusal = self._anvil_event("auth")
            if refusal is not None:
                await self._answer("auth", refusal)
                return
        while isinstance(step, Challenge):
            self._send(wire(step.reply))
            self.engine.start_auth_response()
            answer = await self._event()
            if not isinstance(answer, ev.AuthResponse):
                # The engine refused the response line (too long, not ASCII).
                step = exchange.step("*") if not isinstance(answer, ev.BadCommand) else Failed(
                    answer.reply, "")
                break
            step = exchange.step(answer.line)
        if isinstance(step, Verify):
            step = await exchange.authenticate(step, self.authenticator, service=self.service,
                                               client_address=self.client.address,
                                               tls=self.tls is not None)
        if isinstance(step, Done):
            self.sasl_method, self.sasl_username = step.mechanism, step.username
            self.protocol = self._protocol_name()
        elif isinstance(step, Failed) and step.log:
            log.warning("%s: %s", self.client.label, step.log)
        await self._answer("auth", wire(step.reply))

    async def _xclient(self, e: Any) -> None:
        """XCLIENT from a trusted front end (smtpd_authorized_xclient_hosts):
        the session goes on as if the named client had connected, with a
        new greeting (Postfix's XCLIENT_README)."""
        self.last_command = "XCLIENT"
        if not self._authorized(self.settings.authorized_xclient_hosts):
            await self._answer("xclient", NO_AUTHORIZATION)
            return
        if self.transaction is not None:
            await self._answer("xclient", IN_TRANSACTION)
            return
        a = {k: _xvalue(v) for k, v in e.attributes.items()}
        c = self.client
        self.client = ClientEndpoint(
            a.get("ADDR", c.address) or "unknown",
            int(a["PORT"]) if (a.get("PORT") or "").isdigit() else c.port,
            a.get("NAME", c.name) or "unknown", a.get("REVERSE_NAME", c.reverse_name) or "unknown")
        if "HELO" in a:
            self.helo = a["HELO"]
        if "PROTO" in a:
            self.esmtp = (a["PROTO"] or "").upper() != "SMTP"
        if "LOGIN" in a:
            self.sasl_username = a["LOGIN"]
            self.sasl_method = "XCLIENT" if a["LOGIN"] else None
        self.protocol = self._protocol_name()
        self.stats.count("xclient", True)
        self._send(Reply.of(220, self.settings.banner))

    async def _xforward(self, e: Any) -> None:
        """XFORWARD from a trusted content filter: the next message is
        recorded as coming from the forwarded client."""
        self.last_command = "XFORWARD"
        if not self._authorized(self.settings.authorized_xforward_hosts):
            await self._answer("xforward", NO_AUTHORIZATION)
            return
        if self.transaction is not None:
            await self._answer("xforward", IN_TRANSACTION)
            return
        self._forwarded.update({k: _xvalue(v) for k, v in e.attributes.items()})
        await self._answer("xforward", OK)

    async def _unknown(self, e: Any) -> None:
        self.last_command = "UNKNOWN"
        await self._answer("unknown", NOT_RECOGNIZED)

    async def _bad(self, e: Any) -> None:
        verb = (e.verb or "unknown").lower()
        self.last_command = verb.upper() or "UNKNOWN"
        name = verb if verb in _COUNTED else "unknown"
        # Postfix checks the session's state before a command's syntax: a
        # malformed RCPT before MAIL is "need MAIL command".
        reply = self._state_error(name) or e.reply
        await self._answer(name, reply)
        if e.close or reply.code in (421, 521):
            raise _Closing

    def _state_error(self, name: str) -> Reply | None:
        t = self.transaction
        if name == "mail":
            if self.helo is None and (self.settings.helo_required or self.lmtp):
                return NEED_HELO
            return NESTED_MAIL if t is not None else None
        if name == "rcpt" and t is None:
            return NEED_MAIL
        return None

    # --- ends ----------------------------------------------------------------------
    def _after(self) -> str:
        t = self.transaction
        if self._in_data and t is not None:
            return f"{self.last_command} ({t.size} bytes)"
        return self.last_command

    def _timeout(self) -> None:
        log.info("timeout after %s from %s", self._after(), self.client.label)
        self._send(Reply.of(421, f"{self.settings.myhostname} Error: timeout exceeded", "4.4.2"))

    def _lost(self) -> None:
        log.info("lost connection after %s from %s", self._after(), self.client.label)


def _xvalue(value: str) -> str | None:
    """An XCLIENT/XFORWARD value; ``[UNAVAILABLE]``/``[TEMPUNAVAIL]`` mean none."""
    return None if value.upper() in ("[UNAVAILABLE]", "[TEMPUNAVAIL]") else value


def _printable(data: bytes) -> str:
    """Bytes for a log line, as Postfix's printable(): CR LF shown escaped."""
    return data.decode("latin-1").replace("\r", "\\r").replace("\n", "\\n")


_COUNTED = frozenset({"helo", "ehlo", "lhlo", "xclient", "xforward", "starttls", "auth", "mail",
                      "rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn", "quit"})
