"""An ordered list of lookup tables (Postfix's ``maps``), as agents use them.

Owns opening a parameter's tables once and asking them in order: the first
table that knows the key answers. A table that cannot answer raises
TableError, which the agents turn into a deferral. Accepts ``type:name``
strings, Python mappings, callables and Table objects alike.

>>> m = Maps(["inline:{a=1}", {"b": "2"}])
>>> m.get("b"), m.get("c"), bool(m)
('2', None, True)
"""

from __future__ import annotations

from typing import Any, Iterable

from mailflow.tables import open_table

__all__ = ["Maps", "split_maps"]


def split_maps(text: str) -> list[str]:
    """Split a maps parameter into ``type:name`` items; braces group.

    >>> split_maps("hash:/etc/aliases, inline:{ a=b, c=d } static:x")
    ['hash:/etc/aliases', 'inline:{ a=b, c=d }', 'static:x']
    """
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(depth - 1, 0)
        if depth == 0 and (ch == "," or ch.isspace()):
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


class Maps:
    """Tables asked in order; ``get`` returns the first answer or None."""

    def __init__(self, specs: Any, config: Any = None) -> None:
        if specs is None:
            specs = []
        elif isinstance(specs, str):
            specs = split_maps(specs)
        elif not isinstance(specs, Iterable) or hasattr(specs, "get"):
            specs = [specs] if specs != "" else []
        self.specs = list(specs)
        self.config = config
        self._tables: list | None = None

    @property
    def tables(self) -> list:
        """The opened tables; opened on first use, so a table that cannot be
        opened defers the mail (TableError) instead of stopping the agent."""
        if self._tables is None:
            self._tables = [open_table(s, self.config) for s in self.specs]
        return self._tables

    def get(self, key: str) -> str | None:
        for table in self.tables:
            value = table.get(key)
            if value is not None:
                return value
        return None

    def __bool__(self) -> bool:
        return bool(self.specs)

    def __repr__(self) -> str:
        return f"Maps({self.specs!r})"
