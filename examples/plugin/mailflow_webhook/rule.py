"""The ``urgent_subject`` cleanup rule: mark mail whose Subject says urgent.

main.cf turns it on with ``cleanup_rules = urgent_subject``. A Subject that
contains ``[urgent]`` (any case) gets an ``X-Priority: 1`` header prepended;
subclass it and set ``marker`` to look for another word.
"""

from __future__ import annotations

from typing import Any

from mailflow.cleanup.rules import Verdict


class UrgentSubject:
    """A HeaderRule; mailflow builds it as ``UrgentSubject(cfg)``."""

    marker = "[urgent]"

    def __init__(self, cfg: Any = None) -> None:
        self.cfg = cfg

    def check_header(self, header: Any, kind: str) -> Verdict | None:
        if kind == "header" and header.name.lower() == "subject" \
                and self.marker in header.value.lower():
            return Verdict("PREPEND", "X-Priority: 1")
        return None
