"""``mailflow postmap`` and ``postalias`` report a bad main.cf instead of using defaults."""

from __future__ import annotations

import pytest

# Postfix 3.7's answer to the same main.cf (line 2 "this is junk"), obtained
# with `postmap -c DIR hash:DIR/t` and `postalias -c DIR DIR/a`: both exit 1
# with "<tool>: fatal: DIR/main.cf, line 2: " followed by this text.
POSTFIX_MAIN_CF_ERROR = "missing '=' after attribute name: \"this is junk\""

CASES = {
    "postmap-build": ("postmap", "hash:{d}/t"),
    "postmap-default-type": ("postmap", "{d}/t"),
    "postmap-query": ("postmap", "-q", "k", "hash:{d}/t"),
    "postalias-build": ("postalias", "{d}/a"),
    "postalias-default-maps": ("postalias", "-q", "k"),
}


@pytest.fixture
def tables(tmp_path):
    """A table source and an alias source to run the tools on."""
    (tmp_path / "t").write_text("k v\n")
    (tmp_path / "a").write_text("k: v\n")
    return tmp_path


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_bad_main_cf_is_fatal_with_file_and_line(run_cli, config_dir, tables, args):
    """A main.cf line without '=' stops the tool with the file:line error Postfix gives."""
    (config_dir / "main.cf").write_text("myhostname = mx.example.com\nthis is junk\n")
    result = run_cli("-c", config_dir, *(a.format(d=tables) for a in args))
    assert result.status != 0
    assert f"{config_dir / 'main.cf'}, line 2: {POSTFIX_MAIN_CF_ERROR}" in result.err
    assert not (tables / "t.db").exists() and not (tables / "a.db").exists()


def test_missing_main_cf_uses_defaults(run_cli, tmp_path, tables):
    """Without a main.cf, postmap builds with the default database type (hash)."""
    empty = tmp_path / "etc"
    empty.mkdir()
    result = run_cli("-c", empty, "postmap", f"{tables}/t")
    assert (result.status, result.err) == (0, "")
    assert run_cli("-c", empty, "postmap", "-q", "k", f"hash:{tables}/t").out == "v\n"
