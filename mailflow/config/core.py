"""The :class:`Config` view: typed, expanded, validated parameters of one main.cf.

Owns lookup of values (set, default, host-derived, per-transport), ``$name``
expansion with loop detection, conversion to Python types with errors that
point at file and line, and the load-time warnings (unknown or undefined
names). It never writes files and never starts services.

>>> Config(myhostname="mx.example.com", mydomain="example.com").expand("mydestination")
'mx.example.com, localhost.example.com, localhost'
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping

from mailflow.config.expand import expand_value
from mailflow.config.host import default_mydomain, default_myhostname
from mailflow.config.main_cf import Entry, parse_main_cf
from mailflow.config.master_cf import MasterConfig, Service, parse_master_cf
from mailflow.config.params import PARAMS, TRANSPORT_DEFAULTS, TRANSPORT_SUFFIXES, Kind
from mailflow.config.postfix_names import POSTFIX_ONLY
from mailflow.config.quick import DEFAULT_CONFIG_DIR, find_config_dir
from mailflow.config.values import convert
from mailflow.errors import ConfigError, ExpansionLoopError

__all__ = ["Config", "DEFAULT_CONFIG_DIR", "default_config", "find_config_dir", "transport_suffix",
           "unknown_parameter_warning"]

log = logging.getLogger("mailflow.config")

_REFERENCE = re.compile(r"(?<!\$)\$[{(]?([A-Za-z0-9_]+)")
_SUFFIXES_LONGEST_FIRST = sorted(TRANSPORT_SUFFIXES, key=len, reverse=True)


def transport_suffix(name: str) -> str | None:
    """The per-transport suffix of ``TRANSPORT_suffix`` names, else None.

    >>> transport_suffix("pipe_destination_recipient_limit"), transport_suffix("relayhost")
    ('destination_recipient_limit', None)
    """
    for suffix in _SUFFIXES_LONGEST_FIRST:
        if name.endswith("_" + suffix) and len(name) > len(suffix) + 1:
            return suffix
    return None


class Config:
    """A read-only view of main.cf (and master.cf when loaded from a directory).

    Attribute and item access give typed values (lists as lists, times in
    seconds, sizes and numbers as int, booleans as bool); :meth:`raw` and
    :meth:`expand` give text. ``warnings`` holds the unknown-parameter and
    syntax warnings of the files read; ``master`` is the master.cf table.

    >>> Config(delay_warning_time="4").delay_warning_time
    14400
    """

    def __init__(self, _entries: Mapping[str, Entry] | None = None, *,
                 _filename: str = "main.cf", _config_dir: str | None = None,
                 _master: MasterConfig | None = None, _warnings: list[str] | None = None,
                 **params: Any) -> None:
        entries = dict(_entries or {})
        for name, value in params.items():
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, (list, tuple)):
                value = ", ".join(map(str, value))
            entries.pop(name, None)
            entries[name] = Entry(name, str(value), 0)
        self._entries = entries
        self.filename = _filename
        self.config_dir = _config_dir
        self.master = _master if _master is not None else MasterConfig()
        self.warnings: list[str] = list(_warnings or [])
        self._cache: dict[str, Any] = {}
        self._expanded: dict[str, str] = {}
        self._refs: set[str] | None = None
        # (master.cf path, names) when -o overrides are applied: errors name master.cf
        self._override_file: tuple[str, set[str]] | None = None

    def __repr__(self) -> str:
        return f"<Config {self.filename!r}: {len(self._entries)} parameters set>"

    # --- construction -------------------------------------------------
    @classmethod
    def from_string(cls, text: str, filename: str = "main.cf", *,
                    master: str | MasterConfig | None = None, log_warnings: bool = True,
                    **overrides: Any) -> "Config":
        """Parse main.cf text (and optionally master.cf text); warnings are logged.

        >>> Config.from_string("myorigin = $mydomain\\nmydomain = example.org\\n").myorigin
        'example.org'
        """
        warnings: list[str] = []
        entries = parse_main_cf(text, filename, warnings)
        cfg = cls(entries, _filename=filename, **overrides)
        if isinstance(master, str):
            master = parse_master_cf(master, "master.cf", warnings, cfg._process_limit())
        return cfg._finish(master, warnings, log_warnings)

    @classmethod
    def from_directory(cls, path: str | os.PathLike, *, log_warnings: bool = True,
                       **overrides: Any) -> "Config":
        """Read ``DIR/main.cf`` and ``DIR/master.cf`` (a missing file reads as empty).

        Warnings are kept in ``warnings`` and, unless ``log_warnings`` is
        false, logged on the ``mailflow.config`` logger.
        """
        main = Path(path) / "main.cf"
        warnings: list[str] = []
        entries = parse_main_cf(_read(main), str(main), warnings)
        overrides.setdefault("config_directory", os.path.abspath(path))
        cfg = cls(entries, _filename=str(main), _config_dir=str(path), **overrides)
        master_path = Path(path) / "master.cf"
        master = parse_master_cf(_read(master_path), str(master_path), warnings,
                                 cfg._process_limit())
        return cfg._finish(master, warnings, log_warnings)

    def _process_limit(self) -> int:
        try:
            return int(self["default_process_limit"])
        except ConfigError:
            return 100  # reported by validate(); master.cf still parses

    def _finish(self, master: MasterConfig | None, warnings: list[str],
                log_warnings: bool) -> "Config":
        if master is not None:
            self.master = master
        warnings += self._unknown_warnings()
        self.warnings = warnings
        for text in warnings if log_warnings else ():
            log.warning("%s", text)
        return self

    def with_overrides(self, **params: Any) -> "Config":
        """A copy with some parameters replaced (master.cf ``-o`` overrides).

        >>> Config(relayhost="a").with_overrides(relayhost="b").relayhost
        'b'
        """
        return Config(self._entries, _filename=self.filename, _config_dir=self.config_dir,
                      _master=self.master, _warnings=self.warnings, **params)

    def for_service(self, service: Service | str) -> "Config":
        """The config a master.cf service runs with: main.cf plus its ``-o`` overrides.

        >>> cfg = Config.from_string("", master="relay unix - - n - - smtp -o relayhost=x\\n")
        >>> cfg.for_service("relay/unix").relayhost
        'x'
        """
        if isinstance(service, str):
            service = self.master[service]
        entries = dict(self._entries)
        for name, value in service.overrides.items():
            entries.pop(name, None)
            entries[name] = Entry(name, value, service.lineno)
        cfg = Config(entries, _filename=self.filename, _config_dir=self.config_dir,
                     _master=self.master, _warnings=self.warnings)
        cfg._override_file = (self.master.filename, set(service.overrides))
        return cfg

    # --- text views ---------------------------------------------------
    def raw(self, name: str) -> str | None:
        """The unexpanded text: as set, else the default, else None (unknown).

        >>> Config().raw("myorigin"), Config().raw("no_such_thing")
        ('$myhostname', None)
        """
        entry = self._entries.get(name)
        if entry is not None:
            return entry.value
        if name in ("myhostname", "mydomain"):
            return self._derived_default(name)
        param = PARAMS.get(name)
        if param is not None:
            return param.default
        suffix = transport_suffix(name)
        if suffix is not None and TRANSPORT_DEFAULTS[suffix] != "$" + name:
            return TRANSPORT_DEFAULTS[suffix]
        return None

    def _derived_default(self, name: str) -> str:
        # Each default is derived from the other (Postfix: myhostname from
        # the system, mydomain from myhostname); "myhostname = $mydomain"
        # with mydomain unset would go round for ever: report the loop.
        deriving = self.__dict__.setdefault("_deriving", set())
        if name in deriving:
            raise ExpansionLoopError("parameter expansion loop: $myhostname -> $mydomain -> "
                                     "$myhostname", filename=self._file_of("myhostname"),
                                     name="myhostname")
        deriving.add(name)
        try:
            if name == "myhostname":
                return default_myhostname(self.expand("mydomain") if self.is_set("mydomain")
                                          else None)
            return default_mydomain(self.expand("myhostname"))
        finally:
            deriving.discard(name)

    def default(self, name: str) -> str | None:
        """The built-in default text (``postconf -d``), ignoring main.cf.

        >>> Config(relayhost="x").default("relayhost")
        ''
        """
        return Config(_config_dir=self.config_dir).raw(name)

    def is_set(self, name: str) -> bool:
        """Whether main.cf (or a keyword, or an override) sets ``name``."""
        return name in self._entries

    def entry(self, name: str) -> Entry | None:
        """The definition of ``name`` with its line number, if set."""
        return self._entries.get(name)

    def names_set(self) -> list[str]:
        """Names set in main.cf (or by keyword), in file order."""
        return list(self._entries)

    def is_known(self, name: str) -> bool:
        """A built-in parameter, a per-transport name, one that a value refers
        to, or a restriction class named in ``smtpd_restriction_classes`` (as
        Postfix's postconf counts them).

        >>> Config.from_string("smtpd_restriction_classes = strict\\nstrict = permit\\n",
        ...                    log_warnings=False).warnings
        []
        """
        return (name in PARAMS or transport_suffix(name) is not None
                or name in self._referenced()
                or name in re.split(r"[\s,]+", self.raw("smtpd_restriction_classes") or ""))

    def expand(self, name: str, _seen: tuple[str, ...] = ()) -> str:
        """The value with ``$name`` references expanded (unknown names: empty).

        >>> Config(a="$b", b="${c:x}").expand("a")
        'x'
        """
        if name in self._expanded:
            return self._expanded[name]
        if name in _seen:
            chain = _seen[_seen.index(name):] + (name,)
            entry = self._entries.get(chain[0])
            raise ExpansionLoopError(
                "parameter expansion loop: " + " -> ".join("$" + n for n in chain),
                filename=self._file_of(chain[0]), lineno=entry.lineno if entry and entry.lineno else None,
                name=chain[0])
        param = PARAMS.get(name)
        if param is not None and param.raw:
            text = self.raw(name) or ""  # expanded later by the daemon, with its own macros
        else:
            text = self.expand_text(self.raw(name) or "", _seen + (name,))
        self._expanded[name] = text
        return text

    def expand_text(self, text: str, _seen: tuple[str, ...] = ()) -> str:
        """Expand ``$name`` expressions in any text against this config.

        >>> Config(mydomain="example.com").expand_text("postmaster@$mydomain")
        'postmaster@example.com'
        """
        def lookup(ref: str) -> str | None:
            return self.expand(ref, _seen) if self.raw(ref) is not None else None
        return expand_value(text, lookup)

    # --- typed view ---------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        try:
            return self._cache[name]
        except KeyError:
            value = self._cache[name] = self._typed(name)
            return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(f"unknown parameter {name!r}") from None
        # Later reads of cfg.NAME are plain attribute lookups (hot paths read
        # the same few parameters per message); the config never changes.
        self.__dict__[name] = value
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.raw(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        """The typed value, or ``default`` when the name is unknown."""
        return self[name] if name in self else default

    def kind(self, name: str) -> tuple[Kind, str]:
        """The type and default time unit of a parameter (unknown names: string).

        >>> Config().kind("delay_warning_time")
        (<Kind.TIME: 'time'>, 'h')
        """
        param = PARAMS.get(name)
        if param is not None:
            return param.kind, param.unit
        suffix = transport_suffix(name)
        if suffix is not None:
            return TRANSPORT_SUFFIXES[suffix], "s"
        return Kind.STR, "s"

    def _typed(self, name: str) -> Any:
        if self.raw(name) is None:
            raise KeyError(name)
        kind, unit = self.kind(name)
        text = self.expand(name)
        try:
            return convert(text, kind, unit)
        except ConfigError as exc:
            origin = self._origin(name)
            entry = self._entries.get(origin)
            raise ConfigError(exc.reason, filename=self._file_of(origin),
                              lineno=entry.lineno if entry and entry.lineno else None,
                              name=origin, value=text.strip()) from None

    def _origin(self, name: str) -> str:
        """Where a bad value was written: follow ``$other`` defaults to a set name."""
        seen = {name}
        while not self.is_set(name):
            m = re.fullmatch(r"\$\{?([A-Za-z0-9_]+)\}?", (self.raw(name) or "").strip())
            if m is None or m.group(1) in seen:
                break
            name = m.group(1)
            seen.add(name)
        return name

    def _file_of(self, name: str) -> str | None:
        entry = self._entries.get(name)
        if entry is None or not entry.lineno:
            return None
        if self._override_file is not None and name in self._override_file[1]:
            return self._override_file[0]
        return self.filename

    def transport_param(self, transport: str, suffix: str) -> Any:
        """``TRANSPORT_suffix`` if set, else its default (qmgr's rule).

        >>> Config(pipe_destination_recipient_limit=1).transport_param("pipe", "destination_recipient_limit")
        1
        >>> Config().transport_param("smtp", "initial_destination_concurrency")
        5
        """
        return self[f"{transport}_{suffix}"]

    # --- checking -----------------------------------------------------
    def validate(self) -> list[ConfigError]:
        """Type-check every parameter set in main.cf and master.cf ``-o``; all errors.

        >>> [str(e) for e in Config.from_string("maximal_queue_lifetime = soon\\n").validate()]
        ['main.cf, line 1: maximal_queue_lifetime = soon: not a time value (expected a number with an optional unit s, m, h, d or w)']
        """
        errors: list[ConfigError] = []
        for name in self._entries:
            try:
                self[name]
            except ConfigError as exc:
                errors.append(exc)
        for service in self.master:
            if not service.overrides:
                continue
            cfg = self.for_service(service)
            for name in service.overrides:
                try:
                    cfg[name]
                except ConfigError as exc:
                    errors.append(exc)
        return errors

    def check(self) -> None:
        """Raise the first error :meth:`validate` finds (for daemon start)."""
        errors = self.validate()
        if errors:
            raise errors[0]

    def _referenced(self) -> set[str]:
        found = self._refs
        if found is None:
            texts = [e.value for e in self._entries.values()]
            # Postfix counts references from main.cf and -o values only: the
            # daemons' own arguments (pipe's argv=) are not main.cf expansions.
            for service in self.master:
                texts += list(service.overrides.values())
            found = self._refs = {m.group(1) for t in texts for m in _REFERENCE.finditer(t)}
        return found

    def _unknown_warnings(self) -> list[str]:
        found = [(f"{self.filename}, line {e.lineno}", e.name)
                 for e in self._entries.values() if e.lineno and not self.is_known(e.name)]
        found += [(f"{self.master.filename}, line {s.lineno}", name)
                  for s in self.master for name in s.overrides if not self.is_known(name)]
        warnings = [unknown_parameter_warning(where, name) for where, name in found]
        # As Postfix warns "undefined parameter": a reference that can only
        # expand to nothing is most often a typo ($mydomian).
        for entry in self._entries.values():
            param = PARAMS.get(entry.name)
            if not entry.lineno or (param is not None and param.raw):
                continue
            for ref in dict.fromkeys(m.group(1) for m in _REFERENCE.finditer(entry.value)):
                if self.raw(ref) is None:
                    warnings.append(f"{self.filename}, line {entry.lineno}: {entry.name}:"
                                    f" undefined parameter \"{ref}\"")
        return warnings


_DEFAULT: list[Config] = []


def default_config() -> Config:
    """One shared Config with nothing set: Postfix's defaults.

    What ``cfg=None`` means wherever a pure module takes an optional config;
    a Config never changes, so one instance serves every caller.

    >>> default_config() is default_config(), default_config().default_transport
    (True, 'smtp')
    """
    if not _DEFAULT:
        _DEFAULT.append(Config())
    return _DEFAULT[0]


def unknown_parameter_warning(where: str, name: str) -> str:
    """The warning for a name that no parameter has, with a suggestion (difflib).

    >>> unknown_parameter_warning("main.cf, line 3", "mydestinations")
    'main.cf, line 3: unknown parameter "mydestinations"; did you mean "mydestination"? (ignored)'
    >>> unknown_parameter_warning("main.cf, line 4", "smtp_tls_loglevel")
    'main.cf, line 4: parameter "smtp_tls_loglevel" is not implemented by mailflow (ignored)'
    """
    if name in POSTFIX_ONLY:
        return f"{where}: parameter \"{name}\" is not implemented by mailflow (ignored)"
    close = difflib.get_close_matches(name, PARAMS, n=1, cutoff=0.75)
    hint = f"; did you mean \"{close[0]}\"?" if close else ""
    return f"{where}: unknown parameter \"{name}\"{hint} (ignored)"


def _read(path: Path) -> str:
    try:
        # Postfix reads bytes: a Latin-1 comment must not stop the mail system.
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        # Unreadable is not missing: say which file and why, as Postfix's
        # "fatal: open DIR/main.cf: Permission denied".
        raise ConfigError(f"open {path}: {exc.strerror or exc}") from None
