"""Lookup tables by Postfix's ``type:name``, through one registry.

>>> t = open_table("inline:{ alice=a@example.com, { bob = b at example } }")
>>> t.get("bob"), t.get("carol")
('b at example', None)
>>> register_table_type("upper", lambda name, cfg: CallableTable(str.upper))
>>> open_table("upper:x").get("hi")
'HI'
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from mailflow.errors import TableError
from mailflow.interfaces import Table

__all__ = ["Table", "TableError", "open_table", "register_table_type",
           "MemoryTable", "CallableTable", "StaticTable"]

Opener = Callable[[str, Any], Table]
_REGISTRY: dict[str, Opener] = {}


def register_table_type(type_name: str, opener: Opener) -> None:
    """Make ``type_name:...`` open through ``opener(name, config)``."""
    _REGISTRY[type_name] = opener


def open_table(spec: "str | Table | Mapping[str, str] | Callable[[str], str | None]",
               config: Any = None) -> Table:
    """Open ``type:name`` (or wrap a mapping or callable) as a Table."""
    if isinstance(spec, str):
        type_name, sep, name = spec.partition(":")
        if not sep:
            raise TableError(f"{spec}: table name needs the form type:name")
        opener = _REGISTRY.get(type_name)
        if opener is None:
            raise TableError(f"{spec}: unsupported dictionary type: {type_name}")
        return opener(name, config)
    if isinstance(spec, Mapping):
        return MemoryTable(spec)
    if hasattr(spec, "get") and not isinstance(spec, type):
        return spec  # already a Table
    if callable(spec):
        return CallableTable(spec)
    raise TableError(f"cannot use {spec!r} as a lookup table")


class MemoryTable:
    """A Python mapping as a table (``memory:`` for embedding and tests)."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = mapping

    def get(self, key: str) -> str | None:
        return self.mapping.get(key)

    def __repr__(self) -> str:
        return f"MemoryTable({len(self.mapping)} keys)"


class CallableTable:
    """A function ``key -> value or None`` as a table."""

    def __init__(self, func: Callable[[str], str | None]) -> None:
        self.func = func

    def get(self, key: str) -> str | None:
        return self.func(key)


class StaticTable:
    """``static:value``: every key maps to the same value."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, key: str) -> str | None:
        return self.value


def _parse_inline(name: str) -> dict[str, str]:
    body = name.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise TableError(f"inline:{name}: expected inline:{{ key=value, ... }}")
    body = body[1:-1]
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and (ch == "," or ch.isspace()) and not cur.strip().startswith("{"):
            if cur.strip():
                items.append(cur.strip())
            cur = ""
            continue
        cur += ch
        if depth == 0 and cur.strip().startswith("{") and ch == "}":
            items.append(cur.strip())
            cur = ""
    if cur.strip():
        items.append(cur.strip())
    out = {}
    for item in items:
        if item.startswith("{"):
            item = item[1:-1]
        key, sep, value = item.partition("=")
        if not sep:
            raise TableError(f"inline:{name}: missing '=' in {item!r}")
        out[key.strip()] = value.strip()
    return out


register_table_type("static", lambda name, cfg: StaticTable(name.strip("{} ")))
register_table_type("inline", lambda name, cfg: MemoryTable(_parse_inline(name)))
