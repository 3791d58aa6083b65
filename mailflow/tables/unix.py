"""``unix:passwd.byname`` and ``unix:group.byname``: the local user database.

Owns turning :mod:`pwd`/:mod:`grp` entries into the text Postfix returns
(``name:passwd:uid:gid:gecos:dir:shell``). Used by ``local_recipient_maps``.

>>> UnixTable("passwd.byname").get("root").split(":")[:3]
['root', 'x', '0']
"""

from __future__ import annotations

import grp
import pwd
import time
from typing import Callable

from mailflow.errors import TableError

__all__ = ["UnixTable"]


class UnixTable:
    """The local passwd or group database; keys fold to lowercase by default.

    Answers (found or not) are kept for ``ttl`` seconds: each lookup reads
    the system's files through NSS (~0.1 ms), and smtpd and cleanup look up
    the same recipient within milliseconds of each other. A changed
    passwd file is seen after at most ``ttl`` seconds.

    >>> calls = []
    >>> t = UnixTable("passwd.byname", ttl=5, clock=lambda: 0.0)
    >>> t._lookup = lambda key: calls.append(key) or None
    >>> t.get("nobody-here"), t.get("NOBODY-HERE"), calls
    (None, None, ['nobody-here'])
    """

    MAPS = ("passwd.byname", "group.byname")
    _CACHE_LIMIT = 4096     # entries; a flood of unknown names cannot grow it further

    def __init__(self, name: str, *, fold: bool = True, ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if name not in self.MAPS:
            raise TableError(f"unix:{name}: unknown table")
        self.name = name
        self.fold = fold
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}

    def get(self, key: str) -> str | None:
        if self.fold:
            key = key.lower()
        if self.ttl <= 0:
            return self._lookup(key)
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = self._lookup(key)
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (now + self.ttl, value)
        return value

    def _lookup(self, key: str) -> str | None:
        try:
            if self.name == "passwd.byname":
                p = pwd.getpwnam(key)
                return ":".join(map(str, (p.pw_name, p.pw_passwd, p.pw_uid, p.pw_gid,
                                          p.pw_gecos, p.pw_dir, p.pw_shell)))
            g = grp.getgrnam(key)
            return f"{g.gr_name}:{g.gr_passwd}:{g.gr_gid}:{','.join(g.gr_mem)}"
        except KeyError:
            return None
        except (ValueError, OSError):
            return None

    def __repr__(self) -> str:
        return f"UnixTable({self.name!r})"
