"""The example plug-in's three modules on their own (imported from the
source tree): the webhook agent's answers for each kind of HTTP outcome, the
json: table's errors, the rule's verdicts."""

from __future__ import annotations

import asyncio
import importlib
import http.server
import socket
import sys
import threading
from pathlib import Path

import pytest

from mailflow.cleanup.headers import Header
from mailflow.config.master_cf import parse_master_cf
from mailflow.errors import ConfigError, TableError
from mailflow.model import DeliveryRequest, Envelope, Message, Recipient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugin"


@pytest.fixture
def example(monkeypatch):
    """The package ``mailflow_webhook`` from the source tree, for one test."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield importlib.import_module("mailflow_webhook.agent"), \
        importlib.import_module("mailflow_webhook.table"), \
        importlib.import_module("mailflow_webhook.rule")
    for name in [m for m in sys.modules if m.split(".")[0] == "mailflow_webhook"]:
        del sys.modules[name]


class Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        code = int(self.path.rsplit("/", 1)[1])
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def deliver(example, url: str) -> list[str]:
    service = parse_master_cf(f"hook unix - n n - - webhook url={url} timeout=5\n").transport("hook")
    agent = example[0].WebhookAgent(None, service)
    rcpts = (Recipient("a@hooks.example"), Recipient("b@hooks.example"))
    request = DeliveryRequest("Q1", "hook", "", Envelope("s@example.com", rcpts), rcpts,
                              Message(b"Subject: x\n\nbody\n"))
    return [f"{o.relay} {o.status}" for o in asyncio.run(agent.deliver(request))]


@pytest.mark.parametrize("code, status", [
    (200, "2.0.0 delivered via webhook (HTTP 200)"),
    (404, "5.0.0 webhook said HTTP 404 Not Found"),
    (503, "4.0.0 webhook said HTTP 503 Service Unavailable"),
])
def test_agent_status_follows_the_http_answer(example, server, code, status):
    relay = f"127.0.0.1[{server}]"
    assert deliver(example, f"http://127.0.0.1:{server}/hook/{code}") == [f"{relay} {status}"] * 2


def test_agent_defers_when_nobody_listens(example):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [first, _] = deliver(example, f"http://127.0.0.1:{port}/x")
    assert first.startswith(f"127.0.0.1[{port}] 4.4.1 cannot reach the webhook: ")


def test_agent_needs_a_url(example):
    service = parse_master_cf("hook unix - n n - - webhook\n").transport("hook")
    with pytest.raises(ConfigError, match="^master.cf: hook: webhook needs url="):
        example[0].WebhookAgent(None, service)


def test_json_table(example, tmp_path):
    open_json_table = example[1].open_json_table
    path = tmp_path / "t.json"
    path.write_text('{"Hooks.Example": "hook:"}')
    assert open_json_table(str(path), None).get("HOOKS.example") == "hook:"
    assert open_json_table(str(path), None, fold=False).get("hooks.example") is None
    path.write_text("[1]")
    with pytest.raises(TableError, match="expected one object of string values"):
        open_json_table(str(path), None)
    with pytest.raises(TableError, match="cannot open: No such file"):
        open_json_table(str(tmp_path / "none.json"), None)


def test_rule(example):
    rule = example[2].UrgentSubject()
    assert str(rule.check_header(Header.make("Subject", "[Urgent] x"), "header").text) == \
        "X-Priority: 1"
    assert rule.check_header(Header.make("Subject", "[Urgent] x"), "nested") is None
    assert rule.check_header(Header.make("Subject", "calm"), "header") is None
