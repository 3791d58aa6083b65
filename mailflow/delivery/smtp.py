"""smtp(8): relay mail to other hosts over SMTP (and, as lmtp(8), over LMTP).

Owns one delivery request's conversation: find the addresses for the next
hop (:mod:`mailflow.delivery.smtp_route`), connect (:mod:`smtp_session`),
greet with EHLO (HELO when EHLO is refused), STARTTLS and AUTH when
configured, check SIZE, send MAIL/RCPT/DATA (pipelined when the server
offers PIPELINING) with DSN parameters when it offers DSN, convert 8-bit
mail for a server without 8BITMIME (:mod:`mailflow.delivery.mime_downgrade`),
apply the destination's TLS policy (:mod:`smtp_tls_policy`), and turn every
reply into Postfix's per-recipient outcome:

* accepted: ``2.0.0`` with the server's reply as text (``250 2.0.0 Ok:
  queued as X``), ``relay=mx.example[192.0.2.1]:25``;
* rejected: the reply's status (5.x.x bounces, 4.x.x defers) with
  ``host mx.example[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO
  command)``, Remote-MTA and ``Diagnostic-Code: smtp; 550 5.1.1 ...``;
* no conversation (connection refused, timeout, 4xx greeting, lost
  connection): the next address is tried, up to ``smtp_mx_session_limit``
  sessions, then ``smtp_fallback_relay``; the last failure defers as 4.4.x,
  which the queue manager counts against the destination.

Every stage runs under its own ``smtp_*_timeout``. Connections are kept for
the next request to the same next hop (``smtp_connection_cache_on_demand``)
and reset with RSET between messages; outcomes of a delivery over a reused
connection carry ``conn_use`` (2 for its second message, ...).

>>> agent = SmtpAgent(None, None)
>>> agent
SmtpAgent(protocol='smtp')
"""

from __future__ import annotations

import base64
import logging
import random
import ssl
import time
from typing import Any, Callable, Sequence

import attrs

from mailflow.adapters.tls import (client_context, client_match_names, describe_tls,
                                   fingerprint, peer_name_matches)
from mailflow.config import default_config
from mailflow.delivery.maps import Maps
from mailflow.delivery.mime_downgrade import MimeNestingError, downgrade, needs_downgrade
from mailflow.delivery.settings import Settings
from mailflow.delivery.smtp_route import (RouteError, Target, find_targets, is_ip_literal,
                                          parse_nexthop)
from mailflow.delivery.smtp_session import (ConnectFailed, Connection, ConnectionLost,
                                            ConversationTimeout, TlsFailed, call_later)
from mailflow.delivery.smtp_tls_policy import (CONFIG_PROBLEM, LEVELS, PolicyError, TlsPolicy,
                                               lookup_policy, parse_fingerprints, without_dnssec)
from mailflow.errors import ConfigError, TableError
from mailflow.interfaces import DnsResolver
from mailflow.model import DeliveryRequest, DsnStatus, Outcome
from mailflow.smtp.client import Command, Extensions, Reply, Transaction
from mailflow.smtp.data import encode_data
from mailflow.smtp.errors import SmtpProtocolError

__all__ = ["SmtpAgent", "TLS_LEVELS"]

log = logging.getLogger("mailflow.smtp")

#: smtp_tls_security_level values mailflow takes (Postfix's names); ``dane``
#: works as ``may`` and ``dane-only`` defers, as in Postfix without DNSSEC.
TLS_LEVELS = LEVELS

# What Postfix says it was doing when a stage fails (smtp_proto.c).
_WHERE = {"GREETING": "receiving the initial server greeting",
          "EHLO": "performing the EHLO handshake", "HELO": "performing the HELO handshake",
          "LHLO": "performing the LHLO handshake", "STARTTLS": "receiving the STARTTLS response",
          "AUTH": "performing SASL authentication",
          "MAIL": "sending MAIL FROM", "RCPT": "sending RCPT TO", "DATA": "sending DATA command",
          "BODY": "sending message body",
          "DOT": "sending end of data -- message may be sent more than once",
          "RSET": "sending final RSET", "QUIT": "sending QUIT"}


@attrs.frozen
class _SiteFailure:
    """A session that delivered nothing: try the next address (or give up)."""

    status: DsnStatus
    relay: str = "none"
    remote_mta: str | None = None
    diagnostic: str | None = None
    counted: bool = True          # a session in smtp_mx_session_limit's sense
    try_next: bool = True


class _Abort(Exception):
    """Internal: end this session with a site failure."""

    def __init__(self, failure: _SiteFailure) -> None:
        self.failure = failure
        super().__init__(str(failure.status))


class SmtpAgent:
    """The ``smtp`` command of master.cf (``lmtp=True``: the ``lmtp`` one).

    ``resolver`` replaces the DNS (default: the dnspython adapter on
    ``dns_nameservers``); ``my_addresses`` are this host's addresses for the
    "loops back to myself" check (default: from ``inet_interfaces`` and
    ``proxy_interfaces``); ``shuffle`` orders MX hosts of equal preference.
    """

    def __init__(self, cfg: Any = None, service: Any = None, *,
                 resolver: DnsResolver | None = None, lmtp: bool = False,
                 my_addresses: Sequence[str] | None = None,
                 shuffle: Callable[[list], None] | None = None) -> None:
        self.lmtp = lmtp
        p = self.prefix = "lmtp" if lmtp else "smtp"
        s = Settings(cfg)
        self.cfg = cfg
        if resolver is None:
            from mailflow.adapters.dns import resolver_from_config
            resolver = resolver_from_config(cfg)
        self.resolver = resolver
        self.shuffle = shuffle or random.shuffle
        self.default_port = s.int("lmtp_tcp_port") if lmtp else 25
        hello = "lhlo" if lmtp else "helo"
        self.timeouts = {
            "connect": s.time(f"{p}_connect_timeout"),
            "GREETING": s.time(f"{p}_{hello}_timeout"),
            "HELLO": s.time(f"{p}_{hello}_timeout"),
            "STARTTLS": s.time(f"{p}_starttls_timeout"),
            "MAIL": s.time(f"{p}_mail_timeout"), "RCPT": s.time(f"{p}_rcpt_timeout"),
            "DATA": s.time(f"{p}_data_init_timeout"), "BODY": s.time(f"{p}_data_xfer_timeout"),
            "DOT": s.time(f"{p}_data_done_timeout"),
            "RSET": s.time(f"{p}_rset_timeout"),
            "QUIT": s.time(f"{p}_quit_timeout"),
        }
        self.myhostname = s.text("myhostname")
        self.helo_name = s.text(f"{p}_{hello}_name") or self.myhostname
        self.never_ehlo = not lmtp and s.bool("smtp_never_send_ehlo")
        self.skip_5xx_greeting = s.bool(f"{p}_skip_5xx_greeting")
        # smtp_skip_quit_response = yes (lmtp: no): do not wait for QUIT's reply.
        self.skip_quit_response = s.bool(f"{p}_skip_quit_response")
        self.mx_address_limit = s.int(f"{p}_mx_address_limit")
        self.mx_session_limit = s.int(f"{p}_mx_session_limit")
        self.fallback = [] if lmtp else s.list("smtp_fallback_relay")
        self.inet_protocols = s.list("inet_protocols") or ["all"]
        self.my_addresses = (list(my_addresses) if my_addresses is not None
                             else _own_addresses(s.list("inet_interfaces") + s.list("proxy_interfaces")))
        self.tls_level = (s.text(f"{p}_tls_security_level") or "none").lower()
        if self.tls_level not in TLS_LEVELS:
            raise ConfigError(f"unsupported TLS security level (use one of {', '.join(TLS_LEVELS)})",
                              name=f"{p}_tls_security_level", value=self.tls_level)
        # Postfix's lmtp reads lmtp_tls_* only, never the smtp_tls_* twins.
        self.tls_cafile = s.text(f"{p}_tls_CAfile") or None
        self.tls_capath = s.text(f"{p}_tls_CApath") or None
        self.tls_policy_title = f"{p}_tls_policy_maps"
        self.tls_policy_maps = Maps(s.text(self.tls_policy_title), cfg)
        self.tls_fingerprints = s.list(f"{p}_tls_fingerprint_cert_match")
        self.tls_digest = (s.text(f"{p}_tls_fingerprint_digest") or "sha256").strip().lower()
        try:
            fingerprint(b"", self.tls_digest)
        except ConfigError:
            raise ConfigError("unsupported message digest algorithm",
                              name=f"{p}_tls_fingerprint_digest", value=self.tls_digest) from None
        self.tls_servername = s.text(f"{p}_tls_servername").strip()
        self._tls_cfg = cfg if cfg is not None else default_config()
        self._tls_contexts: dict[tuple, ssl.SSLContext] = {}
        self._tls_warned: set[str] = set()
        self._default_policy: TlsPolicy | None = None
        self.sasl = s.bool(f"{p}_sasl_auth_enable")
        self.sasl_maps = Maps(s.text(f"{p}_sasl_password_maps"), cfg) if self.sasl else None
        self.sasl_options = {o.lower() for o in s.list(f"{p}_sasl_security_options")}
        tls_opts = s.text(f"{p}_sasl_tls_security_options")
        self.sasl_tls_options = ({o.lower() for o in s.list(f"{p}_sasl_tls_security_options")}
                                 if tls_opts else self.sasl_options)
        # 8-bit mail to a server without 8BITMIME is converted (Postfix's
        # MIME downgrade) unless disable_mime_output_conversion = yes.
        self.mime_downgrade = not s.bool("disable_mime_output_conversion")
        self.mime_nesting_limit = s.int("mime_nesting_limit")
        self.mime_boundary_limit = s.int("mime_boundary_length_limit")
        self.cache_on = s.bool(f"{p}_connection_cache_on_demand")
        self.cache_idle = s.time(f"{p}_connection_cache_time_limit")
        self.reuse_time = s.time(f"{p}_connection_reuse_time_limit")
        self.reuse_count = s.int(f"{p}_connection_reuse_count_limit")
        # (transport, next hop, TLS level, address, port, path) -> idle
        # [connection, extensions, expiry timer] entries
        self._cache: dict[tuple, list[list]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(protocol={self.prefix!r})"

    # --- the request ---------------------------------------------------------------
    async def deliver(self, request: DeliveryRequest) -> Sequence[Outcome]:
        recipients = list(request.recipients)
        if not recipients:
            return []
        hops = [request.nexthop or recipients[0].address.rpartition("@")[2]] + self.fallback
        final: list[Outcome] = []          # 2.x.x and 5.x.x: decided for good
        pending = recipients               # not decided yet
        soft: list[Outcome] = []           # their last 4.x.x from a server, if that came last
        failure: _SiteFailure | None = None
        sessions = 0
        for hop in hops:
            try:
                nexthop = parse_nexthop(hop, self.default_port)
                targets = await find_targets(
                    nexthop, self.resolver, inet_protocols=self.inet_protocols,
                    mx_address_limit=self.mx_address_limit,
                    my_addresses=[] if self.lmtp else self.my_addresses, shuffle=self.shuffle)
            except ConfigError as exc:
                failure, soft = _SiteFailure(DsnStatus("4.3.5", f"server configuration error: {exc}")), []
                continue
            except RouteError as exc:
                failure, soft = _SiteFailure(exc.status, diagnostic=f"X-Postfix; {exc.status.text}"), []
                if exc.status.is_permanent:
                    break            # the destination does not exist: no fallback helps
                continue
            try:
                policy = self.tls_policy(hop)
            except PolicyError as exc:
                # Postfix skips every server of this destination with a warning
                # and defers: a broken policy must not weaken TLS.
                log.warning("%s", exc)
                for target in targets:
                    log.warning("TLS policy lookup error for %s/%s: %s", hop, target.name,
                                CONFIG_PROBLEM)
                failure, soft = _SiteFailure(DsnStatus("4.7.5", CONFIG_PROBLEM), counted=False), []
                continue
            for target in targets:
                if self.mx_session_limit and sessions >= self.mx_session_limit:
                    break
                result = await self._attempt(hop, target, attrs.evolve(request, recipients=pending),
                                             policy)
                if isinstance(result, _SiteFailure):
                    failure, soft = result, []
                    sessions += result.counted
                    if not result.try_next:
                        return final + self._failed(pending, failure)
                    continue
                sessions += 1
                # A recipient a server deferred is offered to the next one,
                # as Postfix does; accepted and rejected ones are done.
                final += [o for o in result if not o.status.is_temporary]
                soft = [o for o in result if o.status.is_temporary]
                pending = [o.recipient for o in soft]
                if not pending:
                    return final
        if soft:
            return final + soft
        assert failure is not None
        return final + self._failed(pending, failure)

    @staticmethod
    def _failed(recipients: Sequence[Any], failure: _SiteFailure) -> list[Outcome]:
        diagnostic = failure.diagnostic or f"X-Postfix; {failure.status.text}"
        return [Outcome(r, failure.status, relay=failure.relay, diagnostic=diagnostic,
                        remote_mta=failure.remote_mta) for r in recipients]

    # --- TLS policy ---------------------------------------------------------------
    def tls_policy(self, hop: str) -> TlsPolicy:
        """The TLS policy for next hop ``hop``: its ``smtp_tls_policy_maps``
        entry, else ``smtp_tls_security_level`` (lmtp: the ``lmtp_*``
        names). Raises :class:`~mailflow.delivery.smtp_tls_policy.PolicyError`
        (Postfix's warning text) when the entry or the settings it needs
        are unusable; the mail is then deferred with 4.7.5.

        >>> from mailflow.config import Config
        >>> a = SmtpAgent(Config(smtp_tls_security_level="may",
        ...                      smtp_tls_policy_maps="inline:{example.com=secure}"), None)
        >>> a.tls_policy("example.com").level, a.tls_policy("[example.com]:587").level
        ('secure', 'may')
        """
        if not self.tls_policy_maps and self.tls_level in ("none", "may", "encrypt", "verify",
                                                           "secure"):
            # No table and a level that needs no checking: the same every time.
            if self._default_policy is None:
                policy = TlsPolicy(self.tls_level)
                if policy.level != "none":
                    try:
                        self._tls_context(policy)     # a bad CAfile etc. fails here
                    except ConfigError as exc:
                        raise PolicyError(f"{self.prefix}_tls_security_level: {exc}") from None
                self._default_policy = policy
            return self._default_policy
        warnings: list[str] = []
        found = None
        if self.tls_policy_maps:
            found = lookup_policy(self.tls_policy_maps, hop, title=self.tls_policy_title,
                                  warnings=warnings)
        policy = found or TlsPolicy(self.tls_level)
        where = (f'{self.tls_policy_title}, next-hop destination "{hop.strip()}"' if found
                 else f"{self.prefix}_tls_security_level")
        unix = hop.strip().lower().startswith("unix:")
        policy, note = without_dnssec(policy, hop.strip(), unix_socket=unix)
        if note:
            warnings.append(note)
        if policy.level == "fingerprint":
            _, notes = parse_fingerprints(policy.match or self.tls_fingerprints,
                                          destination=hop.strip())
            warnings += notes
        for text in warnings:
            # Logged once per text: every delivery to the destination would repeat it.
            if text not in self._tls_warned and len(self._tls_warned) < 1000:
                self._tls_warned.add(text)
                log.warning("%s", text)
        if policy.level != "none":
            try:
                self._tls_context(policy)
            except ConfigError as exc:
                raise PolicyError(f"{where}: {exc}") from None
        return policy

    def _tls_context(self, policy: TlsPolicy) -> ssl.SSLContext:
        key = (policy.level, policy.protocols, policy.ciphers, policy.exclude)
        ctx = self._tls_contexts.get(key)
        if ctx is None:
            ctx = client_context(self._tls_cfg, policy.level, ca_file=self.tls_cafile,
                                 ca_path=self.tls_capath, prefix=self.prefix,
                                 protocols=policy.protocols, ciphers=policy.ciphers,
                                 exclude=policy.exclude)
            assert ctx is not None            # level is never "none" here
            self._tls_contexts[key] = ctx
        return ctx

    def _server_name(self, policy: TlsPolicy, target: Target, hop: str) -> str | None:
        """The SNI name: smtp_tls_servername (or the policy's servername=):
        ``hostname`` is the server's name, ``nexthop`` the next-hop domain;
        empty sends none, as Postfix."""
        name = policy.servername or self.tls_servername
        if name.lower() == "hostname":
            name = "" if target.path else target.name
        elif name.lower() == "nexthop":
            name = parse_nexthop(hop, self.default_port).host
        if not name or is_ip_literal(name) or "/" in name:
            return None
        return name

    # --- one session ---------------------------------------------------------------
    async def _attempt(self, hop: str, target: Target, request: DeliveryRequest,
                       policy: TlsPolicy, *,
                       reuse: bool = True) -> list[Outcome] | _SiteFailure:
        # A parked connection serves the same next hop, server and TLS policy only.
        key = (request.transport, hop, policy, target.address, target.port, target.path)
        cached = self._take(key) if reuse else None
        if cached is not None:
            conn, ext = cached
        else:
            try:
                conn = await Connection.open(target, timeout=self.timeouts["connect"])
            except ConnectFailed as exc:
                return _SiteFailure(DsnStatus("4.4.1", str(exc)), counted=False,
                                    diagnostic=f"X-Postfix; {exc}")
            try:
                ext = await self._start(conn, hop, policy)
            except _Abort as exc:
                await self._quit(conn)
                return exc.failure
            except TlsFailed as exc:
                await conn.close()
                if policy.level == "may":
                    # Opportunistic TLS: Postfix tries the same server again in plaintext.
                    log.info("%s: %s; trying plaintext", conn.name, exc)
                    return await self._attempt(hop, target, request, TlsPolicy("none"))
                return self._failure(conn, DsnStatus("4.7.5", str(exc)))
            except (ConnectionLost, ConversationTimeout) as exc:
                await conn.close()
                return self._failure(conn, DsnStatus("4.4.2", str(exc)))
            except SmtpProtocolError as exc:
                await conn.close()
                return self._failure(conn, DsnStatus("4.5.0", f"Protocol error: host {conn.name} "
                                                               f"said: {exc}"))
        replies_before = conn.replies_read
        try:
            outcomes, tx = await self._transaction(conn, ext, request)
            if conn.uses:
                # Postfix logs conn_use=N (this delivery included) on a reused connection.
                outcomes = [attrs.evolve(o, conn_use=conn.uses + 1) for o in outcomes]
        except _Abort as exc:
            await self._quit(conn)
            return exc.failure
        except (ConnectionLost, ConversationTimeout) as exc:
            await conn.close()
            if cached is not None and isinstance(exc, ConnectionLost) \
                    and conn.replies_read == replies_before:
                # A parked connection the server had closed meanwhile: it
                # took nothing, so start again on a new one.
                return await self._attempt(hop, target, request, policy, reuse=False)
            return self._failure(conn, DsnStatus("4.4.2", str(exc)))
        except SmtpProtocolError as exc:
            await conn.close()
            return self._failure(conn, DsnStatus("4.5.0", f"Protocol error: host {conn.name} "
                                                           f"said: {exc}"))
        conn.uses += 1
        await self._release(key, conn, ext, tx)
        return outcomes

    def _failure(self, conn: Connection, status: DsnStatus, *,
                 reply: Reply | None = None, try_next: bool = True) -> _SiteFailure:
        return _SiteFailure(status, relay=conn.target.relay, remote_mta=conn.target.remote_mta,
                            diagnostic=f"smtp; {reply}" if reply else f"X-Postfix; {status.text}",
                            try_next=try_next)

    def _refused(self, conn: Connection, reply: Reply) -> _Abort:
        status = reply.dsn
        if reply.is_permanent and self.skip_5xx_greeting:
            status = "4" + status[1:]      # skipped, not final: another server may take it
        return _Abort(self._failure(conn, DsnStatus(
            status, f"host {conn.name} refused to talk to me: {reply}"), reply=reply))

    async def _chat(self, conn: Connection, verb: str, line: bytes, stage: str) -> Reply:
        await conn.send(line, timeout=self.timeouts[stage], where=_WHERE[verb])
        return await conn.reply(timeout=self.timeouts[stage], where=_WHERE[verb])

    async def _start(self, conn: Connection, hop: str, policy: TlsPolicy) -> Extensions:
        """Greeting, EHLO/HELO/LHLO, STARTTLS and AUTH; the server's extensions."""
        greeting = await conn.reply(timeout=self.timeouts["GREETING"], where=_WHERE["GREETING"])
        if not greeting.is_success:
            raise self._refused(conn, greeting)
        ext = await self._hello(conn)
        if policy.level != "none":
            ext = await self._starttls(conn, ext, hop, policy)
        if self.sasl:
            await self._auth(conn, ext, hop)
        if ext.smtputf8 and not ext.eightbitmime:
            # smtp_proto.c: SMTPUTF8 implies 8BITMIME; such a server gets
            # 8-bit mail as is rather than converted.
            log.info("host %s offers SMTPUTF8 support, but not 8BITMIME", conn.name)
            ext = attrs.evolve(ext, keywords=ext.keywords | {"8BITMIME"})
        return ext

    async def _hello(self, conn: Connection) -> Extensions:
        name = self.helo_name.encode("idna") if not self.helo_name.isascii() else self.helo_name.encode()
        if self.lmtp:
            reply = await self._chat(conn, "LHLO", b"LHLO " + name + b"\r\n", "HELLO")
            if not reply.is_success:
                raise self._refused(conn, reply)
            return Extensions.from_reply(reply)
        if not self.never_ehlo:
            reply = await self._chat(conn, "EHLO", b"EHLO " + name + b"\r\n", "HELLO")
            if reply.is_success:
                return Extensions.from_reply(reply)
            if reply.code == 421:
                raise self._refused(conn, reply)
        reply = await self._chat(conn, "HELO", b"HELO " + name + b"\r\n", "HELLO")
        if not reply.is_success:
            raise self._refused(conn, reply)
        return Extensions()

    async def _starttls(self, conn: Connection, ext: Extensions, hop: str,
                        policy: TlsPolicy) -> Extensions:
        level = policy.level
        if not ext.starttls:
            if level == "may":
                return ext
            raise _Abort(self._failure(conn, DsnStatus(
                "4.7.4", f"TLS is required, but was not offered by host {conn.name}")))
        reply = await self._chat(conn, "STARTTLS", b"STARTTLS\r\n", "STARTTLS")
        if reply.code != 220:
            if level == "may":
                return ext
            raise _Abort(self._failure(conn, DsnStatus(
                "4.7.5", f"TLS is required, but host {conn.name} refused to start TLS: {reply}"),
                reply=reply))
        verify = policy.verifies_name
        target = conn.target
        await conn.starttls(self._tls_context(policy), self._server_name(policy, target, hop),
                            timeout=self.timeouts["STARTTLS"])
        if verify:
            # lmtp over a unix socket: the next hop is $myhostname (smtp_connect.c).
            nexthop = (self.myhostname if target.path
                       else parse_nexthop(hop, self.default_port).host)
            names = client_match_names(self._tls_cfg, level, hostname=target.name,
                                       nexthop=nexthop, prefix=self.prefix,
                                       patterns=policy.match or None)
            cert = conn.peer_certificate() or {}
            if not names or peer_name_matches(cert, names) is None:
                raise _Abort(self._failure(conn, DsnStatus(
                    "4.7.5", f"Server certificate not verified (host {conn.name} presented "
                             f"none of: {', '.join(names) or 'no name to match'})")))
        elif level == "fingerprint":
            wanted, _ = parse_fingerprints(policy.match or self.tls_fingerprints,
                                           destination=hop.strip())
            der = conn.ssl_object.getpeercert(binary_form=True) if conn.ssl_object else None
            # Postfix matches the certificate's digest or its public key's.
            seen = ({fingerprint(der, self.tls_digest).replace(":", ""),
                     fingerprint(der, self.tls_digest, public_key=True).replace(":", "")}
                    if der else set())
            if not seen & wanted:
                raise _Abort(self._failure(conn, DsnStatus(
                    "4.7.5", f"Server certificate not verified (host {conn.name} presented "
                             f"no certificate with a {self.tls_digest} fingerprint to match)")))
            verify = True
        log.info("%s", describe_tls(conn.ssl_object, f"{conn.name}:{target.port}",
                                    trusted=True if level == "fingerprint" else None,
                                    verified=verify))
        return await self._hello(conn)

    async def _auth(self, conn: Connection, ext: Extensions, hop: str) -> None:
        if not ext.auth:
            return                 # Postfix: no AUTH offered, send mail without it
        secret = self._password(conn.target, hop)
        if secret is None:
            return
        user, _, password = secret.partition(":")
        options = self.sasl_tls_options if conn.tls else self.sasl_options
        mechs = [m for m in ("PLAIN", "LOGIN") if m in ext.auth]
        if "noplaintext" in options:
            mechs = []
        if not mechs:
            raise _Abort(self._failure(conn, DsnStatus(
                "4.7.0", f"SASL authentication failed; cannot authenticate to server "
                         f"{conn.name}: no mechanism available")))
        if mechs[0] == "PLAIN":
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            reply = await self._chat(conn, "AUTH", f"AUTH PLAIN {token}\r\n".encode(), "HELLO")
        else:
            reply = await self._chat(conn, "AUTH", b"AUTH LOGIN\r\n", "HELLO")
            for value in (user, password):
                if reply.code != 334:
                    break
                reply = await self._chat(conn, "AUTH", base64.b64encode(value.encode()) + b"\r\n",
                                         "HELLO")
        if not reply.is_success:
            raise _Abort(self._failure(conn, DsnStatus(
                "4" + reply.dsn[1:], f"SASL authentication failed; server {conn.name} said: "
                                      f"{reply}"), reply=reply))

    def _password(self, target: Target, hop: str) -> str | None:
        assert self.sasl_maps is not None
        nexthop = parse_nexthop(hop, self.default_port)
        keys = [target.name, f"[{target.name}]:{target.port}", f"[{target.name}]", hop.strip(),
                nexthop.host]
        try:
            for key in dict.fromkeys(keys):
                value = self.sasl_maps.get(key)
                if value is not None:
                    return value.strip()
        except TableError as exc:
            raise _Abort(_SiteFailure(DsnStatus("4.3.0", f"table lookup problem: {exc}"),
                                      try_next=False)) from exc
        return None

    async def _transaction(self, conn: Connection, ext: Extensions,
                           request: DeliveryRequest) -> tuple[list[Outcome], Transaction]:
        recipients = list(request.recipients)
        env = request.envelope
        data = request.message.data
        size = len(data)
        if ext.size and size > ext.size:
            status = DsnStatus("5.3.4", f"message size {size} exceeds size limit {ext.size} "
                                        f"of server {conn.name}")
            raise _Abort(self._failure(conn, status, try_next=False))
        addresses = [env.sender] + [r.address for r in recipients]
        if not ext.smtputf8 and not all(a.isascii() for a in addresses):
            raise _Abort(self._failure(conn, DsnStatus(
                "5.6.7", f"message requires SMTPUTF8, but no server was found that supports "
                         f"SMTPUTF8. The last attempted server was {conn.name}")))
        if not ext.eightbitmime and self.mime_downgrade and needs_downgrade(data):
            # 8-bit parts become quoted-printable for a server without
            # 8BITMIME; the size changes, so SIZE= is left out (as Postfix).
            try:
                data = downgrade(data, nesting_limit=self.mime_nesting_limit,
                                 boundary_limit=self.mime_boundary_limit)
            except MimeNestingError as exc:
                raise _Abort(self._failure(conn, DsnStatus(exc.dsn, exc.text),
                                           try_next=False)) from None
            size = 0
        tx = Transaction(env.sender, [r.address for r in recipients], ext, size=size,
                         lmtp=self.lmtp, envid=env.envid,
                         ret=env.ret.value if env.ret is not None else None,
                         notify=[[n.value for n in r.notify] for r in recipients],
                         orcpt=[r.orcpt for r in recipients],
                         # 8-bit content is declared when the server offers 8BITMIME
                         # (converted above otherwise, or sent as is when it cannot be).
                         body_8bit=not data.isascii())
        while not tx.done:
            commands = tx.next_commands()
            if commands:
                await conn.send(b"".join(c.line for c in commands),
                                timeout=self.timeouts[commands[0].verb], where=_WHERE[commands[0].verb])
            if tx.send_content:
                await conn.send(encode_data(data), timeout=self.timeouts["BODY"], where=_WHERE["BODY"])
                tx.content_sent()
                continue
            waiting = tx.waiting_for
            if waiting is None:
                break
            tx.receive(await conn.reply(timeout=self.timeouts[waiting.verb],
                                        where=_WHERE[waiting.verb]))
        outcomes = []
        for i, rcpt in enumerate(recipients):
            reply, command = tx.results[i]
            outcomes.append(self._outcome(conn, rcpt, reply, command))
        return outcomes, tx

    def _outcome(self, conn: Connection, rcpt: Any, reply: Reply, command: Command) -> Outcome:
        target = conn.target
        if reply.is_success:
            status = DsnStatus(reply.dsn if reply.dsn[0] == "2" else "2.0.0", str(reply))
        else:
            status = DsnStatus(reply.dsn, f"host {conn.name} said: {reply} "
                                          f"(in reply to {command.reply_to} command)")
        return Outcome(rcpt, status, relay=target.relay, remote_mta=target.remote_mta,
                       diagnostic=f"{'lmtp' if self.lmtp else 'smtp'}; {reply}")

    # --- connection reuse ---------------------------------------------------------------
    def _take(self, key: tuple) -> tuple[Connection, Extensions] | None:
        idle = self._cache.get(key)
        while idle:
            conn, ext, timer = idle.pop()
            timer.cancel()
            if conn.at_eof:
                conn.writer.close()
                continue
            return conn, ext
        return None

    async def _release(self, key: tuple, conn: Connection, ext: Extensions,
                       tx: Transaction) -> None:
        reusable = (self.cache_on and self.cache_idle > 0
                    and (not self.reuse_count or conn.uses < self.reuse_count)
                    and time.monotonic() - conn.opened < self.reuse_time)
        if not reusable:
            await self._quit(conn)
            return
        try:
            # RSET now, so the next message starts clean and a dead
            # connection is found before it is parked.
            reply = await self._chat(conn, "RSET", b"RSET\r\n", "RSET")
        except (ConnectionLost, ConversationTimeout, SmtpProtocolError):
            reply = None
        if reply is None or not reply.is_success:
            await conn.close()
            return
        idle = self._cache.setdefault(key, [])
        entry: list = [conn, ext, None]

        async def expire() -> None:
            # Idle longer than smtp_connection_cache_time_limit: say goodbye.
            if entry in idle:
                idle.remove(entry)
                await self._quit(conn)
        entry[2] = call_later(self.cache_idle, expire)
        idle.append(entry)

    async def _quit(self, conn: Connection) -> None:
        try:
            await conn.send(b"QUIT\r\n", timeout=self.timeouts["QUIT"], where=_WHERE["QUIT"])
            if not self.skip_quit_response:
                await conn.reply(timeout=self.timeouts["QUIT"], where=_WHERE["QUIT"])
        except (ConnectionLost, ConversationTimeout, SmtpProtocolError):
            pass  # the server may hang up without answering QUIT
        await conn.close()

    async def aclose(self) -> None:
        """Close every cached connection (QUIT first)."""
        cache, self._cache = self._cache, {}
        for idle in cache.values():
            for conn, _ext, timer in idle:
                timer.cancel()
                await self._quit(conn)


def _own_addresses(interfaces: Sequence[str]) -> list[str]:
    """This host's addresses for the loop check, from inet_interfaces and
    proxy_interfaces: literal addresses as given, loopback for
    ``all``/``loopback-only``/``localhost``.

    >>> _own_addresses(["192.0.2.1", "all"])
    ['192.0.2.1', '127.0.0.1', '::1']
    """
    out: list[str] = []
    for item in interfaces:
        item = item.strip("[]")
        if is_ip_literal(item):
            out.append(item)
        elif item.lower() in ("all", "loopback-only", "localhost"):
            out += ["127.0.0.1", "::1"]
    return list(dict.fromkeys(out))
