"""Fixtures for the cleanup tests: pipelines from main.cf text, rule files."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from mailflow.cleanup import CleanupPipeline
from mailflow.config import Config
from mailflow.errors import TableError
from mailflow.model import Envelope, Message, Recipient
from mailflow.tables import MemoryTable, open_table, register_table_type

BASE = {"myhostname": "mx.example.test", "mydomain": "example.test",
        "mydestination": "$myhostname, localhost"}


class _MiniRegexp:
    """``/pattern/ result`` lines, first match wins: enough of regexp_table(5)
    for these tests when the real ``regexp:`` type is not registered."""

    def __init__(self, path: str) -> None:
        self.rules = []
        for line in Path(path).read_text().splitlines():
            m = re.match(r"^/(.*)/(\w*)\s+(.*)$", line)
            if m:
                flags = 0 if "i" in m.group(2) else re.I
                self.rules.append((re.compile(m.group(1), flags), m.group(3)))

    def get(self, key: str):
        for pattern, value in self.rules:
            if pattern.search(key):
                return value
        return None


def _regexp_type() -> str:
    try:
        open_table("regexp:/nonexistent/cleanup-probe")
    except TableError as exc:
        if "unsupported dictionary type" in str(exc):
            register_table_type("cleanuptest-regexp", lambda name, cfg: _MiniRegexp(name))
            return "cleanuptest-regexp"
    except Exception:
        pass
    return "regexp"


@pytest.fixture(scope="session")
def regexp_type() -> str:
    """The table type for regexp rule files (``regexp`` once it exists)."""
    return _regexp_type()


@pytest.fixture
def rules_file(tmp_path, regexp_type):
    """Write regexp rules to a file; return its ``type:path`` spec."""
    count = [0]

    def write(text: str) -> str:
        count[0] += 1
        path = tmp_path / f"rules{count[0]}"
        path.write_text(text)
        return f"{regexp_type}:{path}"
    return write


@pytest.fixture
def pipeline():
    """``pipeline(**main_cf)``: a CleanupPipeline over the test hostnames."""
    def make(**params) -> CleanupPipeline:
        return CleanupPipeline.from_config(Config(**{**BASE, **params}))
    return make


def submit(p: CleanupPipeline, data: bytes, sender: str = "alice",
           rcpts=("bob@remote.example",), **kw):
    """Run one message through ``p`` as pickup would, at a fixed time."""
    env = Envelope(sender, tuple(r if isinstance(r, Recipient) else Recipient(r) for r in rcpts))
    kw.setdefault("queue_id", "7573D20C2DD")
    kw.setdefault("now", 1795958641.0)
    return p.process(env, Message(data), **kw)


@pytest.fixture
def utc(monkeypatch):
    """Run with TZ=UTC, as the Postfix reference instance did."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def memory(mapping: dict) -> MemoryTable:
    return MemoryTable(mapping)
