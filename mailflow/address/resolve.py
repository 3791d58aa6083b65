"""trivial-rewrite's *resolve* half: where a recipient goes.

This module owns Postfix's address classes and transport selection
(trivial-rewrite(8), ADDRESS_CLASS_README, transport(5)): a recipient is
resolved to its class (``local``, ``virtual_alias``, ``virtual_mailbox``,
``relay``, ``default``), a transport and a nexthop, plus flags. The domain
lists, transport tables and sender-dependent tables are opened once, when a
:class:`TrivialRewrite` is built from a Config; results are reused for a
second, because resolve runs once per recipient and a table may change.

It never does I/O except table lookups through :mod:`mailflow.tables`, never
raises for a bad address or a broken table (the Resolution says "bounce" or
"defer", as Postfix's qmgr would), and never expands aliases (that is cleanup
and the local delivery agent).

>>> tr = TrivialRewrite.from_config(None, myhostname="mx.example.com",
...                                  mydomain="example.com")
>>> r = tr.resolve("alice")
>>> (r.address_class, r.transport, r.nexthop, r.recipient)
('local', 'local', 'mx.example.com', 'alice@mx.example.com')
>>> tr.resolve("bob@example.org").nexthop
'example.org'
"""

from __future__ import annotations

import time

import ipaddress
import logging
import re
from typing import Any

import attrs

from mailflow.address.rewrite import (RewriteSettings, config_bool, config_value, detokenize,
                                      quote_local, rewrite_address, rewrite_tokens, tokenize)
from mailflow.errors import TableError
from mailflow.model import DsnStatus
from mailflow.tables import Table, open_maps
from mailflow.tables.addresses import lookup_address
from mailflow.tables.maps import Maps
from mailflow.tables.memory import split_braced

__all__ = ["Resolution", "TrivialRewrite", "DomainList", "split_list", "valid_hostname",
           "valid_mailhost_literal", "ADDRESS_CLASSES"]

log = logging.getLogger("mailflow.trivial-rewrite")

ADDRESS_CLASSES = ("local", "virtual_alias", "virtual_mailbox", "relay", "default")

# What qmgr does with a flagged result (Postfix qmgr_message.c): a resolver
# failure is deferred through the retry transport, a syntax error bounced.
RESOLVER_FAILURE = DsnStatus("4.3.0", "address resolver failure")
BAD_SYNTAX = DsnStatus("5.1.3", "bad address syntax")

_CACHE_LIMIT = 20000
_CACHE_TTL = 1.0          # seconds a resolution is reused


@attrs.frozen
class Resolution:
    """The answer for one recipient.

    ``transport``/``nexthop`` are what the queue manager uses: for a bad
    address they are ``error``/``5.1.3 bad address syntax`` (bounce), for a
    lookup or configuration failure ``retry``/``4.3.0 address resolver
    failure`` (defer), and ``status`` holds that DSN status.

    >>> r = Resolution("default", "smtp", "example.org", "u@example.org")
    >>> r.ok, r.defer, r.bounce
    (True, False, False)
    """

    address_class: str
    transport: str
    nexthop: str
    recipient: str
    error: bool = False       # RESOLVE_FLAG_ERROR: malformed address
    routed: bool = False      # RESOLVE_FLAG_ROUTED: routing operators in the local part
    fail: bool = False        # RESOLVE_FLAG_FAIL: table or configuration failure
    status: DsnStatus | None = None

    @property
    def ok(self) -> bool:
        """Neither a syntax error nor a resolver failure."""
        return not (self.error or self.fail)

    @property
    def defer(self) -> bool:
        """The recipient must be deferred (try again later)."""
        return self.fail

    @property
    def bounce(self) -> bool:
        """The recipient must be bounced as a bad address."""
        return self.error and not self.fail


# --- lists -------------------------------------------------------------------

def split_list(value: str) -> list[str]:
    """Split a Postfix list on commas/whitespace, keeping ``{...}`` together.

    >>> split_list("a, b  inline:{ x=1, y=2 } !c")
    ['a', 'b', 'inline:{ x=1, y=2 }', '!c']
    """
    return split_braced(value)


def _is_table_spec(item: str) -> bool:
    # Postfix's MATCH_DICTIONARY: "type:name" where type is a word; a bare
    # IPv6 address or "[...]" literal is not a table.
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9_-]*:", item)) and not item.startswith("[")


def _partial_keys(table: Any) -> bool:
    """Whether a table answers partial keys (domain, parent domain, user@domain).

    Postfix queries regexp/pcre tables with the full key only (DICT_FLAG_PATTERN).
    """
    flag = getattr(table, "pattern", None)
    if flag is None:
        flag = getattr(table, "is_pattern", None)
    if flag is not None:
        return not flag
    return type(table).__name__.lower() not in ("regexptable", "pcretable")


def open_list_tables(value: str | list, config: Any) -> list[Table]:
    """Open each ``type:name`` of a ``*_maps`` value once, in order."""
    specs = split_list(value) if isinstance(value, str) else list(value)
    tables: list[Table] = []
    for spec in specs:
        try:
            table = open_maps(spec, config)
            # Keep the members of a Maps, so pattern tables stay visible.
            tables.extend(table.tables if getattr(table, "is_maps", False) else [table])
        except TableError as exc:
            # A table that cannot be opened defers every lookup through it
            # instead of stopping the whole service (Postfix: "table
            # unavailable", mail deferred until it is fixed).
            log.warning("%s", exc)
            tables.append(BrokenTable(str(exc)))
    return tables


class BrokenTable:
    """A table that could not be opened: every lookup raises TableError.

    >>> BrokenTable("hash:/x: no such file").get("k")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: hash:/x: no such file
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def get(self, key: str) -> str | None:
        raise TableError(self.reason)


@attrs.define
class DomainList:
    """A Postfix domain or string list: patterns, ``!negations`` and tables.

    ``parent`` is Postfix's parent_domain_matches_subdomains style: a listed
    ``example.com`` also matches ``sub.example.com``; otherwise only
    ``.example.com`` does. ``exact`` makes it a string list (no subdomain
    matching at all), as for virtual_alias_domains.

    >>> d = DomainList.compile("example.com, !bad.example.org, .example.org")
    >>> d.match("Example.COM"), d.match("a.example.com"), d.match("x.example.org")
    (True, False, True)
    >>> d.match("bad.example.org")
    False
    """

    items: list[tuple[bool, str | Table]]
    parent: bool = False
    exact: bool = False

    @classmethod
    def compile(cls, value: str, config: Any = None, *, parent: bool = False,
                exact: bool = False) -> "DomainList":
        items: list[tuple[bool, str | Table]] = []
        for item in split_list(value):
            negate = item.startswith("!")
            pattern = item.lstrip("!")
            if _is_table_spec(pattern):
                items.append((negate, open_list_tables([pattern], config)[0]))
            elif pattern.startswith("/"):
                # A file of patterns, read once (Postfix reads it at startup).
                with open(pattern, encoding="utf-8") as fh:
                    for line in fh:
                        line = line.split("#", 1)[0]
                        for sub in split_list(line):
                            items.append((negate ^ sub.startswith("!"), sub.lstrip("!").lower()))
            else:
                items.append((negate, pattern.lower()))
        return cls(items, parent, exact)

    def __bool__(self) -> bool:
        return bool(self.items)

    def match(self, name: str) -> bool:
        """Whether ``name`` matches; TableError when a table cannot answer."""
        name = name.lower()
        for negate, pattern in self.items:
            if self._match_one(name, pattern):
                return not negate
        return False

    def _match_one(self, name: str, pattern: str | Table) -> bool:
        if not isinstance(pattern, str):
            if pattern.get(name) is not None:
                return True
            if self.exact or not _partial_keys(pattern):
                return False
            for parent in _parents(name, self.parent):
                if pattern.get(parent) is not None:
                    return True
            return False
        if name == pattern:
            return True
        if self.exact:
            return False
        if self.parent:
            return name.endswith("." + pattern)
        return pattern.startswith(".") and name.endswith(pattern)


def _parents(name: str, parent_style: bool) -> list[str]:
    """``a.b.c`` -> ``b.c``, ``c`` (parent style) or ``.b.c``, ``.c``."""
    out, i = [], name.find(".", 1)
    while i > 0:
        out.append(name[i + 1:] if parent_style else name[i:])
        i = name.find(".", i + 1)
    return out


# --- syntax checks (Postfix valid_hostname.c) --------------------------------

def valid_hostname(name: str) -> bool:
    """RFC 1035 host name as Postfix checks it (``_`` allowed, not all numeric).

    >>> valid_hostname("mx-1.example.com"), valid_hostname("127.0.0.1"), valid_hostname("-a.com")
    (True, False, False)
    """
    if not name or len(name) > 255:
        return False
    labels = name.split(".")
    numeric = True
    for label in labels:
        if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
            return False
        for ch in label:
            if not (ch.isalnum() or ch in "-_" or ord(ch) > 127):
                return False
            if not ch.isdigit():
                numeric = False
    return not numeric


def valid_mailhost_literal(text: str) -> bool:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 address literal).

    >>> valid_mailhost_literal("[127.0.0.1]"), valid_mailhost_literal("[1.2.3]")
    (True, False)
    """
    if not (text.startswith("[") and text.endswith("]")):
        return False
    inner = text[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            ipaddress.IPv6Address(inner[5:])
        else:
            ipaddress.IPv4Address(inner)
    except ValueError:
        return False
    return True


def _literal_address(text: str) -> str | None:
    inner = text[1:-1]
    if inner[:5].lower() == "ipv6:":
        inner = inner[5:]
    try:
        return str(ipaddress.ip_address(inner))
    except ValueError:
        return None


def _interface_addresses(value: str) -> set[str]:
    # inet_interfaces "all" means every local interface; without probing the
    # host (no I/O here) mailflow counts the loopback addresses, and callers
    # may pass the real list to TrivialRewrite.from_config(interfaces=...).
    out: set[str] = set()
    for item in split_list(value):
        item = item.lower().strip("[]")
        if item in ("all", "loopback-only", "localhost"):
            out.update(("127.0.0.1", "::1"))
            continue
        try:
            out.add(str(ipaddress.ip_address(item)))
        except ValueError:
            pass  # a host name: would need DNS; not counted
    return out


def _split_transport(value: str) -> tuple[str, str]:
    transport, _, nexthop = value.partition(":")
    return transport, nexthop


# --- the resolver --------------------------------------------------------------

@attrs.define
class TrivialRewrite:
    """rewrite + resolve, compiled once from a Config.

    >>> tr = TrivialRewrite.from_config(None, myhostname="mx.example.com",
    ...     relay_domains="example.net", relayhost="[smarthost.example]:2525")
    >>> r = tr.resolve("u@sub.example.net")
    >>> r.address_class, r.transport, r.nexthop
    ('relay', 'relay', '[smarthost.example]:2525')
    """

    settings: RewriteSettings
    myhostname: str
    mydestination: DomainList
    interfaces: set[str]
    virtual_alias_domains: DomainList
    virtual_mailbox_domains: DomainList
    relay_domains: DomainList
    transports: dict[str, str]          # class -> "transport[:nexthop]" as configured
    relayhost: str
    transport_maps: list[Table]
    transport_parent: bool
    relocated_maps: list[Table]
    sender_relayhost_maps: list[Table]
    sender_transport_maps: list[Table]
    null_relay_key: str
    null_transport_key: str
    delimiter: str
    empty_address_recipient: str
    resolve_dequoted: bool
    resolve_null_domain: bool
    resolve_numeric_domain: bool
    show_table_name: bool
    helpful_warnings: bool
    allow_min_user: bool
    config_dir: str = "/etc/mailflow"
    config: Any = None
    _cache: dict = attrs.field(factory=dict, repr=False)

    @classmethod
    def from_config(cls, cfg: Any = None, *, interfaces: set[str] | None = None,
                    **overrides: Any) -> "TrivialRewrite":
        """Compile from ``cfg`` (None: Postfix defaults) plus parameter overrides."""
        if overrides:
            from mailflow.config import Config
            cfg = cfg.with_overrides(**overrides) if cfg is not None else Config(**overrides)
        value = lambda name: config_value(cfg, name)  # noqa: E731
        flag = lambda name: config_bool(cfg, name)  # noqa: E731
        parent_style = {p.lower() for p in split_list(value("parent_domain_matches_subdomains"))}
        mydest_style = "mydestination" in parent_style
        transports = {
            "local": value("local_transport"),
            "virtual_mailbox": value("virtual_transport"),
            "relay": value("relay_transport"),
            "default": value("default_transport"),
        }
        addrs = _interface_addresses(value("inet_interfaces"))
        addrs |= _interface_addresses(value("proxy_interfaces"))
        if interfaces is not None:
            addrs |= set(interfaces)
        return cls(
            settings=RewriteSettings.from_config(cfg),
            myhostname=value("myhostname"),
            mydestination=DomainList.compile(value("mydestination"), cfg, parent=mydest_style),
            interfaces=addrs,
            virtual_alias_domains=DomainList.compile(value("virtual_alias_domains"), cfg, exact=True),
            virtual_mailbox_domains=DomainList.compile(value("virtual_mailbox_domains"), cfg,
                                                       exact=True),
            relay_domains=DomainList.compile(value("relay_domains"), cfg,
                                             parent="relay_domains" in parent_style),
            transports=transports,
            relayhost=value("relayhost"),
            transport_maps=open_list_tables(value("transport_maps"), cfg),
            transport_parent="transport_maps" in parent_style,
            relocated_maps=open_list_tables(value("relocated_maps"), cfg),
            sender_relayhost_maps=open_list_tables(value("sender_dependent_relayhost_maps"), cfg),
            sender_transport_maps=open_list_tables(
                value("sender_dependent_default_transport_maps"), cfg),
            null_relay_key=value("empty_address_relayhost_maps_lookup_key"),
            null_transport_key=value("empty_address_default_transport_maps_lookup_key"),
            delimiter=value("recipient_delimiter"),
            empty_address_recipient=value("empty_address_recipient"),
            resolve_dequoted=flag("resolve_dequoted_address"),
            resolve_null_domain=flag("resolve_null_domain"),
            resolve_numeric_domain=flag("resolve_numeric_domain"),
            show_table_name=flag("show_user_unknown_table_name"),
            helpful_warnings=flag("helpful_warnings"),
            allow_min_user=flag("allow_min_user"),
            config_dir=value("config_directory") or "/etc/mailflow",
            config=cfg,
        )

    # --- rewrite ---------------------------------------------------------
    def rewrite(self, address: str, context: str = "local") -> str:
        """Canonical form in the ``local`` or ``remote`` context.

        >>> TrivialRewrite.from_config(None, myorigin="example.com").rewrite("bob")
        'bob@example.com'
        """
        return rewrite_address(address, context, self.settings)

    # --- classes -----------------------------------------------------------
    def is_local(self, domain: str) -> bool:
        """Postfix resolve_local(): in mydestination, or ``[ip]`` of this host.

        TableError when a mydestination table cannot answer.
        """
        domain = domain.lower()
        if domain.endswith(".") and not domain.endswith(".."):
            domain = domain[:-1]
        if not domain:
            return False
        if self.mydestination.match(domain):
            return True
        if domain.startswith("[") and domain.endswith("]") and valid_mailhost_literal(domain):
            return _literal_address(domain) in self.interfaces
        return False

    def address_class(self, domain: str) -> str:
        """The class of a recipient domain (no warnings, no transport).

        >>> TrivialRewrite.from_config(None, virtual_alias_domains="a.example").address_class("A.example")
        'virtual_alias'
        """
        if self.is_local(domain):
            return "local"
        if self.virtual_alias_domains.match(domain):
            return "virtual_alias"
        if self.virtual_mailbox_domains.match(domain):
            return "virtual_mailbox"
        if self.relay_domains.match(domain):
            return "relay"
        return "default"

    # --- resolve -------------------------------------------------------------
    def resolve(self, address: str, sender: str | None = None) -> Resolution:
        """Resolve an internal-form recipient (sender for sender-dependent maps).

        >>> tr = TrivialRewrite.from_config(None, myhostname="mx.example.com",
        ...                                 transport_maps="inline:{ example.org=relay:[10.0.0.1] }")
        >>> r = tr.resolve("u@example.org")
        >>> r.address_class, r.transport, r.nexthop
        ('default', 'relay', '[10.0.0.1]')
        """
        sender_key = sender if (self.sender_relayhost_maps or self.sender_transport_maps) else None
        key = (address, sender_key)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        result = self._resolve(address, sender or "")
        if not result.fail:  # a table failure may be gone next time
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            # Kept briefly: a burst of mail to one domain resolves it once,
            # and a changed table (a file re-read, a database row) is seen
            # within _CACHE_TTL, as Postfix's short-lived clients see it.
            self._cache[key] = (now + _CACHE_TTL, result)
        return result

    def _failed(self, klass: str, recipient: str) -> Resolution:
        return Resolution(klass, "retry", str(RESOLVER_FAILURE), recipient, fail=True,
                          status=RESOLVER_FAILURE)

    def _bad(self, klass: str, recipient: str, routed: bool = False) -> Resolution:
        return Resolution(klass, "error", str(BAD_SYNTAX), recipient, error=True,
                          routed=routed, status=BAD_SYNTAX)

    def _strip_local(self, address: str) -> tuple[str, bool] | None:
        """The preliminary resolver loop: strip local domains, crack routing forms.

        Returns (recipient in internal form, remote?) or None on a table failure.
        """
        s = self.settings
        origin, mydomain = s.myorigin, s.mydomain
        tokens = tokenize(quote_local(address))
        saved: list = []
        remote = False
        for _ in range(len(address) + 100):
            if (len(tokens) > 1 and tokens[-1][0] == "." and any(k == "@" for k, _ in tokens)
                    and tokens[-2][0] not in (".", "@")):
                tokens = tokens[:-1]
            if self.resolve_null_domain and tokens and tokens[-1][0] == "@":
                tokens = tokens[:-1]
            at = max((i for i, t in enumerate(tokens) if t[0] == "@"), default=-1)
            if at >= 0:
                if at < len(tokens) - 1:
                    try:
                        local = self.is_local(detokenize(tokens[at + 1:]))
                    except TableError as exc:
                        log.warning("mydestination lookup failure: %s", exc)
                        return None
                    if not local:
                        remote = True
                        break
                saved, tokens = tokens[at:], tokens[:at]
            kinds = {k for k, _ in tokens}
            if "@" in kinds or (s.swap_bangpath and "!" in kinds) or (
                    s.allow_percent_hack and "%" in kinds):
                tokens = rewrite_tokens(tokens, origin, mydomain, s)
                continue
            if self.resolve_dequoted and len(tokens) == 1 and tokens[0][0] == "q":
                text = tokens[0][1]
                pos = text.rfind("@")
                if pos < 0 and s.allow_percent_hack:
                    pos = text.rfind("%")
                if pos < 0 and s.swap_bangpath:
                    pos = text.rfind("!")
                if pos >= 0:
                    # Routing operators hidden in a quoted local part: crack it
                    # open to stop user@domain@domain relay attempts (resolve.c).
                    if text[pos] == "%":
                        text = text[:pos] + "@" + text[pos + 1:]
                    if text[pos] == "@":
                        text = quote_local(text)
                    tokens = rewrite_tokens(tokenize(text), origin, mydomain, s)
                    continue
            if len(tokens) == 1 and tokens[0] == ("q", ""):
                tokens = []
            if not tokens:
                tokens = tokenize(self.empty_address_recipient)
                continue
            if not saved:
                tokens = tokens + [("@", "@")] + tokenize(self.myhostname)
                continue
            break
        else:
            log.warning("resolve_addr: <%s>: giving up after %d iterations",
                        address, len(address) + 101)
            return None
        if not remote:
            tokens = tokens + (saved or [("@", "@")] + tokenize(self.myhostname))
        return detokenize(tokens), remote

    def _resolve(self, address: str, sender: str) -> Resolution:
        stripped = self._strip_local(address)
        if stripped is None:
            return self._failed("default", address)
        rcpt, remote = stripped
        domain = rcpt[rcpt.rfind("@") + 1:]
        if domain.startswith("["):
            if not valid_mailhost_literal(domain):
                return self._bad("default", rcpt)
        elif not valid_hostname(domain):
            try:
                ipaddress.ip_address(domain)
                numeric = True
            except ValueError:
                numeric = False
            if not (self.resolve_numeric_domain and numeric):
                return self._bad("default", rcpt)
            rcpt = rcpt[:len(rcpt) - len(domain)] + "[" + domain + "]"
            domain = "[" + domain + "]"
            if domain[1:-1] in self.interfaces:
                remote = False
        # Routing operators left in the local part (RFC 1123 5.2.16): flag so
        # a backup MX does not relay user%other@primary for third parties.
        cut = min((i for i in (rcpt.find(c) for c in "@!%") if i >= 0), default=len(rcpt))
        routed = rcpt[cut + 1:] != domain
        try:
            klass, transport, nexthop = self._classify(domain, remote, sender)
        except _Failure as exc:
            log.warning("%s", exc)
            return self._failed(exc.klass, rcpt)
        if klass == "virtual_alias":
            return Resolution(klass, transport, nexthop, rcpt, routed=routed)
        # "local:$myhostname": an explicit nexthop in main.cf wins.
        transport, explicit = _split_transport(transport)
        if explicit:
            nexthop = explicit
        if not transport:
            log.warning("file %s/main.cf: parameter %s: null transport is not allowed",
                        self.config_dir, _BLAME[klass])
            return self._failed(klass, rcpt)
        if self.transport_maps:
            try:
                found = self._transport_lookup(rcpt)
            except TableError as exc:
                log.warning("transport_maps lookup failure: %s", exc)
                return self._failed(klass, rcpt)
            if found is not None:
                transport, nexthop = _update_entry(found, domain, transport, nexthop)
        if self.relocated_maps:
            try:
                moved = self._relocated(rcpt)
            except TableError as exc:
                log.warning("relocated_maps lookup failure: %s", exc)
                return self._failed(klass, rcpt)
            if moved is not None:
                transport, nexthop = "error", f"5.1.6 User has moved to {moved}"
        if not self.allow_min_user and rcpt.startswith("-"):
            # A leading "-" could pass as a command-line option to a pipe.
            return self._bad(klass, rcpt, routed)
        return Resolution(klass, transport, nexthop, rcpt, routed=routed)

    def _classify(self, domain: str, remote: bool, sender: str) -> tuple[str, str, str]:
        warn = self.helpful_warnings

        def match(lst: DomainList, name: str) -> bool:
            try:
                return bool(lst) and lst.match(domain)
            except TableError as exc:
                raise _Failure(f"{name} lookup failure: {exc}", "default") from None

        def both(a: str, b: str) -> None:
            log.warning("do not list domain %s in BOTH %s and %s", domain, a, b)

        if not remote:
            if warn and match(self.virtual_alias_domains, "virtual_alias_domains"):
                both("mydestination", "virtual_alias_domains")
            if warn and match(self.virtual_mailbox_domains, "virtual_mailbox_domains"):
                both("mydestination", "virtual_mailbox_domains")
            return "local", self.transports["local"], domain
        if match(self.virtual_alias_domains, "virtual_alias_domains"):
            if warn and match(self.virtual_mailbox_domains, "virtual_mailbox_domains"):
                both("virtual_alias_domains", "virtual_mailbox_domains")
            if warn and match(self.relay_domains, "relay_domains"):
                both("virtual_alias_domains", "relay_domains")
            text = "5.1.1 User unknown" + (" in virtual alias table" if self.show_table_name else "")
            return "virtual_alias", "error", text
        if match(self.virtual_mailbox_domains, "virtual_mailbox_domains"):
            if warn and match(self.relay_domains, "relay_domains"):
                both("virtual_mailbox_domains", "relay_domains")
            return "virtual_mailbox", self.transports["virtual_mailbox"], domain
        if match(self.relay_domains, "relay_domains"):
            klass, transport = "relay", self.transports["relay"]
        else:
            klass, transport = "default", self.transports["default"]
            if self.sender_transport_maps:
                found = self._sender_lookup(self.sender_transport_maps, sender,
                                            self.null_transport_key,
                                            "sender_dependent_default_transport_maps")
                if found is not None and found.upper() != "DUNNO":
                    transport = found
        nexthop = self.relayhost or domain
        if self.sender_relayhost_maps:
            found = self._sender_lookup(self.sender_relayhost_maps, sender, self.null_relay_key,
                                        "sender_dependent_relayhost_maps")
            if found is not None:
                nexthop = domain if found.upper() == "DUNNO" else found
        return klass, transport, nexthop

    def _sender_lookup(self, tables: list[Table], sender: str, null_key: str,
                       name: str) -> str | None:
        key = sender or null_key
        try:
            # The null sender's key (<> by default) is a literal key, not an address.
            found = self._find_address(tables, key) if sender else Maps(tables).get(key)
        except TableError as exc:
            raise _Failure(f"{name} lookup failure: {exc}", "default") from None
        if found == "":
            log.warning("%s: ignoring null lookup result for %s", name, key)
            return "DUNNO"
        return found

    def _find_address(self, tables: list[Table], address: str) -> str | None:
        """Postfix mail_addr_find(): user+ext@domain, user@domain, user (local), @domain."""
        match = lookup_address(Maps(tables), address.lower(), delimiter=self.delimiter,
                               local_domain=self.is_local, style="virtual")
        return None if match is None else match.value

    def _relocated(self, rcpt: str) -> str | None:
        return self._find_address(self.relocated_maps, rcpt)

    def _transport_lookup(self, rcpt: str) -> str | None:
        """transport(5) search order: address, address without extension,
        domain, parent domains, then ``*``."""
        match = lookup_address(Maps(self.transport_maps), rcpt.lower(), delimiter=self.delimiter,
                               style="transport", match_subdomains=self.transport_parent)
        return None if match is None else match.value


class _Failure(Exception):
    def __init__(self, text: str, klass: str) -> None:
        super().__init__(text)
        self.klass = klass


_BLAME = {"local": "local_transport", "virtual_mailbox": "virtual_transport",
          "relay": "relay_transport", "default": "default_transport"}


def _update_entry(value: str, domain: str, transport: str, nexthop: str) -> tuple[str, str]:
    """Apply a transport(5) result to the default transport and nexthop.

    ``:nexthop`` keeps the transport; ``transport`` alone resets the nexthop
    to the recipient domain (or a generic text for ``error``); ``:`` changes
    nothing.

    >>> _update_entry("smtp", "example.com", "local", "mx")
    ('smtp', 'example.com')
    >>> _update_entry(":[10.0.0.1]", "example.com", "smtp", "example.com")
    ('smtp', '[10.0.0.1]')
    """
    new_transport, _, new_nexthop = value.partition(":")
    if not new_transport:
        return transport, new_nexthop or nexthop
    if new_nexthop:
        return new_transport, new_nexthop
    if new_transport != "error":
        return new_transport, domain
    return new_transport, "Address is undeliverable"


