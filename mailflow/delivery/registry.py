"""The delivery agent registry: transport or master.cf command name -> factory.

Owns how an agent is found and built. A factory is called once per
master.cf service as ``factory(cfg, service)`` with the service's ``-o``
overrides already applied to ``cfg``; ``service`` is None when an agent is
made from Python without a master.cf line. The queue manager keeps the
agent and calls ``await agent.deliver(request)`` for every request, so an
agent may keep connections open between requests (SMTP, LMTP). Never
delivers anything itself.

>>> class Recorder:
...     def __init__(self, cfg, service):
...         self.seen = []
...     async def deliver(self, request):
...         self.seen.append(request)
...         return []
>>> register_agent("recorder", Recorder)
>>> agent = create_agent("recorder")
>>> type(agent).__name__
'Recorder'
>>> type(create_agent("mybox", service=ServiceEntry("mybox", "recorder"))).__name__
'Recorder'
>>> unregister_agent("recorder")

An installed package adds an agent through the ``mailflow.agents``
entry-point group (see :mod:`mailflow.plugins`): the entry point's name is
the command or transport name, its object the factory.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Mapping

import attrs

from mailflow.errors import ConfigError
from mailflow.interfaces import DeliveryAgent

__all__ = ["AgentFactory", "ServiceEntry", "register_agent", "unregister_agent",
           "agent_factory", "agent_names", "builtin_agent_names", "create_agent"]

# factory(cfg, service, **hooks) -> agent; hooks only when the caller gives some.
AgentFactory = Callable[..., DeliveryAgent]


@attrs.frozen
class ServiceEntry:
    """What an agent needs from a master.cf line.

    ``name`` is the service (transport) name in column 1, ``command`` the
    program name in column 8 (``pipe``, ``local``, or a name given to
    :func:`register_agent`), ``args`` the words after it (``flags=Rq``,
    ``argv=/bin/x ${recipient}``) and ``overrides`` the ``-o name=value``
    settings.

    >>> ServiceEntry("mytransport", "pipe", ("flags=R", "argv=/bin/cat")).args
    ('flags=R', 'argv=/bin/cat')
    """

    name: str
    command: str
    args: tuple = attrs.field(default=(), converter=tuple)
    overrides: Mapping[str, str] = attrs.field(factory=dict)
    unprivileged: bool = True

    @classmethod
    def from_master(cls, entry: Any) -> "ServiceEntry":
        """Adapt a master.cf entry object (``name``, ``command`` or ``argv``,
        ``args``, ``overrides``) from the config layer."""
        if isinstance(entry, cls):
            return entry
        command = getattr(entry, "command", None)
        args = tuple(getattr(entry, "args", ()) or ())
        if command is None:
            argv = list(getattr(entry, "argv", ()) or ())
            command, args = (argv[0], tuple(argv[1:])) if argv else ("", ())
        elif " " in command.strip():
            words = command.split()
            command, args = words[0], tuple(words[1:]) + args
        overrides = getattr(entry, "overrides", None) or {}
        if not isinstance(overrides, Mapping):
            overrides = dict(item.split("=", 1) for item in overrides)
        return cls(getattr(entry, "name", command), command, args, dict(overrides),
                   getattr(entry, "unprivileged", True) not in (False, "n"))


_REGISTRY: dict[str, AgentFactory] = {}


def _call(target: Callable[..., DeliveryAgent], cfg: Any, service: Any,
          hooks: dict[str, Any]) -> DeliveryAgent:
    # A hook an agent does not take (resubmit= for discard) is not for it.
    try:
        accepted = inspect.signature(target).parameters
    except (TypeError, ValueError):
        accepted = {}
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        hooks = {k: v for k, v in hooks.items() if k in accepted}
    return target(cfg, service, **hooks)


def _lazy(module: str, attr: str) -> AgentFactory:
    # Built-in agents are imported only when used, so `sendmail` stays fast.
    def factory(cfg: Any, service: Any, **hooks: Any) -> DeliveryAgent:
        return _call(getattr(importlib.import_module(module), attr), cfg, service, hooks)
    factory.__qualname__ = f"{module}.{attr}"
    return factory


def _plugin(name: str) -> AgentFactory | None:
    # The mailflow.agents entry point of that name, imported on first use.
    from mailflow import plugins
    if name in _BUILTIN or name not in plugins.plugin_names("mailflow.agents"):
        return None
    target = plugins.load("mailflow.agents", name)

    def factory(cfg: Any, service: Any, **hooks: Any) -> DeliveryAgent:
        return _call(target, cfg, service, hooks)
    factory.__qualname__ = f"plug-in {name}"
    return factory


_BUILTIN: dict[str, AgentFactory] = {
    "local": _lazy("mailflow.delivery.local", "LocalAgent"),
    "virtual": _lazy("mailflow.delivery.virtual", "VirtualAgent"),
    "pipe": _lazy("mailflow.delivery.pipe", "PipeAgent"),
    "discard": _lazy("mailflow.delivery.trivial", "DiscardAgent"),
    "error": _lazy("mailflow.delivery.trivial", "error_service"),
    "retry": _lazy("mailflow.delivery.trivial", "RetryAgent"),
    "smtp": _lazy("mailflow.delivery.smtp", "SmtpAgent"),
    "lmtp": _lazy("mailflow.delivery.lmtp", "LmtpAgent"),
}


def register_agent(name: str, factory: AgentFactory) -> None:
    """Make ``name`` (a transport or a master.cf command name) build agents with ``factory``."""
    _REGISTRY[name] = factory


def unregister_agent(name: str) -> None:
    """Forget a registration made with :func:`register_agent` (built-ins stay)."""
    _REGISTRY.pop(name, None)


def agent_factory(name: str) -> AgentFactory | None:
    """The factory for ``name``: a user registration first, then the
    built-ins, then an installed ``mailflow.agents`` plug-in (a plug-in that
    fails to import, or a name two plug-ins claim, is a PluginError).

    >>> agent_factory("virtual") is not None, agent_factory("nosuch")
    (True, None)
    """
    return _REGISTRY.get(name) or _BUILTIN.get(name) or _plugin(name)


def agent_names() -> list[str]:
    """Every name an agent can be created under, sorted (plug-ins included).

    >>> {"local", "virtual", "pipe", "discard", "error", "retry", "smtp", "lmtp"} <= set(agent_names())
    True
    """
    from mailflow import plugins
    return sorted(set(_REGISTRY) | set(_BUILTIN) | set(plugins.plugin_names("mailflow.agents")))


def builtin_agent_names() -> list[str]:
    """The agents mailflow itself provides, sorted (no plug-in may take these names).

    >>> builtin_agent_names()
    ['discard', 'error', 'lmtp', 'local', 'pipe', 'retry', 'smtp', 'virtual']
    """
    return sorted(_BUILTIN)


def create_agent(transport: str, cfg: Any = None, service: Any = None, **hooks: Any) -> DeliveryAgent:
    """Build the agent for ``transport``.

    With a master.cf ``service`` the agent is found by its command column
    (``pipe``, ``local``, or a registered name), falling back to the service
    name, and built with the service's ``-o`` overrides applied. Without one
    it is found by the transport name. An unknown name is a ConfigError.
    ``hooks`` are passed to the factory as keyword arguments, e.g. the
    daemon's ``resubmit=`` for the local agent's forwarded mail.
    """
    entry = ServiceEntry.from_master(service) if service is not None else None
    names = [entry.command, entry.name] if entry is not None else [transport]
    for name in names:
        factory = agent_factory(name)
        if factory is not None:
            break
    else:
        raise ConfigError(f"no delivery agent for transport {transport!r} "
                          f"(register one with register_agent({names[0]!r}, factory))")
    if entry is not None and entry.overrides and cfg is not None:
        cfg = cfg.with_overrides(**entry.overrides)
    return factory(cfg, entry, **hooks)
