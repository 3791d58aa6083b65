"""Run the real Postfix tools on the same sources and compare with mailflow.

These keep recorded.py honest: when Postfix is installed, its answers must
still be the recorded ones, and mailflow's must equal them. Skipped when
Postfix is not installed.
"""

from __future__ import annotations

import pytest

from . import recorded, sources

CASES = [
    ("postmap", "hash", "hash", sources.HASH, recorded.HASH_HASH),
    ("postmap", "texthash", "hash", sources.HASH, recorded.TEXTHASH_HASH),
    ("postmap", "regexp", "re", sources.REGEXP, recorded.REGEXP_REGEXP),
    ("postmap", "pcre", "re", sources.REGEXP, recorded.PCRE_REGEXP),
    ("postmap", "cidr", "cidr", sources.CIDR, recorded.CIDR_CIDR),
    ("postalias", "hash", "aliases", sources.ALIASES, recorded.HASH_ALIASES),
]


@pytest.mark.parametrize("tool, type_name, filename, text, answers", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_real_postfix_agrees(real_postfix, tmp_path, monkeypatch, run_cli, config_dir,
                             tool, type_name, filename, text, answers):
    """Real Postfix and mailflow give the recorded answer for every key."""
    (real_postfix.dir / filename).write_text(text)
    if type_name == "hash":
        assert real_postfix(tool, f"hash:{filename}").returncode == 0
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / filename).write_text(text)
    monkeypatch.chdir(ours)
    if type_name == "hash":
        assert run_cli("-c", config_dir, tool, f"hash:{filename}").status == 0
    for key, want in answers.items():
        theirs = real_postfix(tool, "-q", key, f"{type_name}:{filename}")
        mine = run_cli("-c", config_dir, tool, "-q", key, f"{type_name}:{filename}")
        got_theirs = theirs.stdout[:-1] if theirs.returncode == 0 else None
        got_mine = mine.out[:-1] if mine.status == 0 else None
        assert (key, got_theirs) == (key, want)
        assert (key, got_mine) == (key, want)


def test_real_postfix_build_warnings(real_postfix):
    """Postfix still prints the recorded build warnings for the hash source."""
    (real_postfix.dir / "hash").write_text(sources.HASH)
    assert real_postfix("postmap", "hash:hash").stderr.splitlines() == recorded.HASH_BUILD_WARNINGS
