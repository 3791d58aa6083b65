"""Lists of tables, as Postfix parameters give them (``maps_create``).

Owns :class:`Maps` (search tables in order, first hit wins, an error stops
the search) and :class:`TableCache`, which opens each ``type:name`` once per
process until a service resets it on reload.

>>> maps = open_maps("inline:{a=1}, inline:{a=2, b=3}", cache=TableCache())
>>> maps.get("a"), maps.get("b"), maps.get("c")
('1', '3', None)
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

from mailflow.interfaces import Table
from mailflow.tables.memory import split_braced
from mailflow.tables.registry import open_table

__all__ = ["Maps", "TableCache", "open_maps", "split_maps", "default_cache"]


def split_maps(value: "str | Iterable[str]") -> list[str]:
    """The table specs in a parameter value (commas and/or whitespace).

    >>> split_maps("hash:/etc/a, regexp:/etc/b inline:{x=1, y=2}")
    ['hash:/etc/a', 'regexp:/etc/b', 'inline:{x=1, y=2}']
    """
    if isinstance(value, str):
        return split_braced(value)
    return [str(v).strip() for v in value if str(v).strip()]


class Maps:
    """An ordered list of tables searched as one (Postfix maps_find).

    ``get`` returns the first table's hit. A TableError from a table
    propagates at once: later tables are not asked, because "cannot look
    up" must never turn into "found elsewhere" or "not found".

    >>> Maps([{"k": "first"}, {"k": "second"}]).get("k")
    'first'
    """

    is_maps = True

    def __init__(self, tables: Iterable[Any], specs: Iterable[str] = ()) -> None:
        self.tables = [open_table(t) if not isinstance(t, str) else t for t in tables]
        self.specs = list(specs)

    def get(self, key: str) -> str | None:
        for table in self.tables:
            value = table.get(key)
            if value is not None:
                return value
        return None

    def __bool__(self) -> bool:
        return bool(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def __repr__(self) -> str:
        return f"Maps({', '.join(self.specs) or len(self.tables)})"


class TableCache:
    """Opened tables by spec, so each ``type:name`` is opened once per process.

    >>> cache = TableCache()
    >>> cache.open("inline:{a=1}") is cache.open("inline:{a=1}")
    True
    """

    def __init__(self) -> None:
        self._tables: dict[tuple[str, tuple], Table] = {}
        self._lock = threading.Lock()

    def open(self, spec: str, config: Any = None, **options: Any) -> Table:
        key = (spec.strip(), tuple(sorted(options.items())))
        with self._lock:
            table = self._tables.get(key)
            if table is None:
                table = self._tables[key] = open_table(spec.strip(), config, **options)
            return table

    def reset(self) -> None:
        """Forget every opened table (on reload); close those that can."""
        with self._lock:
            tables, self._tables = list(self._tables.values()), {}
        for table in tables:
            close = getattr(table, "close", None)
            if callable(close):
                close()

    def __len__(self) -> int:
        return len(self._tables)


default_cache = TableCache()


def open_maps(value: "str | Iterable[Any]", config: Any = None, *,
              cache: TableCache | None = None) -> Maps:
    """Open a parameter's table list (``"hash:a, regexp:b"`` or a list of
    specs, mappings, callables or tables) as one :class:`Maps`.

    >>> open_maps(["inline:{x=1}", {"y": "2"}], cache=TableCache()).get("y")
    '2'
    """
    cache = default_cache if cache is None else cache
    items = [value] if isinstance(value, str) else list(value)
    tables, specs = [], []
    for item in items:
        if isinstance(item, str):
            for spec in split_maps(item):
                tables.append(cache.open(spec, config))
                specs.append(spec)
        else:
            tables.append(open_table(item, config))
            specs.append(repr(item))
    return Maps(tables, specs)
