"""main.cf's line reader: logical lines and ``name = value`` splitting.

Pure and free of attrs, so that commands which need only a few parameters
(``sendmail``, through :mod:`mailflow.config.quick`) can read main.cf
cheaply; :mod:`mailflow.config.main_cf` builds its ``Entry`` table on top.
The rules are postconf(5) "DESCRIPTION" (see :mod:`mailflow.config.main_cf`).
It never opens files and never expands ``$name``.

>>> split_assignment("myorigin = $mydomain")
('myorigin', '$mydomain')
"""

from __future__ import annotations

from typing import Callable, Iterator

from mailflow.errors import ConfigError

__all__ = ["join_lines", "logical_lines", "split_assignment"]


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
