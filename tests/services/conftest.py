"""Fixtures for service tests: a probe service and a master running in process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Awaitable, Callable

import pytest

from mailflow.services.master import Master
from mailflow.services.skeleton import ServiceBase, register_service, unregister_service


class Probe(ServiceBase):
    """A service that records what the master does to it."""

    instances: list["Probe"] = []

    async def start(self, ctx) -> None:
        if getattr(ctx.config, "raw", None) and ctx.config.raw("probe_fail_start") == "yes":
            raise RuntimeError("probe refuses to start")
        await super().start(ctx)
        self.events: list[str] = ["start"]
        self.wakes: list[bytes] = []
        type(self).instances.append(self)
        self._crash = asyncio.Event()
        ctx.spawn(self._loop())

    async def _loop(self) -> None:
        await self._crash.wait()
        raise RuntimeError("probe crashed")

    def wake(self, message: bytes) -> None:
        self.wakes.append(message)
        if message == b"crash":
            self._crash.set()

    def reload(self, cfg) -> None:
        super().reload(cfg)
        self.events.append("reload")

    async def stop(self) -> None:
        self.events.append("stop")
        await super().stop()


@pytest.fixture
def probe():
    """The Probe class registered as master.cf command ``probe``."""
    cls = type("Probe", (Probe,), {"instances": []})
    register_service("probe", cls)
    yield cls
    unregister_service("probe")


@pytest.fixture
def mf_config(tmp_path: Path) -> Path:
    """A config directory (spool and log under tmp_path) with a probe service."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(
        f"queue_directory = {tmp_path / 'spool'}\n"
        "myhostname = mx.example.test\nsyslog_name = mailflow\n")
    (etc / "master.cf").write_text("probe     unix  n       -       n       -       1       probe\n")
    return etc


async def until(condition: Callable[[], object], timeout: float = 3.0) -> None:
    """Wait until ``condition()`` is true; fail the test after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def run_master(config_dir: Path, body: Callable[[Master], Awaitable[None]], **kw) -> Master:
    """Run a Master in process, call ``body`` once it is ready, then stop it."""
    master = Master(str(config_dir), install_signals=False, **kw)

    async def main() -> None:
        ready = asyncio.Event()
        task = asyncio.ensure_future(master.run(ready.set))
        waiter = asyncio.ensure_future(ready.wait())
        await asyncio.wait([task, waiter], timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            waiter.cancel()
            task.result()               # raises what run() raised
            raise AssertionError("master stopped before it was ready")
        try:
            await body(master)
        finally:
            master.request_stop()
            assert await asyncio.wait_for(task, 10) == 0
    asyncio.run(main())
    return master


@pytest.fixture(name="run_master")
def _run_master_fixture():
    """``run_master(config_dir, body)``: run a Master in process around ``body``."""
    return run_master


@pytest.fixture(name="until")
def _until_fixture():
    """``await until(condition)``: wait for a condition, failing after 3 s."""
    return until
