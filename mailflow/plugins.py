"""Plug-ins: code from installed packages, found through Python entry points.

This module owns discovery and its rules; the registries that use a plug-in
(delivery agents, table types, cleanup rules, smtpd restrictions) ask it for
a name they do not know themselves. One entry-point group per extension
point:

=========================  ==========================================  ==========================
group                      what the name is used as                    the object loaded
=========================  ==========================================  ==========================
``mailflow.agents``        a master.cf command or transport name        ``factory(cfg, service)``
``mailflow.tables``        a ``type:`` of lookup tables                 ``opener(name, cfg)``
``mailflow.cleanup_rules`` a name in main.cf's ``cleanup_rules``        a rule, or ``factory(cfg)``
``mailflow.restrictions``  a name in any ``smtpd_*_restrictions``       ``func(facts)``
=========================  ==========================================  ==========================

The rules: a name that two plug-ins claim is an error (never a silent
override), a plug-in may not claim a built-in name, and a plug-in that
fails to import is an error naming the entry point and the exception.
Plug-ins are imported only when used, except by :func:`check_plugins`
(``mailflow check`` and ``mailflow start``), which imports every one so that
a broken package is found before the daemon runs. Restriction names are
compared without case, as smtpd compares them; the others exactly.

>>> plugins("mailflow.nosuch")
[]
>>> load("mailflow.agents", "no-such-agent") is None
True
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, Iterable, Mapping

import attrs

from mailflow.errors import ConfigError

__all__ = ["GROUPS", "Plugin", "PluginError", "plugins", "plugin_names", "load",
           "problems", "builtin_names", "check_plugins", "reset"]

#: Every entry-point group mailflow reads, with what its names are.
GROUPS: Mapping[str, str] = {
    "mailflow.agents": "delivery agent",
    "mailflow.tables": "table type",
    "mailflow.cleanup_rules": "cleanup rule",
    "mailflow.restrictions": "smtpd restriction",
}

# smtpd lower-cases restriction names before it looks them up.
_FOLDED = frozenset({"mailflow.restrictions"})


class PluginError(ConfigError):
    """A plug-in that cannot be used: it fails to import, or its name is
    claimed twice or is a built-in one.

    >>> str(PluginError("plug-in x: broken"))
    'plug-in x: broken'
    """


@attrs.frozen
class Plugin:
    """One entry point of one installed distribution.

    >>> p = Plugin("mailflow.agents", "webhook", "hook.agent:Agent", "hook 1.0")
    >>> str(p)
    'mailflow.agents entry point "webhook = hook.agent:Agent" (hook 1.0)'
    """

    group: str
    name: str
    value: str              # "module:attr" as written in entry_points.txt
    dist: str = ""          # "name version" of the distribution that declares it

    def __str__(self) -> str:
        where = f" ({self.dist})" if self.dist else ""
        return f'{self.group} entry point "{self.name} = {self.value}"{where}'


_SCAN: dict[str, list[Plugin]] | None = None
_LOADED: dict[tuple[str, str], Any] = {}


def reset() -> None:
    """Forget what was scanned and loaded (after installing a package at run
    time, and in tests).

    >>> reset()
    """
    global _SCAN
    _SCAN = None
    _LOADED.clear()


def _key(group: str, name: str) -> str:
    return name.lower() if group in _FOLDED else name


def _scan() -> dict[str, list[Plugin]]:
    global _SCAN
    if _SCAN is None:
        found: dict[str, list[Plugin]] = {group: [] for group in GROUPS}
        seen: set[tuple[str, str, str]] = set()
        for dist in importlib.metadata.distributions():
            label = f"{dist.metadata['Name']} {dist.version}"
            for ep in dist.entry_points:
                if ep.group not in found:
                    continue
                # One distribution reachable twice on sys.path declares the
                # same thing twice; that is no conflict.
                if (ep.group, ep.name, ep.value) in seen:
                    continue
                seen.add((ep.group, ep.name, ep.value))
                found[ep.group].append(Plugin(ep.group, ep.name, ep.value, label))
        for group in found:
            found[group].sort(key=lambda p: (p.name, p.value))
        _SCAN = found
    return _SCAN


def plugins(group: str) -> list[Plugin]:
    """The entry points installed in ``group``, sorted by name (none imported).

    >>> all(p.group == "mailflow.tables" for p in plugins("mailflow.tables"))
    True
    """
    return list(_scan().get(group, ()))


def plugin_names(group: str) -> list[str]:
    """The distinct names claimed in ``group``, sorted.

    >>> plugin_names("mailflow.nosuch")
    []
    """
    return sorted({_key(group, p.name) for p in plugins(group)})


def _claims(group: str, name: str) -> list[Plugin]:
    key = _key(group, name)
    return [p for p in plugins(group) if _key(group, p.name) == key]


def _conflict(group: str, name: str, claims: list[Plugin]) -> PluginError:
    return PluginError(f'{GROUPS.get(group, group)} name "{name}" is claimed by '
                       f'{len(claims)} plug-ins: ' + "; ".join(str(p) for p in claims))


def _import(plugin: Plugin) -> Any:
    try:
        return importlib.metadata.EntryPoint(plugin.name, plugin.value, plugin.group).load()
    except Exception as exc:
        # Whatever a broken package raises while importing (ImportError, a
        # SyntaxError, its own RuntimeError): this runs at configuration
        # time, and the error must name the entry point, not just the module.
        raise PluginError(f"cannot load {plugin}: {type(exc).__name__}: {exc}") from exc


def load(group: str, name: str) -> Any:
    """The object the plug-in named ``name`` in ``group`` refers to, imported
    on first use; None when no installed package claims the name.

    A name claimed twice, or a plug-in that fails to import, is a
    :class:`PluginError`.

    >>> load("mailflow.tables", "no-such-type") is None
    True
    """
    cache = (group, _key(group, name))
    if cache in _LOADED:
        return _LOADED[cache]
    claims = _claims(group, name)
    if not claims:
        return None
    if len(claims) > 1:
        raise _conflict(group, name, claims)
    value = _LOADED[cache] = _import(claims[0])
    return value


def problems(builtin: Mapping[str, Iterable[str]] | None = None) -> list[PluginError]:
    """Import every plug-in of every group; every error found, in order.

    ``builtin`` gives, per group, the names mailflow itself defines: a
    plug-in claiming one of them is an error too.

    >>> problems()
    []
    """
    errors: list[PluginError] = []
    for group in GROUPS:
        taken = {_key(group, n) for n in (builtin or {}).get(group, ())}
        for name in plugin_names(group):
            claims = _claims(group, name)
            if len(claims) > 1:
                errors.append(_conflict(group, name, claims))
                continue
            if name in taken:
                errors.append(PluginError(f"{claims[0]} claims the name of a built-in "
                                          f"{GROUPS[group]}"))
                continue
            try:
                load(group, name)
            except PluginError as exc:
                errors.append(exc)
    return errors


def builtin_names() -> dict[str, list[str]]:
    """The names mailflow defines itself, per group (a plug-in may not take one).

    >>> "smtp" in builtin_names()["mailflow.agents"]
    True
    """
    from mailflow.delivery.registry import builtin_agent_names
    from mailflow.smtpd.restrictions import builtin_restriction_names
    from mailflow.tables import BUILTIN_TYPES
    return {"mailflow.agents": builtin_agent_names(),
            "mailflow.tables": sorted(BUILTIN_TYPES),
            "mailflow.cleanup_rules": [],
            "mailflow.restrictions": builtin_restriction_names()}


def check_plugins(cfg: Any = None) -> list[ConfigError]:
    """What ``mailflow check`` and ``mailflow start`` report about plug-ins:
    every :func:`problems` error, then each name in ``cleanup_rules`` that
    names no rule.

    >>> check_plugins()
    []
    """
    errors: list[ConfigError] = list(problems(builtin_names()))
    if cfg is not None:
        from mailflow.cleanup.rules import configured_rules
        try:
            configured_rules(cfg)
        except PluginError:
            pass   # already reported above
        except ConfigError as exc:
            errors.append(exc)
    return errors
