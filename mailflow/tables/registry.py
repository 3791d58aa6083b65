"""The ``type:name`` registry: one place that maps a table type to its opener.

Owns :func:`open_table` and :func:`register_table_type`. It never opens a
file itself; openers registered by the type modules do that.

>>> register_table_type("shout", lambda name, cfg: CallableTable(str.upper))
>>> open_table("shout:x").get("hi")
'HI'
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

from mailflow.errors import TableError
from mailflow.interfaces import Table
from mailflow.tables.memory import CallableTable, MemoryTable

__all__ = ["Opener", "register_table_type", "open_table", "table_types", "split_spec"]

Opener = Callable[..., Table]
_REGISTRY: dict[str, Opener] = {}


def register_table_type(type_name: str, opener: Opener) -> None:
    """Make ``type_name:...`` open through ``opener(name, config)``.

    An opener may also accept keyword options (``fold=False`` is passed by
    ``postmap -f``); openers that do not accept them still work.

    >>> register_table_type("echo", lambda name, cfg: CallableTable(lambda k: k))
    >>> open_table("echo:").get("same")
    'same'
    """
    _REGISTRY[type_name] = opener


def table_types() -> list[str]:
    """The registered type names, sorted (what ``postconf -m`` would list).

    >>> import mailflow.tables  # registers the built-in types
    >>> "hash" in table_types() and "regexp" in table_types()
    True
    """
    return sorted(_REGISTRY)


def split_spec(spec: str) -> tuple[str, str]:
    """Split ``type:name`` into its two parts; TableError without a colon.

    >>> split_spec("proxy:hash:/etc/aliases")
    ('proxy', 'hash:/etc/aliases')
    """
    type_name, sep, name = spec.strip().partition(":")
    if not sep:
        raise TableError(f"{spec}: table name needs the form type:name")
    return type_name, name


def open_table(spec: "str | Table | Mapping[str, str] | Callable[[str], str | None]",
               config: Any = None, **options: Any) -> Table:
    """Open ``type:name`` (or wrap a mapping or callable) as a Table.

    >>> open_table({"a": "1"}).get("a")
    '1'
    >>> open_table(lambda k: k * 2).get("ab")
    'abab'
    """
    if isinstance(spec, str):
        type_name, name = split_spec(spec)
        opener = _REGISTRY.get(type_name)
        if opener is None:
            raise TableError(f"{spec}: unsupported dictionary type: {type_name}")
        if options and _accepts_options(opener):
            return opener(name, config, **options)
        return opener(name, config)
    if isinstance(spec, Mapping):
        return MemoryTable(spec)
    if hasattr(spec, "get") and not isinstance(spec, type):
        return spec  # already a Table
    if callable(spec):
        return CallableTable(spec)
    raise TableError(f"cannot use {spec!r} as a lookup table")


def _accepts_options(opener: Opener) -> bool:
    try:
        params = inspect.signature(opener).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params)
