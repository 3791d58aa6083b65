"""``if``/``endif`` blocks of the pattern tables (regexp_table(5),
pcre_table(5), cidr_table(5)).

Owns how rules nest while a table is parsed (an ``if`` rule holds the rules
up to its ``endif``), Postfix's warnings for unbalanced blocks, and the
first-match search through nested rules. The syntax of a rule line and what
"matches" means stay with each table type. No I/O.

A rule is any attrs class with ``result`` (None for an ``if`` rule),
``body`` (the rules inside an ``if``) and ``lineno``.

>>> import attrs
>>> @attrs.frozen
... class R:
...     word: str
...     result: str | None
...     body: tuple = ()
...     lineno: int = 0
>>> nest = RuleNesting(print)
>>> nest.open(R("a", None, lineno=1)); nest.add(R("ab", "inner")); nest.endif(3)
>>> nest.add(R("", "outer")); nest.endif(5)
5 ignoring ENDIF without matching IF
>>> rules = nest.rules()
>>> first_match(rules, lambda r: ("abc".startswith(r.word), None))[0].result
'inner'
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

import attrs

__all__ = ["RuleNesting", "first_match"]

Rule = TypeVar("Rule")


class RuleNesting:
    """Collects a table's rules, nesting them into ``if`` blocks.

    ``say(lineno, text)`` reports a problem with Postfix's wording; the
    table type adds its ``TYPE map NAME, line N:`` prefix.
    """

    def __init__(self, say: Callable[[int, str], None]) -> None:
        self._say = say
        self._stack: list[tuple[Any, list[Any]]] = [(None, [])]

    def add(self, rule: Any) -> None:
        """A rule of the innermost open block (or of the table)."""
        self._stack[-1][1].append(rule)

    def open(self, rule: Any) -> None:
        """An ``if`` rule: the rules up to its ``endif`` become its body."""
        self._stack.append((rule, []))

    def endif(self, lineno: int) -> None:
        """Close the innermost ``if``; Postfix ignores an ``endif`` with none open."""
        if len(self._stack) == 1:
            self._say(lineno, "ignoring ENDIF without matching IF")
        else:
            self._close()

    def rules(self) -> tuple[Any, ...]:
        """The table's rules; an ``if`` still open at the end is closed with a warning."""
        while len(self._stack) > 1:
            opener = self._stack[-1][0]
            self._say(opener.lineno, "IF has no matching ENDIF")
            self._close()
        return tuple(self._stack[0][1])

    def _close(self) -> None:
        opener, body = self._stack.pop()
        self._stack[-1][1].append(attrs.evolve(opener, body=tuple(body)))


def first_match(rules: Sequence[Rule], match: Callable[[Rule], tuple[bool, Any]]
                ) -> tuple[Rule, Any] | None:
    """The first rule that matches, searching inside each matching ``if``.

    ``match(rule)`` says whether the rule matches and what to keep from the
    match (a regexp's groups); the answer is ``(rule, kept)``, or None.
    An ``if`` whose body has no match is passed over, as in Postfix.
    """
    for rule in rules:
        matched, kept = match(rule)
        if not matched:
            continue
        if rule.result is None:  # type: ignore[attr-defined]
            found = first_match(rule.body, match)  # type: ignore[attr-defined]
            if found is not None:
                return found
            continue
        return rule, kept
    return None
