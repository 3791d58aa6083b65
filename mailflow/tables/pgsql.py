"""``pgsql:`` tables (Postfix pgsql_table(5)) on PostgreSQL through psycopg 3.

Owns the ``pgsql`` parameters (``hosts``, ``user``, ``password``,
``dbname``, ``encoding``, ``query`` or the old ``select_field``/``table``/
``where_field``/``additional_conditions`` and ``select_function`` forms,
``result_format``, ``domain``, ``expansion_limit``, ``retry_interval``,
``idle_interval``, and mailflow's ``connect_timeout`` and ``query_timeout``),
host failover, and one small pool of connections per table that every
thread shares. The ``.cf`` syntax, the ``%`` templates and the ``domain``
list are :mod:`mailflow.tables.dbcommon`'s.

A server that refuses, times out or fails a query is a lookup **error**
(:class:`~mailflow.errors.TableError` naming the table), never "not found":
the mail waits in the queue (4.3.0) instead of bouncing. As in Postfix a
host that failed is left alone for ``retry_interval`` seconds while the
others are tried, and a pooled connection idle for ``idle_interval``
seconds is closed.

psycopg is imported when the first lookup needs a server (``pip install
mailflow[pgsql]``); a program may hand in its own connection, pool or
connect function instead of ``hosts``. Keys outside ``domain`` never reach
the server:

>>> t = PgsqlTable({"dbname": "mail", "domain": "example.com",
...                 "query": "SELECT mailbox FROM users WHERE address='%s'"}, "/etc/m.cf")
>>> t, t.get("joe@example.org")
(PgsqlTable('/etc/m.cf'), None)
"""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Any, Callable, Mapping

import attrs

from mailflow.errors import TableError
from mailflow.tables.dbcommon import CfFile, DomainFilter, Templates, domain_filter, log

__all__ = ["PgsqlTable", "PgHost", "parse_hosts", "PARAMETERS", "open_pgsql"]

#: Every parameter a pgsql table reads (also the main.cf ``NAME_param`` names).
PARAMETERS = ("hosts", "user", "password", "dbname", "encoding", "query", "select_function",
              "select_field", "table", "where_field", "additional_conditions", "result_format",
              "domain", "expansion_limit", "retry_interval", "idle_interval",
              "connect_timeout", "query_timeout")

_KIND_ORDER = {"unix": 0, "inet": 1, "uri": 2}


@attrs.frozen
class PgHost:
    """One entry of ``hosts``: ``spec`` as written (used in messages), the
    kind (``unix`` socket directory, ``inet`` host[:port], or a ``uri``).

    >>> PgHost.parse("inet:db.example:5433")
    PgHost(spec='inet:db.example:5433', kind='inet', host='db.example', port='5433')
    >>> PgHost.parse("unix:/run/postgresql").kind, PgHost.parse("postgresql://db/mail").kind
    ('unix', 'uri')
    """

    spec: str
    kind: str
    host: str
    port: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "PgHost":
        if spec.startswith(("postgresql:", "postgres:")):
            return cls(spec, "uri", spec)
        name = spec[5:] if spec.startswith(("unix:", "inet:")) else spec
        if name and not name.startswith("/"):
            host, colon, port = name.rpartition(":")
            return cls(spec, "inet", host, port) if colon else cls(spec, "inet", name)
        return cls(spec, "unix", name)

    def connect_args(self, dbname: str, user: str, password: str) -> dict[str, Any]:
        """The keyword arguments for ``psycopg.connect`` (empty settings left out).

        >>> PgHost.parse("db:6432").connect_args("mail", "", "")
        {'host': 'db', 'port': '6432', 'dbname': 'mail'}
        """
        if self.kind == "uri":
            return {"conninfo": self.host}
        args = {"host": self.host, "port": self.port, "dbname": dbname, "user": user,
                "password": password}
        return {k: v for k, v in args.items() if v}


def parse_hosts(text: str) -> tuple[PgHost, ...]:
    """The ``hosts`` value in the order they are tried: Unix sockets, then
    TCP hosts, then URIs, each kind in the order written. No hosts means
    ``localhost``; a single host is listed twice, as Postfix does, so that
    one failed connection (a server restart) does not put the only server
    out of use for ``retry_interval``.

    >>> [h.spec for h in parse_hosts("db1, unix:/run/pg db2")]
    ['unix:/run/pg', 'db1', 'db2']
    >>> [h.spec for h in parse_hosts("")]
    ['localhost', 'localhost']
    """
    specs = text.replace(",", " ").split() or ["localhost"]
    if len(specs) == 1:
        specs = specs * 2
    hosts = [PgHost.parse(s) for s in specs]
    return tuple(sorted(hosts, key=lambda h: _KIND_ORDER[h.kind]))  # stable: keeps written order


def _build_query(cf: CfFile) -> str:
    query = cf.get_str("query")
    if query is not None:
        return query
    function = cf.get_str("select_function")
    if function is not None:
        return f"SELECT {function}('%s')"
    # Postfix's old style; each part must be set ("bad string length 0 < 1").
    parts = {param: cf.get_str(param, "", 1) for param in ("table", "select_field", "where_field")}
    more = cf.get_str("additional_conditions", "")
    return (f"SELECT {parts['select_field']} FROM {parts['table']} "
            f"WHERE {parts['where_field']}='%s' {more}")


class _Slot:
    """A host's state: when it may be tried again after a failure."""

    __slots__ = ("host", "down_until", "last_error")

    def __init__(self, host: PgHost) -> None:
        self.host = host
        self.down_until = 0.0
        self.last_error = ""


class PgsqlTable:
    """A ``pgsql:/path/to/file.cf`` table.

    ``params`` is a :class:`~mailflow.tables.dbcommon.CfFile` or a plain
    mapping of the file's parameters. ``connect``, when given, replaces
    ``hosts``: a psycopg connection (used by one lookup at a time), a pool
    with psycopg_pool's ``connection()`` context manager, or a function that
    returns a new connection (pooled here like the ones made from
    ``hosts``). ``pool_size`` is how many idle connections are kept.

    >>> PgsqlTable({"hosts": "db"}, "/x.cf")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: /x.cf: bad string length 0 < 1: dbname = 
    """

    def __init__(self, params: "CfFile | Mapping[str, str]", name: str = "", *,
                 fold: bool = True, connect: Any = None, pool_size: int = 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        cf = params if isinstance(params, CfFile) else CfFile(name, dict(params))
        self.name = name or cf.name
        self.spec = f"pgsql:{self.name}"
        self.fold = fold
        self.clock = clock
        self.pool_size = pool_size
        # The order of the checks is Postfix 3.7's, so the first complaint matches.
        self.user = cf.get_str("user", "") or ""
        self.password = cf.get_str("password", "") or ""
        self.hosts = parse_hosts(cf.get_str("hosts", "") or "")
        uri_only = all(h.kind == "uri" for h in self.hosts)
        self.dbname = cf.get_str("dbname", "", 0 if uri_only or connect is not None else 1) or ""
        self.encoding = cf.get_str("encoding", "UTF8", 1) or "UTF8"
        result_format = cf.get_str("result_format", "%s", 1) or "%s"
        self.expansion_limit = cf.get_int("expansion_limit", 0)
        self.retry_interval = cf.get_int("retry_interval", 60, 1)
        self.idle_interval = cf.get_int("idle_interval", 60, 1)
        self.connect_timeout = cf.get_int("connect_timeout", 10, 1)
        self.query_timeout = cf.get_int("query_timeout", 30)
        self.templates = Templates.parse(_build_query(cf), result_format, self.spec)
        self.domain: DomainFilter | None = domain_filter(cf)
        self._user_connect = connect
        # What the caller handed in: a pool, one connection, or a connect function.
        self._given = ("connection" if hasattr(connect, "pgconn")
                       else "pool" if hasattr(connect, "connection")
                       else "factory" if connect is not None else None)
        self._slots = [_Slot(h) for h in self.hosts]
        self._idle: list[tuple[_Slot | None, Any, float]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()

    @classmethod
    def open(cls, name: str, config: Any = None, *, fold: bool = True,
             **kwargs: Any) -> "PgsqlTable":
        """Open ``pgsql:NAME``: a ``.cf`` file, or main.cf's ``NAME_*`` parameters."""
        return cls(CfFile.open(name, config, PARAMETERS), name, fold=fold, **kwargs)

    # --- lookups ------------------------------------------------------------
    def get(self, key: str) -> str | None:
        """The value for ``key``: every column of every row through
        ``result_format``, joined with commas; None when there is none."""
        if self.fold:
            key = key.lower()
        if self.domain is not None and not self._domain_allows(key):
            return None
        if self.templates.expand_query(key) is None:
            return None
        raw = self._query(key)
        try:
            return self.templates.format_results(raw, key, self.expansion_limit)
        except TableError:
            log.warning("dict_pgsql_lookup: %s: Expansion limit exceeded for key: '%s'",
                        self.name, key)
            raise TableError(f"table {self.spec}: query error: expansion limit exceeded "
                             f"for key: '{key}'") from None

    def _domain_allows(self, key: str) -> bool:
        try:
            return self.domain.allows(key)  # type: ignore[union-attr]
        except TableError as exc:
            raise TableError(f"table {self.spec}: domain list lookup problem: {exc}") from None

    def _query(self, key: str) -> list[str | None]:
        if self._given in ("pool", "connection"):
            return self._query_given(key)
        psycopg = _psycopg(self.spec)
        while True:
            slot, conn = self._checkout(psycopg)
            sql = self.templates.expand_query(key, _quoter(psycopg, conn))
            try:
                values = _exec(psycopg, conn, sql, self.query_timeout)
            except psycopg.Error as exc:
                where = slot.host.spec if slot is not None else "the given connection"
                reason = _one_line(exc)
                log.warning("pgsql query failed: fatal error from host %s: %s", where, reason)
                _close(conn)
                self._mark_down(slot, f"query failed on {where}: {reason}")
                continue
            self._checkin(slot, conn)
            return values

    def _query_given(self, key: str) -> list[str | None]:
        # A connection or pool from the caller: its failover is the caller's.
        psycopg = _psycopg(self.spec)
        given = self._user_connect
        try:
            if self._given == "pool":
                with given.connection() as conn:
                    sql = self.templates.expand_query(key, _quoter(psycopg, conn))
                    return _run(conn, sql)
            with self._lock:
                sql = self.templates.expand_query(key, _quoter(psycopg, given))
                values = _run(given, sql)
                if not given.autocommit:
                    given.rollback()  # end the transaction the query opened
                return values
        except psycopg.Error as exc:  # psycopg_pool's PoolTimeout is one too
            log.warning("pgsql query failed: %s: %s", self.spec, _one_line(exc))
            raise TableError(f"table {self.spec}: query error: {_one_line(exc)}") from None

    # --- the pool -------------------------------------------------------------
    def _checkout(self, psycopg: Any) -> tuple[_Slot | None, Any]:
        now = self.clock()
        stale: list[Any] = []
        with self._lock:
            if self._closed:
                raise TableError(f"table {self.spec}: query error: table is closed")
            if self._pid != os.getpid():
                # A forked child: the parent's connections are not ours to
                # use or to close (closing would end the parent's sessions).
                self._idle, self._pid = [], os.getpid()
            found = None
            while self._idle:
                slot, conn, used = self._idle.pop()
                if (now - used >= self.idle_interval or conn.closed
                        or (slot is not None and slot.down_until > now)):
                    stale.append(conn)
                    continue
                found = (slot, conn)
                break
        for conn in stale:
            _close(conn)
        if found is not None:
            return found
        if self._user_connect is not None:
            try:
                return None, self._user_connect()
            except psycopg.Error as exc:
                log.warning("connect to pgsql server: %s", _one_line(exc))
                raise TableError(f"table {self.spec}: query error: {_one_line(exc)}") from None
        last = ""
        for slot in self._slots:
            with self._lock:
                if slot.down_until > self.clock():
                    last = last or slot.last_error
                    continue
            try:
                conn = self._connect(psycopg, slot.host)
            except psycopg.Error as exc:
                reason = _one_line(exc)
                log.warning("connect to pgsql server %s: %s", slot.host.spec, reason)
                self._mark_down(slot, f"connect to pgsql server {slot.host.spec}: {reason}")
                last = slot.last_error
                continue
            return slot, conn
        raise TableError(f"table {self.spec}: query error: no PostgreSQL server available"
                         + (f" ({last})" if last else ""))

    def _connect(self, psycopg: Any, host: PgHost) -> Any:
        args = host.connect_args(self.dbname, self.user, self.password)
        conninfo = args.pop("conninfo", "")
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=self.connect_timeout,
                               client_encoding=self.encoding, **args)

    def _mark_down(self, slot: _Slot | None, reason: str) -> None:
        if slot is None:
            raise TableError(f"table {self.spec}: query error: {reason}")
        with self._lock:
            slot.down_until = self.clock() + self.retry_interval
            slot.last_error = reason
            # Other idle connections to this host are likely dead too (a restart).
            keep = [item for item in self._idle if item[0] is not slot]
            drop = [item[1] for item in self._idle if item[0] is slot]
            self._idle = keep
        for conn in drop:
            _close(conn)

    def _checkin(self, slot: _Slot | None, conn: Any) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.pool_size:
                self._idle.append((slot, conn, self.clock()))
                return
        _close(conn)

    def close(self) -> None:
        """Close the pooled connections; the table cannot be used afterwards."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for _slot, conn, _used in idle:
            _close(conn)

    def __del__(self) -> None:
        if getattr(self, "_pid", None) == os.getpid():
            for _slot, conn, _used in getattr(self, "_idle", ()):
                _close(conn)

    def __repr__(self) -> str:
        return f"PgsqlTable({self.name!r})"


def _psycopg(spec: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise TableError(f"table {spec}: psycopg is not installed "
                         "(pip install 'mailflow[pgsql]')") from None
    return psycopg


def _quoter(psycopg: Any, conn: Any) -> Callable[[str], str]:
    # PQescapeStringConn, as Postfix: the escaping follows the connection's
    # encoding and standard_conforming_strings.
    escaping = psycopg.pq.Escaping(conn.pgconn)
    encoding = conn.info.encoding

    def quote(text: str) -> str:
        return escaping.escape_string(text.encode(encoding, "surrogateescape")).decode(
            encoding, "surrogateescape")
    return quote


def _exec(psycopg: Any, conn: Any, sql: str | None, timeout: float = 0) -> list[str | None]:
    """Every column of every row as text, for one query sent on our own
    autocommit connection straight through libpq (as Postfix's PQexec),
    without psycopg's cursor machinery, which costs more than the query.

    The wait for the answer is bounded by ``timeout`` seconds (0: none): a
    server that stops answering (hung, or a network that drops packets)
    fails the lookup instead of holding its thread for ever."""
    encoding = conn.info.encoding
    pq = psycopg.pq
    pg = conn.pgconn
    deadline = time.monotonic() + timeout if timeout else None

    def wait(readable: bool) -> None:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise psycopg.OperationalError(f"no answer within query_timeout ({timeout:g}s)")
        fd = pg.socket
        ready = select.select([fd] if readable else [], [] if readable else [fd], [], remaining)
        if not any(ready) and remaining is not None:
            raise psycopg.OperationalError(f"no answer within query_timeout ({timeout:g}s)")

    pg.send_query((sql or "").encode(encoding, "surrogateescape"))
    while pg.flush():
        wait(readable=False)
    while True:
        pg.consume_input()
        if not pg.is_busy():
            break
        wait(readable=True)
    last = None
    while (res := pg.get_result()) is not None:  # the last result counts, as PQexec's
        if last is not None:
            last.clear()
        last = res
    if last is None:
        raise psycopg.OperationalError(pg.error_message.decode(encoding, "replace").strip()
                                       or "no result")
    try:
        if last.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            message = (last.error_message or pg.error_message or b"no result").decode(
                encoding, "replace")
            raise psycopg.OperationalError(" ".join(message.split()))
        return _values(last, encoding)
    finally:
        last.clear()


def _run(conn: Any, sql: str | None) -> list[str | None]:
    """Every column of every row as text (NULL: None), in result order."""
    cur = conn.execute(sql)  # no parameters: the text goes as is, '%' included
    try:
        res = cur.pgresult
        if res is None:
            return []
        return _values(res, conn.info.encoding)
    finally:
        cur.close()


def _values(result: Any, encoding: str) -> list[str | None]:
    """Every column of every row of a libpq result as text (NULL: None)."""
    values: list[str | None] = []
    for row in range(result.ntuples):
        for col in range(result.nfields):
            value = result.get_value(row, col)
            values.append(None if value is None
                          else bytes(value).decode(encoding, "surrogateescape"))
    return values


def _close(conn: Any) -> None:
    import psycopg
    try:
        conn.close()
    except (OSError, psycopg.Error):  # closing a broken connection must not fail a lookup
        pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def open_pgsql(name: str, config: Any = None, *, fold: bool = True) -> PgsqlTable:
    """The ``pgsql`` opener registered with :func:`~mailflow.tables.register_table_type`.

    >>> open_pgsql("/nonexistent/pg.cf")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: open /nonexistent/pg.cf: No such file or directory
    """
    return PgsqlTable.open(name, config, fold=fold)
