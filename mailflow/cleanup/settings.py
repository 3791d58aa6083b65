"""The cleanup parameters, read once from a Config.

This module owns the list of main.cf parameters cleanup reads, their Postfix
3.7 defaults (``postconf -d``) for when the shared parameter table does not
define one, and their conversion to Python values. It never opens tables or
files (table specs stay text here; the pipeline opens them once).

>>> s = CleanupSettings.from_config(None)
>>> s.hopcount_limit, s.header_size_limit, sorted(s.masquerade_classes)
(50, 102400, ['envelope_sender', 'header_recipient', 'header_sender'])
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from mailflow.errors import ConfigError
from mailflow.tables.maps import split_maps

__all__ = ["CleanupSettings", "DEFAULTS"]

# Postfix 3.7 defaults (postconf -d, compatibility_level 3.6), except
# mail_name, where mailflow names itself in Received: headers.
DEFAULTS: dict[str, str] = {
    "myhostname": "localhost.localdomain",
    "mydomain": "localdomain",
    "myorigin": "$myhostname",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "mail_name": "mailflow",
    "always_add_missing_headers": "no",
    "undisclosed_recipients_header": "",
    "message_drop_headers": "bcc, content-length, resent-bcc, return-path",
    "header_size_limit": "102400",
    "header_address_token_limit": "10240",
    "body_checks_size_limit": "51200",
    "message_size_limit": "10240000",
    "hopcount_limit": "50",
    "duplicate_filter_limit": "1000",
    "enable_original_recipient": "yes",
    "virtual_alias_recursion_limit": "1000",
    "virtual_alias_expansion_limit": "1000",
    "virtual_alias_address_length_limit": "1000",
    "virtual_alias_maps": "$virtual_maps",
    "virtual_maps": "",
    "canonical_maps": "",
    "sender_canonical_maps": "",
    "recipient_canonical_maps": "",
    "canonical_classes": "envelope_sender, envelope_recipient, header_sender, header_recipient",
    "sender_canonical_classes": "envelope_sender, header_sender",
    "recipient_canonical_classes": "envelope_recipient, header_recipient",
    "masquerade_domains": "",
    "masquerade_exceptions": "",
    "masquerade_classes": "envelope_sender, header_sender, header_recipient",
    "propagate_unmatched_extensions": "canonical, virtual",
    "recipient_delimiter": "",
    "header_checks": "",
    "mime_header_checks": "$header_checks",
    "nested_header_checks": "$header_checks",
    "body_checks": "",
    "disable_mime_input_processing": "no",
    "mime_nesting_limit": "100",
    "local_header_rewrite_clients": "permit_inet_interfaces",
    "mynetworks": "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128",
    "inet_interfaces": "all",
    "proxy_interfaces": "",
}

_SPLIT = re.compile(r"[\s,]+")
# Table-list parameters: split keeping inline:{ ... } whole.
_MAPS = frozenset({"virtual_alias_maps", "canonical_maps", "sender_canonical_maps",
                   "recipient_canonical_maps", "header_checks", "mime_header_checks",
                   "nested_header_checks", "body_checks"})


def _value(cfg: Any, name: str) -> str:
    if cfg is None:
        return _expand_default(name)
    if cfg.raw(name) is not None:
        return cfg.expand(name).strip()
    return cfg.expand_text(DEFAULTS.get(name, "")).strip()


def _expand_default(name: str, seen: tuple = ()) -> str:
    # Without a Config, expand $name references among our own defaults.
    text = DEFAULTS.get(name, "")
    return re.sub(r"\$(\w+)", lambda m: "" if m.group(1) in seen
                  else _expand_default(m.group(1), seen + (name,)), text).strip()


def _list(text: str) -> tuple[str, ...]:
    return tuple(item for item in _SPLIT.split(text) if item)


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
            text = _value(cfg, field.name)
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
