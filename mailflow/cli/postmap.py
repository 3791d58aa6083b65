"""``mailflow postmap``: build, query, list and edit lookup tables (postmap(1)).

Flags and messages follow Postfix's postmap: ``postmap [type:]file`` builds
``file.db`` (type from ``default_database_type``, ``hash``), ``-q key``
prints the first value found (exit 1 when none), ``-q -`` reads keys from
stdin and prints ``key<TAB>value``, ``-s`` lists, ``-i`` adds entries from
stdin, ``-d key`` deletes, ``-f`` turns off case folding, ``-r``/``-w``
replace or silently keep duplicates, ``-b``/``-h`` make ``-q -`` read a
message's body lines or header lines. ``-N``/``-n`` (trailing null) and
``-o``/``-p``/``-u``/``-U``/``-v``/``-m`` are accepted for compatibility and
change nothing: sqlitedict stores text keys and values without a null.

The module owns the command line; tables are built by
:mod:`mailflow.adapters.sqlite_table` and parsed by :mod:`mailflow.tables`.
"""

from __future__ import annotations

import getopt
import logging
import sys
from itertools import chain
from typing import Any, Iterable, Iterator

from mailflow.errors import TableError

HELP = "build or query lookup tables"
USAGE = "usage: {prog} [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file..."
DB_TYPES = ("hash", "btree")


class Fatal(Exception):
    """A ``PROG: fatal: ...`` message; the command exits with status 1."""


class _StderrHandler(logging.Handler):
    # Render table warnings the way Postfix's command-line tools do.
    def __init__(self, prog: str) -> None:
        super().__init__(logging.WARNING)
        self.prog = prog

    def emit(self, record: logging.LogRecord) -> None:
        level = "warning" if record.levelno < logging.ERROR else "error"
        print(f"{self.prog}: {level}: {record.getMessage()}", file=sys.stderr)


class Tool:
    """What postmap and postalias share: option state, table opening, queries."""

    prog = "postmap"
    optstring = "bc:d:fFhimnNopq:rsuUvw"

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.fold = True
        self.dup = "warn"
        self.incremental = False
        self.body = self.headers = False
        self._config = None

    # --- helpers ------------------------------------------------------
    def warn(self, message: str) -> None:
        print(f"{self.prog}: warning: {message}", file=sys.stderr)

    def config(self):
        if self._config is None:
            self._config = self.ctx.load_config()
        return self._config

    def default_type(self) -> str:
        return self.config().expand("default_database_type") or "hash"

    def split(self, arg: str) -> tuple[str, str]:
        type_name, sep, name = arg.partition(":")
        if not sep:
            return self.default_type(), arg
        return type_name, name

    def open(self, arg: str):
        from mailflow.tables import open_table
        type_name, name = self.split(arg)
        return open_table(f"{type_name}:{name}", self.config(), fold=self.fold)

    # --- modes --------------------------------------------------------
    def query(self, key: str, maps: list[str]) -> int:
        for arg in maps:
            value = self.lookup(arg, key)
            if value is not None:
                print(value)
                return 0
        return 1

    def lookup(self, arg: str, key: str) -> str | None:
        try:
            return self.open(arg).get(key)
        except TableError as exc:
            raise Fatal(self.describe(arg, exc)) from None

    def describe(self, arg: str, exc: TableError) -> str:
        return str(exc)

    def queries(self, keys: Iterable[str], maps: list[str]) -> int:
        tables: dict[str, Any] = {}
        found = False
        for key in keys:
            for arg in maps:
                try:
                    if arg not in tables:
                        tables[arg] = self.open(arg)
                    value = tables[arg].get(key)
                except TableError as exc:
                    raise Fatal(self.describe(arg, exc)) from None
                if value is not None:
                    print(self.format_pair(key, value))
                    found = True
                    break
        return 0 if found else 1

    def format_pair(self, key: str, value: str) -> str:
        return f"{key}\t{value}"

    def sequence(self, arg: str) -> int:
        type_name, name = self.split(arg)
        table = self.open(arg)
        items = getattr(table, "items", None)
        if items is None:
            raise Fatal(f"table {type_name}:{name}: sequence operation is not supported")
        try:
            for key, value in items():
                print(self.format_pair(key, value))
        except TableError as exc:
            raise Fatal(str(exc)) from None
        return 0

    def delete(self, keys: list[str], maps: list[str]) -> int:
        from mailflow.adapters.sqlite_table import update_db
        found = False
        for arg in maps:
            type_name, name = self.split(arg)
            if type_name not in DB_TYPES:
                raise Fatal(f"{type_name}:{name} map requires O_RDONLY access mode")
            folded = [k.lower() if self.fold else k for k in keys]
            try:
                found |= bool(update_db(name, (), folded, dup=self.dup, warn=self.warn))
            except TableError as exc:
                raise Fatal(str(exc)) from None
        return 0 if found else 1

    def entries(self, text: str, filename: str) -> Iterator[tuple[str, str]]:
        from mailflow.tables.source import parse_source
        for _, key, value in parse_source(text, filename, fold=self.fold, warn=self.warn):
            yield key, value

    def build(self, arg: str) -> None:
        from mailflow.adapters.sqlite_table import update_db, write_db
        from mailflow.tables.source import read_source
        type_name, name = self.split(arg)
        if type_name not in DB_TYPES:
            raise Fatal(f"unsupported dictionary type: {type_name} does not support "
                        "bulk-mode creation.")
        try:
            if self.incremental:
                update_db(name, self.entries(sys.stdin.read(), "-"), dup=self.dup, warn=self.warn)
                if self.extra():
                    # postalias: in incremental mode the "@" marker replaces silently.
                    update_db(name, self.extra(), dup="replace")
                return
            try:
                text = read_source(name)
            except TableError as exc:
                raise Fatal(str(exc)) from None
            # Lazily, so warnings come out in line order as Postfix prints them.
            write_db(name, chain(self.entries(text, name), self.extra()), dup=self.dup,
                     warn=self.warn, mode=_source_mode(name))
        except TableError as exc:
            raise Fatal(str(exc)) from None

    def extra(self) -> list[tuple[str, str]]:
        """Entries a tool adds after the source (postalias: ``@: @``)."""
        return []

    def default_maps(self) -> list[str]:
        """Tables to work on when none is named (postalias: alias_database)."""
        return []

    # --- command line -------------------------------------------------
    def main(self, argv: list[str]) -> int:
        try:
            opts, maps = getopt.getopt(argv, self.optstring)
        except getopt.GetoptError as exc:
            return self.fatal(self.usage())
        query = delkey = None
        sequence = False
        for flag, value in opts:
            if flag in ("-q", "-d", "-s") and (query is not None or delkey is not None or sequence):
                return self.fatal("specify only one of -s or -q or -d")
            if flag == "-q":
                query = value
            elif flag == "-d":
                delkey = value
            elif flag == "-s":
                sequence = True
            elif flag == "-f":
                self.fold = False
            elif flag == "-i":
                self.incremental = True
            elif flag == "-r":
                self.dup = "replace"
            elif flag == "-w":
                self.dup = "ignore"
            elif flag == "-b":
                self.body = True
            elif flag == "-h":
                self.headers = True
            elif flag == "-c":
                # postmap -c DIR, like `mailflow -c DIR postmap`.
                from mailflow.config import Config
                self._config = Config.from_directory(value)
            elif flag == "-F":
                return self.fatal("-F (base64 file content) is not supported")
            # -N -n -o -p -m -u -U -v change nothing here.
        # Read main.cf once the options are known (-c names it), as Postfix's
        # postmap(1) does: a bad main.cf is fatal even when no parameter is
        # needed (a ConfigError naming file and line); a missing one reads as
        # all defaults.
        self.config()
        maps = maps or self.default_maps()
        if not maps:
            return self.fatal(self.usage())
        handler = _StderrHandler(self.prog)
        log = logging.getLogger("mailflow.tables")
        log.addHandler(handler)
        propagate, log.propagate = log.propagate, False
        try:
            if query is not None:
                if query == "-":
                    return self.queries(self.stdin_keys(), maps)
                return self.query(query, maps)
            if delkey is not None:
                keys = [k for k in sys.stdin.read().splitlines()] if delkey == "-" else [delkey]
                return self.delete(keys, maps)
            if sequence:
                return self.sequence(maps[0])
            for arg in maps:
                self.build(arg)
            return 0
        except Fatal as exc:
            return self.fatal(str(exc))
        except TableError as exc:
            return self.fatal(str(exc))
        finally:
            log.removeHandler(handler)
            log.propagate = propagate

    def stdin_keys(self) -> Iterator[str]:
        lines = sys.stdin.read().splitlines()
        if not (self.body or self.headers):
            return iter(lines)
        return iter(message_keys(lines, headers=self.headers, body=self.body))

    def fatal(self, message: str) -> int:
        print(f"{self.prog}: fatal: {message}", file=sys.stderr)
        return 1

    def usage(self) -> str:
        return USAGE.format(prog=self.prog)


def message_keys(lines: list[str], *, headers: bool, body: bool) -> list[str]:
    """Lookup keys from a message for ``-h`` (one per logical header, folded
    lines joined with newlines) and ``-b`` (one per body line).

    >>> message_keys(["A: 1", " 2", "B: 3", "", "x"], headers=True, body=True)
    ['A: 1\\n 2', 'B: 3', 'x']
    """
    keys: list[str] = []
    in_headers = True
    for line in lines:
        if in_headers:
            if line == "":
                in_headers = False
                continue
            if line[:1] in (" ", "\t") and keys and headers:
                keys[-1] += "\n" + line
            elif headers:
                keys.append(line)
            continue
        if body:
            keys.append(line)
    return keys


def _source_mode(path: str) -> int | None:
    # postmap(1): "created with the same group and other read permissions as their source file".
    import os
    import stat
    try:
        st = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) & 0o644 | 0o600


def run(argv: list[str], ctx: Any) -> int:
    """Entry point for ``mailflow postmap``."""
    if argv[:1] in (["--help"],):
        print(USAGE.format(prog="postmap"))
        print(__doc__.split("\n\n")[1])
        return 0
    return Tool(ctx).main(argv)



