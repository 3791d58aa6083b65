"""resolve() reuses a result briefly: a table that changes (a file re-read,
a database row) is seen once the entry expires, not only after a restart."""

from __future__ import annotations

import time

import mailflow.address.resolve as resolve_module
from mailflow.address.resolve import TrivialRewrite
from mailflow.tables.memory import CallableTable, MemoryTable
from mailflow.tables.registry import register_table_type


def test_a_new_domain_in_a_table_is_seen_once_the_entry_expires(monkeypatch):
    monkeypatch.setattr(resolve_module, "_CACHE_TTL", 0.05)
    domains: dict[str, str] = {}
    register_table_type("resolvecachetest", lambda name, cfg: MemoryTable(domains))
    tr = TrivialRewrite.from_config(None, myhostname="mx.example.com",
                                    virtual_mailbox_domains="resolvecachetest:domains")
    assert tr.resolve("ann@new.example").address_class == "default"
    domains["new.example"] = "ok"
    time.sleep(0.1)
    assert tr.resolve("ann@new.example").address_class == "virtual_mailbox"


def test_a_burst_resolves_once():
    asked: list[str] = []
    register_table_type("resolvecachecount",
                        lambda name, cfg: CallableTable(lambda key: asked.append(key)))
    tr = TrivialRewrite.from_config(None, myhostname="mx.example.com",
                                    transport_maps="resolvecachecount:t")
    for _ in range(100):
        assert tr.resolve("ann@remote.example").transport == "smtp"
    assert asked == ["ann@remote.example", "remote.example", ".example", "*"]   # once, not 100 times
