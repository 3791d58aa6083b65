"""Delivery parameters read from a Config; their defaults are Postfix's,
from the shared parameter table (:mod:`mailflow.config.params`).

This module owns only the reading and typing of the delivery agents'
parameters; it never opens tables or touches files.

>>> from mailflow.config import Config
>>> s = Settings(Config(mailbox_size_limit="1000"))
>>> s.int("mailbox_size_limit"), s.list("allow_mail_to_files")
(1000, ['alias', 'forward'])
"""

from __future__ import annotations

from typing import Any

from mailflow.address.rewrite import config_value
from mailflow.config import default_config, parse_time, split_list
from mailflow.errors import ConfigError

__all__ = ["Settings", "seconds"]


class Settings:
    """Typed, cached access to the parameters a delivery agent reads.

    ``cfg`` is a :class:`mailflow.config.Config` (or None: all defaults).
    """

    def __init__(self, cfg: Any = None) -> None:
        self.cfg = cfg
        self._cache: dict[tuple[str, str], Any] = {}

    def text(self, name: str) -> str:
        """The value with ``$name`` expanded ("" when unknown)."""
        key = ("text", name)
        if key not in self._cache:
            self._cache[key] = self._text(name)
        return self._cache[key]

    def _text(self, name: str) -> str:
        return config_value(self.cfg, name)

    def raw(self, name: str) -> str:
        """The unexpanded value (needed where ``$home``-style macros stay)."""
        cfg = self.cfg if self.cfg is not None else default_config()
        return cfg.raw(name) or ""

    def is_set(self, name: str) -> bool:
        return self.cfg is not None and self.cfg.is_set(name)

    def list(self, name: str) -> list[str]:
        return split_list(self.text(name))

    def int(self, name: str) -> int:
        return int(self.text(name) or 0)

    def bool(self, name: str) -> bool:
        return self.text(name).lower() in ("yes", "true", "1")

    def time(self, name: str) -> int:
        return seconds(self.text(name))

    def transport(self, transport: str, suffix: str, fallback: str) -> str:
        """``TRANSPORT_suffix`` when set, else the parameter ``fallback``
        (``pipe`` reads ``TRANSPORT_time_limit`` falling back to
        ``command_time_limit``, as Postfix does)."""
        if self.cfg is not None and hasattr(self.cfg, "transport_param"):
            try:
                return str(self.cfg.transport_param(transport, suffix))
            except (KeyError, AttributeError):
                pass  # a Config without this per-transport parameter
        name = f"{transport}_{suffix}"
        if self.is_set(name):
            return self.text(name)
        return self.text(fallback)


def seconds(text: str, unit: str = "s") -> int:
    """``"1000s"``, ``"2m"``, ``"30"`` -> seconds (0 when it does not parse).

    >>> seconds("2m"), seconds("30"), seconds("x")
    (120, 30, 0)
    """
    try:
        return parse_time(text, unit)
    except ConfigError:
        return 0
