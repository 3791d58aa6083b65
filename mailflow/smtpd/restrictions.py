"""smtpd access restrictions: Postfix's ``smtpd_*_restrictions``, decided purely.

This module owns the evaluation of restriction lists (Postfix smtpd_check.c):
the per-stage drivers (:meth:`SmtpdRestrictions.check_connect` ...
``check_etrn``) with ``smtpd_delay_reject``, the chain rule (the first
restriction that permits or rejects ends a list), ``defer_if_permit`` /
``defer_if_reject`` / ``warn_if_reject``, access(5) table actions and their
side effects (HOLD, DISCARD, FILTER, REDIRECT, PREPEND), restriction classes,
user restrictions registered by name, and the explain trace. Each check
returns one :class:`Decision`.

It does no I/O of its own: tables are looked up through
:mod:`mailflow.tables`, DNS through an injected resolver, policy servers
through an injected client (:mod:`mailflow.adapters.policy_client`).
Recipient validation is :mod:`mailflow.smtpd.recipients`; access(5) key
orders are :mod:`mailflow.smtpd.access`.

>>> import asyncio
>>> from mailflow.config import Config
>>> from mailflow.smtpd.facts import SessionFacts
>>> r = SmtpdRestrictions.from_config(Config(mydestination="example.com",
...                                          local_recipient_maps=""))
>>> d = asyncio.run(r.check_rcpt(SessionFacts("203.0.113.9", helo="c.example", sender="a@b.example",
...                                            recipient="x@elsewhere.example", stage="RCPT")))
>>> d.verdict, str(d.reply)
('defer', '454 4.7.1 <x@elsewhere.example>: Relay access denied')
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Awaitable, Callable, Mapping, Union

import attrs

from mailflow.address.resolve import TrivialRewrite, valid_hostname
from mailflow.address.rewrite import config_bool, config_value
from mailflow.errors import ConfigError, TableError
from mailflow.smtpd import rbl
from mailflow.smtpd.access import (NetworkList, address_keys, domain_keys, dsn_fix,
                                   is_pattern_table, mail_keys, parse_action, split_dsn)
from mailflow.smtpd.facts import SessionFacts
from mailflow.smtpd.policy import PolicyError, PolicyOptions, parse_policy_spec, policy_attributes
from mailflow.smtpd.recipients import RecipientValidator
from mailflow.smtpd.reply import Reply, make_reply
from mailflow.tables.memory import split_braced

__all__ = ["Decision", "Reply", "SmtpdRestrictions", "TraceStep", "register_restriction",
           "RESTRICTIONS", "builtin_restriction_names", "CLIENT", "HELO", "SENDER", "RECIPIENT", "ETRN", "DATA", "EOD"]

log = logging.getLogger("mailflow.smtpd")

# Postfix's reply "classes" (smtpd_dsn_fix.h): the words in "... rejected:".
CLIENT, REV_CLIENT, CCERT, SASL_USER = ("Client host", "Unverified Client host",
                                        "Client certificate", "SASL login name")
HELO, SENDER, RECIPIENT = "Helo command", "Sender address", "Recipient address"
ETRN, DATA, EOD = "Etrn command", "Data command", "End-of-data"

# Results of one restriction (smtpd_check.c SMTPD_CHECK_*).
DUNNO, OK, REJECT = 0, 1, 2

# Error classes (MAIL_ERROR_*): warn_if_reject cannot soften the last three.
POLICY, PROTOCOL, BOUNCE = "policy", "protocol", "bounce"
SOFTWARE, RESOURCE, DATA_ERROR = "software", "resource", "data"

#: A user restriction: gets the facts, returns an access(5) action or None.
UserRestriction = Callable[[SessionFacts], Union[str, None, Awaitable[Union[str, None]]]]

_USER: dict[str, UserRestriction] = {}


def register_restriction(name: str, func: UserRestriction) -> None:
    """Make ``name`` usable in any ``smtpd_*_restrictions`` list.

    ``func(facts)`` returns an access(5) action (``"REJECT not here"``,
    ``"OK"``, ``"450 4.7.1 slow down"``, a restriction class name...) or None
    for DUNNO; it may be a coroutine function. Installed packages can register
    through the ``mailflow.restrictions`` entry-point group.

    >>> register_restriction("reject_friday", lambda facts: None)
    >>> "reject_friday" in RESTRICTIONS()
    True
    """
    _USER[name.lower()] = func


# Restrictions that take the next word as their argument.
_TABLE_ARG = {"check_client_access", "check_reverse_client_hostname_access", "check_helo_access",
              "check_sender_access", "check_recipient_access", "check_etrn_access",
              "check_ccert_access", "check_sasl_access"}
_DOMAIN_ARG = {"reject_rbl_client", "reject_rbl", "reject_rhsbl_client", "reject_rhsbl_sender",
               "reject_rhsbl_helo", "reject_rhsbl_recipient", "reject_rhsbl_reverse_client",
               "permit_dnswl_client", "permit_rhswl_client"}
_SIMPLE = {
    "permit", "reject", "defer", "defer_if_permit", "defer_if_reject", "warn_if_reject",
    "permit_mynetworks", "permit_inet_interfaces", "permit_sasl_authenticated",
    "permit_tls_clientcerts", "permit_auth_destination", "reject_unauth_destination",
    "defer_unauth_destination", "reject_unauth_pipelining", "reject_unlisted_recipient",
    "check_recipient_maps", "reject_unlisted_sender", "reject_unknown_sender_domain",
    "reject_unknown_address", "reject_unknown_recipient_domain", "reject_unknown_helo_hostname",
    "reject_unknown_hostname", "reject_unknown_client_hostname", "reject_unknown_client",
    "reject_unknown_reverse_client_hostname", "reject_invalid_helo_hostname",
    "reject_invalid_hostname", "reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname",
    "reject_non_fqdn_sender", "reject_non_fqdn_recipient", "reject_sender_login_mismatch",
    "reject_authenticated_sender_login_mismatch", "reject_known_sender_login_mismatch",
    "reject_unauthenticated_sender_login_mismatch", "reject_multi_recipient_bounce",
    "reject_plaintext_session", "check_policy_service",
}

# Restrictions of which a relay or recipient list needs one (smtpd_check.c rcpt_required).
_REQUIRED = ("reject_unauth_destination", "defer_unauth_destination", "reject", "defer",
             "defer_if_permit")


def RESTRICTIONS() -> list[str]:
    """Every restriction name understood now, built-in and registered, sorted.

    >>> "reject_unauth_destination" in RESTRICTIONS()
    True
    """
    return sorted(_SIMPLE | _TABLE_ARG | _DOMAIN_ARG | set(_USER))


def builtin_restriction_names() -> list[str]:
    """The restriction names smtpd itself defines, sorted (no plug-in may take these).

    >>> "permit_mynetworks" in builtin_restriction_names()
    True
    """
    return sorted(_SIMPLE | _TABLE_ARG | _DOMAIN_ARG)


@attrs.frozen
class TraceStep:
    """One evaluated restriction, as ``explain --smtpd`` shows it.

    >>> str(TraceStep("smtpd_relay_restrictions", "permit_mynetworks", "DUNNO"))
    'smtpd_relay_restrictions: permit_mynetworks -> DUNNO'
    """

    restriction_list: str
    restriction: str
    result: str
    detail: str = ""

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.restriction_list}: {self.restriction} -> {self.result}{tail}"

    def to_json(self) -> dict[str, str]:
        """The step as a JSON-ready dict (keys as the attribute names)."""
        return attrs.asdict(self)


@attrs.frozen
class Decision:
    """What one check decided.

    ``verdict`` is ``accept`` (nothing rejected; side effects may apply),
    ``reject`` (a 5xx ``reply``) or ``defer`` (a 4xx ``reply``).
    ``warnings`` are the log lines Postfix's smtpd writes for this check
    (``reject:``, ``reject_warning:``, ``warn:``, ``hold:``, ``discard:``,
    ``filter:``, ``redirect:``...), complete and ready to log as they are.
    ``defer_if_permit`` is a deferral raised but not applied at this stage
    (with ``smtpd_delay_reject = no``); carry it into the next stage's
    :class:`~mailflow.smtpd.facts.SessionFacts`.

    >>> Decision("accept", None).accepted
    True
    """

    verdict: str
    reply: Reply | None
    trace: tuple[TraceStep, ...] = ()
    hold: str | None = None
    discard: str | None = None
    filter: str | None = None
    redirect: str | None = None
    prepend: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    stage: str = ""
    defer_if_permit: Reply | None = None
    bcc: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        """True when the command may go on (verdict ``accept``)."""
        return self.verdict == "accept"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``stage``, ``verdict``, ``reply`` (text or
        null), ``trace`` (list of step dicts) and the side effects."""
        return {"stage": self.stage, "verdict": self.verdict,
                "reply": None if self.reply is None else str(self.reply),
                "trace": [s.to_json() for s in self.trace],
                "hold": self.hold, "discard": self.discard, "filter": self.filter,
                "redirect": self.redirect, "prepend": list(self.prepend),
                "warnings": list(self.warnings)}


@attrs.define
class _Defer:
    error_class: str
    code: int
    dsn: str
    text: str

    def reply(self) -> Reply:
        return make_reply(self.code, self.dsn, self.text)


class _Abort(Exception):
    """Postfix's longjmp out of a restriction list: a server error or a
    lookup failure ends the whole check with the reply already made."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@attrs.define
class _State:
    """The per-check scratch state (the parts of SMTPD_STATE a check changes)."""

    facts: SessionFacts
    where: str
    helo: str | None
    sender: str | None
    recipient: str | None
    etrn: str | None = None
    warn_if_reject: int = 0
    recursion: int = 0
    defer_if_permit: _Defer | None = None
    defer_if_reject: _Defer | None = None
    dip_client: _Defer | None = None
    dip_helo: _Defer | None = None
    dip_sender: _Defer | None = None
    reply: Reply | None = None
    trace: list[TraceStep] = attrs.field(factory=list)
    log: list[str] = attrs.field(factory=list)
    hold: str | None = None
    discard: str | None = None
    filter: str | None = None
    redirect: str | None = None
    bcc: list[str] = attrs.field(factory=list)
    prepend: list[str] = attrs.field(factory=list)
    recipient_checked: bool = False
    sender_checked: bool = False
    detail: str = ""
    list_name: str = ""
    policy_nesting: int = 0


def _carried(reply: Any) -> _Defer | None:
    if isinstance(reply, Reply):
        return _Defer(POLICY, reply.code, reply.enhanced, reply.text)
    return None


class SmtpdRestrictions:
    """The restriction lists of one configuration, ready to evaluate.

    Build it once (:meth:`from_config`) and share it between sessions; every
    check takes the session's :class:`SessionFacts` and returns a
    :class:`Decision`. Tables are opened on first use and kept.
    """

    def __init__(self, cfg: Any, *, dns: Any = None, tables: Any = None,
                 policy_client: Any = None, custom: Mapping[str, UserRestriction] | None = None,
                 rewrite: TrivialRewrite | None = None) -> None:
        self.cfg = cfg
        self.dns = dns
        self.policy_client = policy_client
        self.custom = {k.lower(): v for k, v in (custom or {}).items()}
        self._tables_given = tables
        self._tables: dict[str, Any] = {}
        value = lambda name: config_value(cfg, name)  # noqa: E731
        self.value = value
        self.flag = lambda name: config_bool(cfg, name)
        self.lists = {name: self._parse(value(name)) for name in (
            "smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
            "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_etrn_restrictions",
            "smtpd_data_restrictions", "smtpd_end_of_data_restrictions")}
        self.classes: dict[str, list[str]] = {}
        for name in split_braced(value("smtpd_restriction_classes")):
            definition = value(name) if cfg is not None and cfg.raw(name) is not None else ""
            if not definition:
                raise ConfigError(f"restriction class `{name}' needs a definition",
                                  name="smtpd_restriction_classes")
            self.classes[name.lower()] = self._parse(definition)
        self.classes.setdefault("reject_sender_login_mismatch", [
            "reject_authenticated_sender_login_mismatch",
            "reject_unauthenticated_sender_login_mismatch"])
        if not (self._has_required(self.lists["smtpd_recipient_restrictions"])
                or self._has_required(self.lists["smtpd_relay_restrictions"])):
            raise ConfigError("in parameter smtpd_relay_restrictions or "
                              "smtpd_recipient_restrictions, specify at least one working "
                              "instance of: reject_unauth_destination, defer_unauth_destination, "
                              "reject, defer or defer_if_permit",
                              name="smtpd_relay_restrictions")
        parent_style = {p.lower() for p in split_braced(value("parent_domain_matches_subdomains"))}
        self.access_parent = "smtpd_access_maps" in parent_style
        self.rewrite = rewrite or TrivialRewrite.from_config(cfg)
        self.validator = RecipientValidator.from_config(cfg, rewrite=self.rewrite,
                                                        opener=self._table)
        self.mynetworks = NetworkList.compile(value("mynetworks"), cfg,
                                              parent="mynetworks" in parent_style,
                                              tables=self._table)
        self.delay_reject = self.flag("smtpd_delay_reject")
        self.codes = {name: int(value(name) or 0) for name in (
            "access_map_reject_code", "access_map_defer_code", "reject_code", "defer_code",
            "relay_domains_reject_code", "unknown_address_reject_code",
            "unknown_client_reject_code", "unknown_hostname_reject_code",
            "invalid_hostname_reject_code", "non_fqdn_reject_code", "maps_rbl_reject_code",
            "plaintext_reject_code", "multi_recipient_bounce_reject_code")}
        self.soft_bounce = self.flag("soft_bounce")
        self.null_key = value("smtpd_null_access_lookup_key") or "<>"
        self.unk_name_tf = value("unknown_helo_hostname_tempfail_action") != "defer"
        self.unk_addr_tf = value("unknown_address_tempfail_action") != "defer"
        self.reject_unlisted_sender = self.flag("smtpd_reject_unlisted_sender")
        self.reject_unlisted_recipient = self.flag("smtpd_reject_unlisted_recipient")
        self.allow_untrusted_routing = self.flag("allow_untrusted_routing")
        self.sasl_enabled = self.flag("smtpd_sasl_auth_enable")
        self.policy_defaults = PolicyOptions(
            "", timeout=float(self._time("smtpd_policy_service_timeout")),
            max_idle=float(self._time("smtpd_policy_service_max_idle")),
            max_ttl=float(self._time("smtpd_policy_service_max_ttl")),
            request_limit=int(value("smtpd_policy_service_request_limit") or 0),
            try_limit=int(value("smtpd_policy_service_try_limit") or 2),
            retry_delay=float(self._time("smtpd_policy_service_retry_delay")),
            default_action=value("smtpd_policy_service_default_action"),
            policy_context=value("smtpd_policy_service_policy_context"))
        self.rbl_template = (cfg.raw("default_rbl_reply") if cfg is not None
                             else None) or _default_raw("default_rbl_reply")
        self.rbl_reply_maps = self._maps_value("rbl_reply_maps")
        self.sender_login_maps = self._maps_value("smtpd_sender_login_maps")
        self.relay_clientcerts = self._maps_value("relay_clientcerts")

    @classmethod
    def from_config(cls, cfg: Any = None, *, dns: Any = None, tables: Any = None,
                    policy_client: Any = None,
                    custom: Mapping[str, UserRestriction] | None = None) -> "SmtpdRestrictions":
        """Compile the restriction lists of ``cfg`` (None: Postfix defaults).

        ``dns`` speaks :class:`~mailflow.interfaces.DnsResolver`; ``tables``
        is a mapping from ``type:name`` to a table (or a
        :class:`~mailflow.tables.maps.TableCache`) used before opening;
        ``policy_client`` has ``async request(options, attributes) -> str``
        (default: a :class:`~mailflow.adapters.policy_client.PolicyClient`,
        made when a list names ``check_policy_service``); ``custom`` maps
        restriction names to user restrictions for this instance only.
        Raises ConfigError for a restriction class without a definition or
        when no relay/recipient list can reject (as Postfix refuses to start).
        """
        if cfg is None:
            from mailflow.config import default_config
            cfg = default_config()
        return cls(cfg, dns=dns, tables=tables, policy_client=policy_client, custom=custom)

    # --- configuration helpers ------------------------------------------------
    def _time(self, name: str) -> int:
        from mailflow.config.values import parse_time
        return parse_time(self.value(name) or "0", "s")

    @staticmethod
    def _parse(text: str) -> list[str]:
        return [w for w in split_braced(text) if w]

    def _has_required(self, items: list[str], depth: int = 0) -> bool:
        i = 0
        while i < len(items):
            word = items[i].lower()
            if word == "warn_if_reject" and i + 1 < len(items):
                i += 2
                continue
            if word == "permit":
                return False
            if word in _REQUIRED:
                return True
            if depth < 10 and word in self.classes and self._has_required(self.classes[word],
                                                                          depth + 1):
                return True
            i += 1
        return False

    def _table(self, spec: str) -> Any:
        table = self._tables.get(spec)
        if table is not None:
            return table
        given = self._tables_given
        if isinstance(given, Mapping) and spec in given:
            from mailflow.tables.registry import open_table
            table = open_table(given[spec]) if not hasattr(given[spec], "get") else given[spec]
        elif given is not None and hasattr(given, "open"):
            table = given.open(spec, self.cfg)
        else:
            from mailflow.tables.maps import default_cache
            table = default_cache.open(spec, self.cfg)
        self._tables[spec] = table
        return table

    def _maps_value(self, name: str) -> list[str]:
        return split_braced(self.value(name)) if self.value(name) else []

    # --- table lookups ----------------------------------------------------------
    def _lookup(self, specs: list[str] | str, keys: list[tuple[str, bool]]) -> tuple[str, str] | None:
        """First hit for ``keys`` in ``specs`` (each key in every table before
        the next key, as Postfix's maps_find); (key, value) or None.
        Raises TableError when a table cannot answer."""
        specs = [specs] if isinstance(specs, str) else specs
        tables = [(spec, self._table(spec)) for spec in specs]
        for key, partial in keys:
            for spec, table in tables:
                if partial and is_pattern_table(table):
                    continue
                value = table.get(key if is_pattern_table(table) else key.lower())
                if value is not None:
                    return key, value
        return None

    # --- the Postfix reject machinery ----------------------------------------------
    def _whatsup(self, st: _State, whatsup: str, text: str) -> None:
        f = st.facts
        line = f"{f.queue_id or 'NOQUEUE'}: {whatsup}: {st.where} from {f.namaddr}: {text};"
        if st.sender is not None:
            line += f" from=<{st.sender}>"
        if st.recipient is not None:
            line += f" to=<{st.recipient}>"
        line += f" proto={f.protocol}"
        if st.helo is not None:
            line += f" helo=<{st.helo}>"
        if f.sasl_method:
            line += f" sasl_method={f.sasl_method}"
        if f.sasl_username:
            line += f" sasl_username={f.sasl_username}"
        st.log.append(line)

    def _reject(self, st: _State, error_class: str, code: int, dsn: str, text: str) -> int:
        """Postfix smtpd_check_reject()."""
        warn = bool(st.warn_if_reject) and error_class not in (SOFTWARE, RESOURCE, DATA_ERROR)
        reply = make_reply(code, dsn, text)
        if not 400 <= code <= 599:
            log.warning("SMTP reply code configuration error: %s %s %s", code, dsn, text)
        elif reply.text != text[:len(reply.text)]:
            log.warning("DSN detail code configuration error: %s %s %s", code, dsn, text)
        if not warn and st.defer_if_reject is not None and reply.code >= 500:
            d, st.defer_if_reject = st.defer_if_reject, None
            st.warn_if_reject = 0
            return self._reject(st, d.error_class, d.code, d.dsn, d.text)
        if self.soft_bounce and reply.code >= 500:
            reply = make_reply(reply.code - 100, reply.enhanced, reply.text)
        self._whatsup(st, "reject_warning" if warn else "reject", str(reply))
        if warn:
            st.detail = (st.detail + "; " if st.detail else "") + f"reject_warning: {reply}"
            return DUNNO
        st.reply = reply
        return REJECT

    def _defer_if(self, st: _State, which: str, error_class: str, code: int, dsn: str,
                  text: str) -> int:
        if getattr(st, which) is None:
            setattr(st, which, _Defer(error_class, code, dsn, text))
        return DUNNO

    def _defer_if_permit2(self, st: _State, act: bool, code: int, dsn: str, text: str) -> int:
        if not st.warn_if_reject and act:
            return self._defer_if(st, "defer_if_permit", POLICY, code, dsn, text)
        return self._reject(st, POLICY, code, dsn, text)

    def _server_error(self, st: _State, why: str) -> None:
        log.warning("%s", why)
        st.detail = why
        raise _Abort(self._reject(st, SOFTWARE, 451, "4.3.5", "Server configuration error"))

    def _dict_retry(self, st: _State, name: str, why: str = "") -> None:
        if why:
            log.warning("%s", why)
            st.detail = why
        raise _Abort(self._reject(st, DATA_ERROR, 451, "4.3.0",
                                  f"<{name}>: Temporary lookup failure"))

    # --- access(5) results ----------------------------------------------------------
    async def _table_result(self, st: _State, table: str, value: str, datum: str,
                            reply_name: str, reply_class: str, def_acl: str | None) -> int:
        """Postfix check_table_result(): what a table value means."""
        word, text = parse_action(value)
        st.detail = f"{table}: key={datum} value={value.strip()}" if datum != "policy query" \
            else f"{table}: action={value.strip()}"
        where_ok = st.sender is not None       # not_in_client_helo()
        if word == "DUNNO":
            return DUNNO
        if word == "REJECT":
            dsn, text = split_dsn(text, "5.7.1")
            return self._reject(st, POLICY, self.codes["access_map_reject_code"],
                                dsn_fix(dsn, reply_class),
                                f"<{reply_name}>: {reply_class} rejected: {text or 'Access denied'}")
        if word == "DEFER":
            dsn, text = split_dsn(text, "4.7.1")
            return self._reject(st, POLICY, self.codes["access_map_defer_code"],
                                dsn_fix(dsn, reply_class),
                                f"<{reply_name}>: {reply_class} rejected: {text or 'Access denied'}")
        if word in ("INFO", "WARN"):
            self._whatsup(st, word.lower(), text)
            return DUNNO
        if word in ("FILTER", "HOLD", "DISCARD", "REDIRECT", "BCC"):
            if st.where == "ETRN":
                log.warning("access table %s: action %s is unavailable in "
                            "smtpd_etrn_restrictions", table, word)
                return DUNNO
            if not where_ok:
                log.warning("access table %s: with smtpd_delay_reject=no, action %s is always "
                            "skipped in Client host or Helo command restrictions", table, word)
                return DUNNO
        if word == "FILTER":
            if not text or ":" not in text:
                log.warning("access table %s entry \"%s\" %s", table, datum,
                            "has FILTER entry without value" if not text
                            else "requires transport:destination")
                return DUNNO
            self._whatsup(st, "filter", f"<{reply_name}>: {reply_class} triggers FILTER {text}")
            st.filter = text
            return DUNNO
        if word == "HOLD":
            if st.hold is not None:
                return DUNNO
            st.hold = text or "triggers HOLD action"
            self._whatsup(st, "hold", f"<{reply_name}>: {reply_class} {st.hold}")
            return DUNNO
        if word == "DISCARD":
            st.discard = text or "triggers DISCARD action"
            self._whatsup(st, "discard", f"<{reply_name}>: {reply_class} {st.discard}")
            return OK
        if word in ("REDIRECT", "BCC"):
            if "@" not in text:
                log.warning("access table %s entry \"%s\" requires user@domain target",
                            table, datum)
                return DUNNO
            self._whatsup(st, word.lower(), f"<{reply_name}>: {reply_class} triggers {word} {text}")
            if word == "REDIRECT":
                st.redirect = text
            else:
                st.bcc.append(text)
            return DUNNO
        if word == "DEFER_IF_PERMIT":
            dsn, text = split_dsn(text, "4.7.1")
            return self._defer_if_permit2(
                st, True, self.codes["access_map_defer_code"], dsn_fix(dsn, reply_class),
                f"<{reply_name}>: {reply_class} rejected: {text or 'Service unavailable'}")
        if word == "DEFER_IF_REJECT":
            dsn, text = split_dsn(text, "4.7.1")
            return self._defer_if(
                st, "defer_if_reject", POLICY, self.codes["access_map_defer_code"],
                dsn_fix(dsn, reply_class),
                f"<{reply_name}>: {reply_class} rejected: {text or 'Service unavailable'}")
        if word == "PREPEND":
            if not where_ok:
                log.warning("access table %s: with smtpd_delay_reject=no, action PREPEND is "
                            "always skipped in Client host or Helo command restrictions", table)
                return DUNNO
            if st.where == "END-OF-MESSAGE":
                log.warning("access table %s: action PREPEND must be used before "
                            "smtpd_end_of_data_restrictions", table)
                return DUNNO
            name, colon, _ = text.partition(":")
            if not text or not colon or not name or any(c <= " " or c > "~" for c in name):
                log.warning("access table %s entry \"%s\" requires header: text", table, datum)
                return DUNNO
            st.prepend.append(text)
            return DUNNO
        stripped = value.strip()
        if stripped.isdigit():
            return OK
        if len(word) == 3 and word[0] in "45" and word[1:].isdigit() and text:
            dsn, text = split_dsn(text, f"{word[0]}.7.1")
            return self._reject(st, POLICY, int(word), dsn_fix(dsn, reply_class),
                                f"<{reply_name}>: {reply_class} rejected: {text or 'Access denied'}")
        if word in ("OK", "RELAY"):
            return OK
        if ":" in stripped and not stripped.startswith("{"):
            self._server_error(st, f"access table {table} has entry with lookup table: {stripped}; "
                                   "do not specify lookup tables inside SMTPD access maps; "
                                   "define a restriction class and specify its name instead.")
        if st.recursion > 100:
            self._server_error(st, f"access table {table} entry {stripped} causes unreasonable "
                                   "recursion")
        items = self._parse(stripped)
        if not items:
            log.warning("access table %s entry %s has empty value", table, stripped)
            return OK
        return await self._generic(st, items, reply_name, reply_class, def_acl,
                                   list_name=f"{table} value")

    # --- the list walker (generic_checks) ---------------------------------------------
    async def _generic(self, st: _State, items: list[str], reply_name: str, reply_class: str,
                       def_acl: str | None, *, list_name: str) -> int:
        saved_recursion = st.recursion
        st.recursion += 1
        saved_list, st.list_name = st.list_name, list_name
        status = DUNNO
        i = 0
        try:
            while i < len(items):
                if st.discard is not None:
                    break
                name = items[i]
                lname = name.lower()
                if lname == "warn_if_reject":
                    if not st.warn_if_reject:
                        st.warn_if_reject = st.recursion
                    st.trace.append(TraceStep(list_name, name, "DUNNO",
                                              "the next restriction only warns"))
                    i += 1
                    continue
                arg = None
                if ":" in name and not lname.startswith("{"):
                    if def_acl is None:
                        self._server_error(st, f"specify one of (check_client_access, "
                                               f"check_reverse_client_hostname_access, "
                                               f"check_helo_access, check_sender_access, "
                                               f"check_recipient_access, check_etrn_access) "
                                               f"before {reply_class} restriction \"{name}\"")
                    lname, arg, shown = def_acl, name, f"{def_acl} {name}"
                    i += 1
                elif lname in _TABLE_ARG or lname in _DOMAIN_ARG or lname == "check_policy_service":
                    if i + 1 >= len(items) or (lname not in _DOMAIN_ARG and ":" not in items[i + 1]):
                        if lname in _DOMAIN_ARG:
                            log.warning("restriction %s requires domain name argument", name)
                            st.trace.append(TraceStep(list_name, name, "DUNNO",
                                                      "needs a domain name argument"))
                            i += 1
                            continue
                        what = ("must be followed by transport:server"
                                if lname == "check_policy_service"
                                else f'bad argument "{items[i + 1] if i + 1 < len(items) else ""}"'
                                     ": need maptype:mapname")
                        self._server_error(st, f"restriction {name} {what}")
                    arg = items[i + 1]
                    shown = f"{name} {arg}"
                    i += 2
                else:
                    shown = name
                    i += 1
                before_dip, before_dir = st.defer_if_permit, st.defer_if_reject
                st.detail = ""
                try:
                    status = await self._one(st, lname, name, arg, reply_name, reply_class,
                                             def_acl)
                except _Abort as abort:
                    st.trace.append(TraceStep(list_name, shown,
                                              self._result(st, abort.status, None, None),
                                              st.detail))
                    raise
                st.trace.append(TraceStep(list_name, shown,
                                          self._result(st, status, before_dip, before_dir),
                                          st.detail))
                if st.warn_if_reject >= st.recursion:
                    st.warn_if_reject = 0
                if status != DUNNO:
                    if status == OK and i < len(items) and lname == "permit":
                        log.warning("restriction `%s' after `%s' is ignored", items[i], name)
                    break
                if st.defer_if_permit is not None and st.defer_if_reject is not None:
                    break
        finally:
            st.recursion = saved_recursion
            st.list_name = saved_list
            if st.warn_if_reject >= st.recursion:
                st.warn_if_reject = 0
        return status

    @staticmethod
    def _result(st: _State, status: int, before_dip: Any, before_dir: Any) -> str:
        if status == REJECT and st.reply is not None:
            return ("DEFER " if st.reply.is_transient else "REJECT ") + str(st.reply)
        if status == OK:
            return "DISCARD" if st.discard is not None else "OK"
        if st.defer_if_permit is not None and before_dip is None:
            return f"DEFER_IF_PERMIT {st.defer_if_permit.reply()}"
        if st.defer_if_reject is not None and before_dir is None:
            return f"DEFER_IF_REJECT {st.defer_if_reject.reply()}"
        if "reject_warning:" in st.detail:
            return "WARN"
        if st.detail.endswith("no match"):
            return "no match"
        return "DUNNO"

    async def _one(self, st: _State, lname: str, name: str, arg: str | None, reply_name: str,
                   reply_class: str, def_acl: str | None) -> int:
        f = st.facts
        # --- generic
        if lname == "permit":
            return OK
        if lname == "defer":
            return self._reject(st, POLICY, self.codes["defer_code"], "4.3.2",
                                f"<{reply_name}>: {reply_class} rejected: Try again later")
        if lname == "reject":
            return self._reject(st, POLICY, self.codes["reject_code"], "5.7.1",
                                f"<{reply_name}>: {reply_class} rejected: Access denied")
        if lname == "reject_unauth_pipelining":
            if f.pipelined:
                return self._reject(st, PROTOCOL, 503, "5.5.0",
                                    f"<{reply_name}>: {reply_class} rejected: Improper use of "
                                    "SMTP command pipelining")
            return DUNNO
        if lname == "check_policy_service":
            return await self._policy(st, arg or "", reply_name, reply_class, def_acl)
        if lname == "defer_if_permit":
            return self._defer_if_permit2(st, True, 450, "4.7.0",
                                          f"<{reply_name}>: {reply_class} rejected: "
                                          "defer_if_permit requested")
        if lname == "defer_if_reject":
            return self._defer_if(st, "defer_if_reject", POLICY, 450, "4.7.0",
                                  f"<{reply_name}>: {reply_class} rejected: "
                                  "defer_if_reject requested")
        if lname == "reject_plaintext_session":
            if not f.tls:
                return self._reject(st, POLICY, self.codes["plaintext_reject_code"], "4.7.1",
                                    "Session encryption is required")
            return DUNNO
        # --- client
        if lname in ("reject_unknown_client_hostname", "reject_unknown_client"):
            if f.client_name == "unknown":
                return self._reject(st, POLICY, self.codes["unknown_client_reject_code"], "4.7.25",
                                    "Client host rejected: cannot find your hostname, "
                                    f"[{f.client_address}]")
            return DUNNO
        if lname == "reject_unknown_reverse_client_hostname":
            if f.reverse_client_name == "unknown":
                return self._reject(st, POLICY, self.codes["unknown_client_reject_code"], "4.7.1",
                                    "Client host rejected: cannot find your reverse hostname, "
                                    f"[{f.client_address}]")
            return DUNNO
        if lname == "permit_inet_interfaces":
            return OK if f.client_address in self.rewrite.interfaces or \
                f.client_address in ("127.0.0.1", "::1") else DUNNO
        if lname == "permit_mynetworks":
            try:
                hit = self.mynetworks.match(f.client_name, f.client_address)
            except TableError as exc:
                self._dict_retry(st, reply_name, f"mynetworks: table lookup problem: {exc}")
            st.detail = f"mynetworks = {self.value('mynetworks')}"
            return OK if hit else DUNNO
        if lname == "check_client_access":
            return await self._namadr(st, arg, f.client_name, f.client_address, f.namaddr, CLIENT,
                                      def_acl)
        if lname == "check_reverse_client_hostname_access":
            status = await self._namadr(st, arg, f.reverse_client_name, f.client_address,
                                        f.reverse_client_name, REV_CLIENT, def_acl)
            self._forbid_allowlist(st, name, status, f.reverse_client_name)
            return status
        if lname in ("reject_rbl_client", "reject_rbl"):
            return await self._rbl_addr(st, arg or "", CLIENT)
        if lname == "permit_dnswl_client":
            hit = await self._dnsxl(st, arg or "",
                                    lambda d: rbl.dnsxl_query(f.client_address, d))
            return OK if hit else DUNNO
        if lname == "reject_rhsbl_client":
            if f.client_name.lower() != "unknown":
                return await self._rbl_domain(st, arg or "", f.client_name, CLIENT)
            return DUNNO
        if lname == "permit_rhswl_client":
            if f.client_name.lower() != "unknown" and await self._dnsxl(
                    st, arg or "", lambda d: f"{f.client_name}.{d}"):
                return OK
            return DUNNO
        if lname == "reject_rhsbl_reverse_client":
            if f.reverse_client_name.lower() != "unknown":
                return await self._rbl_domain(st, arg or "", f.reverse_client_name, REV_CLIENT)
            return DUNNO
        if lname == "check_ccert_access":
            if f.tls and f.ccert_fingerprint:
                return await self._access(st, arg, [(f.ccert_fingerprint, False)],
                                          f.ccert_fingerprint, f.namaddr, CCERT, def_acl)
            return DUNNO
        if lname == "check_sasl_access":
            if f.sasl_username:
                return await self._access(st, arg, [(f.sasl_username, False)], f.sasl_username,
                                          f.sasl_username, SASL_USER, def_acl)
            return DUNNO
        # --- helo
        if lname == "check_helo_access":
            if st.helo is not None:
                return await self._access(st, arg, domain_keys(st.helo,
                                                               parent_style=self.access_parent),
                                          st.helo, st.helo, HELO, def_acl)
            return DUNNO
        if lname in ("reject_invalid_helo_hostname", "reject_invalid_hostname"):
            if st.helo is None:
                return DUNNO
            if st.helo.startswith("["):
                return self._invalid_hostaddr(st, st.helo, HELO)
            name_ = _truncate(st.helo)
            if not valid_hostname(name_) and not _is_ip(name_):
                return self._reject(st, POLICY, self.codes["invalid_hostname_reject_code"],
                                    "5.5.2", f"<{st.helo}>: {HELO} rejected: Invalid name")
            return DUNNO
        if lname in ("reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname"):
            if st.helo is None:
                return DUNNO
            if st.helo.startswith("["):
                return self._invalid_hostaddr(st, st.helo, HELO)
            name_ = _truncate(st.helo)
            if not valid_hostname(name_) or "." not in name_:
                return self._reject(st, POLICY, self.codes["non_fqdn_reject_code"], "5.5.2",
                                    f"<{st.helo}>: {HELO} rejected: need fully-qualified hostname")
            return DUNNO
        if lname in ("reject_unknown_helo_hostname", "reject_unknown_hostname"):
            if st.helo is None:
                return DUNNO
            if st.helo.startswith("["):
                return self._invalid_hostaddr(st, st.helo, HELO)
            return await self._unknown_hostname(st, st.helo, HELO)
        if lname == "reject_rhsbl_helo":
            if st.helo is not None:
                return await self._rbl_domain(st, arg or "", st.helo, HELO)
            return DUNNO
        # --- sender
        if lname == "check_sender_access":
            if st.sender:
                return await self._mail_access(st, arg, st.sender, st.sender, SENDER, def_acl)
            if st.sender == "":
                return await self._access(st, arg, [(self.null_key, False)], self.null_key, "",
                                          SENDER, def_acl)
            return DUNNO
        if lname in ("reject_unknown_sender_domain", "reject_unknown_address"):
            if st.sender:
                return await self._unknown_address(st, st.sender, SENDER)
            return DUNNO
        if lname == "reject_non_fqdn_sender":
            if st.sender:
                return self._non_fqdn_address(st, st.sender, SENDER)
            return DUNNO
        if lname in ("reject_authenticated_sender_login_mismatch",
                     "reject_known_sender_login_mismatch",
                     "reject_unauthenticated_sender_login_mismatch"):
            if not self.sasl_enabled:
                log.warning("restriction `%s' ignored: no SASL support", name)
                st.detail = "ignored: smtpd_sasl_auth_enable = no"
                return DUNNO
            if not st.sender:
                return DUNNO
            if lname == "reject_unauthenticated_sender_login_mismatch" or (
                    lname == "reject_known_sender_login_mismatch" and not f.sasl_username):
                return self._unauth_login_mismatch(st, st.sender)
            return self._auth_login_mismatch(
                st, st.sender, allow_unknown=lname == "reject_known_sender_login_mismatch")
        if lname == "reject_rhsbl_sender":
            if st.sender:
                return await self._rbl_domain(st, arg or "", st.sender, SENDER)
            return DUNNO
        if lname == "reject_unlisted_sender":
            if st.sender:
                return self._sender_rcpt_maps(st, st.sender)
            return DUNNO
        # --- recipient
        if lname == "check_recipient_access":
            if st.recipient is not None:
                return await self._mail_access(st, arg, st.recipient, st.recipient, RECIPIENT,
                                               def_acl)
            return DUNNO
        if lname == "permit_auth_destination":
            if st.recipient is not None:
                return self._permit_auth_destination(st, st.recipient)
            return DUNNO
        if lname in ("reject_unauth_destination", "defer_unauth_destination"):
            if st.recipient is None:
                return DUNNO
            if self._permit_auth_destination(st, st.recipient) == OK:
                return DUNNO
            code = self.codes["relay_domains_reject_code"]
            if lname == "defer_unauth_destination":
                code, dsn = code - 100, "4.7.1"
            else:
                dsn = "5.7.1"
            return self._reject(st, POLICY, code, dsn, f"<{st.recipient}>: Relay access denied")
        if lname == "permit_sasl_authenticated":
            return OK if f.sasl_username else DUNNO
        if lname == "permit_tls_clientcerts":
            if not (f.tls and f.ccert_fingerprint) or not self.relay_clientcerts:
                return DUNNO
            try:
                hit = self._lookup(self.relay_clientcerts, [(f.ccert_fingerprint, False)])
            except TableError as exc:
                self._dict_retry(st, reply_name, f"relay_clientcerts: lookup error: {exc}")
            st.detail = "relay_clientcerts: " + ("found" if hit else "no match")
            return OK if hit else DUNNO
        if lname in ("reject_unknown_recipient_domain",):
            if st.recipient is not None:
                return await self._unknown_address(st, st.recipient, RECIPIENT)
            return DUNNO
        if lname == "reject_non_fqdn_recipient":
            if st.recipient is not None:
                return self._non_fqdn_address(st, st.recipient, RECIPIENT)
            return DUNNO
        if lname == "reject_rhsbl_recipient":
            if st.recipient is not None:
                return await self._rbl_domain(st, arg or "", st.recipient, RECIPIENT)
            return DUNNO
        if lname in ("reject_unlisted_recipient", "check_recipient_maps"):
            if st.recipient:
                return self._recipient_rcpt_maps(st, st.recipient)
            return DUNNO
        if lname == "reject_multi_recipient_bounce":
            if st.sender == "" and f.recipient_count > (0 if st.where == "RCPT" else 1):
                return self._reject(st, POLICY, self.codes["multi_recipient_bounce_reject_code"],
                                    "5.5.3", f"<{reply_name}>: {reply_class} rejected: "
                                             "Multi-recipient bounce")
            return DUNNO
        # --- ETRN
        if lname == "check_etrn_access":
            if st.etrn is not None:
                return await self._access(st, arg, domain_keys(st.etrn,
                                                               parent_style=self.access_parent),
                                          st.etrn, st.etrn, ETRN, def_acl)
            return DUNNO
        # --- classes and user restrictions
        if lname in self.classes:
            return await self._generic(st, self.classes[lname], reply_name, reply_class, def_acl,
                                       list_name=name)
        func = self.custom.get(lname) or _USER.get(lname) or _entry_point(lname)
        if func is not None:
            result = func(f if st.where != "RCPT" or f.recipient == st.recipient
                          else attrs.evolve(f, recipient=st.recipient))
            if inspect.isawaitable(result):
                result = await result
            if result is None:
                st.detail = f"{name}: DUNNO"
                return DUNNO
            return await self._table_result(st, name, str(result), "user restriction",
                                            reply_name, reply_class, def_acl)
        self._server_error(st, f'unknown smtpd restriction: "{name}"')
        return DUNNO  # not reached

    # --- individual checks --------------------------------------------------------------
    def _forbid_allowlist(self, st: _State, name: str, status: int, target: str) -> None:
        if st.discard is None and status == OK:
            self._server_error(st, f"restriction {name} returns OK for {target}; this is not "
                                   "allowed for security reasons; use DUNNO instead of OK if "
                                   "you want to make an exception")

    async def _access(self, st: _State, spec: str | None, keys: list[tuple[str, bool]],
                      datum: str, reply_name: str, reply_class: str, def_acl: str | None) -> int:
        spec = spec or ""
        try:
            hit = self._lookup(spec, keys)
        except TableError as exc:
            log.warning("%s: table lookup problem: %s", spec, exc)
            return await self._table_result(st, spec, "451 4.3.5 Server configuration error",
                                            datum, reply_name, reply_class, def_acl)
        if hit is None:
            st.detail = f"{spec}: {datum}: no match"
            return DUNNO
        key, value = hit
        status = await self._table_result(st, spec, value, key, reply_name, reply_class, def_acl)
        return status

    async def _namadr(self, st: _State, spec: str | None, name: str, addr: str, reply_name: str,
                      reply_class: str, def_acl: str | None) -> int:
        keys = domain_keys(name, parent_style=self.access_parent)
        keys += [(k, i > 0) for i, k in enumerate(address_keys(addr))]
        return await self._access(st, spec, keys, f"{name}[{addr}]", reply_name, reply_class,
                                  def_acl)

    async def _mail_access(self, st: _State, spec: str | None, addr: str, reply_name: str,
                           reply_class: str, def_acl: str | None) -> int:
        res = self._resolve(st, addr, reply_class)
        rcpt = res.recipient
        if "@" not in rcpt:
            log.warning("check_mail_access: no @domain in address: %s", rcpt)
            return DUNNO
        keys = mail_keys(rcpt, parent_style=self.access_parent, delimiter=self.rewrite.delimiter)
        status = await self._access(st, spec, keys, rcpt, reply_name, reply_class, def_acl)
        if status == OK and not self.allow_untrusted_routing and res.routed \
                and reply_class == RECIPIENT:
            st.detail += " (source-routed recipient: OK ignored)"
            return DUNNO
        return status

    def _resolve(self, st: _State, addr: str, reply_class: str) -> Any:
        other = st.recipient if reply_class == SENDER else st.sender
        res = self.rewrite.resolve(self.rewrite.rewrite(addr),
                                   self.rewrite.rewrite(other) if other else None)
        if res.fail:
            self._dict_retry(st, addr, f"address resolver failure for {addr}")
        return res

    def _permit_auth_destination(self, st: _State, recipient: str) -> int:
        res = self._resolve(st, recipient, RECIPIENT)
        if "@" not in res.recipient:
            return OK
        if not self.allow_untrusted_routing and res.routed:
            st.detail = f"{res.recipient}: source-routed"
            return DUNNO
        st.detail = f"{res.recipient}: address class {res.address_class}"
        if res.address_class in ("local", "virtual_alias", "virtual_mailbox", "relay"):
            return OK
        return DUNNO

    def _invalid_hostaddr(self, st: _State, addr: str, reply_class: str) -> int:
        test = addr[1:-1] if addr.startswith("[") and addr.endswith("]") and len(addr) > 2 else addr
        if test.lower().startswith("ipv6:"):
            test = test[5:]
        if not _is_ip(test):
            return self._reject(st, POLICY, self.codes["invalid_hostname_reject_code"], "5.5.2",
                                f"<{addr}>: {reply_class} rejected: invalid ip address")
        return DUNNO

    def _non_fqdn_address(self, st: _State, addr: str, reply_class: str) -> int:
        domain = addr.rpartition("@")[2] if "@" in addr else ""
        if domain.startswith("[") and domain.endswith("]"):
            return DUNNO
        test = _truncate(domain)
        if not test or not valid_hostname(test) or "." not in test:
            return self._reject(st, POLICY, self.codes["non_fqdn_reject_code"], "4.5.2",
                                f"<{addr}>: {reply_class} rejected: need fully-qualified address")
        return DUNNO

    def _require_dns(self, st: _State, what: str) -> Any:
        if self.dns is None:
            self._server_error(st, f"{what}: no DNS resolver configured")
        return self.dns

    async def _unknown_hostname(self, st: _State, name: str, reply_class: str) -> int:
        status = await rbl.host_status(self._require_dns(st, name), name)
        st.detail = f"DNS A/AAAA/MX lookup of {name}: {status}"
        if status == rbl.OK:
            return DUNNO
        if status == rbl.NOTFOUND:
            return self._reject(st, POLICY, self.codes["unknown_hostname_reject_code"], "4.7.1",
                                f"<{name}>: {reply_class} rejected: Host not found")
        return self._defer_if_permit2(st, self.unk_name_tf, 450, "4.7.1",
                                      f"<{name}>: {reply_class} rejected: Host not found")

    async def _unknown_address(self, st: _State, addr: str, reply_class: str) -> int:
        res = self._resolve(st, addr, reply_class)
        if "@" not in res.recipient:
            return DUNNO
        domain = res.recipient.rpartition("@")[2]
        if res.address_class in ("local", "virtual_alias", "virtual_mailbox"):
            st.detail = f"{domain}: address class {res.address_class}"
            return DUNNO
        if domain.startswith("[") and domain.endswith("]"):
            return DUNNO
        status = await rbl.mailhost_status(self._require_dns(st, domain), domain)
        st.detail = f"DNS MX/A/AAAA lookup of {domain}: {status}"
        sender = reply_class == SENDER
        if status == rbl.OK:
            return DUNNO
        if status == rbl.NULLMX:
            return self._reject(st, POLICY, 550 if sender else 556,
                                "4.7.27" if sender else "4.1.10",
                                f"<{addr}>: {reply_class} rejected: Domain {domain} "
                                "does not accept mail (nullMX)")
        dsn = "4.1.8" if sender else "4.1.2"
        if status == rbl.NOTFOUND:
            return self._reject(st, POLICY, self.codes["unknown_address_reject_code"], dsn,
                                f"<{addr}>: {reply_class} rejected: Domain not found")
        return self._defer_if_permit2(st, self.unk_addr_tf, 450, dsn,
                                      f"<{addr}>: {reply_class} rejected: Domain not found")

    def _login_owners(self, st: _State, sender: str) -> str | None:
        if not self.sender_login_maps:
            return None
        res = self._resolve(st, sender, SENDER)
        from mailflow.tables.addresses import lookup_address
        from mailflow.tables.maps import Maps
        try:
            match = lookup_address(Maps([self._table(s) for s in self.sender_login_maps]),
                                   res.recipient.lower(), delimiter=self.rewrite.delimiter,
                                   local_domain=self.rewrite.is_local, style="virtual")
        except TableError as exc:
            self._dict_retry(st, sender, f"smtpd_sender_login_maps: lookup problem: {exc}")
        st.detail = f"smtpd_sender_login_maps: {res.recipient} -> " + \
            (match.value if match else "no owner")
        return None if match is None else match.value

    def _auth_login_mismatch(self, st: _State, sender: str, *, allow_unknown: bool) -> int:
        user = st.facts.sasl_username
        if not self.sender_login_maps or not user:
            return DUNNO
        owners = self._login_owners(st, sender)
        if owners is None and allow_unknown:
            return DUNNO
        names = [n.lower() for n in split_braced(owners or "")]
        if user.lower() not in names:
            return self._reject(st, POLICY, 553, "5.7.1",
                                f"<{sender}>: Sender address rejected: not owned by user {user}")
        return DUNNO

    def _unauth_login_mismatch(self, st: _State, sender: str) -> int:
        if not self.sender_login_maps or st.facts.sasl_username:
            return DUNNO
        if self._login_owners(st, sender) is not None:
            return self._reject(st, POLICY, 553, "5.7.1",
                                f"<{sender}>: Sender address rejected: not logged in")
        return DUNNO

    def _recipient_rcpt_maps(self, st: _State, recipient: str) -> int:
        if st.recipient_checked:
            return DUNNO
        if not st.warn_if_reject:
            st.recipient_checked = True
        return self._rcpt_maps(st, recipient, st.sender or "", RECIPIENT)

    def _sender_rcpt_maps(self, st: _State, sender: str) -> int:
        if st.sender_checked:
            return DUNNO
        if not st.warn_if_reject:
            st.sender_checked = True
        return self._rcpt_maps(st, sender, st.recipient or "", SENDER)

    def _rcpt_maps(self, st: _State, address: str, other: str, reply_class: str) -> int:
        check = self.validator.check(address, sender=other, reply_class=reply_class)
        st.detail = check.detail
        if check.reply is None:
            return DUNNO
        r = check.reply
        error_class = DATA_ERROR if r.code == 451 else BOUNCE
        return self._reject(st, error_class, r.code, r.enhanced, r.text)

    # --- DNS lists ----------------------------------------------------------------------
    async def _dnsxl(self, st: _State, domain: str, make_query: Callable[[str], str]
                     ) -> rbl.DnsxlResult | None:
        name, eq, reply_filter = domain.partition("=")
        query = make_query(name)
        hit = await rbl.dnsxl_lookup(self._require_dns(st, domain), query,
                                     reply_filter if eq else None,
                                     warn=lambda text: log.warning("%s", text))
        st.detail = f"{query}: " + (", ".join(hit.addresses) if hit else "not listed")
        return hit

    async def _rbl_addr(self, st: _State, domain: str, reply_class: str) -> int:
        addr = st.facts.client_address
        hit = await self._dnsxl(st, domain, lambda d: rbl.dnsxl_query(addr, d))
        if hit is None:
            return DUNNO
        return self._rbl_reply(st, hit, domain, addr, reply_class)

    async def _rbl_domain(self, st: _State, domain: str, what: str, reply_class: str) -> int:
        target = what.rpartition("@")[2] if "@" in what else what
        if not target or target.startswith("["):
            return DUNNO
        last = target.rpartition(".")[2]
        if last.isdigit() or not valid_hostname(target):
            return DUNNO
        hit = await self._dnsxl(st, domain, lambda d: f"{target}.{d}")
        if hit is None:
            return DUNNO
        return self._rbl_reply(st, hit, domain, what, reply_class)

    def _rbl_reply(self, st: _State, hit: rbl.DnsxlResult, rbl_domain: str, what: str,
                   reply_class: str) -> int:
        bare = rbl_domain.partition("=")[0]
        template = None
        if self.rbl_reply_maps:
            try:
                found = self._lookup(self.rbl_reply_maps, [(rbl_domain, False)])
                if found is None and bare != rbl_domain:
                    found = self._lookup(self.rbl_reply_maps, [(bare, False)])
            except TableError as exc:
                self._server_error(st, f"rbl_reply_maps: lookup problem: {exc}")
            template = found[1] if found else None
        values = {"rbl_code": str(self.codes["maps_rbl_reject_code"]), "rbl_domain": bare,
                  "rbl_reason": hit.txt, "rbl_what": what, "rbl_class": reply_class}
        session = self._macros(st)
        text = None
        for candidate in ([template] if template else []) + [self.rbl_template]:
            try:
                text = rbl.expand_rbl_reply(candidate, values, session)
                break
            except ConfigError:
                log.warning("rbl_reject_reply: bad rbl reply template for domain %s: %s",
                            rbl_domain, candidate)
        text = text or ""
        if len(text) < 4 or text[0] not in "45" or not text[1:3].isdigit() or text[3] != " ":
            log.warning("rbl response code configuration error: %s", text)
            return self._reject(st, POLICY, 450, "4.7.1", "Service unavailable")
        dsn, rest = split_dsn(text[4:], "4.7.1")
        return self._reject(st, POLICY, int(text[:3]), dsn_fix(dsn, reply_class),
                            rest or "Service unavailable")

    def _macros(self, st: _State) -> Callable[[str], str | None]:
        f = st.facts
        table = {"client_address": f.client_address, "client_name": f.client_name,
                 "client_port": str(f.client_port), "reverse_client_name": f.reverse_client_name,
                 "helo_name": st.helo, "sender": st.sender, "recipient": st.recipient,
                 "protocol": f.protocol, "sasl_method": f.sasl_method,
                 "sasl_username": f.sasl_username, "queue_id": f.queue_id}

        def lookup(name: str) -> str | None:
            if name in table:
                value = table[name]
                return None if value is None else rbl.filter_text(value)
            if name in ("sender_name", "recipient_name", "sender_domain", "recipient_domain"):
                addr = table[name.split("_")[0]] or ""
                local, _, dom = addr.rpartition("@")
                return rbl.filter_text(local if name.endswith("_name") else dom) or None
            return self.value(name) or None

        return lookup

    # --- policy delegation ----------------------------------------------------------------
    async def _policy(self, st: _State, spec: str, reply_name: str, reply_class: str,
                      def_acl: str | None) -> int:
        try:
            options = parse_policy_spec(spec, self.policy_defaults)
        except ValueError as exc:
            self._server_error(st, str(exc))
        client = self.policy_client
        if client is None:
            from mailflow.adapters.policy_client import PolicyClient
            client = self.policy_client = PolicyClient(
                queue_directory=self.value("queue_directory") or ".")
        facts = attrs.evolve(st.facts, helo=st.helo, sender=st.sender, recipient=st.recipient,
                             etrn_domain=st.etrn, stage=st.where)
        try:
            action = await client.request(options, policy_attributes(
                facts, policy_context=options.policy_context))
        except PolicyError as exc:
            log.warning("%s", exc)
            st.policy_nesting += 1
            try:
                default = options.default_action if st.policy_nesting == 1 \
                    else _default_raw("smtpd_policy_service_default_action")
                status = await self._table_result(st, options.endpoint, default, "policy query",
                                                  reply_name, reply_class, def_acl)
            finally:
                st.policy_nesting -= 1
            st.detail = f"{options.endpoint}: {exc}; default action {default}"
            return status
        return await self._table_result(st, options.endpoint, action, "policy query",
                                        reply_name, reply_class, def_acl)

    # --- per-stage drivers ---------------------------------------------------------------------
    def _state(self, facts: SessionFacts, where: str) -> _State:
        if where == "HELO" and facts.protocol.upper() == "ESMTP":
            where = "EHLO"
        return _State(facts=facts, where=where, helo=facts.helo, sender=facts.sender,
                      recipient=facts.recipient, etrn=facts.etrn_domain)

    @staticmethod
    def _reset(st: _State) -> None:
        st.recursion = 0
        st.warn_if_reject = 0
        st.defer_if_reject = None

    async def _run(self, st: _State, list_param: str, reply_name: str, reply_class: str,
                   def_acl: str | None) -> int:
        items = self.lists[list_param]
        if not items:
            return DUNNO
        try:
            return await self._generic(st, items, reply_name, reply_class, def_acl,
                                       list_name=list_param)
        except _Abort as abort:
            return abort.status

    async def _client(self, st: _State) -> int:
        st.defer_if_permit = None
        self._reset(st)
        status = await self._run(st, "smtpd_client_restrictions", st.facts.namaddr, CLIENT,
                                 "check_client_access")
        st.dip_client = st.defer_if_permit
        return status

    async def _helo(self, st: _State) -> int:
        if st.helo is None:
            return DUNNO
        st.defer_if_permit = st.dip_client
        self._reset(st)
        status = await self._run(st, "smtpd_helo_restrictions", st.helo, HELO,
                                 "check_helo_access")
        st.dip_helo = st.defer_if_permit
        return status

    async def _mail(self, st: _State) -> int:
        if st.sender is None:
            return DUNNO
        st.defer_if_permit = st.dip_client or st.dip_helo
        st.sender_checked = False
        self._reset(st)
        status = await self._run(st, "smtpd_sender_restrictions", st.sender, SENDER,
                                 "check_sender_access")
        st.dip_sender = st.defer_if_permit
        if self.reject_unlisted_sender and status != REJECT and not st.sender_checked \
                and st.discard is None and st.sender:
            status = self._implicit(st, "smtpd_reject_unlisted_sender", "reject_unlisted_sender",
                                    lambda: self._sender_rcpt_maps(st, st.sender or ""))
        return status

    def _implicit(self, st: _State, param: str, name: str, check: Callable[[], int]) -> int:
        st.detail = ""
        try:
            status = check()
        except _Abort as abort:
            status = abort.status
        st.trace.append(TraceStep(param, name, self._result(st, status, st.defer_if_permit,
                                                            st.defer_if_reject), st.detail))
        return status

    def _apply_defer_if_permit(self, st: _State, status: int) -> int:
        if status != REJECT and st.defer_if_permit is not None:
            d = st.defer_if_permit
            status = self._reject(st, d.error_class, d.code, d.dsn, d.text)
            st.trace.append(TraceStep(st.list_name or "defer_if_permit", "(defer_if_permit)",
                                      self._result(st, status, None, None),
                                      "a restriction asked to defer if the request is permitted"))
        return status

    def _decision(self, st: _State, status: int, stage: str, pending: _Defer | None = None
                  ) -> Decision:
        reply = st.reply if status == REJECT else None
        verdict = "accept" if reply is None else ("defer" if reply.is_transient else "reject")
        return Decision(verdict, reply, tuple(st.trace), hold=st.hold, discard=st.discard,
                        filter=st.filter, redirect=st.redirect, prepend=tuple(st.prepend),
                        warnings=tuple(st.log), stage=stage, bcc=tuple(st.bcc),
                        defer_if_permit=None if pending is None or reply is not None
                        else pending.reply())

    def _delayed(self, st: _State, param: str, stage: str) -> Decision:
        if self.lists[param]:
            st.trace.append(TraceStep(param, "(smtpd_delay_reject = yes)", "DUNNO",
                                      "evaluated at RCPT TO" if stage != "CONNECT" or
                                      not st.facts.etrn_domain else "evaluated at ETRN"))
        return self._decision(st, DUNNO, stage)

    async def check_connect(self, facts: SessionFacts) -> Decision:
        """The client restrictions at connect time; with ``smtpd_delay_reject
        = yes`` (the default) nothing is evaluated now (Postfix evaluates them
        at RCPT TO), and the decision is accept."""
        st = self._state(facts, "CONNECT")
        if self.delay_reject:
            return self._delayed(st, "smtpd_client_restrictions", "CONNECT")
        status = await self._client(st)
        return self._decision(st, status, "CONNECT", st.dip_client)

    async def check_helo(self, facts: SessionFacts) -> Decision:
        """The HELO/EHLO restrictions (evaluated at RCPT with smtpd_delay_reject)."""
        st = self._state(facts, "HELO")
        if self.delay_reject:
            return self._delayed(st, "smtpd_helo_restrictions", "HELO")
        st.dip_client = _carried(facts.defer_if_permit)
        status = await self._helo(st)
        return self._decision(st, status, "HELO", st.dip_helo)

    async def check_mail(self, facts: SessionFacts) -> Decision:
        """The MAIL FROM restrictions (evaluated at RCPT with smtpd_delay_reject)."""
        st = self._state(facts, "MAIL")
        if self.delay_reject:
            return self._delayed(st, "smtpd_sender_restrictions", "MAIL")
        st.dip_client = _carried(facts.defer_if_permit)
        status = await self._mail(st)
        return self._decision(st, status, "MAIL", st.dip_sender)

    async def check_rcpt(self, facts: SessionFacts) -> Decision:
        """RCPT TO: (with smtpd_delay_reject) the client, HELO and sender
        lists, then smtpd_relay_restrictions and smtpd_recipient_restrictions
        (in the order smtpd_relay_before_recipient_restrictions says), a
        pending defer_if_permit, then recipient validation
        (smtpd_reject_unlisted_recipient). ``postmaster`` without a domain is
        always accepted (RFC 5321 section 4.5.1)."""
        st = self._state(facts, facts.stage if facts.stage == "VRFY" else "RCPT")
        recipient = facts.recipient
        if recipient is None or recipient.lower() == "postmaster":
            return self._decision(st, DUNNO, "RCPT")
        st.recipient_checked = False
        if self.delay_reject:
            for stage in (self._client, self._helo, self._mail):
                if await stage(st) == REJECT:
                    return self._decision(st, REJECT, "RCPT")
            pending = st.dip_sender
        else:
            pending = _carried(facts.defer_if_permit)
        st.defer_if_permit = pending
        self._reset(st)
        order = ["smtpd_recipient_restrictions", "smtpd_relay_restrictions"]
        if self.flag("smtpd_relay_before_recipient_restrictions"):
            order.reverse()
        status = DUNNO
        for param in order:
            status = await self._run(st, param, recipient, RECIPIENT, "check_recipient_access")
            if status == REJECT:
                break
        status = self._apply_defer_if_permit(st, status)
        if self.reject_unlisted_recipient and status != REJECT and not st.recipient_checked \
                and st.discard is None:
            status = self._implicit(st, "smtpd_reject_unlisted_recipient",
                                    "reject_unlisted_recipient",
                                    lambda: self._recipient_rcpt_maps(st, recipient))
        return self._decision(st, status, st.where)

    async def check_vrfy(self, facts: SessionFacts) -> Decision:
        """VRFY: the same checks as RCPT TO for ``facts.recipient`` (Postfix
        runs smtpd_check_rcpt for VRFY), logged as VRFY."""
        return await self.check_rcpt(attrs.evolve(facts, stage="VRFY"))

    async def check_etrn(self, facts: SessionFacts) -> Decision:
        """ETRN: (with smtpd_delay_reject) the client and HELO lists, then
        smtpd_etrn_restrictions for ``facts.etrn_domain``."""
        st = self._state(facts, "ETRN")
        if facts.etrn_domain is None:
            return self._decision(st, DUNNO, "ETRN")
        if self.delay_reject:
            for stage in (self._client, self._helo):
                if await stage(st) == REJECT:
                    return self._decision(st, REJECT, "ETRN")
            st.defer_if_permit = st.dip_client or st.dip_helo
        else:
            st.defer_if_permit = _carried(facts.defer_if_permit)
        self._reset(st)
        status = await self._run(st, "smtpd_etrn_restrictions", facts.etrn_domain, ETRN,
                                 "check_etrn_access")
        status = self._apply_defer_if_permit(st, status)
        return self._decision(st, status, "ETRN")

    async def _content(self, facts: SessionFacts, where: str, param: str, name: str,
                       reply_class: str) -> Decision:
        st = self._state(facts, where)
        if facts.recipient_count > 1:
            # One check for all recipients: naming one of them would mislead.
            st.recipient = None
        self._reset(st)
        status = await self._run(st, param, name, reply_class, None)
        status = self._apply_defer_if_permit(st, status)
        return self._decision(st, status, where)

    async def check_data(self, facts: SessionFacts) -> Decision:
        """DATA: smtpd_data_restrictions (reply name ``<DATA>``)."""
        return await self._content(facts, "DATA", "smtpd_data_restrictions", "DATA", DATA)

    async def check_end_of_data(self, facts: SessionFacts) -> Decision:
        """End of message: smtpd_end_of_data_restrictions (``facts.size`` is
        the message size)."""
        return await self._content(facts, "END-OF-MESSAGE", "smtpd_end_of_data_restrictions",
                                   "END-OF-MESSAGE", EOD)

    async def explain(self, facts: SessionFacts) -> list[Decision]:
        """Every stage the facts reach, in order, as the service would check
        them: CONNECT, HELO (when ``helo`` is set), MAIL (when ``sender`` is
        not None), RCPT (when ``recipient`` is set), then DATA and
        END-OF-MESSAGE when a recipient was accepted. A rejection at a stage
        ends the list there, as it ends the SMTP transaction."""
        out = [await self.check_connect(attrs.evolve(facts, stage="CONNECT"))]
        steps: list[tuple[str, Callable[[SessionFacts], Awaitable[Decision]]]] = []
        if facts.helo is not None:
            steps.append(("HELO", self.check_helo))
        if facts.sender is not None:
            steps.append(("MAIL", self.check_mail))
        if facts.recipient is not None:
            steps.append(("RCPT", self.check_rcpt))
            steps.append(("DATA", self.check_data))
            steps.append(("END-OF-MESSAGE", self.check_end_of_data))
        pending = out[0].defer_if_permit
        for stage, check in steps:
            if not out[-1].accepted or out[-1].discard is not None:
                break
            count = max(facts.recipient_count, 1) if stage in ("DATA", "END-OF-MESSAGE") \
                else facts.recipient_count
            decision = await check(attrs.evolve(facts, stage=stage, defer_if_permit=pending,
                                                recipient_count=count))
            pending = decision.defer_if_permit or pending
            out.append(decision)
        return out


def _truncate(name: str) -> str:
    if len(name) > 1 and name.endswith(".") and not name.endswith(".."):
        return name[:-1]
    return name


def _is_ip(text: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _default_raw(name: str) -> str:
    from mailflow.config.params import PARAMS
    return PARAMS[name].default


def _entry_point(name: str) -> UserRestriction | None:
    """A restriction from the ``mailflow.restrictions`` entry-point group
    (:mod:`mailflow.plugins`: a name two plug-ins claim is an error)."""
    from mailflow.plugins import load
    return load("mailflow.restrictions", name)
