"""Tables made of tables: ``unionmap:{...}``, ``pipemap:{...}``, ``proxy:``.

Owns how a composite spec is split into its member specs and how their
answers combine. It never opens a file itself; members open through the
registry.

>>> from mailflow.tables.memory import MemoryTable
>>> UnionTable([MemoryTable({"k": "1"}), MemoryTable({"k": "2"})]).get("k")
'1,2'
>>> PipeTable([MemoryTable({"k": "x"}), MemoryTable({"x": "final"})]).get("k")
'final'
"""

from __future__ import annotations

from typing import Sequence

from mailflow.errors import TableError
from mailflow.interfaces import Table
from mailflow.tables.memory import split_braced

__all__ = ["UnionTable", "PipeTable", "member_specs"]


def member_specs(name: str, type_name: str) -> list[str]:
    """The member specs of ``{type:name, type:name}``.

    >>> member_specs("{inline:{a=1, b=2}, hash:/x}", "unionmap")
    ['inline:{a=1, b=2}', 'hash:/x']
    """
    body = name.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise TableError(f"{type_name}:{name}: expected {type_name}:{{type:name, ...}}")
    specs = split_braced(body[1:-1])
    if not specs:
        raise TableError(f"{type_name}:{name}: empty table list")
    return specs


class UnionTable:
    """Every member's answer, joined with commas; None when none answers.

    A member that cannot answer makes the whole lookup fail (TableError).
    """

    def __init__(self, tables: Sequence[Table]) -> None:
        self.tables = list(tables)

    def get(self, key: str) -> str | None:
        hits = [v for v in (t.get(key) for t in self.tables) if v is not None]
        return ",".join(hits) if hits else None

    def __repr__(self) -> str:
        return f"UnionTable({self.tables!r})"


class PipeTable:
    """Each member's answer is the next member's key; a miss anywhere is a miss."""

    def __init__(self, tables: Sequence[Table]) -> None:
        self.tables = list(tables)

    def get(self, key: str) -> str | None:
        value: str | None = key
        for table in self.tables:
            value = table.get(value)
            if value is None:
                return None
        return value

    def __repr__(self) -> str:
        return f"PipeTable({self.tables!r})"
