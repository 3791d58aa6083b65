"""The service framework: what a master.cf service is to the master.

Owns the :class:`Service` protocol, the :class:`ServiceContext` the master
hands each service, and the registry that maps master.cf's *command* column
(``pickup``, ``qmgr``, ``smtpd``, ...) to a factory. It never runs anything
itself: :mod:`mailflow.services.master` does that.

A service lives in the master's event loop (a call, not a socket, between
components). How a service runs is a per-service choice recorded at
registration (:class:`ProcessModel`); today every service is
``IN_PROCESS``; ``WORKERS`` is reserved for CPU-heavy services (several
smtpd processes sharing a port with SO_REUSEPORT, a process pool for
delivery) and is refused with a clear error until the master implements it.

Delivery agents (local, virtual, pipe, discard, error, smtp, ...) are not
daemons of their own: the queue manager calls them. Their master.cf entries
are handed to every service as ``ctx.transports`` (service name → entry) so
the queue manager can find the agent for a transport name.

>>> class Hello(ServiceBase):
...     async def start(self, ctx):
...         await super().start(ctx)
...         self.woken = []
...     def wake(self, message):
...         self.woken.append(message)
>>> register_service("hello-example", Hello)
>>> spec = service_spec("hello-example")
>>> spec.process_model is ProcessModel.IN_PROCESS, isinstance(spec.factory(), Hello)
(True, True)
>>> unregister_service("hello-example")
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import enum
import importlib
import logging
import signal
import socket
import sys
from typing import Any, Awaitable, Callable, Mapping, Protocol, runtime_checkable

import attrs

__all__ = ["Service", "ServiceBase", "ServiceContext", "ServiceSpec", "ProcessModel",
           "register_service", "unregister_service", "service_spec", "registered_services",
           "is_delivery_agent", "is_library_service", "ServiceNotImplemented",
           "die_with_parent"]

log = logging.getLogger("mailflow.master")


class ProcessModel(str, enum.Enum):
    """How the master runs a service."""

    IN_PROCESS = "in-process"   # a service object in the master's event loop
    WORKERS = "workers"         # reserved: maxproc worker processes (not yet implemented)


@attrs.frozen
class ServiceContext:
    """What a service gets from the master at start.

    ``config`` already has the service's master.cf ``-o`` overrides applied;
    ``entry`` is the master.cf entry (None for a service started from
    Python); ``services`` maps master.cf service names to the running
    in-process services (``ctx.services["qmgr"].wake(b"I")``); ``transports``
    maps delivery-agent service names to their master.cf entries; ``maxproc``
    is the concurrency bound the service must honour (0 = no limit);
    ``wakeup`` the master.cf wakeup interval in seconds (0 = none).
    ``spawn`` starts a background task that the master supervises: if it
    dies with an exception, the master logs it and restarts the service.

    ``listeners`` (``inet`` entries only; ``()`` otherwise) are the sockets
    the master bound for the entry's address(es) before calling ``start``:
    listening, non-blocking, close-on-exec, SO_REUSEADDR. They are the
    service's own descriptors for sockets the master keeps open, so the
    service may close them when it stops (``asyncio``'s ``Server.close``
    does) without closing the port: clients that connect while the service
    restarts or reloads wait in the listen queue. An unchanged address keeps
    the same socket across ``reload``; when the address changes, the master
    stops the service and starts it again with the new sockets.

    ``maxproc`` bounds concurrent sessions of a listening service: serve
    ``listeners`` with
    ``mailflow.adapters.listen.serve_sessions(ctx.listeners, handler,
    limit=ctx.maxproc)``, which stops accepting while ``maxproc`` sessions
    run, so further clients wait in the kernel's listen queue as they do
    when all of Postfix's smtpd processes are busy (0 = no limit; master.cf's
    ``-`` is ``default_process_limit``, 100).

    >>> ctx = ServiceContext(name="pickup", config=None)
    >>> ctx.maxproc, ctx.wakeup, dict(ctx.services), ctx.listeners
    (1, 0, {}, ())
    """

    name: str
    config: Any                       # mailflow.config.Config
    entry: Any = None                 # the master.cf entry
    store: Any = None                 # mailflow.interfaces.QueueStore
    services: Mapping[str, Any] = attrs.field(factory=dict)
    transports: Mapping[str, Any] = attrs.field(factory=dict)
    maxproc: int = 1
    wakeup: int = 0
    queue_directory: str = ""
    spawn: Callable[[Awaitable[Any]], "asyncio.Task[Any]"] = attrs.field(
        default=None, converter=lambda f: f or asyncio.ensure_future)
    listeners: tuple[socket.socket, ...] = attrs.field(default=(), converter=tuple)


@runtime_checkable
class Service(Protocol):
    """A master.cf service, run by the master.

    ``start`` returns once the service is ready for work (listening, first
    scan queued); long-running loops go to ``ctx.spawn``. ``stop`` is
    graceful: it finishes in-flight work and returns when nothing is half
    done. ``reload`` gets the new Config (with ``-o`` overrides) after SIGHUP;
    work in flight continues. ``wake`` receives a request written to the
    service's wake-up channel (``public/<service>``) or the master's periodic
    ``wakeup`` timer (``b"W"``); it must not block.
    """

    async def start(self, ctx: ServiceContext) -> None: ...

    async def stop(self) -> None: ...

    def reload(self, cfg: Any) -> None: ...

    def wake(self, message: bytes) -> None: ...


class ServiceBase:
    """Convenience base: keeps ``ctx``/``config``, ignores wake-ups, stops its
    spawned tasks on :meth:`stop`. Subclasses extend what they need.

    >>> svc = ServiceBase()
    >>> svc.wake(b"W")
    >>> svc.running
    False
    """

    ctx: ServiceContext
    config: Any = None
    running: bool = False

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.config = ctx.config
        self.running = True

    async def stop(self) -> None:
        self.running = False

    def reload(self, cfg: Any) -> None:
        self.config = cfg

    def wake(self, message: bytes) -> None:
        return None


class ServiceNotImplemented(LookupError):
    """A master.cf command that mailflow has no service for (yet)."""


@attrs.frozen
class ServiceSpec:
    """One registry entry: the factory (called with no arguments, returns a
    :class:`Service`) and how the master runs it."""

    command: str
    factory: Callable[[], Service]
    process_model: ProcessModel = ProcessModel.IN_PROCESS


_REGISTRY: dict[str, ServiceSpec] = {}

# Built-in services, imported only when master.cf names them, so that a
# module that is not there yet means "not implemented", never a crash.
_BUILTIN: dict[str, str] = {
    "pickup": "mailflow.services.pickup:PickupService",
    "qmgr": "mailflow.services.qmgr:QmgrService",
    "bounce": "mailflow.services.bounce:BounceService",
    "smtpd": "mailflow.services.smtpd:SmtpdService",
}

# Postfix daemons whose work mailflow does in process as a library call by
# their clients (cleanup(8) is called by pickup and smtpd; trivial-rewrite by
# cleanup and qmgr; bounce(8)'s notices are composed by the queue manager;
# tlsmgr/anvil/scache/... have no counterpart or are not needed): the master
# starts nothing for them and says nothing.
_LIBRARY: frozenset[str] = frozenset({
    "cleanup", "trivial-rewrite", "tlsmgr", "anvil", "scache", "proxymap",
    "showq", "flush", "verify", "postlogd", "postscreen", "dnsblog", "tlsproxy",
})

# Delivery agents (Postfix's command names, smtp and lmtp included before
# they have an agent); the delivery registry knows user-registered ones too.
_AGENTS: frozenset[str] = frozenset({
    "local", "virtual", "pipe", "discard", "error", "retry", "smtp", "lmtp",
})


def register_service(command: str, factory: Callable[[], Service], *,
                     process_model: ProcessModel = ProcessModel.IN_PROCESS) -> None:
    """Make ``command`` (master.cf's command column) run ``factory()``.

    >>> register_service("x-example", ServiceBase)
    >>> "x-example" in registered_services()
    True
    >>> unregister_service("x-example")
    """
    if not command or any(c.isspace() for c in command):
        raise ValueError(f"bad service command name {command!r}")
    _REGISTRY[command] = ServiceSpec(command, factory, ProcessModel(process_model))


def unregister_service(command: str) -> None:
    """Forget a registration (tests; plug-ins being unloaded)."""
    _REGISTRY.pop(command, None)


def registered_services() -> list[str]:
    """Commands with a registered or built-in service."""
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def service_spec(command: str) -> ServiceSpec:
    """The registry entry for ``command``; raises :class:`ServiceNotImplemented`.

    >>> service_spec("no-such-daemon")
    Traceback (most recent call last):
    ...
    mailflow.services.skeleton.ServiceNotImplemented: no-such-daemon
    """
    spec = _REGISTRY.get(command)
    if spec is not None:
        return spec
    target = _BUILTIN.get(command)
    if target is None:
        raise ServiceNotImplemented(command)
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:   # the module exists but is broken: say so
            raise
        raise ServiceNotImplemented(command) from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise ServiceNotImplemented(command)
    spec = ServiceSpec(command, factory)
    _REGISTRY.setdefault(command, spec)
    return _REGISTRY[command]


def is_library_service(command: str) -> bool:
    """A Postfix daemon whose work mailflow does as an in-process library call.

    >>> is_library_service("cleanup"), is_library_service("pickup")
    (True, False)
    """
    return command in _LIBRARY and command not in _REGISTRY


def is_delivery_agent(command: str) -> bool:
    """Whether master.cf's ``command`` names a delivery agent (not a daemon).

    >>> is_delivery_agent("local"), is_delivery_agent("pickup")
    (True, False)
    """
    if command in _AGENTS:
        return True
    from mailflow.delivery.registry import agent_factory
    return agent_factory(command) is not None


_PR_SET_PDEATHSIG = 1   # linux/prctl.h


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies.

    For worker processes (``preexec_fn=die_with_parent``): with
    PR_SET_PDEATHSIG (prctl(2)) a worker never outlives a master that was
    killed outright, so no orphan keeps working on the spool. Returns False
    where the call is not available (not Linux).

    >>> isinstance(die_with_parent.__doc__, str)
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
