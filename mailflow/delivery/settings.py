"""Delivery parameters read from a Config, with Postfix 3.7's defaults as a
fallback for names the shared parameter table does not list (yet).

This module owns only the reading and typing of the delivery agents'
parameters; it never opens tables or touches files.

>>> from mailflow.config import Config
>>> s = Settings(Config(mailbox_size_limit="1000"))
>>> s.int("mailbox_size_limit"), s.list("allow_mail_to_files")
(1000, ['alias', 'forward'])
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["Settings", "DELIVERY_DEFAULTS", "seconds"]

# Values from `postconf -d` of Postfix 3.7.11, except alias_maps: mailflow has
# no NIS, so "nis:mail.aliases" is left out.
DELIVERY_DEFAULTS: dict[str, str] = {
    "alias_maps": "hash:/etc/aliases",
    "forward_path": "$home/.forward${recipient_delimiter}${extension}, $home/.forward",
    "local_recipient_maps": "proxy:unix:passwd.byname $alias_maps",
    "mail_spool_directory": "/var/mail",
    "home_mailbox": "",
    "mailbox_command": "",
    "mailbox_size_limit": "51200000",
    "mailbox_delivery_lock": "fcntl, dotlock",
    "virtual_mailbox_lock": "fcntl, dotlock",
    "allow_mail_to_commands": "alias, forward",
    "allow_mail_to_files": "alias, forward",
    "prepend_delivered_header": "command, file, forward",
    "expand_owner_alias": "no",
    "owner_request_special": "yes",
    "luser_relay": "",
    "virtual_mailbox_base": "",
    "virtual_mailbox_maps": "",
    "virtual_uid_maps": "",
    "virtual_gid_maps": "",
    "virtual_mailbox_limit": "51200000",
    "virtual_minimum_uid": "100",
    "command_time_limit": "1000s",
    "default_privs": "nobody",
    "recipient_delimiter": "",
    "myhostname": "localhost.localdomain",
    "default_destination_recipient_limit": "50",
    "local_destination_recipient_limit": "1",
    "deliver_lock_attempts": "20",
    "deliver_lock_delay": "1s",
    "stale_lock_time": "500s",
    "mydomain": "localdomain",
    "myorigin": "$myhostname",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
}

_SPLIT = re.compile(r"[\s,]+")
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


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
        cfg = self.cfg
        if cfg is not None:
            raw = cfg.raw(name)
            if raw is not None:
                return cfg.expand(name).strip()
            default = DELIVERY_DEFAULTS.get(name)
            if default is not None:
                return cfg.expand_text(default).strip()
            return ""
        return _expand_defaults(DELIVERY_DEFAULTS.get(name, ""))

    def raw(self, name: str) -> str:
        """The unexpanded value (needed where ``$home``-style macros stay)."""
        if self.cfg is not None and self.cfg.raw(name) is not None:
            return self.cfg.raw(name)
        return DELIVERY_DEFAULTS.get(name, "")

    def is_set(self, name: str) -> bool:
        return self.cfg is not None and self.cfg.is_set(name)

    def list(self, name: str) -> list[str]:
        return [x for x in _SPLIT.split(self.text(name)) if x]

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
    m = re.fullmatch(r"(\d+)([smhdw]?)", text.strip())
    if not m:
        return 0
    return int(m.group(1)) * _TIME_UNITS[m.group(2) or unit]


def _expand_defaults(text: str, depth: int = 0) -> str:
    if depth > 10:
        return text

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return _expand_defaults(DELIVERY_DEFAULTS.get(name, ""), depth + 1)
    return re.sub(r"\$\{?([A-Za-z0-9_]+)\}?|\$\(([A-Za-z0-9_]+)\)", sub, text)
