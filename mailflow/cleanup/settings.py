"""The cleanup parameters, read once from a Config.

This module owns the list of main.cf parameters cleanup reads and their
conversion to Python values; their defaults are Postfix's, from the shared
parameter table (:mod:`mailflow.config.params`). It never opens tables or
files (table specs stay text here; the pipeline opens them once).

>>> s = CleanupSettings.from_config(None)
>>> s.hopcount_limit, s.header_size_limit, sorted(s.masquerade_classes)
(50, 102400, ['envelope_sender', 'header_recipient', 'header_sender'])
"""

from __future__ import annotations

from typing import Any

import attrs

from mailflow.address.rewrite import config_value
from mailflow.config import split_list
from mailflow.errors import ConfigError
from mailflow.tables.maps import split_maps

__all__ = ["CleanupSettings"]

# Table-list parameters: split keeping inline:{ ... } whole.
_MAPS = frozenset({"virtual_alias_maps", "canonical_maps", "sender_canonical_maps",
                   "recipient_canonical_maps", "header_checks", "mime_header_checks",
                   "nested_header_checks", "body_checks"})


def _list(text: str) -> tuple[str, ...]:
    return tuple(split_list(text))


def _bool(text: str) -> bool:
    return text.lower() in ("yes", "true", "1")


@attrs.frozen
class CleanupSettings:
    """Every parameter cleanup reads, as Python values.

    Table parameters (``header_checks``, ``canonical_maps``, ...) are
    tuples of ``type:name`` specs; class parameters are frozensets.

    >>> CleanupSettings.from_config(None).mime_header_checks
    ()
    """

    myhostname: str
    myorigin: str
    mydomain: str
    mydestination: tuple
    mail_name: str
    always_add_missing_headers: bool
    undisclosed_recipients_header: str
    message_drop_headers: frozenset
    header_size_limit: int
    header_address_token_limit: int
    body_checks_size_limit: int
    message_size_limit: int
    hopcount_limit: int
    duplicate_filter_limit: int
    enable_original_recipient: bool
    virtual_alias_recursion_limit: int
    virtual_alias_expansion_limit: int
    virtual_alias_address_length_limit: int
    virtual_alias_maps: tuple
    canonical_maps: tuple
    sender_canonical_maps: tuple
    recipient_canonical_maps: tuple
    canonical_classes: frozenset
    sender_canonical_classes: frozenset
    recipient_canonical_classes: frozenset
    masquerade_domains: tuple
    masquerade_exceptions: frozenset
    masquerade_classes: frozenset
    propagate_unmatched_extensions: frozenset
    recipient_delimiter: str
    header_checks: tuple
    mime_header_checks: tuple
    nested_header_checks: tuple
    body_checks: tuple
    disable_mime_input_processing: bool
    internal_mail_filter_classes: frozenset
    mime_nesting_limit: int
    local_header_rewrite_clients: tuple
    mynetworks: tuple
    inet_interfaces: tuple
    proxy_interfaces: tuple

    @classmethod
    def from_config(cls, cfg: Any) -> "CleanupSettings":
        """Read and convert every cleanup parameter from ``cfg`` (None: defaults)."""
        kw: dict[str, Any] = {}
        for field in attrs.fields(cls):
            text = config_value(cfg, field.name)
            if field.type == "int":
                try:
                    kw[field.name] = int(text or 0)
                except ValueError:
                    raise ConfigError("not a number", filename=getattr(cfg, "filename", None),
                                      name=field.name, value=text) from None
            elif field.type == "bool":
                kw[field.name] = _bool(text)
            elif field.type == "tuple":
                kw[field.name] = tuple(split_maps(text)) if field.name in _MAPS else _list(text)
            elif field.type == "frozenset":
                kw[field.name] = frozenset(x.lower() for x in _list(text))
            else:
                kw[field.name] = text
        return cls(**kw)
