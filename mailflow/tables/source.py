"""Postfix's table source format (postmap(1) "INPUT FILE FORMAT"), and
``texthash:`` which reads that format directly.

Owns the logical-line reader of every text table type (main.cf's, with
Postfix's table wording for a misplaced continuation) and the ``key
whitespace value`` split. It never writes a file; problems are reported
through the ``warn`` callback in Postfix's words and the bad line is
skipped, as postmap does.

>>> text = "# c\\nAlice  a@example\\n   continued\\n\\nbob\\tb\\n"
>>> list(logical_lines(text))
[(2, 'Alice  a@example   continued'), (5, 'bob\\tb')]
>>> list(parse_source(text, "t"))
[(2, 'alice', 'a@example   continued'), (5, 'bob', 'b')]
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Iterator

from mailflow.config.main_cf import join_lines
from mailflow.errors import TableError

__all__ = ["logical_lines", "split_entry", "parse_source", "read_source", "file_stamp",
           "TextHashTable", "Warn", "log"]

# Postfix's dict_* code logs under the name of the program that uses it.
log = logging.getLogger("mailflow.tables")

Warn = Callable[[str], None]


def _default_warn(message: str) -> None:
    log.warning("%s", message)


def logical_lines(text: str, filename: str = "", warn: Warn | None = None
                  ) -> Iterator[tuple[int, str]]:
    """Yield ``(first line number, logical line)`` (Postfix readllines(3)).

    The reader is main.cf's (:func:`mailflow.config.main_cf.join_lines`): a
    line starting with whitespace continues the previous logical line and is
    appended as is (its leading whitespace kept); empty lines and lines
    whose first non-blank character is ``#`` are skipped, even inside a
    continuation. A whitespace-led block at the start continues nothing: it
    is skipped with Postfix's warning (postmap names the file, no line).

    >>> list(logical_lines("a 1\\n\\tmore\\n # note\\nb 2"))
    [(1, 'a 1\\tmore'), (4, 'b 2')]
    >>> list(logical_lines("  lost\\nb 2", "t", warn=print))
    t: logical line must not start with whitespace: "  lost"
    [(2, 'b 2')]
    """
    def orphan(lineno: int, line: str) -> None:
        # XXX Postfix quotes the whole logical line (%.30s...); this quotes its first line.
        clipped = line[:30] + ("..." if len(line) > 30 else "")
        where = f"{filename}: " if filename else ""
        (warn or _default_warn)(f'{where}logical line must not start with whitespace: "{clipped}"')
    for first, _last, line in join_lines(text, orphan):
        yield first, line


def split_entry(line: str) -> tuple[str, str]:
    """Split ``key whitespace value``; a key may hold ``"quoted parts"``.

    As Postfix 3.7's postmap, the key ends at the first whitespace outside
    double quotes, and a backslash keeps the next character (so ``\\"`` and
    ``\\ `` do not end anything). The quotes and backslashes stay part of
    the key, which is therefore stored as written: ``"john..doe"@example.com``
    is the external form of an address whose local part needs quoting, the
    key a lookup of ``john..doe@example.com`` asks for. Raises ValueError
    with Postfix's reason when the line has no value or an unbalanced quote.

    >>> split_entry('"a b"  c d ')
    ('"a b"', 'c d')
    >>> split_entry('"john..doe"@example.com  johndoe/')
    ('"john..doe"@example.com', 'johndoe/')
    >>> split_entry("novalue")
    Traceback (most recent call last):
    ...
    ValueError: expected format: key whitespace value
    """
    line = line.strip()
    quoted, i = False, 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char.isspace() and not quoted:
            break
        i += 1
    if quoted:
        # Postfix says "-- ignoring this line" here for every table type.
        raise ValueError(f"unbalanced '\"' in '{line}' -- ignoring this line")
    key, value = line[:i], line[i:].strip()
    if not value:
        raise ValueError("expected format: key whitespace value")
    return key, value


def parse_source(text: str, filename: str, *, fold: bool = True,
                 warn: Warn | None = None, ignoring_suffix: str = "",
                 split: Callable[[str], tuple[str, str]] = split_entry
                 ) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line number, key, value)`` for each good entry of a source file.

    Bad lines (``split`` raises ValueError with the reason) are reported as
    ``FILE, line N: reason`` and skipped. Keys are folded to lowercase unless
    ``fold=False`` (``postmap -f``). ``split`` turns a logical line into key
    and value: :func:`split_entry` here, aliases(5)'s ``name: value`` for
    postalias.

    >>> list(parse_source("A 1\\nnovalue\\n", "f", warn=print))
    f, line 2: expected format: key whitespace value
    [(1, 'a', '1')]
    """
    warn = warn or _default_warn
    for lineno, line in logical_lines(text, filename, warn):
        try:
            key, value = split(line)
        except ValueError as exc:
            suffix = "" if str(exc).endswith(ignoring_suffix) else ignoring_suffix
            warn(f"{filename}, line {lineno}: {exc}{suffix}")
            continue
        yield lineno, (key.lower() if fold else key), value


def read_source(path: str) -> str:
    """Read a table source file; TableError when it cannot be read.

    >>> read_source("/nonexistent/x")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: open /nonexistent/x: No such file or directory
    """
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except OSError as exc:
        raise TableError(f"open {path}: {exc.strerror}") from None


def file_stamp(path: str) -> tuple[int, int]:
    """``(inode, mtime in ns)`` of a table file; TableError when it is missing.

    A table re-reads its file when the stamp changes: a rebuild renames a
    new file into place (new inode), an edit in place changes the mtime.
    Postfix daemons notice a changed table the same way (dict_changed_name).

    >>> import tempfile
    >>> len(file_stamp(tempfile.mkdtemp()))
    2
    >>> file_stamp("/nonexistent/x.db")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: open database /nonexistent/x.db: No such file or directory
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise TableError(f"open database {path}: {exc.strerror}") from None
    return st.st_ino, st.st_mtime_ns


class TextHashTable:
    """``texthash:FILE``: the source file read into memory (Postfix 2.8+).

    Duplicate keys keep the first value and warn with file and line. The
    file is re-read when its mtime or inode changes.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "t")
    >>> with open(p, "w") as fh: _ = fh.write("Key value\\n")
    >>> TextHashTable(p).get("KEY")
    'value'
    """

    def __init__(self, path: str, *, fold: bool = True, warn: Warn | None = None) -> None:
        self.path = path
        self.fold = fold
        self.warn = warn or _default_warn
        self._stamp: tuple[int, int] | None = None
        self._data: dict[str, str] = {}

    def _load(self) -> None:
        stamp = file_stamp(self.path)
        if stamp == self._stamp:
            return
        data: dict[str, str] = {}
        for lineno, key, value in parse_source(read_source(self.path), self.path, fold=self.fold,
                                               warn=self.warn,
                                               ignoring_suffix=" -- ignoring this line"):
            if key in data:
                self.warn(f'{self.path}, line {lineno}: duplicate entry: "{key}"')
                continue
            data[key] = value
        self._data, self._stamp = data, stamp

    def get(self, key: str) -> str | None:
        self._load()
        return self._data.get(key.lower() if self.fold else key)

    def items(self):
        """All entries in file order (``postmap -s``)."""
        self._load()
        return list(self._data.items())

    def __repr__(self) -> str:
        return f"TextHashTable({self.path!r})"
