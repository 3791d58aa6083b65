"""Defaults that Postfix computes from the host: ``myhostname`` and ``mydomain``.

The only module of :mod:`mailflow.config` that asks the operating system
anything (``socket.gethostname()``, once, cached); it never does DNS. The
rules are Postfix's mail_params.c: ``myhostname`` is the host name, plus
``.$mydomain`` (or ``.localdomain``) when it has no dot; ``mydomain`` is
``$myhostname`` minus its first label, or ``localdomain``.
"""

from __future__ import annotations

import functools
import socket

__all__ = ["default_myhostname", "default_mydomain"]

_FALLBACK_DOMAIN = "localdomain"


@functools.lru_cache(maxsize=1)
def _gethostname() -> str:
    return socket.gethostname().strip().rstrip(".").lower() or "localhost"


def default_myhostname(mydomain: str | None, hostname: str | None = None) -> str:
    """The default ``myhostname`` given the configured ``mydomain`` (None: unset).

    >>> default_myhostname(None, "vm"), default_myhostname("example.com", "vm")
    ('vm.localdomain', 'vm.example.com')
    >>> default_myhostname("example.com", "mx.example.org")
    'mx.example.org'
    """
    name = hostname if hostname is not None else _gethostname()
    if "." in name:
        return name
    return f"{name}.{mydomain or _FALLBACK_DOMAIN}"


def default_mydomain(myhostname: str) -> str:
    """The default ``mydomain`` given ``myhostname``.

    >>> default_mydomain("mx.example.com"), default_mydomain("localhost")
    ('example.com', 'localdomain')
    """
    _, dot, rest = myhostname.partition(".")
    return rest if dot and rest else _FALLBACK_DOMAIN
