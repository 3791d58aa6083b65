"""main.cf text → ordered ``name → Entry`` definitions, as Postfix reads it.

Pure: takes text, returns data; it never opens files and never expands
``$name`` (that is :mod:`mailflow.config.expand`). The rules are postconf(5)
"DESCRIPTION": a logical line is ``name = value``; a line that starts with
whitespace continues the previous logical line (the newline is dropped and
the continuation's leading whitespace kept, as Postfix's readllines does;
``postconf`` shows runs of whitespace as one space);
empty lines and lines whose first non-blank character is ``#`` are ignored
(also inside a continued line); whitespace around ``=`` and at the end of a
logical line is ignored; the last definition of a name wins. There are no
trailing comments: ``a = b # c`` sets ``a`` to ``b # c``.
"""

from __future__ import annotations

import attrs

# The line reader has no attrs class, so a command that needs only a few
# parameters (sendmail) can read main.cf without importing attrs.
from mailflow.config.lines import join_lines, logical_lines, split_assignment

__all__ = ["Entry", "parse_main_cf", "logical_lines", "join_lines", "split_assignment"]


@attrs.frozen
class Entry:
    """One ``name = value`` definition and the line it starts on (0: not from a file).

    >>> Entry("myorigin", "$mydomain", 3).lineno
    3
    """

    name: str
    value: str
    lineno: int


def parse_main_cf(text: str, filename: str = "main.cf",
                  warnings: list[str] | None = None) -> dict[str, Entry]:
    """Parse main.cf text; later definitions replace earlier ones.

    A line without ``=`` or without a name is a fatal error, worded as
    Postfix's (``missing '=' after attribute name: "myhostname"``).

    >>> parse_main_cf("a = 1\\n# c\\nb = x\\n  y\\n")["b"].value
    'x  y'
    >>> parse_main_cf("myhostname\\n", "main.cf")
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: main.cf, line 1: missing '=' after attribute name: "myhostname"
    """
    entries: dict[str, Entry] = {}
    for lineno, _last, line in logical_lines(text, filename, warnings):
        name, value = split_assignment(line, filename, lineno)
        earlier = entries.pop(name, None)  # keep file order of the winning definition
        if earlier is not None and warnings is not None:
            warnings.append(f"{filename}, line {lineno}: overriding earlier entry:"
                            f" {name}={earlier.value}")
        entries[name] = Entry(name, value, lineno)
    return entries
