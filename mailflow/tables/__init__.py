"""Lookup tables by Postfix's ``type:name``, through one registry.

Importing this package registers every built-in type: ``hash`` and
``btree`` (``FILE.db`` built by postmap), ``texthash``, ``inline``,
``static``, ``regexp``, ``pcre``, ``cidr``, ``sqlite``, ``pgsql``, ``unionmap``,
``pipemap``, ``proxy``, ``fail``, ``environ``, ``unix`` and ``memory``
(named Python mappings). A plain mapping or callable also works anywhere a
table does. Installed packages add types through the ``mailflow.tables``
entry-point group (:mod:`mailflow.plugins`): each is registered here under
its name and imported when a table of that type is first opened.

>>> t = open_table("inline:{ alice=a@example.com, { bob = b at example } }")
>>> t.get("bob"), t.get("carol")
('b at example', None)
>>> register_table_type("upper", lambda name, cfg: CallableTable(str.upper))
>>> open_table("upper:x").get("hi")
'HI'
"""

from __future__ import annotations

from typing import Any, Mapping

from mailflow.errors import TableError, TableSyntaxError
from mailflow.interfaces import Table
from mailflow.tables.addresses import AddressMatch, lookup_address, search_keys, split_extension
from mailflow.tables.compose import PipeTable, UnionTable, member_specs
from mailflow.tables.maps import Maps, TableCache, default_cache, open_maps, split_maps
from mailflow.tables.memory import (CallableTable, EnvironTable, FailTable, InlineTable,
                                    MemoryTable, StaticTable, strip_braces)
from mailflow.tables.registry import open_table, register_table_type, split_spec, table_types
from mailflow.tables.ldap import LdapTable
from mailflow.tables.socketmap import SocketmapTable
from mailflow.tables.tcp import TcpTable

__all__ = ["Table", "TableError", "TableSyntaxError", "open_table", "register_table_type",
           "table_types", "MemoryTable", "CallableTable", "StaticTable", "InlineTable",
           "FailTable", "EnvironTable", "UnionTable", "PipeTable", "Maps", "TableCache",
           "open_maps", "default_cache", "AddressMatch", "lookup_address", "search_keys",
           "split_extension", "register_memory_table", "split_maps", "split_spec",
           "BUILTIN_TYPES", "register_plugin_types"]

_MEMORY: dict[str, Mapping[str, str]] = {}


def register_memory_table(name: str, mapping: Mapping[str, str]) -> None:
    """Make ``memory:NAME`` open ``mapping`` (for embedding and tests).

    >>> register_memory_table("users", {"alice": "yes"})
    >>> open_table("memory:users").get("alice")
    'yes'
    """
    _MEMORY[name] = mapping


def _open_memory(name: str, config: Any) -> Table:
    try:
        return MemoryTable(_MEMORY[name])
    except KeyError:
        raise TableError(f"memory:{name}: no such memory table "
                         "(register it with register_memory_table)") from None


def _open_db(name: str, config: Any, *, fold: bool = True) -> Table:
    # hash: and btree: are one sqlitedict file each (postmap builds both alike).
    from mailflow.adapters.sqlite_table import DbTable
    return DbTable(name, fold=fold)


def _open_texthash(name: str, config: Any, *, fold: bool = True) -> Table:
    from mailflow.tables.source import TextHashTable
    table = TextHashTable(name, fold=fold)
    table.get("")  # load now: a missing file or bad lines are reported at open
    return table


def _open_regexp(kind: str):
    def opener(name: str, config: Any, **_: Any) -> Table:
        from mailflow.tables.regexp import RegexpTable
        return RegexpTable.open(name, kind)
    return opener


def _open_cidr(name: str, config: Any, **_: Any) -> Table:
    from mailflow.tables.cidr import CidrTable
    return CidrTable.open(name)


def _open_sqlite(name: str, config: Any, *, fold: bool = True) -> Table:
    from mailflow.tables.sqlite import SqliteTable
    return SqliteTable.open(name, config, fold=fold)


def _open_pgsql(name: str, config: Any, *, fold: bool = True) -> Table:
    from mailflow.tables.pgsql import PgsqlTable
    return PgsqlTable.open(name, config, fold=fold)


def _open_unix(name: str, config: Any, *, fold: bool = True) -> Table:
    from mailflow.tables.unix import UnixTable
    return UnixTable(name, fold=fold)


def _members(type_name: str, name: str, config: Any, options: dict) -> list[Table]:
    return [open_table(spec, config, **options) for spec in member_specs(name, type_name)]


def _open_union(name: str, config: Any, **options: Any) -> Table:
    return UnionTable(_members("unionmap", name, config, options))


def _open_pipe(name: str, config: Any, **options: Any) -> Table:
    return PipeTable(_members("pipemap", name, config, options))


def _open_proxy(name: str, config: Any, **options: Any) -> Table:
    # proxymap(8) only shares connections; in process the table is opened directly.
    return open_table(name, config, **options)


register_table_type("static", lambda name, cfg: StaticTable(strip_braces(name)))
register_table_type("inline", lambda name, cfg, *, fold=True: InlineTable.parse(name, fold=fold))
register_table_type("memory", _open_memory)
register_table_type("fail", lambda name, cfg: FailTable(name))
register_table_type("environ", lambda name, cfg: EnvironTable())
register_table_type("hash", _open_db)
register_table_type("btree", _open_db)
register_table_type("texthash", _open_texthash)
register_table_type("regexp", _open_regexp("regexp"))
register_table_type("pcre", _open_regexp("pcre"))
register_table_type("cidr", _open_cidr)
register_table_type("sqlite", _open_sqlite)
register_table_type("pgsql", _open_pgsql)
register_table_type("unix", _open_unix)
register_table_type("unionmap", _open_union)
register_table_type("pipemap", _open_pipe)
register_table_type("proxy", _open_proxy)
register_table_type("socketmap", SocketmapTable.open)
register_table_type("tcp", TcpTable.open)
register_table_type("ldap", LdapTable.open)

#: The types mailflow defines itself; a plug-in may not claim one of these.
BUILTIN_TYPES = frozenset(table_types())


def _plugin_opener(type_name: str):
    def opener(name: str, config: Any, **options: Any) -> Table:
        from mailflow import plugins
        try:
            target = plugins.load("mailflow.tables", type_name)
        except plugins.PluginError as exc:
            raise TableError(f"{type_name}:{name}: {exc}") from exc
        if target is None:
            raise TableError(f"{type_name}:{name}: unsupported dictionary type: {type_name} "
                             "(its plug-in is no longer installed)")
        if options and _accepts_keywords(target):
            return target(name, config, **options)
        return target(name, config)
    opener.plugin = True  # type: ignore[attr-defined]
    return opener


def _accepts_keywords(func: Any) -> bool:
    import inspect
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params)


def register_plugin_types() -> list[str]:
    """Register every ``mailflow.tables`` plug-in name that is neither a
    built-in type nor registered from Python; returns the names registered.
    The plug-in itself is imported when a table of its type is first opened.
    Importing this package does this once; call it again after installing a
    package at run time.

    >>> "hash" in register_plugin_types()
    False
    """
    from mailflow import plugins
    from mailflow.tables.registry import _REGISTRY
    # A type registered from Python stays: an embedding program decides.
    names = [n for n in plugins.plugin_names("mailflow.tables") if n not in BUILTIN_TYPES
             and (n not in _REGISTRY or getattr(_REGISTRY[n], "plugin", False))]
    for type_name in names:
        register_table_type(type_name, _plugin_opener(type_name))
    return names


register_plugin_types()
