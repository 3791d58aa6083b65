"""A cheap read of a few main.cf parameters, for commands that start often.

``sendmail`` runs once per message and needs only ``queue_directory`` and
whether a handful of parameters are set. The full :class:`~mailflow.config.Config`
loads the parameter table, master.cf and attrs, which costs several times
``sendmail``'s own work. :class:`QuickConfig` reads main.cf with the same line
reader (:mod:`mailflow.config.lines`: last definition wins, errors with file
and line) and expands ``$name`` with the same expression language
(:mod:`mailflow.config.expand`), but knows no defaults except the ones its
caller passes. When a value needs anything else (a name neither set nor
given a default, an expansion loop, a bad expression), :meth:`QuickConfig.expand`
returns None and the caller uses the full Config, which gives the exact
answer or the exact error. It never writes files and never imports attrs.

This module also says where the configuration directory is
(:func:`find_config_dir`), so that the command dispatcher needs no more.

>>> import pathlib, tempfile
>>> d = tempfile.mkdtemp()
>>> _ = pathlib.Path(d, "main.cf").write_text("top = /srv\\nqueue_directory = $top/spool\\n")
>>> q = QuickConfig(d, defaults={"header_checks": ""})
>>> q.expand("queue_directory"), q.expand("header_checks"), q.expand("myhostname")
('/srv/spool', '', None)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from mailflow.config.lines import logical_lines, split_assignment

__all__ = ["DEFAULT_CONFIG_DIR", "find_config_dir", "QuickConfig"]

DEFAULT_CONFIG_DIR = "/etc/mailflow"


def find_config_dir(explicit: str | None = None) -> str:
    """``-c DIR``, else ``$MAILFLOW_CONFIG_DIR``, else /etc/mailflow.

    >>> find_config_dir("/srv/mail")
    '/srv/mail'
    """
    return explicit or os.environ.get("MAILFLOW_CONFIG_DIR") or DEFAULT_CONFIG_DIR


class _NeedsFullConfig(Exception):
    """The quick reader cannot answer; the full Config can."""


class QuickConfig:
    """The ``name = value`` definitions of ``DIR/main.cf``, expanded on demand.

    ``defaults`` maps the names the caller may ask for (or that values refer
    to) to their built-in default text; it must agree with the parameter
    table (the caller's tests check that). A main.cf line without ``=``
    raises ConfigError with file and line, as the full Config does.
    """

    def __init__(self, config_dir: str | os.PathLike, *,
                 defaults: Mapping[str, str] | None = None) -> None:
        self.config_dir = os.fspath(config_dir)
        self.filename = str(Path(config_dir) / "main.cf")
        try:
            with open(self.filename, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            from mailflow.errors import ConfigError
            raise ConfigError(f"open {self.filename}: {exc.strerror or exc}") from None
        self._set: dict[str, str] = {}
        for lineno, _last, line in logical_lines(text, self.filename):
            name, value = split_assignment(line, self.filename, lineno)
            self._set[name] = value
        self._defaults = dict(defaults or {})

    def __repr__(self) -> str:
        return f"<QuickConfig {self.filename!r}: {len(self._set)} parameters set>"

    def is_set(self, name: str) -> bool:
        """Whether main.cf sets ``name``."""
        return name in self._set

    def expand(self, name: str) -> str | None:
        """The value of ``name`` with ``$name`` references expanded, or None
        when only the full Config can tell."""
        try:
            return self._expand(name, ())
        except _NeedsFullConfig:
            return None
        except Exception:      # a bad expression: let the full Config word the error
            return None

    def _expand(self, name: str, seen: tuple[str, ...]) -> str:
        if name in seen:
            raise _NeedsFullConfig(name)
        text = self._set.get(name, self._defaults.get(name))
        if text is None:
            raise _NeedsFullConfig(name)
        if "$" not in text:
            return text
        # Imported here: most main.cf files name queue_directory literally.
        from mailflow.config.expand import expand_value
        return expand_value(text, lambda ref: self._expand(ref, seen + (name,)))
