"""``$name`` expansion of main.cf values, with Postfix's full syntax.

Owns the expression language of postconf(5) "DESCRIPTION": ``$name``,
``${name}``, ``$(name)``, ``${name?value}``, ``${name:value}``, the braced
forms ``${name?{value}}`` and ``${name?{value1}:{value2}}`` (Postfix 3.0),
relational expressions ``${{a} == {b} ? {yes} : {no}}`` including the
``<level`` family Postfix uses for ``compatibility_level``, and ``$$`` for a
literal ``$``. It never knows where values come from: the caller passes a
``lookup(name) -> str | None`` that returns an already expanded value (or
None when the name is undefined, which expands to empty, as in Postfix) and
that is also where loop detection lives.
"""

from __future__ import annotations

import re
from typing import Callable

from mailflow.errors import ConfigError

__all__ = ["expand_value", "compare_levels"]

Lookup = Callable[[str], "str | None"]

_NAME = re.compile(r"[A-Za-z0-9_]+")
_OPEN_CLOSE = {"{": "}", "(": ")"}
_RELATION = re.compile(r"\s*(==|!=|<=|>=|<|>)(level)?\s*")


def expand_value(text: str, lookup: Lookup) -> str:
    """Expand every ``$`` expression in ``text``.

    >>> env = {"a": "1", "b": "", "myhostname": "mx.example"}
    >>> expand_value("$myhostname ${a?set} ${b:unset} $$ ${b?{x}:{y}} $(a)", env.get)
    'mx.example set unset $ y 1'
    >>> expand_value("${{3.6} <level {2} ? {old} : {new}}", env.get)
    'new'
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        i = j + 1
        if i >= n:
            out.append("$")  # a trailing lone "$" is kept as text
            break
        c = text[i]
        if c == "$":
            out.append("$")
            i += 1
        elif c in _OPEN_CLOSE:
            end = _matching(text, i)
            out.append(_expand_braced(text[i + 1:end], lookup))
            i = end + 1
        else:
            m = _NAME.match(text, i)
            if m is None:
                out.append("$")  # "$" before a non-name character is literal
                continue
            out.append(lookup(m.group()) or "")
            i = m.end()
    return "".join(out)


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (nesting counted)."""
    open_, close = text[start], _OPEN_CLOSE[text[start]]
    depth = 0
    for k in range(start, len(text)):
        if text[k] == open_:
            depth += 1
        elif text[k] == close:
            depth -= 1
            if depth == 0:
                return k
    raise ConfigError(f"unbalanced '{open_}' in \"{text[start - 1:]}\"")


def _expand_braced(inner: str, lookup: Lookup) -> str:
    """The inside of ``${...}``: a name or relational test plus ``?``/``:``."""
    stripped = inner.lstrip()
    if stripped.startswith("{"):
        condition, rest = _relation(stripped, lookup)
        rest = rest.lstrip()
    else:
        m = _NAME.match(inner)
        if m is None:
            raise ConfigError(f"bad parameter name in \"${{{inner}}}\"")
        value = lookup(m.group()) or ""
        rest = inner[m.end():]
        if not rest:
            return value
        condition = bool(value)
    return _conditional(condition, rest, inner, lookup)


def _conditional(condition: bool, rest: str, inner: str, lookup: Lookup) -> str:
    """Apply ``?value``, ``:value`` or ``?{value1}:{value2}`` to ``condition``."""
    op, body = rest[:1], rest[1:]
    if op not in ("?", ":"):
        raise ConfigError(f"expected '?' or ':' in \"${{{inner}}}\"")
    if body.lstrip().startswith("{"):
        first, after = _braced(body, inner)
        after = after.strip()
        if op == "?" and after.startswith(":"):
            other = after[1:]
            if other.lstrip().startswith("{"):
                other, tail = _braced(other, inner)
                if tail.strip():
                    raise ConfigError(f"unexpected text after '}}' in \"${{{inner}}}\"")
            chosen = first if condition else other
            return expand_value(chosen, lookup)
        if after:
            raise ConfigError(f"unexpected text after '}}' in \"${{{inner}}}\"")
        body = first
    wanted = condition if op == "?" else not condition
    return expand_value(body, lookup) if wanted else ""


def _braced(text: str, inner: str) -> tuple[str, str]:
    """``  {value} rest`` → (``value``, ``rest``); whitespace around is ignored."""
    start = text.index("{")
    try:
        end = _matching(text, start)
    except ConfigError:
        raise ConfigError(f"unbalanced '{{' in \"${{{inner}}}\"") from None
    return text[start + 1:end].strip(), text[end + 1:]


def _relation(text: str, lookup: Lookup) -> tuple[bool, str]:
    """``{a} OP {b} rest`` → (truth, rest), per postconf(5) and Postfix 3.6 levels."""
    left, rest = _braced(text, text)
    m = _RELATION.match(rest)
    if m is None:
        raise ConfigError(f"expected a relational operator in \"${{{text}}}\"")
    right, rest = _braced(rest[m.end():], text)
    a, b = expand_value(left, lookup), expand_value(right, lookup)
    op = m.group(1)
    if m.group(2):
        cmp = compare_levels(a, b)
    elif a.isdigit() and b.isdigit():
        cmp = (int(a) > int(b)) - (int(a) < int(b))
    else:
        cmp = (a > b) - (a < b)
    truth = {"==": cmp == 0, "!=": cmp != 0, "<": cmp < 0, "<=": cmp <= 0,
             ">": cmp > 0, ">=": cmp >= 0}[op]
    return truth, rest


def compare_levels(a: str, b: str) -> int:
    """Compare two compatibility levels (``major[.minor[.patch]]``): -1, 0 or 1.

    >>> compare_levels("3.6", "2"), compare_levels("3.10", "3.9"), compare_levels("1", "1.0")
    (1, 1, 0)
    """
    def parts(level: str) -> tuple[int, ...]:
        if not re.fullmatch(r"\d+(\.\d+){0,2}", level.strip()):
            raise ConfigError(f"bad compatibility level \"{level}\"")
        numbers = [int(x) for x in level.strip().split(".")]
        return tuple(numbers + [0] * (3 - len(numbers)))
    pa, pb = parts(a), parts(b)
    return (pa > pb) - (pa < pb)
