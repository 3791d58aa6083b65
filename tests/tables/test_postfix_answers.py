"""Every table type answers as real Postfix 3.7.11 does (answers in recorded.py)."""

from __future__ import annotations

import pytest

from mailflow.adapters.sqlite_table import write_db
from mailflow.tables import open_table
from mailflow.tables.aliases import parse_aliases
from mailflow.tables.source import parse_source

from . import recorded, sources


def _cases(answers: dict) -> list:
    return [pytest.param(k, v, id=k) for k, v in answers.items()]


@pytest.fixture
def hash_table(write):
    path = write("hash", sources.HASH)
    write_db(path, ((k, v) for _, k, v in parse_source(sources.HASH, path, warn=lambda m: None)),
             warn=lambda m: None)
    return open_table(f"hash:{path}")


@pytest.mark.parametrize("key, want", _cases(recorded.HASH_HASH))
def test_hash(hash_table, key, want):
    """hash: answers like ``postmap -q KEY hash:FILE``."""
    assert hash_table.get(key) == want


@pytest.mark.parametrize("key, want", _cases(recorded.TEXTHASH_HASH))
def test_texthash(write, key, want):
    """texthash: answers like ``postmap -q KEY texthash:FILE``."""
    assert open_table("texthash:" + write("hash", sources.HASH)).get(key) == want


@pytest.mark.parametrize("key, want", _cases(recorded.REGEXP_REGEXP))
def test_regexp(write, key, want):
    """regexp: answers like ``postmap -q KEY regexp:FILE``."""
    assert open_table("regexp:" + write("re", sources.REGEXP)).get(key) == want


@pytest.mark.parametrize("key, want", _cases(recorded.PCRE_REGEXP))
def test_pcre(write, key, want):
    """pcre: answers like ``postmap -q KEY pcre:FILE``."""
    assert open_table("pcre:" + write("re", sources.REGEXP)).get(key) == want


@pytest.mark.parametrize("key, want", _cases(recorded.CIDR_CIDR))
def test_cidr(write, key, want):
    """cidr: answers like ``postmap -q KEY cidr:FILE``."""
    assert open_table("cidr:" + write("cidr", sources.CIDR)).get(key) == want


@pytest.mark.parametrize("key, want", _cases(recorded.HASH_ALIASES))
def test_aliases(write, key, want):
    """An alias database answers like ``postalias -q KEY hash:FILE``."""
    path = write("aliases", sources.ALIASES)
    entries = [(k, v) for _, k, v in parse_aliases(sources.ALIASES, path, warn=lambda m: None)]
    write_db(path, entries + [("@", "@")], warn=lambda m: None)
    assert open_table(f"hash:{path}").get(key) == want
