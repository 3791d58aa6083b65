"""``sqlite:`` tables (Postfix sqlite_table(5)) through the stdlib sqlite3.

Owns the config file (``dbpath``, ``query``, ``result_format``, ``domain``,
``expansion_limit``), the ``%s %u %d %[1-9]`` query expansion with SQL
quoting, and result formatting. The database is opened read-only, lazily,
on the first lookup.

>>> expand_query("SELECT v FROM t WHERE k='%s' AND d='%d'", "o'k@Example.com")
"SELECT v FROM t WHERE k='o''k@Example.com' AND d='Example.com'"
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any, Callable

from mailflow.errors import TableError
from mailflow.tables.source import read_source

__all__ = ["SqliteTable", "expand_query", "expand_template", "parse_cf"]


def parse_cf(text: str) -> dict[str, str]:
    """Parse a ``name = value`` table config file (main.cf syntax, no ``$``).

    >>> parse_cf("# c\\ndbpath = /x.db\\nquery = SELECT a\\n  FROM b\\n")
    {'dbpath': '/x.db', 'query': 'SELECT a FROM b'}
    """
    out: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and last is not None:
            out[last] = (out[last] + " " + line.strip()).strip()
            continue
        name, sep, value = line.partition("=")
        if sep:
            last = name.strip()
            out[last] = value.strip()
    return out


def _split(key: str) -> tuple[str, str | None]:
    local, at, domain = key.rpartition("@")
    return (local, domain) if at else (key, None)


def expand_template(template: str, key: str, *, quote: Callable[[str], str] = lambda s: s,
                    result: str | None = None) -> str | None:
    """Expand Postfix's ``%`` escapes; None when the expansion is suppressed.

    In a query (``result`` is None) ``%s %u %d`` and their upper-case forms
    refer to the key. In a result_format, lower case refers to the result and
    upper case to the key. ``%1``..``%9`` are the key's domain labels from the
    right; a missing part suppresses the lookup, as Postfix does.

    >>> expand_template("%u at %2.%1", "joe@mail.example.com")
    'joe at example.com'
    >>> expand_template("%d", "joe") is None
    True
    >>> expand_template("<%s> for %U", "ignored@x", result="r@y")
    '<r@y> for ignored'
    """
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch != "%" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        code = template[i + 1]
        i += 2
        if code == "%":
            out.append("%")
            continue
        if code.isdigit() and code != "0":
            _, domain = _split(key)
            labels = domain.split(".") if domain else []
            n = int(code)
            if n > len(labels):
                return None
            out.append(quote(labels[-n]))
            continue
        if code.lower() not in "sud":
            raise TableError(f"invalid % expansion '%{code}' in {template!r}")
        source = key if (result is None or code.isupper()) else result
        local, domain = _split(source)
        if code.lower() == "s":
            out.append(quote(source))
        elif code.lower() == "u":
            if not local:
                return None
            out.append(quote(local))
        else:
            if domain is None:
                return None
            out.append(quote(domain))
    return "".join(out)


def _sql_quote(text: str) -> str:
    return text.replace("'", "''")


def expand_query(query: str, key: str) -> str | None:
    """The SQL for one lookup, with single quotes doubled (sqlite3_mprintf %q).

    >>> expand_query("SELECT 1 WHERE x='%u'", "@example.com") is None
    True
    """
    return expand_template(query, key, quote=_sql_quote)


class SqliteTable:
    """A ``sqlite:/path/to/file.cf`` table.

    >>> import tempfile, os, sqlite3
    >>> d = tempfile.mkdtemp(); db = os.path.join(d, "m.db")
    >>> con = sqlite3.connect(db); _ = con.execute("CREATE TABLE m (k, v)")
    >>> _ = con.execute("INSERT INTO m VALUES ('a@x', 'one'), ('a@x', 'two')"); con.commit()
    >>> t = SqliteTable({"dbpath": db, "query": "SELECT v FROM m WHERE k='%s'"})
    >>> t.get("A@X")
    'one,two'
    >>> t.close(); con.close()
    """

    def __init__(self, params: dict[str, str], name: str = "", *, fold: bool = True,
                 domain_table: Any = None) -> None:
        self.name = name
        self.fold = fold
        try:
            self.dbpath = params["dbpath"]
        except KeyError:
            raise TableError(f"sqlite:{name}: missing parameter dbpath") from None
        if "query" in params:
            self.query = params["query"]
        elif "table" in params:  # Postfix < 2.2 style, still accepted
            self.query = (f"SELECT {params.get('select_field', '')} FROM {params['table']} "
                          f"WHERE {params.get('where_field', '')} = '%s' "
                          f"{params.get('additional_conditions', '')}").strip()
        else:
            raise TableError(f"sqlite:{name}: missing parameter query")
        self.result_format = params.get("result_format", "%s")
        self.expansion_limit = int(params.get("expansion_limit", "0") or 0)
        self.domains = [d.lower() for d in params.get("domain", "").replace(",", " ").split()]
        self.domain_table = domain_table
        self._con: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str, config: Any = None, *, fold: bool = True) -> "SqliteTable":
        return cls(parse_cf(read_source(path)), path, fold=fold)

    def _domain_ok(self, key: str) -> bool:
        if not self.domains:
            return True
        local, domain = _split(key)
        if not local or domain is None:
            return False
        domain = domain.lower()
        for item in self.domains:
            if ":" in item:
                from mailflow.tables.registry import open_table
                if open_table(item).get(domain) is not None:
                    return True
            elif item == domain:
                return True
        return False

    def close(self) -> None:
        """Close the database connection (the next lookup opens it again)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con = None

    def __del__(self) -> None:
        # Tables live as long as the process's table cache; close quietly
        # when one is dropped (Python 3.13 warns about unclosed databases).
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            try:
                self._con = sqlite3.connect(f"file:{self.dbpath}?mode=ro", uri=True,
                                            check_same_thread=False)
            except sqlite3.Error as exc:
                raise TableError(f"sqlite:{self.name}: open {self.dbpath}: {exc}") from None
        return self._con

    def get(self, key: str) -> str | None:
        if self.fold:
            key = key.lower()
        if not self._domain_ok(key):
            return None
        sql = expand_query(self.query, key)
        if sql is None:
            return None
        with self._lock:
            try:
                rows = self._connection().execute(sql).fetchall()
            except sqlite3.Error as exc:
                raise TableError(f"sqlite:{self.name}: query failed: {exc}") from None
        results = []
        for row in rows:
            value = row[0] if row else None
            if value is None or value == "":
                continue
            formatted = expand_template(self.result_format, key, result=str(value))
            if formatted is None:
                continue
            results.append(formatted)
            if self.expansion_limit and len(results) > self.expansion_limit:
                raise TableError(f"sqlite:{self.name}: Expansion limit exceeded for key: '{key}'")
        return ",".join(results) if results else None

    def __repr__(self) -> str:
        return f"SqliteTable({self.name!r})"
