"""Lookup tables as the delivery agents hold them: opened on first use.

Owns only the laziness: an agent is built once per master.cf service, and a
table that cannot be opened then (a missing ``hash:/etc/aliases``) must
defer the mail that needs it, not stop the agent from being built. The
tables themselves, their order and their sharing come from
:func:`mailflow.tables.maps.open_maps`. Accepts ``type:name`` text, Python
mappings, callables and Table objects alike.

>>> m = Maps(["inline:{a=1}", {"b": "2"}])
>>> m.get("b"), m.get("c"), bool(m)
('2', None, True)
>>> Maps("nosuch:/x").get("k")
Traceback (most recent call last):
...
mailflow.errors.TableError: nosuch:/x: unsupported dictionary type: nosuch
"""

from __future__ import annotations

from typing import Any, Iterable

from mailflow.tables.maps import open_maps, split_maps

__all__ = ["Maps", "split_maps"]


class Maps:
    """Tables asked in order; ``get`` returns the first answer or None."""

    def __init__(self, specs: Any, config: Any = None) -> None:
        if specs is None:
            specs = []
        elif isinstance(specs, str):
            specs = split_maps(specs)
        elif not isinstance(specs, Iterable) or hasattr(specs, "get"):
            specs = [specs]
        self.specs = list(specs)
        self.config = config
        self._maps = None

    def get(self, key: str) -> str | None:
        if self._maps is None:
            self._maps = open_maps(self.specs, self.config)
        return self._maps.get(key)

    def __bool__(self) -> bool:
        return bool(self.specs)

    def __repr__(self) -> str:
        return f"Maps({self.specs!r})"
