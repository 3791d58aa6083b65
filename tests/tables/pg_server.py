"""A real PostgreSQL for the tests: initdb in a temporary directory, on
127.0.0.1 and a free port, one per test session.

PostgreSQL refuses to run as root; when the tests run as root the server
runs as ``nobody`` with its directory handed over to that user. Tests that
need it are skipped (with the reason) when the server binaries are missing.
Import this module as ``pg_server`` (the test modules put this directory on
sys.path) so that every test module shares one server.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PASSWORD = "s3cret"  # the password of the role "mailflow"
SUPERUSER = "postgres"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, if any."""
    for path in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True,
                       key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0):
        if os.access(os.path.join(path, "initdb"), os.X_OK):
            return Path(path)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster: ``port``, ``socket_dir``, ``start()``, ``stop()``,
    ``sql(text)`` (run as the superuser), and ``cf(...)`` to write a table file."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="mailflow-pg-"))
        os.chmod(self.base, 0o755)  # the server user must reach its directory
        self.data = self.base / "data"
        self.socket_dir = self.base / "run"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = pwd.getpwnam("nobody")
        self._init()

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.run_as is not None:
            kwargs = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        return subprocess.run(list(args), capture_output=True, text=True, check=check,
                              timeout=timeout, cwd=self.base, env=dict(os.environ, LC_ALL="C"),
                              **kwargs)

    def _init(self) -> None:
        self.socket_dir.mkdir()
        pwfile = self.base / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.run_as is not None:
            for path in (self.base, self.socket_dir, pwfile):
                os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                  "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.socket_dir}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 200\nshared_buffers = 32MB\n")
        self.start()
        self.sql(f"CREATE ROLE mailflow LOGIN PASSWORD '{PASSWORD}'", "postgres")
        self.sql("CREATE DATABASE mail OWNER mailflow", "postgres")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are disconnected)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                  "stop", check=False)

    def is_running(self) -> bool:
        return self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "status",
                         check=False).returncode == 0

    def sql(self, text: str, dbname: str = "mail") -> str:
        """Run SQL through psql as the superuser over the Unix socket; its output."""
        out = self._run(str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER,
                        "-d", dbname, "-c", text)
        return out.stdout

    def load(self, text: str) -> None:
        """Run an SQL script in the ``mail`` database as the role ``mailflow``."""
        self._run(str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                  "-h", str(self.socket_dir), "-p", str(self.port), "-U", "mailflow",
                  "-d", "mail", "-c", text)

    def cf(self, path: Path, query: str, **params: str) -> str:
        """Write a pgsql .cf file that reaches this server over TCP; its path."""
        lines = {"hosts": f"inet:127.0.0.1:{self.port}", "user": "mailflow",
                 "password": PASSWORD, "dbname": "mail", "query": query}
        lines.update(params)
        path.write_text("".join(f"{k} = {v}\n" for k, v in lines.items()))
        # Postfix waits for a .cf file modified in the last second to settle.
        settled = time.time() - 10
        os.utime(path, (settled, settled))
        return str(path)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


_SERVER: PgServer | None = None


def server() -> PgServer:
    """The session's server, started on first use; skips when not installed."""
    global _SERVER
    if _SERVER is None:
        bindir = find_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL's server (initdb, pg_ctl) is not installed")
        try:
            import psycopg  # noqa: F401
        except ImportError:
            pytest.skip("psycopg is not installed (pip install 'mailflow[pgsql]')")
        _SERVER = PgServer(bindir)
        atexit.register(_SERVER.destroy)
    elif not _SERVER.is_running():
        _SERVER.start()  # a test that stopped it failed before starting it again
    return _SERVER


def wait_down(server: PgServer, timeout: float = 10.0) -> None:
    """Wait until the TCP port refuses connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError("PostgreSQL still accepts connections")
