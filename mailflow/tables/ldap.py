"""``ldap:`` tables (Postfix ldap_table(5)) through ldap3.

Owns what ldap_table(5) adds to the shared ``.cf`` handling of
:mod:`mailflow.tables.dbcommon`: the server list with failover
(``server_host`` as ``ldap://`` URLs or ``host[:port]``, ``server_port``),
the bind (``bind = none | simple``, ``bind_dn``, ``bind_pw``), the search
(``search_base``, ``query_filter``, ``scope``, ``timeout``, ``size_limit``)
with RFC 4515 escaping of the key in the filter and RFC 4514 escaping in
the base, and the result walk: ``result_attribute`` values through
``result_format``; ``special_result_attribute`` values (DNs or LDAP URLs)
searched in turn, up to ``recursion_limit`` deep, for group expansion;
``leaf_result_attribute`` values only from entries that expand no further;
``terminal_result_attribute`` values stopping expansion of an entry.

One ldap3 connection per table, opened on the first lookup and reused;
lookups from several threads take turns on it. A server that is down,
slow, or answers with an error raises :class:`~mailflow.errors.TableError`
(the mail is deferred), never "not found". ldap3 is imported only when a
table connects, so this module imports without it (``pip install
mailflow[ldap]``).

>>> filter_quote("*)(uid=*")
'\\\\2A\\\\29\\\\28uid=\\\\2A'
>>> dn_quote("Doe, Joe")
'Doe\\\\2C\\\\20Joe'
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import attrs

from mailflow.errors import TableError
from mailflow.tables.dbcommon import CfFile, DomainFilter, Templates, domain_filter, log

__all__ = ["LdapTable", "LdapSettings", "filter_quote", "dn_quote", "server_urls", "PARAMETERS"]

#: Every ldap_table(5) parameter this module reads (also the names looked
#: up as ``NAME_param`` in main.cf for a table name that is not a file).
PARAMETERS = ("server_host", "server_port", "version", "search_base", "query_filter",
              "result_format", "result_filter", "domain", "result_attribute",
              "special_result_attribute", "leaf_result_attribute",
              "terminal_result_attribute", "scope", "bind", "bind_dn", "bind_pw", "timeout",
              "expansion_limit", "size_limit", "recursion_limit", "dereference",
              "chase_referrals", "start_tls", "cache", "cache_expiry", "cache_size")

# ldap3's names for the scopes, bind options and dereference settings.
_SCOPES = {"sub": "SUBTREE", "one": "LEVEL", "base": "BASE"}
_BINDS = {"yes": "simple", "simple": "simple", "no": "none", "none": "none"}
_DEREF = ("NEVER", "SEARCH", "FINDING_BASE", "ALWAYS")


def _ldap3() -> Any:
    """Import ldap3 (the ``ldap`` extra); TableError when it is missing."""
    with warnings.catch_warnings():
        # ldap3 2.9 uses pyasn1 names that newer pyasn1 releases deprecate;
        # the warning is about ldap3's code, not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import ldap3
        except ImportError:
            raise TableError("ldap: tables need the ldap3 package "
                             "(pip install mailflow[ldap])") from None
    return ldap3


def _unbind(conn: Any) -> None:
    from ldap3.core.exceptions import LDAPException
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass  # a connection that broke cannot be closed politely; it is gone either way
    sock = getattr(conn, "socket", None)
    if sock is not None:
        sock.close()  # ldap3 leaves the socket of a failed open() unclosed


def _has_escape(template: str) -> bool:
    # Whether a template depends on the key (any %-escape but %%).
    return "%" in template.replace("%%", "")

# LDAP result codes (RFC 4511) the lookup treats specially.
_SUCCESS, _NO_SUCH_OBJECT = 0, 32


def _hex_escape(text: str, special: str) -> str:
    out = []
    for ch in text:
        if ch in special:
            out.append("".join(f"\\{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def filter_quote(text: str) -> str:
    """Escape ``* ( ) \\`` as ``\\XX`` for a search filter (RFC 4515), as Postfix does.

    >>> filter_quote("joe@example.com")
    'joe@example.com'
    """
    return _hex_escape(text, "*()\\")


def dn_quote(text: str) -> str:
    """Escape white space and ``" # + , ; < > \\`` as ``\\XX`` for a DN (RFC 4514).

    >>> dn_quote("a+b")
    'a\\\\2Bb'
    """
    return _hex_escape(text, " \t\"#+,;<>\\")


def server_urls(server_host: str, server_port: int) -> list[str]:
    """``server_host`` as a list of LDAP URLs, in failover order.

    Items are separated by commas or white space; an item that is not an
    ``ldap://``, ``ldaps://`` or ``ldapi://`` URL is ``host`` or
    ``host:port`` (default port ``server_port``).

    >>> server_urls("ldap1.example.com ldap2:3389, ldaps://ldap3/", 389)
    ['ldap://ldap1.example.com:389', 'ldap://ldap2:3389', 'ldaps://ldap3/']
    """
    urls = []
    for item in server_host.replace(",", " ").split():
        if "://" in item:
            urls.append(item)
        elif ":" in item:
            urls.append(f"ldap://{item}")
        else:
            urls.append(f"ldap://{item}:{server_port}")
    return urls


def _attr_matches(wanted: str, got: str) -> bool:
    # attrdesc_subtype: "mail" matches "mail" and "mail;lang-en"; options
    # the configured name carries must all be present on the returned one.
    want_type, *want_opts = wanted.lower().split(";")
    got_type, *got_opts = got.lower().split(";")
    return want_type == got_type and set(want_opts) <= set(got_opts)


@attrs.frozen
class LdapSettings:
    """One ``ldap:`` table's configuration, read and checked at open.

    >>> s = LdapSettings.from_cf(CfFile.parse("search_base = dc=example,dc=com\\n", "/t.cf"))
    >>> s.urls, s.query.query, s.attributes, s.scope, s.bind, s.version
    (('ldap://localhost:389',), '(mailacceptinggeneralid=%s)', ('maildrop',), 'SUBTREE', 'simple', 2)
    """

    name: str
    urls: tuple[str, ...]
    search_base: str
    dynamic_base: bool
    query: Templates
    domains: DomainFilter | None
    terminal: tuple[str, ...]
    leaf: tuple[str, ...]
    regular: tuple[str, ...]
    special: tuple[str, ...]
    scope: str
    bind: str
    bind_dn: str
    bind_pw: str
    version: int
    timeout: int
    expansion_limit: int
    size_limit: int
    recursion_limit: int
    dereference: str
    chase_referrals: bool
    start_tls: bool

    @property
    def attributes(self) -> tuple[str, ...]:
        """Every attribute asked for, in Postfix's order: terminal, leaf, regular, special."""
        return self.terminal + self.leaf + self.regular + self.special

    @classmethod
    def from_cf(cls, cf: CfFile) -> "LdapSettings":
        """Read the parameters with ldap_table(5)'s defaults; TableError for bad values."""
        name = cf.name
        server_port = cf.get_int("server_port", 389)
        urls = tuple(server_urls(cf.get_str("server_host", "localhost", 1) or "localhost",
                                 server_port))
        version = cf.get_int("version", 2, 2)
        if version not in (2, 3):
            log.warning("dict_ldap_open: %s Unknown version %d, using 2.", name, version)
            version = 2
        if version == 2 and any(not u.lower().startswith("ldap://") for u in urls):
            version = 3  # ldaps:// and ldapi:// need version 3, as Postfix says
        scope_text = cf.get_str("scope", "sub", 1) or "sub"
        scope = _SCOPES.get(scope_text.lower())
        if scope is None:
            log.warning("dict_ldap_open: %s: Unrecognized value %s specified for scope; "
                        "using sub", name, scope_text)
            scope = "SUBTREE"
        search_base = cf.get_str("search_base", "") or ""
        query_filter = cf.get_str("query_filter", "(mailacceptinggeneralid=%s)") or ""
        result_format = cf.get_str("result_format")
        if result_format is None:
            result_format = cf.get_str("result_filter", "%s", 1) or "%s"
        # Postfix parses the base, the filter and the result format into one
        # context: a %d anywhere makes keys without a domain skip the search.
        query = Templates.parse(query_filter, result_format, name, also=[search_base])
        dynamic_base = _has_escape(search_base)
        if not _has_escape(query_filter):
            log.warning("dict_ldap_open: %s: Fixed query_filter %s is probably useless",
                        name, query_filter)
        bind_text = cf.get_str("bind", "yes", 1) or "yes"
        bind = _BINDS.get(bind_text.lower())
        if bind is None:
            raise TableError(f"{name}: unsupported parameter value: bind = {bind_text}")
        for param in ("cache_expiry", "cache_size"):
            if cf.get_int(param, -1) >= 0:
                log.warning("dict_ldap_open: %s ignoring %s", name, param)
        if cf.get_bool("cache", False):
            log.warning("dict_ldap_open: %s ignoring cache", name)
        deref = cf.get_int("dereference", 0)
        if not 0 <= deref <= 3:
            log.warning("dict_ldap_open: %s Unrecognized value %d specified for "
                        "dereference; using 0", name, deref)
            deref = 0
        expansion_limit = cf.get_int("expansion_limit", 0)

        def attr_list(param: str, default: str) -> tuple[str, ...]:
            return tuple((cf.get_str(param, default) or "").replace(",", " ").split())

        return cls(
            name=name, urls=urls, search_base=search_base, dynamic_base=dynamic_base,
            query=query, domains=domain_filter(cf),
            terminal=attr_list("terminal_result_attribute", ""),
            leaf=attr_list("leaf_result_attribute", ""),
            regular=attr_list("result_attribute", "maildrop"),
            special=attr_list("special_result_attribute", ""),
            scope=scope, bind=bind, bind_dn=cf.get_str("bind_dn", "") or "",
            bind_pw=cf.get_str("bind_pw", "") or "", version=version,
            timeout=cf.get_int("timeout", 10), expansion_limit=expansion_limit,
            size_limit=cf.get_int("size_limit", expansion_limit),
            recursion_limit=cf.get_int("recursion_limit", 1000, 1),
            dereference=_DEREF[deref], chase_referrals=cf.get_bool("chase_referrals", False),
            start_tls=cf.get_bool("start_tls", False))


class _Lookup:
    """The state of one lookup: the results so far and the expansion count."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.results: list[str] = []


class LdapTable:
    """An ``ldap:/path/to/file.cf`` table.

    ``connection`` hands in an ldap3 ``Connection`` the caller already has
    (bound or not); the table then uses it instead of opening its own from
    ``server_host`` and the bind settings, and leaves it open on
    :meth:`close`.

    >>> t = LdapTable(CfFile.parse("server_host = 127.0.0.1:1\\ntimeout = 1\\n"
    ...                            "domain = example.com\\n", "/t.cf"))
    >>> t.get("joe@example.org") is None     # filtered by domain: no search
    True
    >>> t.get("joe@example.com")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: ldap:/t.cf: cannot connect to any of ldap://127.0.0.1:1 (...)
    """

    def __init__(self, cf: CfFile, *, fold: bool = True, connection: Any = None) -> None:
        self.settings = LdapSettings.from_cf(cf)
        self.name = cf.name
        self.fold = fold
        self._connection = connection
        self._own = connection is None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, name: str, config: Any = None, *, fold: bool = True,
             **_: Any) -> "LdapTable":
        """The opener registered for ``ldap:``: a ``.cf`` file, or main.cf's ``NAME_*``."""
        return cls(CfFile.open(name, config, PARAMETERS), fold=fold)

    # --- connection ------------------------------------------------------
    def _connect(self) -> Any:
        """Connect and bind to the first server in ``server_host`` that lets us."""
        ldap3 = _ldap3()
        from ldap3.core.exceptions import LDAPException
        from ldap3.utils.uri import parse_uri
        s = self.settings
        failures = []
        for url in s.urls:
            auth, user, password = ldap3.ANONYMOUS, None, None
            if s.bind == "simple" and (s.bind_dn or s.bind_pw):
                auth, user, password = ldap3.SIMPLE, s.bind_dn, s.bind_pw
            conn = None
            try:
                parts = parse_uri(url)
                if parts is None:
                    failures.append(f"{url}: error parsing URL; skipping")
                    continue
                server = ldap3.Server(parts["host"], port=parts["port"], use_ssl=parts["ssl"],
                                      get_info=ldap3.NONE, connect_timeout=s.timeout or None)
                conn = ldap3.Connection(server, user=user, password=password,
                                        authentication=auth, version=s.version,
                                        receive_timeout=s.timeout or None,
                                        raise_exceptions=False, read_only=True,
                                        auto_referrals=s.chase_referrals, check_names=False,
                                        auto_range=False)
                conn.open()
                if s.start_tls and not conn.start_tls():
                    failures.append(f"{url}: Unable to set STARTTLS: "
                                    f"{(conn.result or {}).get('description')}")
                elif s.bind == "simple" and not conn.bind():
                    result = conn.result or {}
                    failures.append(f"Unable to bind to server {url} with dn "
                                    f"{s.bind_dn or 'empty or implicit'}: "
                                    f"{result.get('result')} ({result.get('description')})")
                else:
                    return conn
            except LDAPException as exc:
                failures.append(f"{url}: {exc}")
            if conn is not None:
                _unbind(conn)
        raise TableError(f"ldap:{self.name}: cannot connect to any of {' '.join(s.urls)} "
                         f"({'; '.join(failures)})")

    def _drop(self) -> None:
        """Forget the table's own connection after an error (the next lookup
        connects afresh, trying the servers in order again)."""
        if self._own and self._connection is not None:
            conn, self._connection = self._connection, None
            _unbind(conn)

    def close(self) -> None:
        """Unbind the table's own connection (the next lookup connects again);
        a handed-in connection stays open."""
        with self._lock:
            self._drop()

    def __del__(self) -> None:
        if getattr(self, "_own", False) and getattr(self, "_connection", None) is not None:
            _unbind(self._connection)

    # --- lookup ----------------------------------------------------------
    def get(self, key: str) -> str | None:
        if self.fold:
            key = key.lower()
        s = self.settings
        if s.domains is not None and not s.domains.allows(key):
            return None
        base = s.query.expand_query(key, quote=dn_quote, template=s.search_base)
        query = s.query.expand_query(key, quote=filter_quote)
        if base is None or query is None:
            return None
        if not query.startswith("("):
            query = f"({query})"
        lookup = _Lookup(key)
        with self._lock:
            self._lookup(lookup, base, query)
        return ",".join(lookup.results) if lookup.results else None

    def _search(self, base: str, scope: str, query: str, attributes: list[str]
                ) -> tuple[int, str, list[dict]]:
        """One search: (result code, description, entries). A connection
        that turns out dead is replaced once, as Postfix does when the
        server went away; a timeout is an error at once."""
        NO_ATTRIBUTES = _ldap3().NO_ATTRIBUTES
        from ldap3.core.exceptions import (LDAPException, LDAPInvalidFilterError,
                                           LDAPOperationResult, LDAPResponseTimeoutError)
        s = self.settings
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = self._connect()
            conn = self._connection
            try:
                if not self._own and not conn.bound and not conn.bind():
                    raise TableError(f"ldap:{self.name}: bind failed: "
                                     f"{(conn.result or {}).get('description')}")
                answer = conn.search(base, query, search_scope=scope,
                                     attributes=attributes or [NO_ATTRIBUTES],
                                     size_limit=s.size_limit, time_limit=s.timeout,
                                     dereference_aliases=s.dereference)
            except LDAPInvalidFilterError:
                raise TableError(f"ldap:{self.name}: invalid search filter: {query}") from None
            except LDAPOperationResult as exc:  # a handed-in connection that raises
                return int(exc.result), str(exc.description), []
            except LDAPException as exc:
                self._drop()
                timed_out = isinstance(exc, LDAPResponseTimeoutError) or "timed out" in str(exc)
                if attempt == 1 and self._own and not timed_out:
                    continue
                raise TableError(f"ldap:{self.name}: Search error: {exc}") from None
            if isinstance(answer, tuple):  # thread-safe strategies return the result
                _, result, response, _ = answer
            else:
                result, response = conn.result, conn.response
            entries = [e for e in (response or []) if e.get("type") == "searchResEntry"]
            result = result or {}
            return int(result.get("result", 80)), str(result.get("description", "")), entries
        raise AssertionError("unreachable")

    def _lookup(self, lookup: _Lookup, base: str, query: str) -> None:
        s = self.settings
        code, why, entries = self._search(base, s.scope, query, list(s.attributes))
        if code == _NO_SUCH_OBJECT:
            if s.dynamic_base:
                return  # a key-dependent base that does not exist: not found
            raise TableError(f"ldap:{self.name}: Search base '{base}' not found: "
                             f"{code}: {why}")
        if code != _SUCCESS:
            self._drop()
            raise TableError(f"ldap:{self.name}: Search error {code}: {why}")
        self._values(lookup, entries, 1)

    def _values(self, lookup: _Lookup, entries: list[dict], depth: int) -> None:
        """dict_ldap_get_values: collect values, recursing through special attributes."""
        s = self.settings
        nterm, nleaf, nattr = len(s.terminal), len(s.leaf), len(s.terminal + s.leaf + s.regular)
        wanted = s.attributes
        if s.size_limit and len(entries) > s.size_limit:
            raise TableError(f"ldap:{self.name}: Query size limit ({s.size_limit}) exceeded")
        for entry in entries:
            attributes = entry.get("raw_attributes") or {}
            present = [(name, values) for name, values in attributes.items() if values]

            def has(names: tuple[str, ...]) -> bool:
                return any(_attr_matches(w, name) for w in names for name, _ in present)

            is_terminal = bool(s.terminal) and has(s.terminal)
            is_leaf = not (nleaf and not is_terminal and has(s.special))
            for name, values in present:
                index = next((i for i, w in enumerate(wanted) if _attr_matches(w, name)),
                             len(wanted))
                if index < nattr or is_terminal:
                    if (is_terminal and index >= nterm) or (not is_leaf and index < nterm + nleaf):
                        continue  # a non-terminal attribute of a terminal entry, or leaf-only
                    for raw in values:
                        self._add(lookup, raw.decode("utf-8", "replace"))
                elif index < len(wanted):
                    if depth >= s.recursion_limit:
                        raise TableError(
                            f"ldap:{self.name}: Recursion limit exceeded for special "
                            f"attribute {name}={values[0].decode('utf-8', 'replace')}")
                    for raw in values:
                        self._follow(lookup, raw.decode("utf-8", "replace"), depth)

    def _add(self, lookup: _Lookup, value: str) -> None:
        formatted = self.settings.query.format_result(value, lookup.key)
        if formatted is None:
            return
        lookup.results.append(formatted)
        limit = self.settings.expansion_limit
        if limit and len(lookup.results) > limit:
            raise TableError(f"ldap:{self.name}: Expansion limit exceeded for key: "
                             f"'{lookup.key}'")

    def _follow(self, lookup: _Lookup, value: str, depth: int) -> None:
        """Search a special attribute's DN or LDAP URL and take its values."""
        s = self.settings
        attributes = list(s.attributes)
        if value.lower().startswith(("ldap://", "ldaps://", "ldapi://")):
            from ldap3.utils.uri import parse_uri
            url = parse_uri(value)
            if url is None:
                raise TableError(f"ldap:{self.name}: malformed URL {value}")
            base, scope = url["base"] or "", url["scope"] or "BASE"
            query = url["filter"] or "(objectClass=*)"
            if url["attributes"]:
                # Only the URL's attributes that are also result attributes.
                attributes = [w for w in s.attributes
                              if any(_attr_matches(a, w) or _attr_matches(w, a)
                                     for a in url["attributes"])]
                if not attributes:
                    return
            scope = {"SUBTREE": "SUBTREE", "LEVEL": "LEVEL"}.get(str(scope).upper(), "BASE")
        else:
            base, scope, query = value, "BASE", "(objectClass=*)"
        code, why, entries = self._search(base, scope, query, attributes)
        if code == _NO_SUCH_OBJECT:
            log.warning("dict_ldap_get_values[%d]: DN %s not found, skipping ", depth + 1, value)
            return
        if code != _SUCCESS:
            self._drop()
            raise TableError(f"ldap:{self.name}: search error {code}: {why}")
        self._values(lookup, entries, depth + 1)

    def __repr__(self) -> str:
        return f"LdapTable({self.name!r})"
