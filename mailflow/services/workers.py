"""Worker processes: a master.cf service run as several processes.

Owns :class:`WorkerPool`, the in-master stand-in for a service registered
with :attr:`~mailflow.services.skeleton.ProcessModel.WORKERS`, and
:func:`worker_main`, what each worker process runs. The pool starts
``count`` copies of ``python -m mailflow.services.workers``; each inherits
the listening sockets the master bound (the kernel hands every accepted
connection to exactly one of them), reads main.cf/master.cf itself, opens
the same file spool, and runs the ordinary in-process service object on
its own event loop, with its own interpreter lock: that is how an smtpd
uses both cores of a two-core machine.

What ties a worker to the master, as Postfix's child processes are tied to
its master(8):

- it dies with the master: ``PR_SET_PDEATHSIG`` (:func:`die_with_parent`)
  and the master's process group, which the master signals when it ends;
- a worker that exits is started again (after 0.1 s, doubling while it
  keeps dying quickly, up to ``service_throttle_time``) with a warning;
- ``reload`` reaches it as SIGHUP: the worker re-reads the configuration
  and calls the service's ``reload``; sessions in flight keep theirs;
- ``stop`` is SIGTERM: the worker stops its service gracefully and exits;
- ``maxproc`` bounds sessions in total: each worker gets its share.

Mail the workers accept wakes the queue manager through the
``public/qmgr`` FIFO (:mod:`mailflow.adapters.kick`), and they log to the
same ``maillog_file`` (lines are appended whole, O_APPEND) under their own
pid, as Postfix's smtpd processes do.

>>> shares(100, 2), shares(3, 2), shares(0, 2)
([50, 50], [2, 1], [0, 0])
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from typing import Any

from mailflow.services.skeleton import ServiceBase, ServiceContext, die_with_parent

__all__ = ["WorkerPool", "worker_main", "worker_count", "shares"]

log = logging.getLogger("mailflow.master")

_FIRST_DELAY = 0.1         # seconds before restarting a worker that died
_READY_TIMEOUT = 30.0      # a worker that is not serving after this is killed
_STOP_GRACE = 30.0         # SIGTERM, then SIGKILL after this


def shares(maxproc: int, count: int) -> list[int]:
    """Split ``maxproc`` sessions over ``count`` workers (0 = no bound stays 0).

    >>> shares(10, 3)
    [4, 3, 3]
    """
    if maxproc <= 0:
        return [0] * count
    return [maxproc // count + (1 if i < maxproc % count else 0) for i in range(count)]


class _Worker:
    """One worker slot: its process and its supervision task."""

    def __init__(self, index: int, maxproc: int) -> None:
        self.index = index
        self.maxproc = maxproc
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None
        self.delay = _FIRST_DELAY


class WorkerPool(ServiceBase):
    """A service run as ``count`` worker processes sharing its sockets.

    The master runs this object in its event loop in place of the service
    itself; ``command`` is master.cf's command column and ``config_dir``
    where main.cf/master.cf are, which each worker reads. ``start`` returns
    once every worker reports that it serves. ``pids`` lists the running
    workers' process IDs.

    >>> WorkerPool("smtpd", "/etc/mailflow", 2).count
    2
    """

    def __init__(self, command: str, config_dir: str, count: int, *,
                 syslog: bool | None = None) -> None:
        if count < 1:
            raise ValueError(f"bad worker process count {count}")
        self.command = command
        self.config_dir = os.path.abspath(config_dir)
        self.count = count
        self.syslog = syslog
        self._workers: list[_Worker] = []
        self._stopping = False
        self.restarts = 0

    @property
    def pids(self) -> list[int]:
        """Process IDs of the workers running now."""
        return [w.proc.pid for w in self._workers
                if w.proc is not None and w.proc.returncode is None]

    async def start(self, ctx: ServiceContext) -> None:
        await super().start(ctx)
        self._stopping = False
        self._workers = [_Worker(i, share)
                         for i, share in enumerate(shares(ctx.maxproc, self.count))]
        try:
            for worker in self._workers:
                await self._launch(worker)
        except BaseException:
            await self._terminate()
            raise
        for worker in self._workers:
            worker.task = asyncio.get_running_loop().create_task(self._supervise(worker))

    async def _launch(self, worker: _Worker) -> None:
        """Start the worker's process and wait until it serves (or fails)."""
        fds = [s.fileno() for s in self.ctx.listeners]
        ready_r, ready_w = os.pipe()
        argv = [sys.executable, "-m", "mailflow.services.workers",
                "--config-dir", self.config_dir, "--service", self.ctx.name,
                "--command", self.command, "--maxproc", str(worker.maxproc),
                "--ready-fd", str(ready_w), "--fds", ",".join(map(str, fds))]
        if self.syslog if self.syslog is not None else _master_logs_to_syslog():
            argv.append("--syslog")
        try:
            worker.proc = await asyncio.create_subprocess_exec(
                *argv, pass_fds=[*fds, ready_w], preexec_fn=die_with_parent,
                stdin=asyncio.subprocess.DEVNULL, env=_child_env())
        finally:
            os.close(ready_w)
        try:
            answer = await asyncio.wait_for(_read_all(ready_r), _READY_TIMEOUT)
        except asyncio.TimeoutError:
            answer = b"not ready after %d seconds" % _READY_TIMEOUT
        finally:
            os.close(ready_r)
        if answer != b"ready":
            self._kill(worker)
            await worker.proc.wait()
            reason = answer.decode("utf-8", "replace") or \
                f"exit status {worker.proc.returncode}"
            raise RuntimeError(f"worker process did not start: {reason}")

    async def _supervise(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        while True:
            assert worker.proc is not None
            started = loop.time()
            status = await worker.proc.wait()
            if self._stopping:
                return
            log.warning("service %s: worker process %d exited with status %d",
                        self.ctx.name, worker.proc.pid, status)
            limit = _throttle_time(self.ctx.config)
            if loop.time() - started > limit:
                worker.delay = _FIRST_DELAY
            while not self._stopping:
                await asyncio.sleep(min(worker.delay, limit))
                worker.delay = min(worker.delay * 2, limit)
                if self._stopping:
                    return
                try:
                    await self._launch(worker)
                except (OSError, RuntimeError) as exc:
                    log.warning("service %s: %s", self.ctx.name, exc)
                    continue
                self.restarts += 1
                log.info("service %s: worker process %d started", self.ctx.name,
                         worker.proc.pid)
                break

    def reload(self, cfg: Any) -> None:
        """Workers re-read the configuration on SIGHUP."""
        super().reload(cfg)
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass        # it died just now; its restart reads the new files

    async def stop(self) -> None:
        await self._terminate()
        await super().stop()

    async def _terminate(self) -> None:
        self._stopping = True
        for worker in self._workers:
            if worker.task is not None:
                worker.task.cancel()
        running = [w for w in self._workers if w.proc is not None and w.proc.returncode is None]
        for worker in running:
            try:
                worker.proc.send_signal(signal.SIGTERM)     # type: ignore[union-attr]
            except ProcessLookupError:
                pass
        for worker in running:
            try:
                await asyncio.wait_for(worker.proc.wait(), _STOP_GRACE)  # type: ignore[union-attr]
            except asyncio.TimeoutError:
                log.warning("service %s: worker process %d did not stop; killing it",
                            self.ctx.name, worker.proc.pid)     # type: ignore[union-attr]
                self._kill(worker)
                await worker.proc.wait()      # type: ignore[union-attr]
        for worker in self._workers:
            if worker.task is not None:
                await asyncio.gather(worker.task, return_exceptions=True)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        try:
            if worker.proc is not None:
                worker.proc.kill()
        except ProcessLookupError:
            pass


def _throttle_time(cfg: Any) -> float:
    try:
        return float(int(cfg["service_throttle_time"]))
    except (KeyError, TypeError, ValueError):
        return 60.0


def _master_logs_to_syslog() -> bool:
    # The worker logs where the master does: maillog_file, else syslog for
    # a daemon, else (start-fg) the standard error it inherits.
    from logging.handlers import SysLogHandler
    return any(isinstance(h, SysLogHandler) for h in logging.getLogger("mailflow").handlers)


def worker_count(cfg: Any, command: str) -> int:
    """How many worker processes ``command`` should run: its
    ``<command>_worker_processes`` parameter (0 or no such parameter: run
    it in the master's process).

    >>> from mailflow.config import Config
    >>> worker_count(Config(smtpd_worker_processes="2"), "smtpd"), worker_count(Config(), "pickup")
    (2, 0)
    """
    try:
        return max(0, int(cfg[f"{command}_worker_processes"]))
    except (KeyError, TypeError, ValueError):
        return 0


def _child_env() -> dict[str, str]:
    # The worker must import this very mailflow, wherever it was imported from.
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = here + (os.pathsep + path if path else "")
    return env


async def _read_all(fd: int) -> bytes:
    """Everything written to a pipe until its last writer closes it."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if data:
            chunks.append(data)
        elif not done.done():
            done.set_result(None)
    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return b"".join(chunks)


# ---------------------------------------------------------------- the worker side
async def _serve(args: argparse.Namespace) -> int:
    from mailflow.errors import ConfigError
    from mailflow.maillog import configure_logging, lean_log_records
    from mailflow.services.master import load_configuration, open_default_store
    from mailflow.services.skeleton import service_spec

    cfg, entries = load_configuration(args.config_dir)
    lean_log_records()
    configure_logging(cfg, foreground=not args.syslog, syslog=args.syslog)
    entry = next((e for e in entries if e.service == args.service), None)
    if entry is None:
        raise RuntimeError(f"no service {args.service} in master.cf")
    listeners = []
    for fd in filter(None, args.fds.split(",")):
        sock = socket.socket(fileno=int(fd))
        sock.setblocking(False)
        os.set_inheritable(sock.fileno(), False)
        listeners.append(sock)
    store = open_default_store(cfg)
    ctx = ServiceContext(
        name=args.service, config=cfg.for_service(entry) if entry.overrides else cfg,
        entry=entry, store=store, maxproc=args.maxproc, wakeup=0,
        queue_directory=str(cfg.queue_directory), listeners=listeners)
    service = service_spec(args.command).factory()
    service.worker = True
    await service.start(ctx)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def reload() -> None:
        try:
            new, new_entries = load_configuration(args.config_dir)
            configure_logging(new, foreground=not args.syslog, syslog=args.syslog)
            found = next((e for e in new_entries if e.service == args.service), entry)
            service.reload(new.for_service(found) if found.overrides else new)
        except (ConfigError, OSError, ValueError) as exc:
            log.warning("reload failed, keeping the old configuration: %s", exc)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    os.write(args.ready_fd, b"ready")
    os.close(args.ready_fd)
    await stop.wait()
    await service.stop()
    closer = getattr(store, "close", None)
    if callable(closer):
        closer()
    return 0


def worker_main(argv: list[str] | None = None) -> int:
    """Run one worker process (``python -m mailflow.services.workers ...``).

    Tells the pool it serves by writing ``ready`` to ``--ready-fd`` (or the
    reason it cannot), then serves until SIGTERM.
    """
    parser = argparse.ArgumentParser(prog="mailflow.services.workers")
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--maxproc", type=int, default=0)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--fds", default="")
    parser.add_argument("--syslog", action="store_true")
    args = parser.parse_args(argv)
    # A reload signalled while this worker starts must not kill it (SIGHUP's
    # default action): the configuration it is reading is the new one anyway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        return asyncio.run(_serve(args))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        try:
            # Before it serves: the pool reports the reason (the master's
            # "cannot start" line) and this process ends quietly.
            os.write(args.ready_fd, reason.encode())
        except OSError:
            # After: the master logs the exit; say why here.
            log.critical("worker process: %s", reason, exc_info=exc)
        return 1


if __name__ == "__main__":
    sys.exit(worker_main())
