"""Typed conversion of expanded parameter text: lists, numbers, booleans, times.

Pure functions; they never look parameters up. Each raises
:class:`~mailflow.errors.ConfigError` saying what was expected, and the caller
adds file, line, name and value (see :meth:`mailflow.config.Config.validate`).
Rules follow Postfix's mail_conf_*(3): booleans are ``yes``/``no`` in any
case, numbers are decimal, a time is a number with an optional one-letter
unit (postconf(5): s, m, h, d, w) whose absence means the parameter's own
default unit.
"""

from __future__ import annotations

import re
from typing import Any

from mailflow.config.params import Kind
from mailflow.errors import ConfigError

__all__ = ["TIME_UNITS", "convert", "parse_time", "split_list", "split_outside_braces",
           "strip_braces"]

TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME = re.compile(r"(\d+)([smhdw]?)")
_NUMBER = re.compile(r"-?\d+")

EXPECTED = {
    Kind.INT: "not a number",
    Kind.SIZE: "not a number (expected a size in bytes)",
    Kind.BOOL: "expected yes or no",
    Kind.TIME: "not a time value (expected a number with an optional unit s, m, h, d or w)",
}


def split_list(text: str) -> list[str]:
    """Split on commas and/or whitespace, keeping ``{...}`` groups whole.

    Postfix 3.0 lets a list element contain separators inside braces
    (``inline:{ a=b, c=d }``, ``check_policy_service { inet:h:p, timeout=10s }``).

    >>> split_list("a, b  c,,d")
    ['a', 'b', 'c', 'd']
    >>> split_list("hash:/etc/x, inline:{ a=1, b=2 } static:y")
    ['hash:/etc/x', 'inline:{ a=1, b=2 }', 'static:y']
    """
    return split_outside_braces(text, commas=True)[0]


def split_outside_braces(text: str, commas: bool, *, strict: bool = False
                         ) -> tuple[list[str], bool]:
    """Split on whitespace (and commas) not inside ``{...}``; also say if a brace is left open.

    A ``}`` that closes nothing is kept as text, unless ``strict``: then it
    raises ValueError (a table list is refused whole, where main.cf and
    master.cf only warn about an open brace).

    >>> split_outside_braces("pipe argv=x { a b } {c", commas=False)
    (['pipe', 'argv=x', '{ a b }', '{c'], True)
    >>> split_outside_braces("a} b", commas=True)
    (['a}', 'b'], False)
    >>> split_outside_braces("a} b", commas=True, strict=True)
    Traceback (most recent call last):
    ...
    ValueError: unbalanced '}' in 'a} b'
    """
    # Postfix's separators: CHARS_COMMA_SP for lists, CHARS_SPACE for fields.
    seps = ", \t\r\n" if commas else " \t\r\n"
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch == "}" and strict:
            raise ValueError(f"unbalanced '}}' in {text!r}")
        elif depth == 0 and ch in seps:
            if current:
                items.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        items.append("".join(current))
    return items, depth > 0


def strip_braces(text: str, *, unclosed: bool = False) -> str:
    """``{ text }`` → ``text`` (Postfix 3.0's extpar with blanks stripped); other text unchanged.

    ``unclosed`` also strips a ``{`` whose ``}`` is missing, as extpar
    returns the text after the ``{`` along with its "missing '}'" error
    (master.cf warns about the brace when it splits the line).

    >>> strip_braces(" { two words } "), strip_braces("plain")
    ('two words', 'plain')
    >>> strip_braces("{ open"), strip_braces("{ open", unclosed=True)
    ('{ open', 'open')
    """
    text = text.strip()
    if text.startswith("{"):
        if text.endswith("}"):
            return text[1:-1].strip()
        if unclosed:
            return text[1:].strip()
    return text


def parse_time(text: str, unit: str = "s", where: dict | None = None) -> int:
    """``300s``, ``5d``, ``1h`` → seconds; a bare number uses ``unit``.

    >>> parse_time("5d"), parse_time("90"), parse_time("2", "h")
    (432000, 90, 7200)
    """
    m = _TIME.fullmatch(text.strip())
    if not m:
        raise ConfigError(EXPECTED[Kind.TIME], **(where or {}))
    return int(m.group(1)) * TIME_UNITS[m.group(2) or unit]


def convert(text: str, kind: Kind, unit: str = "s") -> Any:
    """Expanded text → the typed value for ``kind`` (ConfigError when it is not one).

    >>> convert("YES", Kind.BOOL), convert("10240000", Kind.SIZE), convert("2h", Kind.TIME)
    (True, 10240000, 7200)
    >>> convert("banana", Kind.INT)
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: not a number
    """
    text = text.strip()
    if kind is Kind.LIST:
        return split_list(text)
    if kind in (Kind.INT, Kind.SIZE):
        if not _NUMBER.fullmatch(text):
            raise ConfigError(EXPECTED[kind])
        return int(text)
    if kind is Kind.BOOL:
        lowered = text.lower()
        if lowered not in ("yes", "no"):
            raise ConfigError(EXPECTED[kind])
        return lowered == "yes"
    if kind is Kind.TIME:
        return parse_time(text, unit)
    return text
