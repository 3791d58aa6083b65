"""In-memory tables: Python mappings, callables, ``static:``, ``inline:``,
``fail:`` and ``environ:``.

Owns the tables that need no file. It never reads a file or the network.

>>> InlineTable.parse("{ Alice=a@example.com, { bob = b at example } }").get("ALICE")
'a@example.com'
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

from mailflow.config.values import split_outside_braces, strip_braces
from mailflow.errors import TableError, TableSyntaxError

__all__ = ["MemoryTable", "CallableTable", "StaticTable", "InlineTable", "FailTable",
           "EnvironTable", "split_braced", "strip_braces"]


class MemoryTable:
    """A Python mapping as a table (``memory:`` for embedding and tests).

    Keys are looked up as given (a mapping is the caller's to fold).

    >>> MemoryTable({"a": "1"}).get("a"), MemoryTable({"a": "1"}).get("b")
    ('1', None)
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = mapping

    def get(self, key: str) -> str | None:
        return self.mapping.get(key)

    def __repr__(self) -> str:
        return f"MemoryTable({len(self.mapping)} keys)"


class CallableTable:
    """A function ``key -> value or None`` as a table.

    >>> CallableTable(str.upper).get("x")
    'X'
    """

    def __init__(self, func: Callable[[str], str | None]) -> None:
        self.func = func

    def get(self, key: str) -> str | None:
        return self.func(key)

    def __repr__(self) -> str:
        return f"CallableTable({self.func!r})"


class StaticTable:
    """``static:value``: every key maps to the same value.

    >>> StaticTable("OK").get("anything")
    'OK'
    """

    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, key: str) -> str | None:
        return self.value

    def __repr__(self) -> str:
        return f"StaticTable({self.value!r})"


class FailTable:
    """``fail:name``: every lookup raises TableError (Postfix 3.0 dict_fail).

    >>> FailTable("x").get("k")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: table fail:x: query error
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self, key: str) -> str | None:
        raise TableError(f"table fail:{self.name}: query error")


class EnvironTable:
    """``environ:``: the process environment (Postfix dict_environ).

    >>> EnvironTable().get("MAILFLOW_SURELY_UNSET_VARIABLE") is None
    True
    """

    def get(self, key: str) -> str | None:
        return os.environ.get(key)


def split_braced(text: str) -> list[str]:
    """Split on commas and whitespace outside ``{...}`` (Postfix's mystrtokq with braces).

    main.cf's list splitter, strict: an unbalanced brace makes the whole
    list a TableError instead of a warning.

    >>> split_braced("a=1, {b = two words} c=3")
    ['a=1', '{b = two words}', 'c=3']
    >>> split_braced("inline:{a=1, b=2}, hash:/x")
    ['inline:{a=1, b=2}', 'hash:/x']
    >>> split_braced("inline:{a=1")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: missing '}' in 'inline:{a=1'
    """
    try:
        items, unclosed = split_outside_braces(text, commas=True, strict=True)
    except ValueError as exc:
        raise TableError(str(exc)) from None
    if unclosed:
        raise TableError(f"missing '}}' in {text!r}")
    return items


class InlineTable:
    """``inline:{ key=value, { key = text with spaces } }`` (Postfix 3.0).

    Keys are folded to lowercase unless ``fold=False`` (``postmap -f``).

    >>> t = InlineTable.parse("{ A=1, { b = two words } }")
    >>> t.get("a"), t.get("B"), t.get("c")
    ('1', 'two words', None)
    """

    def __init__(self, mapping: Mapping[str, str], *, fold: bool = True) -> None:
        self.fold = fold
        self.mapping = {(k.lower() if fold else k): v for k, v in mapping.items()}

    @classmethod
    def parse(cls, name: str, *, fold: bool = True) -> "InlineTable":
        body = name.strip()
        if not (body.startswith("{") and body.endswith("}")):
            raise TableSyntaxError(f"inline:{name}: expected inline:{{ key=value, ... }}")
        out: dict[str, str] = {}
        for item in split_braced(body[1:-1]):
            key, sep, value = strip_braces(item).partition("=")
            if not sep:
                raise TableSyntaxError(f"inline:{name}: missing '=' after attribute name: "
                                       f"{item!r}")
            out.setdefault(key.strip(), value.strip())
        return cls(out, fold=fold)

    def get(self, key: str) -> str | None:
        return self.mapping.get(key.lower() if self.fold else key)

    def items(self):
        return self.mapping.items()

    def __repr__(self) -> str:
        return f"InlineTable({len(self.mapping)} keys)"
