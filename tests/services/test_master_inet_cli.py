"""``mailflow start`` with an inet service, as a real daemon: it returns once the
port answers, and a port it cannot bind fails the start with master.cf's line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Loaded by the daemon's Python at start-up (sitecustomize on PYTHONPATH): a
# tiny inet service, since the daemon cannot see what the test registers.
GREETER = textwrap.dedent('''
    from mailflow.adapters.listen import serve_sessions
    from mailflow.services.skeleton import ServiceBase, register_service

    class Greeter(ServiceBase):
        async def start(self, ctx):
            await super().start(ctx)
            self.server = await serve_sessions(ctx.listeners, self.session, limit=ctx.maxproc)

        async def session(self, reader, writer):
            writer.write(b"220 greeter\\r\\n")
            await writer.drain()
            await reader.readline()

        async def stop(self):
            await self.server.abort()
            await super().stop()

    register_service("greeter", Greeter)
''')


@pytest.fixture
def daemon_env(tmp_path: Path) -> dict:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GREETER)
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))


def mailflow(etc: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mailflow", "-c", str(etc), *args],
                          capture_output=True, text=True, env=env, timeout=60, cwd=str(ROOT))


def config(tmp_path: Path, master_cf: str) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "main.cf").write_text(f"queue_directory = {tmp_path / 'spool'}\n"
                                 f"maillog_file = {tmp_path / 'maillog'}\n"
                                 "myhostname = mx.example.test\n")
    (etc / "master.cf").write_text(master_cf)
    return etc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_returns_when_the_port_answers(tmp_path, daemon_env):
    """Right after ``mailflow start`` returns, a client connecting to the port is greeted."""
    port = free_port()
    etc = config(tmp_path, f"127.0.0.1:{port} inet n - n - - greeter\n")
    started = mailflow(etc, daemon_env, "start")
    try:
        assert started.returncode == 0, started.stderr
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            assert client.makefile("rb").readline() == b"220 greeter\r\n"
    finally:
        stopped = mailflow(etc, daemon_env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0     # closed with the master


def test_start_fails_when_the_port_is_in_use(tmp_path, daemon_env):
    """A port in use makes ``mailflow start`` fail, naming master.cf's line and the reason."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        etc = config(tmp_path, "# front door\n"
                               f"127.0.0.1:{port} inet n - n - - greeter\n")
        started = mailflow(etc, daemon_env, "start")
    assert started.returncode == 1
    assert (f"mailflow: fatal: the mail system did not start: {etc / 'master.cf'}, line 2: "
            f"cannot listen on 127.0.0.1:{port}: Address already in use") in started.stderr
    assert mailflow(etc, daemon_env, "status").returncode == 1


def test_start_with_a_bad_address_is_a_configuration_error(tmp_path, daemon_env):
    """A malformed address in master.cf stops ``mailflow start`` with EX_CONFIG, before forking."""
    etc = config(tmp_path, "[::1:2525 inet n - n - - greeter\n")
    started = mailflow(etc, daemon_env, "start")
    assert started.returncode == 78
    assert started.stderr.strip() == (f"mailflow/start: fatal: {etc / 'master.cf'}, line 1: "
                                      'missing "]" in "[::1:2525"')
