"""examples/plugin installed with pip into a fresh virtualenv, used by a real daemon.

The venv gets the project from this checkout and the example plug-in, both
installed by pip with ``--no-deps``; the project's dependencies (attrs,
dnspython, sqlitedict) come from the environment running the tests through a
``.pth`` line. When that environment can build a setuptools project offline
(setuptools plus ``wheel``, or setuptools 70.1 or newer) the install uses
``--no-build-isolation --no-index``; otherwise pip fetches the build
requirements (setuptools, wheel) from its configured index, as the project's
own ``pip install -e .`` does.

Then ``mailflow -c DIR start`` runs with main.cf and master.cf using all
three plug-ins: ``transport_maps = json:...`` (the table type) routes
hooks.example to the ``webhook`` master.cf command (the agent), and
``cleanup_rules = urgent_subject`` (the rule) prepends ``X-Priority: 1``.
A message from ``mailflow sendmail`` must arrive as an HTTP POST at a
``http.server`` on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import importlib.util
import os
import queue
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugin"


def _offline_build_possible() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if (major, minor) >= (70, 1):
        return True
    return importlib.util.find_spec("wheel") is not None


def sources(where: Path) -> tuple[Path, Path]:
    """Copies of the project's and the plug-in's sources: pip builds in the
    tree it is given, and a build/ left in the checkout could go stale."""
    junk = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    project = where / "project"
    shutil.copytree(ROOT / "mailflow", project / "mailflow", ignore=junk)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    plugin = where / "plugin"
    shutil.copytree(PLUGIN, plugin, ignore=junk)
    return project, plugin


def make_venv(where: Path) -> Path:
    """A fresh venv with the project and the plug-in installed; its python."""
    project, plugin = sources(where.parent / "src")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # The dependencies come from the test environment; a plain path line, so
    # that environment's own .pth hooks (an editable mailflow) are not run.
    Path(purelib, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    offline = ["--no-build-isolation", "--no-index"] if _offline_build_possible() else []
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                             "--quiet", "--no-deps", *offline, str(project), str(plugin)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return python


class Sink(http.server.BaseHTTPRequestHandler):
    """Answers every POST with 204 and hands (path, headers, body) to the test."""

    received: "queue.Queue[tuple[str, dict, bytes]]"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.put((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sink():
    handler = type("Handler", (Sink,), {"received": queue.Queue()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler.received
    server.shutdown()
    server.server_close()


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {tmp}/spool
maillog_file = {tmp}/maillog
myhostname = mail.example.com
mydomain = example.com
mydestination =
inet_interfaces = 127.0.0.1
transport_maps = json:{tmp}/etc/transport.json
cleanup_rules = urgent_subject
default_transport = error:5.4.4 no network delivery in the tests
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
"""

MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
error     unix  -       -       n       -       -       error
hook      unix  -       n       n       -       -       webhook url=http://127.0.0.1:{port}/inbox
"""


def test_installed_plugin_agent_table_and_rule_in_a_daemon(tmp_path, sink):
    port, received = sink
    python = make_venv(tmp_path / "venv")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text(MAIN_CF.format(tmp=tmp_path))
    (etc / "master.cf").write_text(MASTER_CF.format(port=port))
    (etc / "transport.json").write_text('{"Hooks.Example": "hook:"}\n')
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MAILFLOW_CONFIG_DIR")}

    def mailflow(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-m", "mailflow", "-c", str(etc), *args],
                              input=data, capture_output=True, env=env, timeout=60,
                              cwd=str(tmp_path))

    # The venv's mailflow is the installed copy, not this checkout.
    where = subprocess.run([str(python), "-c", "import mailflow; print(mailflow.__file__)"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert where.stdout.startswith(str(tmp_path / "venv")), where

    checked = mailflow("check")
    assert checked.returncode == 0, checked.stderr
    assert b"not implemented" not in checked.stderr  # webhook is known as an agent
    started = mailflow("start")
    assert started.returncode == 0, started.stderr
    pid = int((tmp_path / "spool" / "pid" / "master.pid").read_text())
    try:
        sent = mailflow("sendmail", "-f", "alice@example.com", "bob@hooks.example",
                        data=b"Subject: [URGENT] disk full\n\nplease look\n")
        assert sent.returncode == 0, sent.stderr
        try:
            path, headers, body = received.get(timeout=30)
        except queue.Empty:
            log = (tmp_path / "maillog").read_text() if (tmp_path / "maillog").exists() else ""
            raise AssertionError(f"no POST arrived; maillog:\n{log}") from None
        assert path == "/inbox"
        assert headers["Content-Type"] == "message/rfc822"
        assert headers["X-Mailflow-Sender"] == "alice@example.com"
        assert headers["X-Mailflow-Recipient"] == "bob@hooks.example"
        assert b"\nX-Priority: 1\n" in b"\n" + body.replace(b"\r\n", b"\n")
        assert b"please look" in body

        def logged() -> str:
            text = (tmp_path / "maillog").read_text()
            return text if "status=sent" in text else ""
        deadline = time.monotonic() + 10
        while not logged() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"relay=127.0.0.1[{port}]" in logged()
        assert "status=sent (delivered via webhook (HTTP 204))" in logged()
    finally:
        stopped = mailflow("stop")
        if stopped.returncode != 0:
            os.killpg(pid, signal.SIGKILL)
    assert stopped.returncode == 0, stopped.stderr
