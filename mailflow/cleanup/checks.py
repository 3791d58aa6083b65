"""header_checks, mime_header_checks, nested_header_checks and body_checks
as rules: Postfix lookup tables whose answer is an action.

This module owns turning a list of ``type:name`` tables into a
:class:`~mailflow.cleanup.rules.HeaderRule` or
:class:`~mailflow.cleanup.rules.BodyRule`. A table is asked with the whole
logical header (``Subject: hello``, folded lines included) or the body line;
its value is the action text (header_checks(5)). The tables are searched in
the order given and the first one that answers decides. Tables are opened
once, when the rule is made (through the shared table cache); a table that cannot answer raises
:class:`~mailflow.errors.TableError` (the pipeline then defers the message).

>>> rule = TableHeaderRule.open(["inline:{ {Subject: spam = REJECT go away} }"], kinds=("header",))
>>> from mailflow.cleanup.headers import Header
>>> rule.check_header(Header.make("Subject", "spam"), "header")
Verdict(action='REJECT', text='go away')
>>> rule.check_header(Header.make("Subject", "spam"), "nested") is None
True
"""

from __future__ import annotations

from typing import Any, Sequence

import attrs

from mailflow.cleanup.headers import Header
from mailflow.cleanup.rules import Verdict
from mailflow.interfaces import Table
from mailflow.tables.maps import open_maps

__all__ = ["TableHeaderRule", "TableBodyRule", "UnknownAction"]


class UnknownAction(ValueError):
    """A table answered with text that is no header_checks(5) action."""


def _lookup(table: Table, key: str) -> Verdict | None:
    value = table.get(key)
    if value is None:
        return None
    try:
        return Verdict.parse(value)
    except ValueError:
        raise UnknownAction(value) from None


@attrs.frozen
class TableHeaderRule:
    """Header checks from lookup tables, for the header kinds in ``kinds``.

    >>> r = TableHeaderRule.open([{"X-Hold: yes": "HOLD"}])
    >>> r.check_header(Header.make("X-Hold", "yes"), "mime")
    Verdict(action='HOLD', text='')
    """

    table: Table
    kinds: frozenset = frozenset({"header", "mime", "nested"})
    name: str = "header_checks"

    @classmethod
    def open(cls, specs: Sequence[Any], config: Any = None, *,
             kinds: Sequence[str] = ("header", "mime", "nested"),
             name: str = "header_checks") -> "TableHeaderRule":
        """Open the tables in ``specs`` and make the rule."""
        return cls(open_maps(list(specs), config), frozenset(kinds), name)

    def check_header(self, header: Header, kind: str) -> Verdict | None:
        if kind not in self.kinds:
            return None
        return _lookup(self.table, header.text)


@attrs.frozen
class TableBodyRule:
    """body_checks from lookup tables.

    >>> r = TableBodyRule.open([lambda line: "WARN" if "lottery" in line else None])
    >>> r.check_body("you won the lottery")
    Verdict(action='WARN', text='')
    """

    table: Table
    name: str = "body_checks"

    @classmethod
    def open(cls, specs: Sequence[Any], config: Any = None,
             name: str = "body_checks") -> "TableBodyRule":
        """Open the tables in ``specs`` and make the rule."""
        return cls(open_maps(list(specs), config), name)

    def check_body(self, line: str) -> Verdict | None:
        return _lookup(self.table, line)
