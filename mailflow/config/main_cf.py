"""main.cf text → ordered ``name → (value, line)`` entries, as Postfix reads it.

Pure: takes text, returns data. Comments, continuation lines (a line that
starts with whitespace continues the previous one), ``name = value``; the last
definition of a name wins.
"""

from __future__ import annotations

import attrs

from mailflow.errors import ConfigError


@attrs.frozen
class Entry:
    name: str
    value: str
    lineno: int


def parse_main_cf(text: str, filename: str = "main.cf") -> dict[str, Entry]:
    """Parse main.cf text; later definitions replace earlier ones.

    >>> parse_main_cf("a = 1\\n# c\\nb = x\\n  y\\n")["b"].value
    'x y'
    """
    entries: dict[str, Entry] = {}
    logical: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace() and logical:
            logical[-1] = (logical[-1][0], logical[-1][1] + " " + stripped)
        else:
            logical.append((lineno, stripped))
    for lineno, line in logical:
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name):
            raise ConfigError(f"missing '=' after parameter name" if not sep
                              else "bad parameter name", filename=filename, lineno=lineno,
                              name=None)
        entries.pop(name, None)  # keep file order of the winning definition
        entries[name] = Entry(name, value.strip(), lineno)
    return entries
