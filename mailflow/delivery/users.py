"""Who the local users are: an injectable user database for local(8).

Owns the :class:`UserDatabase` protocol, the default backed by the system
password database (pwd), and a table-backed one for embedded use and tests
(no root, no real accounts). Lookups only; never creates accounts or files.

>>> users = TableUsers({"alice": "/home/alice", "bob": {"home": "/srv/bob", "uid": 1001}})
>>> users.lookup("alice").home, users.lookup("bob").uid, users.lookup("carol")
('/home/alice', 1001, None)
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import attrs

__all__ = ["LocalUser", "UserDatabase", "PasswdUsers", "TableUsers", "user_database"]


@attrs.frozen
class LocalUser:
    """One local account: what local(8) needs to deliver to it.

    ``uid``/``gid`` of -1 mean "whoever runs the mail system".
    """

    name: str
    home: str
    uid: int = -1
    gid: int = -1
    shell: str = "/bin/sh"


class UserDatabase(Protocol):
    """Find a local user by login name (already lowercased); None if unknown."""

    def lookup(self, name: str) -> LocalUser | None: ...


class PasswdUsers:
    """The system password database (``getpwnam``), local(8)'s default.

    >>> PasswdUsers().lookup("root").uid
    0
    """

    def lookup(self, name: str) -> LocalUser | None:
        import pwd
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            return None
        return LocalUser(pw.pw_name, pw.pw_dir, pw.pw_uid, pw.pw_gid, pw.pw_shell or "/bin/sh")

    def __repr__(self) -> str:
        return "PasswdUsers()"


class TableUsers:
    """Users from a mapping: name -> home directory, a dict of LocalUser
    fields, or a LocalUser."""

    def __init__(self, users: Mapping[str, Any]) -> None:
        self.users = users

    def lookup(self, name: str) -> LocalUser | None:
        value = self.users.get(name)
        if value is None:
            return None
        if isinstance(value, LocalUser):
            return value
        if isinstance(value, str):
            return LocalUser(name, value)
        return LocalUser(name=name, **dict(value))

    def __repr__(self) -> str:
        return f"TableUsers({len(self.users)} users)"


def user_database(spec: Any = None) -> UserDatabase:
    """``None`` -> the password database; a mapping -> TableUsers; else as given.

    >>> user_database({"a": "/tmp"}).lookup("a").home
    '/tmp'
    """
    if spec is None:
        return PasswdUsers()
    if isinstance(spec, Mapping):
        return TableUsers(spec)
    return spec
