"""The master daemon: runs master.cf's services in one asyncio event loop.

Owns the daemon's life: load and validate main.cf/master.cf (fail fast with
the file:line message), create missing queue directories, hold
``$queue_directory/pid/master.pid`` (locked, as Postfix's master does, so a
stale file never looks alive), start every implemented service in process,
bind the listening sockets of ``inet`` services before they start (and keep
them across reloads and restarts, so a port is never closed while its entry
stays), forward wake-up requests (``public/<service>`` FIFOs and master.cf's
wakeup timers) to ``service.wake``, restart a service whose task dies (with
back-off and a log line), reload on SIGHUP and stop gracefully on SIGTERM.
It never handles mail itself; the services do.

Why one process (see docs/daemon.md): handing a message from pickup or
smtpd to cleanup and the queue manager is a Python call, not a socket and a
re-read queue file; Postfix spends most of its CPU per message on exactly
that. The process model is recorded per service in the registry
(:class:`~mailflow.services.skeleton.ProcessModel`): a ``WORKERS`` service
(smtpd with ``smtpd_worker_processes`` above 0) runs as a pool of worker
processes sharing its sockets (:mod:`mailflow.services.workers`), to use
more than one core.

>>> m = Master("/etc/mailflow")
>>> m.config_dir
'/etc/mailflow'
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import os
import pwd
import signal
from typing import Any, Callable

import attrs

from mailflow.adapters.kick import KickListener
from mailflow.adapters.listen import (ListenError, duplicate, ipv6_available, open_listeners,
                                      resolve_endpoint)
from mailflow.config import Config, Service
from mailflow.config.master_cf import Endpoint, parse_inet_endpoint, parse_inet_protocols
from mailflow.errors import ConfigError
from mailflow.services.skeleton import (ProcessModel, ServiceContext, ServiceNotImplemented,
                                        is_delivery_agent, is_library_service, service_spec)

__all__ = ["Master", "QUEUE_DIRECTORIES", "load_configuration", "ensure_queue_directories",
           "pid_file_path", "read_pid", "running_pid", "process_gone",
           "terminate_process_group", "open_default_store", "service_plan", "inet_endpoints",
           "VERSION"]

log = logging.getLogger("mailflow.master")

VERSION = "0.1.0"
# The spool (DESIGN.md) plus the master's own directories: pid/ for
# master.pid, public/ and private/ for wake-up channels.
QUEUE_DIRECTORIES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt",
                     "bounce", "defer", "trace", "pid", "public", "private")
_RESTART_FIRST_DELAY = 0.1     # seconds; doubled per quick death, up to service_throttle_time
_STOP_TIMEOUT = 30.0           # a graceful stop that takes longer is cancelled


# ---------------------------------------------------------------- configuration
def load_configuration(config_dir: str) -> tuple[Config, list[Service]]:
    """Read and validate main.cf and master.cf; raise the first ConfigError.

    Returns the Config and master.cf's entries in file order.
    """
    cfg = Config.from_directory(config_dir)
    _validate(cfg)
    return cfg, master_entries(cfg)


def _validate(cfg: Config) -> None:
    cfg.check()        # the first bad value in main.cf or a master.cf -o override
    # A plug-in that does not import, or a name two plug-ins claim, stops
    # the start here rather than at the first message that needs it.
    from mailflow.plugins import check_plugins
    errors = check_plugins(cfg)
    if errors:
        raise errors[0]
    # Where each inet service listens: a bad address fails here, in the
    # caller's terminal, before anything starts.
    inet = [e for e in master_entries(cfg) if e.type == "inet"]
    if inet:
        for entry, _spec in service_plan(inet)[0]:
            inet_endpoints(cfg, entry)


def inet_endpoints(cfg: Config, entry: Service, *,
                   ipv6: bool | None = None) -> list[Endpoint]:
    """Where the ``inet`` entry listens (main.cf's ``inet_interfaces`` and
    ``inet_protocols``); a bad address is a ConfigError naming master.cf's
    file and line.

    >>> from mailflow.config import parse_master_cf
    >>> cfg = Config(inet_interfaces="loopback-only", inet_protocols="ipv4")
    >>> [e.display for e in inet_endpoints(cfg, parse_master_cf(
    ...     "2525 inet n - n - - smtpd\\n")["2525/inet"])]
    ['127.0.0.1:2525']
    >>> inet_endpoints(cfg, parse_master_cf("300.1.2.3:2525 inet n - n - - smtpd\\n")[
    ...     "300.1.2.3:2525/inet"])
    Traceback (most recent call last):
    ...
    mailflow.errors.ConfigError: master.cf, line 1: bad hostname or network address: 300.1.2.3
    """
    try:
        return parse_inet_endpoint(entry.service, cfg["inet_interfaces"], cfg["inet_protocols"],
                                   ipv6_available=ipv6_available() if ipv6 is None else ipv6)
    except ValueError as exc:
        raise ConfigError(str(exc), filename=cfg.master.filename,
                          lineno=entry.lineno or None) from None


def ensure_queue_directories(queue_directory: str) -> list[str]:
    """Create the spool's missing directories; return the ones created.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> sorted(ensure_queue_directories(d))[:3]
    ['active', 'bounce', 'corrupt']
    >>> ensure_queue_directories(d)
    []
    """
    created = []
    os.makedirs(queue_directory, exist_ok=True)
    for name in QUEUE_DIRECTORIES:
        path = os.path.join(queue_directory, name)
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o700, exist_ok=True)
            created.append(name)
    return created


def pid_file_path(queue_directory: str) -> str:
    """``$queue_directory/pid/master.pid``.

    >>> pid_file_path("/var/spool/mailflow")
    '/var/spool/mailflow/pid/master.pid'
    """
    return os.path.join(queue_directory, "pid", "master.pid")


def read_pid(queue_directory: str) -> int | None:
    """The pid written in master.pid, or None when there is no usable file."""
    try:
        with open(pid_file_path(queue_directory)) as fh:
            return int(fh.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def running_pid(queue_directory: str) -> int | None:
    """The master's pid when one is running, else None.

    Running means: master.pid names a live process *and* that process holds
    the file's lock (Postfix's ``master -t`` test), so a stale pid file left
    by a crash, or a recycled pid, reads as "not running".
    """
    path = pid_file_path(queue_directory)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            pid = read_pid(queue_directory)
            if pid is None:
                return None
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                pass
            return pid
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def process_gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def terminate_process_group() -> bool:
    """SIGTERM every other process in the master's process group.

    The daemon is a session and process-group leader (``mailflow start``
    uses setsid), and worker processes and commands run by services (pipe)
    stay in its group: when the master ends, none of them may keep working
    on the spool. Does nothing (returns False) when this process does not
    lead its group, e.g. ``start-fg`` run from a shell job.
    """
    if os.getpgid(0) != os.getpid():
        return False
    try:
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:          # not the main thread
        return False
    try:
        os.killpg(os.getpid(), signal.SIGTERM)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return True


def open_default_store(cfg: Config) -> Any:
    """The file spool under ``queue_directory`` (the daemon's default store)."""
    from mailflow.adapters.queue_store import open_queue_store
    return open_queue_store(cfg)


def master_entries(cfg: Config) -> list[Service]:
    """master.cf's entries (:class:`mailflow.config.Service`) in file order."""
    return list(cfg.master)


def service_plan(entries: list[Service]) -> tuple[list[tuple[Service, Any]], list[Service]]:
    """Which master.cf entries the master starts: ``(entry, spec)`` pairs, and
    the entries it skips because their command is not implemented yet.

    Delivery agents and library services are neither: the queue manager and
    the other services call them in process.

    >>> from mailflow.config import parse_master_cf
    >>> run, skipped = service_plan(list(parse_master_cf(
    ...     "pickup unix n - n 60 1 pickup\\nlocal unix - n n - - local\\n"
    ...     "sink unix - - n - - nosuchdaemon\\n")))
    >>> [e.service for e, _ in run], [e.service for e in skipped]
    (['pickup'], ['sink'])
    """
    run, skipped = [], []
    for entry in entries:
        if is_delivery_agent(entry.command) or is_library_service(entry.command):
            continue
        try:
            run.append((entry, service_spec(entry.command)))
        except ServiceNotImplemented:
            skipped.append(entry)
    return run, skipped


def _sock_endpoint(sock: Any) -> Endpoint:
    host, port = sock.getsockname()[:2]
    return Endpoint(str(host), int(port), sock.family)


def _close_sockets(sockets: dict[Endpoint, list]) -> None:
    for socks in sockets.values():
        for sock in socks:
            sock.close()


# ---------------------------------------------------------------- the daemon
@attrs.define
class _Running:
    """One running service and what the master keeps for it."""

    name: str
    command: str
    entry: Service
    factory: Callable[[], Any]
    ctx: ServiceContext | None = None
    service: Any = None
    tasks: set = attrs.field(factory=set)
    listener: KickListener | None = None
    # inet entries: the master's own listening sockets, per endpoint
    sockets: dict[Endpoint, list] = attrs.field(factory=dict)
    timer: asyncio.Task | None = None
    restart_delay: float = _RESTART_FIRST_DELAY
    restarting: bool = False
    started_at: float = 0.0


class Master:
    """The mail system's master process.

    Use :meth:`run` from a fresh event loop (``asyncio.run(master.run())``);
    it returns the exit status after a stop. ``ready`` is called once every
    service has started (the daemonizing parent waits for it).
    ``store_factory(cfg)`` builds the queue store (default: the file spool).
    ``on_config(cfg)`` is called with each configuration loaded, at start and
    on reload, before services see it (the CLI sets up logging there, so a
    changed ``maillog_file`` takes effect on reload).
    """

    def __init__(self, config_dir: str, *, store_factory: Callable[[Config], Any] | None = None,
                 install_signals: bool = True,
                 on_config: Callable[[Config], Any] | None = None) -> None:
        self.config_dir = config_dir
        self.store_factory = store_factory or open_default_store
        self.install_signals = install_signals
        self.on_config = on_config
        self.cfg: Config | None = None
        self.store: Any = None
        self.services: dict[str, Any] = {}       # name -> running service object
        self.transports: dict[str, Service] = {}  # delivery-agent name -> master.cf entry
        self._running: dict[str, _Running] = {}
        self._stop: asyncio.Event | None = None
        self._pid_fd: int | None = None
        self._stopping = False
        self._reload_lock: asyncio.Lock | None = None

    # -- public control (also what the signal handlers call) -------------
    def request_stop(self) -> None:
        """Begin a graceful stop (SIGTERM)."""
        if self._stop is not None:
            self._stop.set()

    def request_reload(self) -> None:
        """Re-read the configuration (SIGHUP)."""
        asyncio.get_running_loop().create_task(self.reload())

    # -- life cycle -----------------------------------------------------
    def serve(self, ready: Callable[[], None] | None = None) -> int:
        """Run the daemon in a new event loop until it stops; return the exit status.

        The entry point for a process that is nothing but the master
        (``mailflow start``/``start-fg``), so the event loop stays in this
        layer. Errors are those of :meth:`run`.
        """
        return asyncio.run(self.run(ready))

    async def run(self, ready: Callable[[], None] | None = None) -> int:
        """Start, wait for a stop request, stop. Raises ConfigError/OSError
        before anything started when the configuration or spool is bad."""
        self._stop = asyncio.Event()
        cfg, entries = load_configuration(self.config_dir)
        self.cfg = cfg
        if self.on_config is not None:
            self.on_config(cfg)
        qdir = str(cfg.queue_directory)
        ensure_queue_directories(qdir)
        self._lock_pid_file(qdir)
        loop = asyncio.get_running_loop()
        if self.install_signals:
            # Before any service starts: a SIGTERM during start stops cleanly.
            loop.add_signal_handler(signal.SIGTERM, self._on_signal, signal.SIGTERM)
            loop.add_signal_handler(signal.SIGINT, self._on_signal, signal.SIGINT)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        try:
            self.store = self.store_factory(cfg)
            log.info("daemon started -- version %s, configuration %s", VERSION,
                     os.path.abspath(self.config_dir))
            self._warn_not_root(cfg, entries)
            await self._start_all(cfg, entries)
            if ready is not None and not self._stop.is_set():
                ready()
            await self._stop.wait()
            await self._stop_all()
            return 0
        except BaseException:
            await self._stop_all()
            raise
        finally:
            if self.install_signals:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
                terminate_process_group()
            self._unlock_pid_file(qdir)

    def _on_signal(self, signum: int) -> None:
        log.info("terminating on signal %d", signum)
        self.request_stop()

    async def reload(self) -> None:
        """Re-read main.cf/master.cf: running services get ``reload(cfg)``,
        new ones start, removed ones stop; a bad configuration is logged and
        the old one kept. Work in flight is not interrupted. Reloads run one
        at a time (two quick SIGHUPs do not interleave)."""
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            if not self._stopping:
                await self._reload()

    async def _reload(self) -> None:
        try:
            cfg, entries = load_configuration(self.config_dir)
        except (ConfigError, OSError) as exc:
            log.warning("reload failed, keeping the old configuration: %s", exc)
            return
        if self.on_config is not None:
            try:
                self.on_config(cfg)
            except (OSError, ConfigError) as exc:
                log.warning("reload: cannot apply the new logging settings: %s", exc)
        log.info("reload -- version %s, configuration %s", VERSION,
                 os.path.abspath(self.config_dir))
        self.cfg = cfg
        wanted = self._plan(entries)
        for name in [n for n in self._running if n not in wanted
                     or wanted[n][0] != self._running[n].command
                     or wanted[n][1].type != self._running[n].entry.type]:
            await self._stop_one(self._running.pop(name))
        self.transports.clear()
        self.transports.update({e.service: e for e in entries if is_delivery_agent(e.command)})
        for name, (command, entry, factory) in wanted.items():
            run = self._running.get(name)
            if run is None:
                run = _Running(name, command, entry, factory)
                if entry.type == "inet":
                    try:
                        self._listen(run, cfg)
                    except ConfigError as exc:
                        log.warning("reload: %s; service %s not started", exc, name)
                        continue
                self._running[name] = run
                await self._start_one(run, cfg)
                continue
            run.entry = entry
            if entry.type == "inet" and await self._relisten(run, cfg):
                # A new address: the service starts again on the new
                # sockets (sessions in flight end first, in its stop()).
                await self._restart_now(run, cfg)
                continue
            listeners = run.ctx.listeners if run.ctx is not None else ()
            run.ctx = attrs.evolve(self._context(run, cfg), listeners=listeners)
            if run.service is None:
                continue        # waiting for a restart, which gets the new ctx
            try:
                run.service.reload(run.ctx.config)
            except Exception:
                log.exception("service %s: reload failed", name)
            self._arm_timer(run)

    # -- planning ---------------------------------------------------------
    def _plan(self, entries: list[Service]) -> dict[str, tuple[str, Service, Callable[[], Any]]]:
        plan: dict[str, tuple[str, Service, Callable[[], Any]]] = {}
        run, skipped = service_plan(entries)
        for entry, spec in run:
            factory = spec.factory
            if spec.process_model is ProcessModel.WORKERS:
                factory = self._workers_factory(entry, spec) or factory
            plan[entry.service] = (entry.command, entry, factory)
        if skipped:
            log.warning("master.cf: services not implemented yet, skipped: %s",
                        ", ".join(f"{e.service}/{e.type} ({e.command})" for e in skipped))
        return plan

    def _workers_factory(self, entry: Service, spec: Any) -> Callable[[], Any] | None:
        """A WORKERS service: a pool of worker processes when its
        ``<command>_worker_processes`` (with the entry's -o overrides) is
        above 0. Workers open the file spool themselves, so a master given
        another store runs the service in process."""
        from mailflow.services.workers import WorkerPool, worker_count
        assert self.cfg is not None
        cfg = self.cfg.for_service(entry) if entry.overrides else self.cfg
        count = worker_count(cfg, entry.command)
        if count <= 0 or entry.type != "inet":
            return None
        if self.store_factory is not open_default_store:
            if cfg.is_set(f"{entry.command}_worker_processes"):
                log.warning("service %s/%s: worker processes need the file spool; "
                            "running it in process", entry.service, entry.type)
            return None
        return functools.partial(WorkerPool, entry.command, self.config_dir, count)

    def _warn_not_root(self, cfg: Config, entries: list[Service]) -> None:
        # DESIGN.md "Not root": settings naming another user are honoured
        # only as root; otherwise say once which ones are ignored.
        if os.geteuid() == 0:
            return
        ignored = [name for name in ("mail_owner", "default_privs", "virtual_uid_maps",
                                     "virtual_gid_maps") if cfg.is_set(name)]
        ignored += [f"user= in {e.service}/{e.type}" for e in entries
                    if any(a.startswith("user=") for a in e.args)]
        if ignored:
            try:
                me = pwd.getpwuid(os.geteuid()).pw_name
            except KeyError:
                me = str(os.geteuid())
            log.warning("not running as root: ignoring %s; mail is delivered as user %s",
                        ", ".join(ignored), me)

    def _context(self, run: _Running, cfg: Config) -> ServiceContext:
        entry = run.entry
        # main.cf plus the entry's -o overrides (errors name master.cf).
        svc_cfg = cfg.for_service(entry) if entry.overrides else cfg
        return ServiceContext(
            name=run.name, config=svc_cfg, entry=entry, store=self.store,
            services=self.services, transports=self.transports, maxproc=entry.maxproc,
            wakeup=entry.wakeup,
            queue_directory=str(cfg.queue_directory),
            spawn=lambda coro, run=run: self._spawn(run, coro))

    # -- starting and stopping services --------------------------------------
    async def _start_all(self, cfg: Config, entries: list[Service]) -> None:
        self.transports.update({e.service: e for e in entries if is_delivery_agent(e.command)})
        plan = self._plan(entries)
        # Every port first: one that cannot be bound stops the start before
        # any service runs, and clients may connect (and wait in the listen
        # queue) from the moment start returns.
        for name, (command, entry, factory) in plan.items():
            run = self._running[name] = _Running(name, command, entry, factory)
            if entry.type == "inet":
                self._listen(run, cfg)
        for name in plan:
            await self._start_one(self._running[name], cfg, fatal=True)

    # -- listening sockets (inet services) -----------------------------------
    def _backlog(self, cfg: Config, entry: Service) -> int:
        # master(8): the larger of the entry's process limit and
        # default_process_limit.
        try:
            default = int(cfg["default_process_limit"])
        except (KeyError, ConfigError, TypeError, ValueError):
            default = 100
        return max(entry.maxproc, default, 1)

    def _open(self, cfg: Config, entry: Service, endpoints: list[Endpoint],
              bound: dict[Endpoint, list] | None = None) -> dict[Endpoint, list]:
        """Bind ``endpoints``; a failure is a ConfigError naming master.cf's line.

        An address bound already (in ``bound``, or by an earlier endpoint:
        ``localhost`` and ``127.0.0.1``) is bound once, as Postfix's
        inet_addr_list_uniq() does."""
        families = parse_inet_protocols(cfg["inet_protocols"], ipv6_available=ipv6_available())
        opened: dict[Endpoint, list] = {}
        seen = {_sock_endpoint(s) for socks in (bound or {}).values() for s in socks}
        try:
            for endpoint in endpoints:
                fresh = [e for e in resolve_endpoint(endpoint, families) if e not in seen]
                seen.update(fresh)
                opened[endpoint] = open_listeners(fresh, backlog=self._backlog(cfg, entry))
        except ListenError as exc:
            _close_sockets(opened)
            raise ConfigError(str(exc), filename=cfg.master.filename,
                              lineno=entry.lineno or None) from None
        return opened

    def _listen(self, run: _Running, cfg: Config) -> None:
        """Open the entry's sockets at start (errors are fatal)."""
        run.sockets = self._open(cfg, run.entry, inet_endpoints(cfg, run.entry))
        for endpoint, socks in run.sockets.items():
            log.debug("service %s: listening on %s (%d sockets)", run.name, endpoint.display,
                      len(socks))

    async def _relisten(self, run: _Running, cfg: Config) -> bool:
        """On reload: keep the sockets of unchanged endpoints, bind new ones,
        close removed ones. True when the set of sockets changed."""
        try:
            wanted = inet_endpoints(cfg, run.entry)
        except ConfigError as exc:      # load_configuration checked it; the host changed?
            log.warning("reload: %s; keeping the old listeners", exc)
            return False
        added = [e for e in wanted if e not in run.sockets]
        removed = {e: socks for e, socks in run.sockets.items() if e not in wanted}
        if not added and not removed:
            return False
        try:
            new = self._open(cfg, run.entry, added, run.sockets)
        except ConfigError:
            # Linux refuses a specific address while the wildcard on the
            # same port is still open (and the reverse): stop the service
            # (it holds copies), free the old endpoints, then try once more.
            await self._stop_for_restart(run)
            _close_sockets(removed)
            run.sockets = {e: s for e, s in run.sockets.items() if e not in removed}
            removed = {}
            try:
                new = self._open(cfg, run.entry, added, run.sockets)
            except ConfigError as exc:
                log.warning("reload: %s", exc)
                new = {}
        _close_sockets(removed)
        run.sockets = {e: s for e, s in run.sockets.items() if e not in removed}
        run.sockets.update(new)
        return True

    async def _stop_for_restart(self, run: _Running) -> None:
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        old, run.service = run.service, None
        self.services.pop(run.name, None)
        if old is not None:
            await self._stop_service(run.name, old)
        await self._cancel_tasks(run)
        self._close_service_sockets(run)

    async def _restart_now(self, run: _Running, cfg: Config) -> None:
        if run.restarting:
            return      # a restart is under way; it starts on run.sockets as they are now
        await self._stop_for_restart(run)
        await self._start_one(run, cfg)

    def _close_service_sockets(self, run: _Running) -> None:
        # The service's descriptors (duplicates of the master's): closed
        # after it stopped, in case it did not close them itself.
        if run.ctx is not None:
            for sock in run.ctx.listeners:
                sock.close()

    async def _start_one(self, run: _Running, cfg: Config, *, fatal: bool = False) -> bool:
        listeners = tuple(duplicate(s) for socks in run.sockets.values() for s in socks)
        run.ctx = attrs.evolve(self._context(run, cfg), listeners=listeners)
        service = run.factory()
        try:
            await service.start(run.ctx)
        except Exception as exc:
            self._close_service_sockets(run)
            if fatal:
                raise RuntimeError(f"service {run.name}: cannot start: {exc}") from exc
            log.warning("service %s: cannot start: %s", run.name, exc)
            self._schedule_restart(run)
            return False
        run.service = service
        run.started_at = asyncio.get_running_loop().time()
        self.services[run.name] = service
        if run.listener is None and run.entry.type in ("fifo", "unix", "unix-dgram"):
            klass = "private" if run.entry.private else "public"
            run.listener = KickListener(run.ctx.queue_directory, run.name,
                                        lambda data, run=run: self._wake(run, data), klass=klass)
            run.listener.open()
        self._arm_timer(run)
        return True

    def _wake(self, run: _Running, data: bytes) -> None:
        if run.service is None:
            return
        try:
            run.service.wake(data)
        except Exception:
            log.exception("service %s: wake-up failed", run.name)

    def _arm_timer(self, run: _Running) -> None:
        # master.cf's wakeup column: the master itself triggers the service
        # every N seconds (master(5)); pickup uses it as a safety net.
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        period = run.ctx.wakeup if run.ctx else 0
        if period > 0:
            async def tick() -> None:
                while True:
                    await asyncio.sleep(period)
                    self._wake(run, b"W")
            run.timer = asyncio.get_running_loop().create_task(tick())

    def _spawn(self, run: _Running, coro: Any) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coro)
        run.tasks.add(task)
        task.add_done_callback(lambda t, run=run: self._task_done(run, t))
        return task

    def _task_done(self, run: _Running, task: "asyncio.Task[Any]") -> None:
        run.tasks.discard(task)
        if task.cancelled() or self._stopping or run.restarting:
            return
        exc = task.exception()
        if exc is None or self._running.get(run.name) is not run:
            return
        log.warning("service %s: task died: %s: %s", run.name, type(exc).__name__, exc)
        self._schedule_restart(run)

    def _schedule_restart(self, run: _Running) -> None:
        if run.restarting or self._stopping:
            return
        run.restarting = True
        limit = float(self._throttle_time())
        loop = asyncio.get_running_loop()
        if run.started_at and loop.time() - run.started_at > limit:
            run.restart_delay = _RESTART_FIRST_DELAY     # it ran well for a while: no throttling
        delay = min(run.restart_delay, limit)
        run.restart_delay = min(run.restart_delay * 2, limit)
        log.warning("service %s: restarting in %.1fs -- throttling", run.name, delay)

        async def restart() -> None:
            old = run.service
            run.service = None
            self.services.pop(run.name, None)
            if old is not None:
                await self._stop_service(run.name, old)
            await self._cancel_tasks(run)
            self._close_service_sockets(run)
            await asyncio.sleep(delay)
            run.restarting = False
            if not self._stopping and self._running.get(run.name) is run:
                if await self._start_one(run, self.cfg):
                    log.info("service %s: restarted", run.name)
        loop.create_task(restart())

    def _throttle_time(self) -> int:
        try:
            return int(self.cfg["service_throttle_time"])  # type: ignore[index]
        except (KeyError, ConfigError, TypeError, ValueError):
            return 60       # Postfix's default service_throttle_time

    async def _stop_service(self, name: str, service: Any) -> None:
        try:
            await asyncio.wait_for(service.stop(), _STOP_TIMEOUT)
        except asyncio.TimeoutError:
            log.warning("service %s: stop timed out after %ds", name, _STOP_TIMEOUT)
        except Exception:
            log.exception("service %s: stop failed", name)

    async def _cancel_tasks(self, run: _Running) -> None:
        tasks = list(run.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        run.tasks.clear()

    async def _stop_one(self, run: _Running) -> None:
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.listener is not None:
            run.listener.close()
            run.listener = None
        if run.service is not None:
            await self._stop_service(run.name, run.service)
            self.services.pop(run.name, None)
            run.service = None
        await self._cancel_tasks(run)
        self._close_service_sockets(run)
        _close_sockets(run.sockets)
        run.sockets = {}

    async def _stop_all(self) -> None:
        self._stopping = True
        # Reverse start order: front doors (pickup, smtpd) stop taking mail
        # before the services they hand it to.
        for name in reversed(list(self._running)):
            await self._stop_one(self._running.pop(name))
        closer = getattr(self.store, "close", None)
        if callable(closer):
            closer()

    # -- pid file ---------------------------------------------------------
    def _lock_pid_file(self, qdir: str) -> None:
        path = pid_file_path(qdir)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RuntimeError("the mail system is already running") from None
        # Postfix's layout: the pid right-aligned in 32 columns, then newline.
        os.ftruncate(fd, 0)
        os.write(fd, b"%32d\n" % os.getpid())
        os.fsync(fd)
        self._pid_fd = fd

    def _unlock_pid_file(self, qdir: str) -> None:
        if self._pid_fd is None:
            return
        try:
            os.unlink(pid_file_path(qdir))
        except FileNotFoundError:
            pass
        os.close(self._pid_fd)
        self._pid_fd = None
