"""docs/howto/plugin-agent.md runs as written.

``pip install ./examples/plugin`` installs the example into a scratch
directory on the daemon's PYTHONPATH (``--target``; offline when the
environment can build it, as tests/plugins/test_plugin_package.py does);
the page's files are written into a scratch directory (paths mapped, the
webhook's port 8025 replaced by a free one), then its commands run in
order, the daemon included, and print what the page shows. An
``http.server`` on 127.0.0.1 must receive the POST. The code the page
quotes must be the example's, word for word.
"""

from __future__ import annotations

import http.server
import queue
import sys
import threading

import pytest

from .codeblocks import ROOT
from .guide import Guide

PAGE = "docs/howto/plugin-agent.md"
TEST = "tests/docs/test_howto_plugin.py"


def test_the_code_shown_is_the_examples(tmp_path):
    """Every block titled with a file of examples/plugin/ is a verbatim excerpt of it."""
    quoted = [b for b in Guide(PAGE, TEST, tmp_path, {}).blocks
              if b.title and b.title.startswith("examples/plugin/")]
    assert len(quoted) >= 4
    for block in quoted:
        assert block.text in (ROOT / block.title).read_text(), f"{block.where}: not in {block.title}"


class Sink(http.server.BaseHTTPRequestHandler):
    received: "queue.Queue[tuple[str, dict, bytes]]"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.put((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook():
    handler = type("Handler", (Sink,), {"received": queue.Queue()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler.received
    server.shutdown()
    server.server_close()


def _pip_install(site) -> str:
    sys.path.insert(0, str(ROOT / "tests" / "plugins"))
    from test_plugin_package import _offline_build_possible
    offline = "--no-build-isolation --no-index" if _offline_build_possible() else ""
    return (f"{sys.executable} -m pip install --quiet --no-deps {offline} --target {site} "
            f"{ROOT}/examples/plugin")


def test_the_plugin_agent_delivers_as_the_page_says(tmp_path, webhook):
    port, received = webhook
    site = tmp_path / "site"
    g = Guide(PAGE, TEST, tmp_path, {
        "/var/log/mailflow.log": str(tmp_path / "mailflow.log"),
        "pip install ./examples/plugin": _pip_install(site),
        "127.0.0.1:8025": f"127.0.0.1:{port}",
        "127.0.0.1[8025]": f"127.0.0.1[{port}]",
    })
    # The daemon finds the package where pip put it, as it would in its virtualenv.
    g.env["PYTHONPATH"] = f"{ROOT}:{site}"
    try:
        g.write_files(extra_main_cf=f"queue_directory = {tmp_path}/spool\n")
        g.run_steps()
        path, headers, body = received.get(timeout=10)
    finally:
        g.stop()
    assert path == "/inbox"
    assert headers["Content-Type"] == "message/rfc822"
    assert (headers["X-Mailflow-Sender"], headers["X-Mailflow-Recipient"]) == (
        "alice@example.com", "bob@hooks.example")
    assert b"over HTTP" in body
