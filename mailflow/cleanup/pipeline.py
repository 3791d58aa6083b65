"""The cleanup pipeline: one message in, one :class:`CleanupResult` out.

This module owns the order of cleanup(8)'s work on a message and what each
check action does. It is pure: tables are opened and regexps compiled once
in :meth:`CleanupPipeline.from_config`, and :meth:`CleanupPipeline.process`
does no I/O, reads no clock (``now`` is passed in) and logs nothing itself
(log lines come back in ``CleanupResult.log``). Writing the result to the
spool is :mod:`mailflow.services.cleanup`'s job.

Order of work, as in Postfix's cleanup:

1. size: content over ``message_size_limit`` is rejected (5.3.4);
2. envelope: the sender, then each recipient, rewritten in the ``local``
   context, through ``sender_``/``recipient_canonical_maps`` then
   ``canonical_maps`` and masquerading, per the ``*_classes`` parameters;
3. a ``Received:`` header for pickup or smtpd is put in front;
4. headers, in order: counted for ``hopcount_limit``; checked by the rules
   (``header_checks``/``mime_header_checks`` first, then rules added from
   Python, in the order added; the first rule with a verdict decides for that
   header); removed when in ``message_drop_headers``; addresses rewritten;
5. missing headers added (local submissions, or always with
   ``always_add_missing_headers``): ``Message-Id``, ``Date``, ``From``, then
   ``undisclosed_recipients_header``; the ``Resent-`` forms when the message
   has any ``Resent-`` header;
6. the body: MIME part headers to ``mime_header_checks``, headers of an
   attached message to ``nested_header_checks``, body lines (up to
   ``body_checks_size_limit`` per part) to ``body_checks`` and body rules;
7. recipients: virtual alias expansion, duplicate elimination.

>>> from mailflow.config import Config
>>> from mailflow.model import Envelope, Message, Recipient
>>> cfg = Config(myhostname="mx.example.com", mydomain="example.com")
>>> p = CleanupPipeline.from_config(cfg, header_rules=[
...     header_rule(lambda name, value: "HOLD" if value == "park me" else None)])
>>> r = p.process(Envelope("alice", (Recipient("bob@example.com"),)),
...               Message(b"Subject: park me\\n\\nhi\\n"), queue_id="ABC", now=0)
>>> r.action, r.envelope.sender
('hold', 'alice@mx.example.com')
>>> r.log[0]
'ABC: hold: header Subject: park me from local; from=<alice@mx.example.com> to=<bob@example.com>'
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Sequence

import attrs

from mailflow.address.canonical import canonical_map
from mailflow.address.masquerade import masquerade
from mailflow.address.parse import rewrite_header_addresses
from mailflow.address.quote import quote_address
from mailflow.cleanup import addresses as addr
from mailflow.cleanup.actions import (IGNORE, NO_RECIPIENTS, PREPEND, REPLACE, TOO_BIG,
                                      TOO_MANY_HOPS, WRITE_ERROR, CleanupState, ask_rules)
from mailflow.cleanup.body import inspect_body
from mailflow.cleanup.checks import TableBodyRule, TableHeaderRule
from mailflow.cleanup.context import is_local_client
from mailflow.cleanup.headers import (Header, is_mime_header, join_message, mail_date,
                                      message_id, received_pickup, received_smtpd,
                                      split_message)
from mailflow.cleanup.result import DISCARD, CleanupResult
from mailflow.cleanup.rules import BodyRule, HeaderRule, body_rule, configured_rules, header_rule
from mailflow.cleanup.settings import CleanupSettings
from mailflow.errors import TableError
from mailflow.model import ClientInfo, DsnStatus, Envelope, Message, Outcome, Recipient
from mailflow.tables.maps import Maps, open_maps

__all__ = ["CleanupPipeline", "header_rule", "body_rule"]

# Origins whose mail is a local submission (rewrite context "local").
LOCAL_ORIGINS = frozenset({"pickup", "sendmail", "local", "bounce", "postsuper", "forward"})


_MEMO_SIZE = 4096      # remembered address rewrites (static settings only)


class CleanupPipeline:
    """cleanup(8) as a pure object: build once, then :meth:`process` messages.

    ``rewrite(address, context)`` is trivial-rewrite's rewrite (contexts
    ``local`` and ``remote``); by default :mod:`mailflow.address.rewrite`
    with the config's settings. Add rules with :meth:`add_rule`.
    """

    def __init__(self, settings: CleanupSettings, *, config: Any = None,
                 rewrite: Callable[[str, str], str] | None = None,
                 header_rules: Iterable[HeaderRule] = (),
                 body_rules: Iterable[BodyRule] = ()) -> None:
        self.settings = s = settings
        self.config = config
        custom_rewrite = rewrite is not None
        if rewrite is None:
            from mailflow.address.rewrite import RewriteSettings, rewrite_address
            rws = RewriteSettings.from_config(config)
            if config is None:
                rws = attrs.evolve(rws, myorigin=s.myorigin, mydomain=s.mydomain)
            rewrite = lambda a, ctx: rewrite_address(a, ctx, rws)  # noqa: E731
        self.rewrite = rewrite
        self._local_domains = frozenset(d.lower() for d in s.mydestination if ":" not in d)
        self.canonical = _maps(s.canonical_maps, config)
        self.sender_canonical = _maps(s.sender_canonical_maps, config)
        self.recipient_canonical = _maps(s.recipient_canonical_maps, config)
        # With no table to consult (no canonical maps, no masquerading, the
        # built-in rewrite), an address's rewrite depends on the settings
        # alone: remember it, as a busy gateway sees the same few addresses
        # again and again. A table's answer can change at any time, so with
        # any table nothing is remembered.
        static = (not custom_rewrite and self.canonical is None and self.sender_canonical is None
                  and self.recipient_canonical is None and not s.masquerade_domains)
        self._memo: dict[tuple[str, str, str], str] | None = {} if static else None
        self.virtual = _maps(s.virtual_alias_maps, config)
        self.header_rules: list[HeaderRule] = []
        self.body_rules: list[BodyRule] = []
        # header_checks for primary headers; mime_header_checks for MIME
        # headers; nested_header_checks for attached messages (header_checks(5)).
        # The same tables are opened once when the parameters name the same specs.
        for specs, kinds, name in ((s.header_checks, ("header",), "header_checks"),
                                   (s.mime_header_checks, ("mime",), "mime_header_checks"),
                                   (s.nested_header_checks, ("nested",), "nested_header_checks")):
            if specs:
                self.header_rules.append(TableHeaderRule.open(specs, config, kinds=kinds, name=name))
        if s.body_checks:
            self.body_rules.append(TableBodyRule.open(s.body_checks, config))
        # main.cf's cleanup_rules (named and plug-in rules), then the caller's.
        for rule in [*configured_rules(config), *header_rules, *body_rules]:
            self.add_rule(rule)

    @classmethod
    def from_config(cls, cfg: Any, *, rewrite: Callable[[str, str], str] | None = None,
                    header_rules: Iterable[HeaderRule] = (),
                    body_rules: Iterable[BodyRule] = ()) -> "CleanupPipeline":
        """Compile a pipeline from a Config (None: Postfix's defaults)."""
        return cls(CleanupSettings.from_config(cfg), config=cfg, rewrite=rewrite,
                   header_rules=header_rules, body_rules=body_rules)

    def add_rule(self, rule: HeaderRule | BodyRule) -> "CleanupPipeline":
        """Add a rule after the ones already there; returns the pipeline.

        A rule may implement ``check_header``, ``check_body`` or both.
        """
        added = False
        if callable(getattr(rule, "check_header", None)):
            self.header_rules.append(rule)  # type: ignore[arg-type]
            added = True
        if callable(getattr(rule, "check_body", None)):
            self.body_rules.append(rule)  # type: ignore[arg-type]
            added = True
        if not added:
            raise TypeError(f"{rule!r} has neither check_header nor check_body")
        return self

    # --- addresses ----------------------------------------------------------
    def _is_local(self, domain: str) -> bool:
        return domain.lower() in self._local_domains

    def _canonical(self, address: str, kind: str, specific: Any, specific_classes: frozenset) -> str:
        # cleanup_envelope.c/cleanup_message.c: the sender_ or recipient_
        # table first, then canonical_maps, then masquerading.
        s = self.settings
        propagate = "canonical" in s.propagate_unmatched_extensions
        for table, classes in ((specific, specific_classes), (self.canonical, s.canonical_classes)):
            if table is not None and kind in classes:
                address = canonical_map(address, table, delimiter=s.recipient_delimiter,
                                        local_domain=self._is_local, propagate_extension=propagate,
                                        rewrite=self._local_rewrite)
        if s.masquerade_domains and kind in s.masquerade_classes:
            address = masquerade(address, s.masquerade_domains, s.masquerade_exceptions)
        return address

    def _local_rewrite(self, address: str) -> str:
        return self.rewrite(address, "local")

    def rewrite_sender(self, address: str, kind: str = "envelope_sender", context: str = "local") -> str:
        """One sender address through context rewrite, canonical maps and masquerading.

        >>> from mailflow.config import Config
        >>> CleanupPipeline.from_config(Config(myorigin="example.com")).rewrite_sender("joe")
        'joe@example.com'
        """
        return self._rewrite(address, kind, context, self.sender_canonical,
                             self.settings.sender_canonical_classes)

    def _rewrite(self, address: str, kind: str, context: str, specific: Any,
                 specific_classes: frozenset) -> str:
        if not address:
            return address
        key = (address, kind, context)
        if self._memo is not None and (done := self._memo.get(key)) is not None:
            return done
        out = self._canonical(self.rewrite(address, context), kind, specific, specific_classes)
        self._remember(key, out)
        return out

    def _remember(self, key: tuple[str, str, str], value: str) -> None:
        memo = self._memo
        if memo is not None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[key] = value

    def rewrite_recipient(self, address: str, kind: str = "envelope_recipient", context: str = "local") -> str:
        """One recipient address through context rewrite, canonical maps and masquerading.

        >>> CleanupPipeline.from_config(None).rewrite_recipient("bob@Example.COM")
        'bob@Example.COM'
        """
        return self._rewrite(address, kind, context, self.recipient_canonical,
                             self.settings.recipient_canonical_classes)

    def expand(self, recipient: Recipient, state: CleanupState | None = None
               ) -> tuple[list[Recipient], Outcome | None]:
        """Virtual alias expansion of one recipient: the final recipients, and
        an Outcome with a 4.x.x status when expansion could not finish (a
        loop or a limit; the recipient is then returned unexpanded). A table
        that cannot answer raises TableError: the message is refused for now."""
        if self.virtual is None:
            return [recipient], None
        from mailflow.address.virtual import expand_virtual
        s = self.settings
        qid = state.queue_id if state else ""
        try:
            tree = expand_virtual(
                recipient.address, self.virtual,
                recursion_limit=s.virtual_alias_recursion_limit,
                expansion_limit=s.virtual_alias_expansion_limit,
                delimiter=s.recipient_delimiter, local_domain=self._is_local,
                propagate_extension="virtual" in s.propagate_unmatched_extensions,
                rewrite=self._local_rewrite,
                address_length_limit=s.virtual_alias_address_length_limit)
        except TableError as exc:
            # As Postfix: the whole message is refused for now (smtpd says
            # 451, pickup leaves the file in maildrop), so it is expanded
            # again once the table answers. A recipient queued unexpanded
            # would wait for an expansion that never comes, then bounce.
            if state:
                state.warn(f"virtual_alias_maps map lookup problem for {recipient.address}"
                           f" -- message not accepted, try again later: {exc}")
            raise _Refused(str(exc)) from None
        errors = tree.errors()
        if errors:
            node = errors[0]
            # Postfix: "unreasonable virtual_alias_maps map nesting for X --
            # message not accepted, try again later"; here only X waits.
            why = "nesting" if node.looped else "expansion"
            if state:
                state.warn(f"unreasonable virtual_alias_maps map {why} for {recipient.address}"
                           " -- recipient deferred, try again later")
            return [recipient], Outcome(recipient, node.error or DsnStatus("4.6.0", "Alias expansion error"))
        return [attrs.evolve(recipient, address=leaf) for leaf in tree.leaves()], None

    # --- the pipeline ---------------------------------------------------------
    def process(self, envelope: Envelope, message: Message, *, origin: str = "pickup",
                now: float = 0.0, queue_id: str | None = None, local: bool | None = None,
                uid: int | None = None, fullname: str = "",
                client: ClientInfo | None = None, more_size: int = 0) -> CleanupResult:
        """Run one message through cleanup; see the module docstring for the order.

        ``origin`` is who hands the message in (``pickup``, ``smtpd``,
        ``bounce``, ...); ``local`` says whether headers get the ``local``
        rewriting context and missing headers; by default local origins do,
        and smtpd mail does when the client matches
        ``local_header_rewrite_clients`` (:mod:`mailflow.cleanup.context`). ``uid`` and ``fullname`` describe a
        local submitter (pickup's ``Received:`` and the ``From:`` phrase);
        ``client`` an SMTP client (defaults to ``envelope.client``).
        ``more_size``: bytes of body that follow ``message`` unseen (smtpd's
        spilled part, copied into the queue file as it is); they count
        against ``message_size_limit``.
        """
        s = self.settings
        qid = queue_id or envelope.queue_id or ""
        arrival = envelope.arrival_time or now
        client = client or envelope.client
        is_smtp = origin == "smtpd"
        if local is None:
            local = origin in LOCAL_ORIGINS or not is_smtp or is_local_client(
                client, s.local_header_rewrite_clients, mynetworks=s.mynetworks,
                inet_interfaces=s.inet_interfaces, proxy_interfaces=s.proxy_interfaces)
        state = CleanupState(qid, f"{client.name}[{client.address}]" if is_smtp and client else "local",
                             client if is_smtp else None)
        try:
            return self._process(state, envelope, message, origin=origin, local=local,
                                 arrival=arrival, uid=uid, fullname=fullname, client=client,
                                 more_size=more_size)
        except TableError as exc:
            # A canonical or other map that cannot answer: Postfix refuses
            # the message for now ("queue file write error").
            if not isinstance(exc, _Refused):  # else already said, naming the map
                state.warn(f"{exc} -- message not accepted, try again later")
            state.reject(WRITE_ERROR)
            return self._result(state, envelope, message, ())

    def _process(self, state: CleanupState, envelope: Envelope, message: Message, *, origin: str,
                 local: bool, arrival: float, uid: int | None, fullname: str,
                 client: ClientInfo | None, more_size: int = 0) -> CleanupResult:
        s = self.settings
        qid = state.queue_id
        is_smtp = origin == "smtpd"
        context = "local" if local else "remote"

        # 1. Size (cleanup_out.c: the queue file may not grow past the limit).
        if s.message_size_limit and len(message.data) + more_size > s.message_size_limit:
            state.warn("queue file size limit exceeded")
            state.reject(TOO_BIG)
            return self._result(state, envelope, message, ())

        # 2. Envelope: always the "local" context (cleanup_envelope.c).
        sender = self.rewrite_sender(envelope.sender)
        state.sender = sender
        rcpts = []
        for r in envelope.recipients:
            new = self.rewrite_recipient(r.address)
            rcpts.append(attrs.evolve(r, address=new) if new != r.address else r)
        if rcpts:
            # Postfix logs the last recipient it read (cleanup's state->recip).
            state.rcpt = rcpts[-1].address

        # 3. The Received: header the receiving service adds.
        headers, body = split_message(message.data, s.header_size_limit)
        if origin == "pickup":
            headers.insert(0, received_pickup(s.myhostname, qid, arrival, uid, s.mail_name))
        elif is_smtp and client is not None:
            one = envelope.recipients[0].address if len(envelope.recipients) == 1 else None
            headers.insert(0, received_smtpd(
                s.myhostname, qid, arrival, helo=client.helo, client_name=client.name,
                client_addr=client.address, protocol=client.protocol, recipient=one,
                mail_name=s.mail_name, comments=client.received_comments))

        # 4. Primary headers. Mail the system makes itself (bounce, delay and
        # success notices) is inspected only when internal_mail_filter_classes
        # says so (postconf(5)); otherwise a notice quoting a rejected header
        # would itself be rejected and could never be returned.
        inspect = origin != "bounce" or bool(s.internal_mail_filter_classes & {"bounce", "notify"})
        out, seen, hops = self._headers(headers, context, state, inspect=inspect)
        # Postfix accepts a message whose own hop headers number less than
        # hopcount_limit; counting the Received: just added, that is "more
        # than the limit" (measured: limit 3 accepts 2 Received/Delivered-To
        # headers from the sender and rejects 3).
        if hops > s.hopcount_limit and not state.stopped:
            state.warn("message rejected: hopcount exceeded")
            state.reject(TOO_MANY_HOPS)

        # 5. Missing headers.
        if local or s.always_add_missing_headers:
            self._add_missing(out, seen, state, sender, fullname, arrival)
        msgid = next((h.value for h in out if h.lname == "message-id"), "")
        if state.action != DISCARD:     # Postfix logs it for rejected mail too
            state.log.append(f"{qid}: message-id={msgid}" if msgid else f"{qid}: message-id=<>")

        # 6. Body and MIME parts.
        if inspect and not state.stopped and (self.body_rules or self._wants_mime_headers()):
            body = inspect_body(body, headers, state, self.header_rules, self.body_rules,
                                limit=s.body_checks_size_limit,
                                mime=not s.disable_mime_input_processing)

        # 7. Recipients: Bcc actions, virtual aliases, duplicates.
        for extra in state.bcc:
            rcpts.append(Recipient(self.rewrite_recipient(extra)))
        if not rcpts and not state.stopped:
            state.reject(NO_RECIPIENTS)
        final, deferred = self._recipients(rcpts, state)
        if state.redirect:
            # Postfix's qmgr sends every recipient of a REDIRECTed message to
            # the redirect address (orig_to stays). Done here, so the queue
            # file needs no redirect record; CleanupResult.redirect says it.
            target = self.rewrite_recipient(state.redirect)
            final = _dedupe([attrs.evolve(x, address=target) for x in final])
        new_env = attrs.evolve(envelope, sender=sender, recipients=tuple(final),
                               arrival_time=arrival, queue_id=qid or envelope.queue_id)
        return self._result(state, new_env, Message(join_message(out, body)), deferred)

    def _wants_mime_headers(self) -> bool:
        return any(not isinstance(r, TableHeaderRule) or (r.kinds & {"mime", "nested"})
                   for r in self.header_rules)

    def _headers(self, headers: list[Header], context: str, state: CleanupState, *,
                 inspect: bool = True) -> tuple[list[Header], set, int]:
        s = self.settings
        rules = self.header_rules if inspect else []
        out: list[Header] = []
        seen: set[str] = set()
        hops = 0
        for h in headers:
            lname = h.lname
            if lname in ("received", "delivered-to"):
                hops += 1
            kind = "mime" if is_mime_header(lname) else "header"
            verdict = ask_rules(rules, lambda r: r.check_header(h, kind), state,
                                "header_checks") if rules else None
            if verdict is not None:
                edit = state.apply(verdict, "header", h.text)
                if edit == IGNORE:
                    continue
                if edit in (PREPEND, REPLACE):
                    out.append(Header.parse(verdict.text))
                if edit == REPLACE:
                    continue
            seen.add(lname)
            if lname in s.message_drop_headers:
                continue
            out.append(self._rewrite_header(h, context, state))
        return out, seen, hops

    def _rewrite_header(self, h: Header, context: str, state: CleanupState) -> Header:
        lname = h.lname
        if lname in addr.SENDER_HEADERS:
            fn = lambda a: self.rewrite_sender(a, "header_sender", context)  # noqa: E731
        elif lname in addr.RECIPIENT_HEADERS:
            fn = lambda a: self.rewrite_recipient(a, "header_recipient", context)  # noqa: E731
        else:
            return h
        value = h.value
        memo = self._memo
        key = (value, lname in addr.SENDER_HEADERS and "header_sender" or "header_recipient",
               context)
        if memo is not None:
            done = memo.get(key)
            if done is not None:
                return h if done == value else Header(h.name, h.text[: len(h.text) - len(value)] + done)
        if addr.count_tokens(value) > self.settings.header_address_token_limit:
            # Postfix discards what exceeds the limit; we leave the header
            # as it is rather than rewrite half of it.
            state.warn(f"header {h.name}: too many address tokens; not rewritten")
            return h
        try:
            new = rewrite_header_addresses(value, fn)
        except TableError:
            state.warn("canonical_maps map lookup problem -- message not accepted, try again later")
            state.reject(WRITE_ERROR)
            return h
        self._remember(key, new)
        if new == value:
            return h
        return Header(h.name, h.text[: len(h.text) - len(value)] + new)

    def _add_missing(self, out: list[Header], seen: set, state: CleanupState, sender: str,
                     fullname: str, arrival: float) -> None:
        s = self.settings
        # cleanup_message.c: with any Resent- header, the Resent- versions are
        # the ones added.
        resent = "Resent-" if any(n.startswith("resent-") for n in seen) else ""
        low = resent.lower()
        if low + "message-id" not in seen:
            out.append(Header.make(resent + "Message-Id", message_id(arrival, state.queue_id, s.myhostname)))
        if low + "date" not in seen:
            out.append(Header.make(resent + "Date", mail_date(arrival)))
        if low + "from" not in seen:
            if not sender:
                value = "MAILER-DAEMON"
            elif fullname:
                value = f"{_phrase(fullname)} <{quote_address(sender)}>"
            else:
                value = quote_address(sender)
            out.append(Header.make(resent + "From", value))
        if s.undisclosed_recipients_header and not seen & {low + "to", low + "cc", low + "bcc"}:
            text = s.undisclosed_recipients_header
            out.append(Header.parse(resent + text if resent else text))

    def _recipients(self, rcpts: list[Recipient], state: CleanupState
                    ) -> tuple[list[Recipient], list[Outcome]]:
        s = self.settings
        final: list[Recipient] = []
        deferred: list[Outcome] = []
        dups: set = set()
        for r in rcpts:
            expanded, problem = self.expand(r, state)
            if problem is not None:
                deferred.append(problem)
            for x in expanded:
                if not s.enable_original_recipient:
                    x = attrs.evolve(x, original=x.address, orcpt=None)
                # cleanup_out_recipient.c: a duplicate is the same address
                # with the same original recipient and DSN settings.
                key = _dup_key(x)
                if key in dups:
                    continue
                if len(dups) < s.duplicate_filter_limit:
                    dups.add(key)
                final.append(x)
        return final, deferred

    def _result(self, state: CleanupState, envelope: Envelope, message: Message,
                deferred: Sequence[Outcome]) -> CleanupResult:
        return CleanupResult(state.action, envelope, message, status=state.status,
                             reason=state.reason, filter=state.filter, redirect=state.redirect,
                             deferred=tuple(deferred), log=tuple(state.log))


class _Refused(TableError):
    """A table error already logged with the map's name; the message is refused."""


def _maps(specs: Sequence[str], config: Any) -> Maps | None:
    """A map list parameter (``hash:a, regexp:b``) opened once, or None."""
    return open_maps(list(specs), config) if specs else None


def _dup_key(r: Recipient) -> tuple:
    return (r.address.lower(), r.original.lower(), r.notify, r.orcpt)


def _dedupe(recipients: list[Recipient]) -> list[Recipient]:
    seen: set = set()
    out = []
    for r in recipients:
        key = _dup_key(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _phrase(name: str) -> str:
    """A display name, quoted when it holds RFC 5322 specials."""
    if re.search(r'[()<>\[\]:;@\\,."]', name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name
