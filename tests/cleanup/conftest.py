"""Fixtures for the cleanup tests: pipelines from main.cf text, rule files."""

from __future__ import annotations

import time

import pytest

from mailflow.cleanup import CleanupPipeline
from mailflow.config import Config
from mailflow.model import Envelope, Message, Recipient
from mailflow.tables import MemoryTable

BASE = {"myhostname": "mx.example.test", "mydomain": "example.test",
        "mydestination": "$myhostname, localhost"}


@pytest.fixture
def rules_file(tmp_path):
    """Write regexp_table(5) rules to a file; return its ``regexp:path`` spec."""
    count = [0]

    def write(text: str) -> str:
        count[0] += 1
        path = tmp_path / f"rules{count[0]}"
        path.write_text(text)
        return f"regexp:{path}"
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
