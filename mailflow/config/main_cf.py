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

from typing import Callable, Iterator

import attrs

from mailflow.errors import ConfigError

__all__ = ["Entry", "parse_main_cf", "logical_lines", "join_lines"]


@attrs.frozen
class Entry:
    """One ``name = value`` definition and the line it starts on (0: not from a file).

    >>> Entry("myorigin", "$mydomain", 3).lineno
    3
    """

    name: str
    value: str
    lineno: int


def join_lines(text: str, orphan: Callable[[int, str], None] | None = None
               ) -> Iterator[tuple[int, int, str]]:
    """Postfix's readllines(3): yield ``(first line, last line, text)`` per logical line.

    A line that starts with whitespace continues the previous logical line
    (appended as is, its leading whitespace kept); empty lines and lines
    whose first non-blank character is ``#`` are skipped, also inside a
    continued line. A whitespace-led block at the start continues nothing:
    it is skipped and ``orphan(line number, first line)`` is called once.
    Shared by main.cf, master.cf and every text table source.

    >>> list(join_lines("  lost\\na 1\\n# c\\n\\tmore\\n", orphan=print))
    1   lost
    [(2, 4, 'a 1\\tmore')]
    """
    current: tuple[int, int, str] | None = None
    orphaned = False  # inside a whitespace-led block at the start of the text
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace():
            if current is not None:
                current = (current[0], lineno, current[2] + line.rstrip())
            elif not orphaned:
                orphaned = True
                if orphan is not None:
                    orphan(lineno, line.rstrip())
            continue
        if current is not None:
            yield current
        current = (lineno, lineno, stripped)
    if current is not None:
        yield current


def logical_lines(text: str, filename: str = "main.cf",
                  warnings: list[str] | None = None) -> list[tuple[int, int, str]]:
    """Join continuation lines: ``(first line, last line, text)`` per logical line.

    A logical line that starts with whitespace (a continuation with nothing
    to continue) is skipped with Postfix's warning.

    >>> logical_lines("a = 1\\n# c\\nb = x\\n  y\\n")
    [(1, 1, 'a = 1'), (3, 4, 'b = x  y')]
    """
    def orphan(lineno: int, line: str) -> None:
        if warnings is not None:
            # Postfix warns and ignores the whole logical line.
            warnings.append(f"{filename}, line {lineno}: logical line must not"
                            f" start with whitespace: \"{line}\"")
    return list(join_lines(text, orphan))


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


def split_assignment(line: str, filename: str | None = "main.cf",
                     lineno: int | None = None) -> tuple[str, str]:
    """``"name = value"`` → ``("name", "value")`` with Postfix's errors.

    >>> split_assignment("relayhost = [mail.example]:587")
    ('relayhost', '[mail.example]:587')
    """
    head, sep, value = line.partition("=")
    name = head.strip()
    if not name:
        raise ConfigError(f"missing attribute name: \"{line}\"", filename=filename, lineno=lineno)
    if not sep or any(c.isspace() for c in name):
        raise ConfigError(f"missing '=' after attribute name: \"{line}\"",
                          filename=filename, lineno=lineno)
    return name, value.strip()
