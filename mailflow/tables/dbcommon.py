"""What Postfix's database tables share: the ``.cf`` file, templates, ``domain``.

Owns three things that ``pgsql:``, ``ldap:`` and the other client tables
read the same way Postfix's cfg_parser(3) and db_common(3) do:

- :class:`CfFile`: the table's configuration, either a file (a name that
  starts with ``/`` or ``.``: main.cf syntax, ``name = value`` lines, ``#``
  comments, continuation lines that start with whitespace, no ``$``
  expansion, the last definition wins) or, for any other name, main.cf
  parameters ``NAME_param`` (pgsql_table(5): "the parameters may also be
  given in main.cf"). Typed getters with Postfix's bounds and errors that
  name the file and line.
- :class:`Templates`: the ``query`` and ``result_format`` templates with
  their ``%s %u %d %[1-9] %S %U %D %%`` expansions, checked when the table
  opens; an expansion a key cannot fill suppresses the lookup (no query is
  sent, the answer is "not found"), as Postfix does.
- :class:`DomainFilter`: the ``domain`` list (names, ``!name``, ``/file``,
  ``type:table``) that lets only ``user@listed-domain`` keys reach the server.

It never talks to a server: the table modules do, and hand their own quote
function (the server's string escaping) to :meth:`Templates.expand_query`.

>>> t = Templates.parse("SELECT v FROM m WHERE u='%u' AND d='%d'", "<%s>")
>>> t.expand_query("Joe@Example.com", quote=lambda s: s.replace("'", "''"))
"SELECT v FROM m WHERE u='Joe' AND d='Example.com'"
>>> t.expand_query("no-domain") is None
True
>>> t.format_results(["a@x", "", "b@y"], "joe@example.com")
'<a@x>,<b@y>'
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Mapping

import attrs

from mailflow.errors import ConfigError, TableError, TableSyntaxError

__all__ = ["CfFile", "Templates", "DomainFilter", "Quote", "is_file_name", "log"]

# Postfix's dict_* code logs under the name of the program that uses it.
log = logging.getLogger("mailflow.tables")

#: A function that escapes one expanded value for the server (SQL quoting).
Quote = Callable[[str], str]

_YES, _NO = "yes", "no"


def is_file_name(name: str) -> bool:
    """Whether a table name is a ``.cf`` file (Postfix: starts with ``/`` or ``.``).

    >>> is_file_name("/etc/postfix/pg-aliases.cf"), is_file_name("pgaliases")
    (True, False)
    """
    return name.startswith(("/", "."))


@attrs.frozen
class CfFile:
    """One table's parameters, with the line each came from.

    ``name`` is what errors are worded with: the file name, or for a
    main.cf-style table its prefix. ``lines`` maps each parameter to its
    line number (0 when not from a file).

    >>> cf = CfFile.parse("hosts = db1 db2\\n# c\\nquery = SELECT v\\n  FROM t\\n", "/x.cf")
    >>> cf.get_str("query"), cf.get_str("user", ""), cf.get_str("dbname")
    ('SELECT v  FROM t', '', None)
    >>> cf.get_int("expansion_limit", 0)
    0
    >>> CfFile.parse("query\\n", "/x.cf")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableSyntaxError: /x.cf, line 1: missing '=' after attribute name: "query"
    """

    name: str
    values: Mapping[str, str]
    lines: Mapping[str, int] = attrs.field(factory=dict)
    warnings: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, name: str) -> "CfFile":
        """Parse ``.cf`` text (main.cf syntax without ``$`` expansion).

        An earlier definition of a name is overridden with Postfix's warning.

        >>> CfFile.parse("a = 1\\na = 2\\n", "/t.cf").warnings
        ('/t.cf, line 2: overriding earlier entry: a=1',)
        """
        from mailflow.config.main_cf import parse_main_cf
        warnings: list[str] = []
        try:
            entries = parse_main_cf(text, name, warnings)
        except ConfigError as exc:
            raise TableSyntaxError(str(exc)) from None
        return cls(name, {k: e.value for k, e in entries.items()},
                   {k: e.lineno for k, e in entries.items()}, tuple(warnings))

    @classmethod
    def read(cls, path: str) -> "CfFile":
        """Read and parse a ``.cf`` file; TableError when it cannot be read.

        Warnings (overridden entries, misplaced continuation lines) are logged.

        >>> CfFile.read("/nonexistent/x.cf")
        Traceback (most recent call last):
        ...
        mailflow.errors.TableError: open /nonexistent/x.cf: No such file or directory
        """
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as exc:
            raise TableError(f"open {path}: {exc.strerror}") from None
        cf = cls.parse(text, path)
        for warning in cf.warnings:
            log.warning("%s", warning)
        return cf

    @classmethod
    def from_config(cls, prefix: str, config: Any, names: Iterable[str]) -> "CfFile":
        """The parameters ``PREFIX_name`` of a main.cf :class:`~mailflow.config.Config`.

        >>> from mailflow.config import Config
        >>> cf = CfFile.from_config("pgmaps", Config(pgmaps_query="SELECT 1"), ["query", "hosts"])
        >>> cf.get_str("query"), cf.get_str("hosts", "localhost")
        ('SELECT 1', 'localhost')
        """
        values: dict[str, str] = {}
        lines: dict[str, int] = {}
        for param in names:
            full = f"{prefix}_{param}"
            raw = config.expand(full) if config is not None and full in config else None
            if raw is not None:
                values[param] = raw
                entry = config.entry(full) if hasattr(config, "entry") else None
                lines[param] = entry.lineno if entry is not None and entry.lineno else 0
        return cls(prefix, values, lines, ())

    @classmethod
    def open(cls, name: str, config: Any, names: Iterable[str]) -> "CfFile":
        """A file for a ``/path`` or ``./path`` name, else main.cf's ``NAME_*``.

        >>> CfFile.open("pgmaps", None, ["query"]).values
        {}
        """
        if is_file_name(name):
            return cls.read(name)
        return cls.from_config(name, config, names)

    # --- typed getters -------------------------------------------------
    def where(self, param: str) -> str:
        """``file, line N`` for a parameter set in a file, else the name.

        >>> CfFile.parse("\\nuser = x\\n", "/t.cf").where("user")
        '/t.cf, line 2'
        """
        lineno = self.lines.get(param, 0)
        return f"{self.name}, line {lineno}" if lineno else self.name

    def get_str(self, param: str, default: str | None = None, min_len: int = 0,
                max_len: int = 0) -> str | None:
        """The text of ``param``; ``default`` when unset. As cfg_get_str(3), a
        default of None turns an empty value into None, and a value outside
        ``min_len..max_len`` is an error.

        >>> cf = CfFile.parse("domain =\\nresult_format =\\n", "/t.cf")
        >>> cf.get_str("domain") is None
        True
        >>> cf.get_str("result_format", "%s", 1)
        Traceback (most recent call last):
        ...
        mailflow.errors.TableError: /t.cf, line 2: bad string length 0 < 1: result_format = 
        """
        value = self.values.get(param)
        if value is None:
            value = default if default is not None else ""
        if min_len and len(value) < min_len:
            raise TableError(f"{self.where(param)}: bad string length {len(value)} < {min_len}: "
                             f"{param} = {value}")
        if max_len and len(value) > max_len:
            raise TableError(f"{self.where(param)}: bad string length {len(value)} > {max_len}: "
                             f"{param} = {value}")
        if default is None and value == "":
            return None
        return value

    def get_int(self, param: str, default: int, min_value: int = 0, max_value: int = 0) -> int:
        """A decimal integer (cfg_get_int(3)); 0 bounds mean "no bound".

        >>> CfFile.parse("expansion_limit = ten\\n", "/t.cf").get_int("expansion_limit", 0)
        Traceback (most recent call last):
        ...
        mailflow.errors.TableError: /t.cf, line 1: bad numerical configuration: expansion_limit = ten
        """
        text = self.values.get(param)
        if text is None:
            value = default
        else:
            body = text[1:] if text[:1] in "+-" else text
            if not body.isdigit() or not body.isascii():
                raise TableError(f"{self.where(param)}: bad numerical configuration: "
                                 f"{param} = {text}")
            value = int(text)
        if min_value and value < min_value:
            raise TableError(f"{self.where(param)}: invalid {param} parameter value "
                             f"{value} < {min_value}")
        if max_value and value > max_value:
            raise TableError(f"{self.where(param)}: invalid {param} parameter value "
                             f"{value} > {max_value}")
        return value

    def get_bool(self, param: str, default: bool) -> bool:
        """``yes`` or ``no`` in any case (cfg_get_bool(3)).

        >>> CfFile.parse("bind = Yes\\n", "/t.cf").get_bool("bind", False)
        True
        """
        text = self.values.get(param)
        if text is None:
            return default
        if text.lower() == _YES:
            return True
        if text.lower() == _NO:
            return False
        raise TableError(f"{self.where(param)}: bad boolean configuration: {param} = {text}")


# Which parts of the key (the lookup input) or of a result value a
# template set needs (db_common.c's DB_COMMON_* flags).
_KEY_DOMAIN, _KEY_USER, _VALUE_DOMAIN, _VALUE_USER = 1, 2, 4, 8


def _split_at(text: str) -> tuple[str, str | None]:
    # Postfix splits at the last '@' (strrchr).
    local, at, domain = text.rpartition("@")
    return (local, domain) if at else (text, None)


@attrs.frozen
class Templates:
    """A table's ``query`` and ``result_format``, checked together.

    As in Postfix the two templates share what they need: a query that uses
    ``%d`` makes every key without a domain skip the lookup, and a
    ``result_format`` that uses ``%D`` or ``%U`` does the same for results.
    In the query, lower and upper case both mean the key; in
    ``result_format`` lower case means the result value and upper case the
    key; ``%1``..``%9`` are always labels of the key's domain, counted from
    the right.

    >>> t = Templates.parse("SELECT a FROM t WHERE d='%2.%1'", "%U+%s")
    >>> t.expand_query("x@mail.example.com")
    "SELECT a FROM t WHERE d='example.com'"
    >>> t.expand_query("x@com") is None
    True
    >>> t.format_results(["box"], "joe@example.com")
    'joe+box'
    """

    query: str
    result_format: str = "%s"
    flags: int = 0
    nparts: int = 0
    table: str = ""

    @classmethod
    def parse(cls, query: str, result_format: str = "%s", table: str = "",
              also: Iterable[str] = ()) -> "Templates":
        """Check both templates (db_common_parse); an unknown ``%x`` is an error.

        ``table`` names the table in messages (``pgsql:/etc/x.cf``). ``also``
        are more key-side templates that share what the key must have (an
        LDAP ``search_base``); expand them with ``expand_query(key,
        template=...)``.

        >>> t = Templates.parse("(mail=%s)", also=["dc=%2,dc=%1"])
        >>> t.expand_query("joe", template="dc=%2,dc=%1") is None
        True
        >>> t.expand_query("joe@example.com", template="dc=%2,dc=%1")
        'dc=example,dc=com'

        >>> Templates.parse("SELECT %x", table="/t.cf")
        Traceback (most recent call last):
        ...
        mailflow.errors.TableError: /t.cf: invalid query template: SELECT %x
        """
        flags, nparts = 0, 0
        templates = [(query, True), *((t, True) for t in also), (result_format, False)]
        for template, is_query in templates:
            i = 0
            while i < len(template):
                if template[i] != "%":
                    i += 1
                    continue
                code = template[i + 1:i + 2]
                i += 2
                if code in ("%", "s", "S"):
                    continue
                if code == "u":
                    flags |= _KEY_USER if is_query else _VALUE_USER
                elif code == "d":
                    flags |= _KEY_DOMAIN if is_query else _VALUE_DOMAIN
                elif code == "U":
                    flags |= _KEY_USER
                elif code == "D":
                    flags |= _KEY_DOMAIN
                elif code and code in "123456789":
                    nparts = max(nparts, int(code))
                    flags |= _KEY_DOMAIN
                else:
                    kind = "query" if is_query else "result_format"
                    where = f"{table}: " if table else ""
                    raise TableError(f"{where}invalid {kind} template: {template}")
        return cls(query, result_format, flags, nparts, table)

    def _labels(self, domain: str | None) -> list[str] | None:
        # Keys whose domain has too few labels are filtered out before any
        # expansion; empty labels do not count (Postfix splits with
        # argv_split, which skips them: "a..b" has the labels a and b).
        if not self.nparts:
            return []
        labels = [label for label in (domain or "").split(".") if label]
        return labels if len(labels) >= self.nparts else None

    def expand_query(self, key: str, quote: Quote | None = None,
                     template: str | None = None) -> str | None:
        """The query for ``key``, each inserted part passed through ``quote``;
        None when the key cannot fill the template (no lookup is made).
        ``template`` expands another key-side template given to :meth:`parse`
        in ``also`` instead of ``query``.

        >>> t = Templates.parse("SELECT 1 WHERE u='%u'")
        >>> t.expand_query("@example.com") is None, t.expand_query("bare")
        (True, "SELECT 1 WHERE u='bare'")
        """
        if key == "":
            log.warning('table "%s": empty query string -- ignored', self.table)
            return None
        local, domain = _split_at(key)
        if self.flags & (_KEY_DOMAIN | _KEY_USER):
            if not domain and self.flags & _KEY_DOMAIN:
                return None
            if domain is not None and local == "" and self.flags & _KEY_USER:
                return None
        labels = self._labels(domain)
        if labels is None:
            return None
        return self._expand(self.query if template is None else template, key, local, domain,
                            key, local, domain, labels, quote or (lambda s: s))

    def format_result(self, value: str | None, key: str) -> str | None:
        """One result value through ``result_format``; None when it is
        skipped (a NULL or empty value, or one the template cannot fill).

        >>> Templates.parse("q", "%d").format_result("nobody", "k") is None
        True
        """
        if value is None:
            return None
        if value == "":
            log.warning('table "%s": empty lookup result for: "%s" -- ignored', self.table, key)
            return None
        vlocal, vdomain = _split_at(value)
        if self.flags & (_VALUE_DOMAIN | _VALUE_USER):
            if not vdomain and self.flags & _VALUE_DOMAIN:
                return None
            if vdomain is not None and vlocal == "" and self.flags & _VALUE_USER:
                return None
        klocal, kdomain = _split_at(key)
        if self.flags & (_KEY_DOMAIN | _KEY_USER):
            if ((not kdomain and self.flags & _KEY_DOMAIN)
                    or (kdomain is not None and klocal == "" and self.flags & _KEY_USER)):
                # The query should have been skipped for this key already.
                log.warning("%s: lookup key '%s' skipped after query", self.table, value)
                return None
        labels = self._labels(kdomain)
        if labels is None:
            return None
        return self._expand(self.result_format, value, vlocal, vdomain, key, klocal, kdomain,
                            labels, lambda s: s)

    def format_results(self, values: Iterable[str | None], key: str,
                       limit: int = 0) -> str | None:
        """Every value through ``result_format``, joined with commas; None
        when none is left. More than ``limit`` (when not 0) is a TableError,
        as Postfix's expansion_limit.

        >>> Templates.parse("q").format_results(["a", "b", "c"], "k", limit=2)
        Traceback (most recent call last):
        ...
        mailflow.errors.TableError: Expansion limit exceeded for key: 'k'
        """
        results: list[str] = []
        for value in values:
            formatted = self.format_result(value, key)
            if formatted is None:
                continue
            results.append(formatted)
            if limit > 0 and len(results) > limit:
                where = f"{self.table}: " if self.table else ""
                raise TableError(f"{where}Expansion limit exceeded for key: '{key}'")
        return ",".join(results) if results else None

    @staticmethod
    def _expand(template: str, value: str, vlocal: str, vdomain: str | None, key: str,
                klocal: str, kdomain: str | None, labels: list[str], quote: Quote) -> str:
        out: list[str] = []
        i, n = 0, len(template)
        while i < n:
            j = template.find("%", i)
            if j < 0:
                out.append(template[i:])
                break
            out.append(template[i:j])
            code = template[j + 1]  # parse() has checked every escape
            i = j + 2
            if code == "%":
                out.append("%")
            elif code == "s":
                out.append(quote(value))
            elif code == "u":
                out.append(quote(vlocal))
            elif code == "d":
                out.append(quote(vdomain or ""))
            elif code == "S":
                out.append(quote(key))
            elif code == "U":
                out.append(quote(klocal))
            elif code == "D":
                out.append(quote(kdomain or ""))
            else:
                out.append(quote(labels[-int(code)]))
        return "".join(out)


@attrs.frozen
class DomainFilter:
    """The ``domain`` parameter: only ``user@domain`` keys whose domain is
    listed reach the server; other keys are "not found" without a query.

    Items are separated by commas or whitespace; ``!item`` negates, the
    first match decides, ``/file/name`` reads more items from a file and
    ``type:table`` matches a domain found in that table (a table that cannot
    answer makes the lookup fail, as Postfix's match lists do).

    >>> f = DomainFilter.parse("!sub.example.com, example.com EXAMPLE.net")
    >>> f.allows("joe@example.com"), f.allows("joe@Example.NET"), f.allows("joe@sub.example.com")
    (True, True, False)
    >>> f.allows("@example.com"), f.allows("example.com")
    (False, False)
    """

    patterns: tuple[tuple[bool, Any], ...]

    @classmethod
    def parse(cls, text: str, name: str = "domain",
              open_table: Callable[[str], Any] | None = None) -> "DomainFilter":
        """Parse a ``domain`` value; ``open_table`` opens ``type:table`` items
        (the registry's :func:`~mailflow.tables.open_table` by default).

        >>> DomainFilter.parse("inline:{example.org=1}").allows("a@example.org")
        True
        """
        return cls(tuple(cls._items(text, name, True, open_table)))

    @classmethod
    def _items(cls, text: str, name: str, init: bool,
               open_table: Callable[[str], Any] | None) -> list[tuple[bool, Any]]:
        from mailflow.config.values import split_list
        out: list[tuple[bool, Any]] = []
        for token in split_list(text):
            match, item = init, token
            while item.startswith("!"):
                match, item = not match, item[1:]
            if not item:
                raise TableError(f"{name}: no pattern after '!'")
            if item.startswith("/"):
                try:
                    with open(item, encoding="utf-8", errors="surrogateescape") as f:
                        content = f.read()
                except OSError as exc:
                    raise TableError(f"{name}: open file {item}: {exc.strerror}") from None
                from mailflow.config.lines import join_lines
                for _first, _last, line in join_lines(content):
                    out.extend(cls._items(line, name, match, open_table))
            elif ":" in item and not item.startswith("["):
                if open_table is None:
                    from mailflow.tables.registry import open_table as registry_open
                    table = registry_open(item)
                else:
                    table = open_table(item)
                out.append((match, table))
            else:
                out.append((match, item.lower()))
        return out

    def allows(self, key: str) -> bool:
        """Whether the key's domain is on the list (always False for a key
        without a domain or with an empty local part).

        >>> DomainFilter.parse("").allows("x@y")
        False
        """
        local, at, domain = key.rpartition("@")
        if not at or not local:
            return False
        domain = domain.lower()
        for match, pattern in self.patterns:
            if isinstance(pattern, str):
                if pattern == domain:
                    return match
            elif pattern.get(domain) is not None:  # TableError propagates
                return match
        return False


def domain_filter(cf: CfFile, open_table: Callable[[str], Any] | None = None
                  ) -> DomainFilter | None:
    """The table's ``domain`` filter, or None when the parameter is unset or empty.

    >>> domain_filter(CfFile.parse("domain = example.com\\n", "/t.cf")).allows("a@example.com")
    True
    >>> domain_filter(CfFile.parse("", "/t.cf")) is None
    True
    """
    text = cf.get_str("domain", "")
    if not text:
        return None
    return DomainFilter.parse(text, cf.name, open_table)


__all__ += ["domain_filter"]
