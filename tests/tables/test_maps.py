"""Maps: ordered table lists, error propagation, and the per-process cache."""

from __future__ import annotations

import pytest

from mailflow.errors import TableError
from mailflow.tables import Maps, TableCache, open_maps, open_table


def test_first_table_with_the_key_wins():
    """A Maps answers with the first table that has the key."""
    maps = open_maps("inline:{a=1}, inline:{a=2, b=3}", cache=TableCache())
    assert [maps.get(k) for k in ("a", "b", "c")] == ["1", "3", None]


def test_error_in_earlier_table_stops_the_search():
    """A TableError in an earlier table propagates; later tables are not asked."""
    asked = []
    maps = Maps([open_table("fail:broken"), lambda k: asked.append(k) or "late"])
    with pytest.raises(TableError):
        maps.get("k")
    assert asked == []


def test_error_after_a_hit_is_not_reached():
    """A broken table after the one that answers does not matter."""
    assert Maps([{"k": "v"}, open_table("fail:x")]).get("k") == "v"


def test_list_value_mixes_specs_mappings_and_callables():
    """A list may hold specs, mappings and callables."""
    maps = open_maps(["inline:{x=1}", {"y": "2"}, lambda k: "3" if k == "z" else None],
                     cache=TableCache())
    assert [maps.get(k) for k in "xyz"] == ["1", "2", "3"]


def test_cache_opens_each_spec_once(write):
    """The same spec opened twice through the cache is the same table object."""
    path = write("t", "a 1\n")
    cache = TableCache()
    first = open_maps(f"texthash:{path}", cache=cache)
    second = open_maps(f"texthash:{path}, inline:{{b=2}}", cache=cache)
    assert first.tables[0] is second.tables[0]
    assert len(cache) == 2


def test_reset_forgets_tables(write):
    """After reset, the next open gets a new table (for reload)."""
    cache = TableCache()
    path = write("t", "a 1\n")
    before = cache.open(f"texthash:{path}")
    cache.reset()
    assert cache.open(f"texthash:{path}") is not before


def test_unknown_type_is_a_table_error():
    """An unknown table type is reported as Postfix does."""
    with pytest.raises(TableError, match="unsupported dictionary type: nosuch"):
        open_maps("nosuch:x", cache=TableCache())
