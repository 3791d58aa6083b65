"""Configuration: main.cf parameters with Postfix names, defaults and ``$name``
expansion, plus the master.cf service table.

>>> cfg = Config(myhostname="mx.example.com", mydomain="example.com")
>>> cfg.myorigin
'mx.example.com'
>>> cfg.maximal_queue_lifetime
432000
>>> cfg.mydestination
['mx.example.com', 'localhost.example.com', 'localhost']
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from mailflow.config.main_cf import Entry, parse_main_cf
from mailflow.config.params import PARAMS, TRANSPORT_DEFAULTS, TRANSPORT_SUFFIXES, Kind
from mailflow.errors import ConfigError, ExpansionLoopError

__all__ = ["Config", "ConfigError", "DEFAULT_CONFIG_DIR", "find_config_dir"]

DEFAULT_CONFIG_DIR = "/etc/mailflow"
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LIST_SPLIT = re.compile(r"[\s,]+")
_EXPAND = re.compile(r"\$(?:\{([A-Za-z0-9_]+)(?:([?:])(\{[^}]*\}|[^}]*))?\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))")


def find_config_dir(explicit: str | None = None) -> str:
    """``-c DIR``, else ``$MAILFLOW_CONFIG_DIR``, else /etc/mailflow."""
    return explicit or os.environ.get("MAILFLOW_CONFIG_DIR") or DEFAULT_CONFIG_DIR


class Config:
    """A read-only view of main.cf (and master.cf when loaded from a directory).

    Attribute and item access give typed values (lists as lists, times in
    seconds, sizes and numbers as int, booleans as bool); :meth:`raw` and
    :meth:`expand` give text.
    """

    def __init__(self, _entries: Mapping[str, Entry] | None = None, *,
                 _filename: str = "main.cf", _config_dir: str | None = None,
                 **params: Any) -> None:
        entries = dict(_entries or {})
        for name, value in params.items():
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, (list, tuple)):
                value = ", ".join(map(str, value))
            entries[name] = Entry(name, str(value), 0)
        self._entries = entries
        self.filename = _filename
        self.config_dir = _config_dir
        self._cache: dict[str, Any] = {}

    # --- construction -------------------------------------------------
    @classmethod
    def from_string(cls, text: str, filename: str = "main.cf", **overrides: Any) -> "Config":
        return cls(parse_main_cf(text, filename), _filename=filename, **overrides)

    @classmethod
    def from_directory(cls, path: str | os.PathLike, **overrides: Any) -> "Config":
        main = Path(path) / "main.cf"
        try:
            text = main.read_text()
        except FileNotFoundError:
            text = ""
        return cls(parse_main_cf(text, str(main)), _filename=str(main),
                   _config_dir=str(path), config_directory=os.path.abspath(path), **overrides)

    def with_overrides(self, **params: Any) -> "Config":
        """A copy with some parameters replaced (master.cf ``-o`` overrides)."""
        return Config(self._entries, _filename=self.filename, _config_dir=self.config_dir, **params)

    # --- text views ---------------------------------------------------
    def raw(self, name: str) -> str | None:
        """The unexpanded text: as set in main.cf, else the default, else None."""
        if name in self._entries:
            return self._entries[name].value
        param = PARAMS.get(name)
        if param is not None:
            return param.default
        for suffix, default in TRANSPORT_DEFAULTS.items():
            if name.endswith("_" + suffix) and default != "$" + name:
                return default
        return None

    def is_set(self, name: str) -> bool:
        return name in self._entries

    def expand(self, name: str, _seen: tuple[str, ...] = ()) -> str:
        """The value with ``$name`` references expanded."""
        if name in _seen:
            raise ExpansionLoopError("parameter expansion loop: " + " -> ".join(_seen + (name,)),
                                     filename=self.filename, name=_seen[0])
        return self.expand_text(self.raw(name) or "", _seen + (name,))

    def expand_text(self, text: str, _seen: tuple[str, ...] = ()) -> str:
        def sub(m: re.Match) -> str:
            ref = m.group(1) or m.group(4) or m.group(5)
            value = self.expand(ref, _seen) if self.raw(ref) is not None else ""
            if m.group(2):
                alt = m.group(3)
                if alt.startswith("{") and alt.endswith("}"):
                    alt = alt[1:-1]
                if m.group(2) == "?":
                    return self.expand_text(alt, _seen) if value else ""
                return value or self.expand_text(alt, _seen)
            return value
        return _EXPAND.sub(sub, text)

    # --- typed view ---------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self._typed(name)
        return self._cache[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"unknown parameter {name!r}") from None

    def _kind(self, name: str) -> tuple[Kind, str]:
        param = PARAMS.get(name)
        if param is not None:
            return param.kind, param.unit
        for suffix, kind in TRANSPORT_SUFFIXES.items():
            if name.endswith("_" + suffix):
                return kind, "s"
        return Kind.STR, "s"

    def _typed(self, name: str) -> Any:
        if self.raw(name) is None:
            raise KeyError(name)
        kind, unit = self._kind(name)
        text = self.expand(name).strip()
        entry = self._entries.get(name)
        where = dict(filename=self.filename if entry and entry.lineno else None,
                     lineno=entry.lineno if entry and entry.lineno else None,
                     name=name, value=text)
        if kind is Kind.LIST:
            return [item for item in _LIST_SPLIT.split(text) if item]
        if kind in (Kind.INT, Kind.SIZE):
            try:
                return int(text)
            except ValueError:
                raise ConfigError("not a number", **where) from None
        if kind is Kind.BOOL:
            lowered = text.lower()
            if lowered in ("yes", "true", "1"):
                return True
            if lowered in ("no", "false", "0", ""):
                return False
            raise ConfigError("expected yes or no", **where)
        if kind is Kind.TIME:
            return parse_time(text, unit, where)
        return text

    def transport_param(self, transport: str, suffix: str) -> Any:
        """``TRANSPORT_suffix`` if set, else ``default_suffix`` (qmgr's rule)."""
        name = f"{transport}_{suffix}"
        return self[name] if self.is_set(name) else self[f"default_{suffix}"]

    def names_set(self) -> list[str]:
        return list(self._entries)


def parse_time(text: str, unit: str = "s", where: dict | None = None) -> int:
    """``300s``, ``5d``, ``1h`` → seconds; a bare number uses ``unit``.

    >>> parse_time("5d"), parse_time("90"), parse_time("2", "h")
    (432000, 90, 7200)
    """
    m = re.fullmatch(r"(\d+)([smhdw]?)", text.strip())
    if not m:
        raise ConfigError("not a time value (expected a number with an optional unit s, m, h, d or w)",
                          **(where or {}))
    return int(m.group(1)) * _TIME_UNITS[m.group(2) or unit]
