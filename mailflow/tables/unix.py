"""``unix:passwd.byname`` and ``unix:group.byname``: the local user database.

Owns turning :mod:`pwd`/:mod:`grp` entries into the text Postfix returns
(``name:passwd:uid:gid:gecos:dir:shell``). Used by ``local_recipient_maps``.

>>> UnixTable("passwd.byname").get("root").split(":")[:3]
['root', 'x', '0']
"""

from __future__ import annotations

import grp
import pwd

from mailflow.errors import TableError

__all__ = ["UnixTable"]


class UnixTable:
    """The local passwd or group database; keys fold to lowercase by default."""

    MAPS = ("passwd.byname", "group.byname")

    def __init__(self, name: str, *, fold: bool = True) -> None:
        if name not in self.MAPS:
            raise TableError(f"unix:{name}: unknown table")
        self.name = name
        self.fold = fold

    def get(self, key: str) -> str | None:
        if self.fold:
            key = key.lower()
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
