"""``hash:`` and ``btree:`` tables: Postfix's indexed maps, stored with sqlitedict.

Owns the on-disk format of tables that ``postmap``/``postalias`` build and
the only use of :mod:`sqlitedict` in mailflow. ``postmap hash:FILE`` writes
``FILE.db`` (the name Postfix uses), an SQLite file holding one sqlitedict
table named ``mailflow`` with text keys and text values.

A build never changes the live file: it writes ``FILE.db.tmp.PID`` in the
same directory, fsyncs it, renames it over ``FILE.db`` and fsyncs the
directory, so a reader sees the old table or the new one, never half of
one. A reader opens the file lazily and re-opens it when its inode or
mtime changes (a Postfix daemon notices a rebuilt table the same way); it
looks at the file at most once per :data:`CHECK_INTERVAL` seconds, so a
rebuilt table is noticed within that time.

>>> import tempfile, os
>>> base = os.path.join(tempfile.mkdtemp(), "virtual")
>>> write_db(base, [("alice@example.com", "alice")])
>>> DbTable(base).get("ALICE@example.com")
'alice'
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Callable, Iterable

from sqlitedict import SqliteDict

from mailflow.adapters.files import fsync_directory
from mailflow.errors import TableError
from mailflow.tables.source import file_stamp

__all__ = ["DbTable", "CHECK_INTERVAL", "write_db", "update_db", "db_items", "db_path", "DUP_WARN",
           "DUP_REPLACE", "DUP_IGNORE"]

TABLENAME = "mailflow"
DUP_WARN, DUP_REPLACE, DUP_IGNORE = "warn", "replace", "ignore"
# Seconds between checks of the file for a rebuild. A stat(2) per lookup
# would cost more than the lookup itself; Postfix daemons, too, check their
# tables between requests rather than on every lookup (dict_changed_name).
CHECK_INTERVAL = 1.0


def _identity(value: str) -> str:
    return value


def db_path(base: str) -> str:
    """The database file for a table source file (``FILE`` -> ``FILE.db``).

    >>> db_path("/etc/postfix/virtual")
    '/etc/postfix/virtual.db'
    """
    return base + ".db"


def _open(path: str, flag: str) -> SqliteDict:
    return SqliteDict(path, tablename=TABLENAME, flag=flag, encode=_identity,
                      decode=_identity, outer_stack=False)


class DbTable:
    """A reader for ``hash:FILE``/``btree:FILE``; keys fold unless ``fold=False``.

    The file is checked for a rebuild at most once per ``check_interval``
    seconds of ``clock`` (a monotonic clock; injectable for tests).

    Raises TableError when the database file cannot be opened (Postfix:
    ``open database FILE.db: No such file or directory``).

    >>> DbTable("/nonexistent/x").get("k")
    Traceback (most recent call last):
    ...
    mailflow.errors.TableError: open database /nonexistent/x.db: No such file or directory
    """

    _QUERY = f'SELECT value FROM "{TABLENAME}" WHERE key = ?'
    _ITEMS = f'SELECT key, value FROM "{TABLENAME}" ORDER BY rowid'

    def __init__(self, base: str, *, fold: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 check_interval: float = CHECK_INTERVAL) -> None:
        self.base = base
        self.path = db_path(base)
        self.fold = fold
        self.check_interval = check_interval
        self._clock = clock
        self._con: sqlite3.Connection | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _current(self) -> sqlite3.Connection:
        # Called with self._lock held.
        now = self._clock()
        if self._con is not None and now - self._checked < self.check_interval:
            return self._con
        stamp = file_stamp(self.path)
        if self._con is None or stamp != self._stamp:
            if self._con is not None:
                self._con.close()
                self._con = None
            try:
                # A rebuild between stat() and here only means the next lookup
                # sees a newer stamp and reopens once more.
                self._con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                            check_same_thread=False)
            except sqlite3.Error as exc:
                raise TableError(f"open database {self.path}: {exc}") from None
            self._stamp = stamp
        self._checked = now
        return self._con

    def get(self, key: str) -> str | None:
        with self._lock:
            try:
                row = self._current().execute(self._QUERY,
                                              (key.lower() if self.fold else key,)).fetchone()
            except sqlite3.Error as exc:
                raise TableError(f"table hash:{self.base}: query error: {exc}") from None
        return None if row is None else row[0]

    def items(self) -> list[tuple[str, str]]:
        """All entries in insertion order (``postmap -s``)."""
        with self._lock:
            try:
                return [tuple(r) for r in self._current().execute(self._ITEMS)]
            except sqlite3.Error as exc:
                raise TableError(f"table hash:{self.base}: query error: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con, self._stamp = None, None

    def __del__(self) -> None:
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()

    def __repr__(self) -> str:
        return f"DbTable({self.path!r})"


def db_items(base: str) -> list[tuple[str, str]]:
    """All entries of ``FILE.db`` in the order they were added."""
    table = DbTable(base)
    try:
        return table.items()
    finally:
        table.close()


def _merge(entries: Iterable[tuple[str, str]], into: dict[str, str], dup: str,
           warn: Callable[[str], None] | None, path: str) -> None:
    for key, value in entries:
        if key in into:
            if dup == DUP_REPLACE:
                into[key] = value
            elif dup == DUP_WARN and warn is not None:
                # Postfix's dict_db reports the database, not the source line.
                warn(f'{path}: duplicate entry: "{key}"')
            continue
        into[key] = value


def write_db(base: str, entries: Iterable[tuple[str, str]], *, dup: str = DUP_WARN,
             warn: Callable[[str], None] | None = None, mode: int | None = None) -> None:
    """Build ``FILE.db`` from ``(key, value)`` pairs, atomically.

    Keys are stored as given (fold them first). A duplicate key keeps the
    first value and warns (``dup="warn"``), keeps it silently (``"ignore"``)
    or takes the new value (``"replace"``).
    """
    data: dict[str, str] = {}
    _merge(entries, data, dup, warn, db_path(base))
    _replace(base, data, mode)


def update_db(base: str, entries: Iterable[tuple[str, str]] = (), deletes: Iterable[str] = (), *,
              dup: str = DUP_WARN, warn: Callable[[str], None] | None = None) -> set[str]:
    """Add entries to and delete keys from an existing ``FILE.db`` (created
    when missing), atomically; returns the deleted keys that were present.

    >>> import tempfile, os
    >>> base = os.path.join(tempfile.mkdtemp(), "t")
    >>> write_db(base, [("a", "1"), ("b", "2")])
    >>> sorted(update_db(base, [("c", "3")], ["b", "zz"])), db_items(base)
    (['b'], [('a', '1'), ('c', '3')])
    """
    path = db_path(base)
    data = dict(db_items(base)) if os.path.exists(path) else {}
    _merge(entries, data, dup, warn, path)
    found = set()
    for key in deletes:
        if data.pop(key, None) is not None:
            found.add(key)
    _replace(base, data, None)
    return found


def _replace(base: str, data: dict[str, str], mode: int | None) -> None:
    path = db_path(base)
    tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
    try:
        db = _open(tmp, "n")
        try:
            for key, value in data.items():
                db[key] = value
            db.commit()
        finally:
            db.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise TableError(f"open database {path}: {exc.strerror}") from None
    finally:
        for leftover in (tmp, tmp + "-journal"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    fsync_directory(os.path.dirname(os.path.abspath(path)))
