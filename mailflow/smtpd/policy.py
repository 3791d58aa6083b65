"""Postfix's SMTPD policy delegation protocol, as bytes in and out (no I/O).

This module owns the request a ``check_policy_service`` restriction sends
(SMTPD_POLICY_README: one ``name=value`` line per attribute, an empty line
at the end) and the parsing of the answer (``action=...`` then an empty
line), plus the per-service options of ``check_policy_service { endpoint,
timeout=10s, default_action=DUNNO, ... }``. The socket client is
:mod:`mailflow.adapters.policy_client`.

>>> from mailflow.smtpd.facts import SessionFacts
>>> req = encode_request(policy_attributes(SessionFacts("192.0.2.1", stage="RCPT",
...     sender="a@example.com", recipient="b@example.net")))
>>> req.splitlines()[:3]
[b'request=smtpd_access_policy', b'protocol_state=RCPT', b'protocol_name=SMTP']
>>> parse_response(b"action=DEFER_IF_PERMIT try later\\n\\n")
'DEFER_IF_PERMIT try later'
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from mailflow.smtpd.facts import SessionFacts

__all__ = ["PolicyError", "PolicyOptions", "encode_request", "parse_response",
           "policy_attributes", "parse_policy_spec"]

#: What Postfix sends as mail_version and compatibility_level.
MAIL_VERSION = "3.7.11"
COMPATIBILITY_LEVEL = "3.6"


class PolicyError(Exception):
    """A policy request that got no usable answer (connection, timeout, or a
    reply without ``action=``); the restriction then uses the default action."""


@attrs.frozen
class PolicyOptions:
    """One policy endpoint and its client settings (main.cf values, or the
    per-service overrides given in braces).

    >>> PolicyOptions("inet:127.0.0.1:9998").timeout
    100.0
    """

    endpoint: str
    timeout: float = 100.0
    max_idle: float = 300.0
    max_ttl: float = 1000.0
    request_limit: int = 0
    try_limit: int = 2
    retry_delay: float = 1.0
    default_action: str = "451 4.3.5 Server configuration problem"
    policy_context: str = ""


def _seconds(value: str) -> float:
    from mailflow.config.values import parse_time
    return float(parse_time(value, "s"))


_OPTION_NAMES = {"timeout": "timeout", "max_idle": "max_idle", "max_ttl": "max_ttl",
                 "request_limit": "request_limit", "try_limit": "try_limit",
                 "retry_delay": "retry_delay", "default_action": "default_action",
                 "policy_context": "policy_context"}


def parse_policy_spec(spec: str, defaults: PolicyOptions) -> PolicyOptions:
    """Parse ``inet:host:port`` or ``{ inet:host:port, timeout=10s, ... }``
    (Postfix 3.0 per-service settings) over the main.cf ``defaults``.

    >>> o = parse_policy_spec("{ unix:private/policy, timeout=5s, default_action=DUNNO }",
    ...                       PolicyOptions(""))
    >>> o.endpoint, o.timeout, o.default_action
    ('unix:private/policy', 5.0, 'DUNNO')
    """
    text = spec.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return attrs.evolve(defaults, endpoint=text)
    from mailflow.tables.memory import split_braced
    parts = [p.strip() for p in text[1:-1].split(",") if p.strip()]
    if not parts:
        raise ValueError(f"check_policy_service: empty settings: {spec}")
    words = split_braced(parts[0])
    endpoint = words[0]
    changes: dict[str, Any] = {"endpoint": endpoint}
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or name not in _OPTION_NAMES:
            raise ValueError(f"check_policy_service {endpoint}: unknown setting {part!r}")
        if name in ("timeout", "max_idle", "max_ttl", "retry_delay"):
            changes[name] = _seconds(value)
        elif name in ("request_limit", "try_limit"):
            changes[name] = int(value)
        else:
            changes[name] = value
    return attrs.evolve(defaults, **changes)


def policy_attributes(facts: SessionFacts, *, policy_context: str = "",
                      stress: str = "") -> dict[str, str]:
    """The request attributes for ``facts``, in Postfix's order and names.

    ``recipient_count`` is sent only at DATA and END-OF-MESSAGE (0 before),
    as Postfix does.

    >>> a = policy_attributes(SessionFacts("192.0.2.1", sender="", stage="MAIL"))
    >>> a["sender"], a["recipient_count"], a["client_name"]
    ('', '0', 'unknown')
    """
    count = facts.recipient_count if facts.stage in ("DATA", "END-OF-MESSAGE") else 0
    return {
        "request": "smtpd_access_policy",
        "protocol_state": facts.stage,
        "protocol_name": facts.protocol,
        "client_address": facts.client_address,
        "client_name": facts.client_name,
        "client_port": str(facts.client_port),
        "reverse_client_name": facts.reverse_client_name,
        "server_address": facts.server_address,
        "server_port": str(facts.server_port),
        "helo_name": facts.helo or "",
        "sender": facts.sender or "",
        "recipient": facts.recipient or "",
        "recipient_count": str(count),
        "queue_id": facts.queue_id or "",
        "instance": facts.instance,
        "size": str(facts.size),
        "etrn_domain": facts.etrn_domain or "",
        "stress": stress,
        "sasl_method": facts.sasl_method or "",
        "sasl_username": facts.sasl_username or "",
        "sasl_sender": "",
        "ccert_subject": "",
        "ccert_issuer": "",
        "ccert_fingerprint": facts.ccert_fingerprint or "",
        "ccert_pubkey_fingerprint": "",
        "encryption_protocol": "",
        "encryption_cipher": "",
        "encryption_keysize": "0",
        "policy_context": policy_context,
        "compatibility_level": COMPATIBILITY_LEVEL,
        "mail_version": MAIL_VERSION,
    }


def encode_request(attributes: Mapping[str, str]) -> bytes:
    """``name=value`` lines and the empty line that ends a request. A newline
    inside a value would end the request early, so it becomes a space.

    >>> encode_request({"request": "smtpd_access_policy", "helo_name": "a\\nb"})
    b'request=smtpd_access_policy\\nhelo_name=a b\\n\\n'
    """
    lines = [f"{name}={str(value).replace(chr(10), ' ').replace(chr(13), ' ')}"
             for name, value in attributes.items()]
    return ("\n".join(lines) + "\n\n").encode("utf-8", "surrogateescape")


def parse_response(data: bytes) -> str:
    """The ``action`` of a complete response (ending in an empty line).

    Other attributes are ignored, as Postfix does; a response without
    ``action=`` raises :class:`PolicyError`.

    >>> parse_response(b"action=OK\\nfoo=bar\\n\\n")
    'OK'
    >>> parse_response(b"foo=bar\\n\\n")
    Traceback (most recent call last):
    ...
    mailflow.smtpd.policy.PolicyError: policy response without action attribute
    """
    action = None
    for raw in data.decode("utf-8", "replace").split("\n"):
        line = raw.rstrip("\r")
        if not line:
            break
        name, eq, value = line.partition("=")
        if eq and name == "action" and action is None:
            action = value
    if action is None:
        raise PolicyError("policy response without action attribute")
    return action
