"""inline, static, unionmap, pipemap, proxy, fail, environ, unix, memory, sqlite, regexp details."""

from __future__ import annotations

import contextlib
import pwd
import sqlite3

import pytest

from mailflow.errors import TableError
from mailflow.tables import open_table, register_memory_table, register_table_type


# Postfix answers recorded with `postmap -q KEY 'SPEC'` on Postfix 3.7.11.
@pytest.mark.parametrize("spec, key, want", [
    ("inline:{A=1, {b = two words}}", "A", "1"),
    ("inline:{A=1, {b = two words}}", "a", "1"),
    ("inline:{A=1, {b = two words}}", "b", "two words"),
    ("unionmap:{inline:{b=1}, inline:{b=2,c=3}}", "b", "1,2"),
    ("pipemap:{inline:{b=x}, inline:{x=final}}", "b", "final"),
    ("static:foo", "zz", "foo"),
    ("static:{ two words }", "zz", "two words"),
    ("proxy:inline:{zz=p}", "zz", "p"),
], ids=["inline-folds", "inline", "inline-braced", "unionmap", "pipemap", "static",
        "static-braced", "proxy"])
def test_recorded_answers(spec, key, want):
    """Built-in in-memory types answer as Postfix does."""
    assert open_table(spec).get(key) == want


def test_unionmap_error_fails_the_lookup():
    """A failing member fails the whole unionmap lookup (Postfix: query error)."""
    with pytest.raises(TableError):
        open_table("unionmap:{inline:{b=1}, fail:x}").get("y")


def test_fail_always_raises():
    """fail: never answers."""
    with pytest.raises(TableError, match="fail:x"):
        open_table("fail:x").get("k")


def test_environ(monkeypatch):
    """environ: looks keys up in the process environment."""
    monkeypatch.setenv("MAILFLOW_TEST_VAR", "set")
    assert open_table("environ:").get("MAILFLOW_TEST_VAR") == "set"


def test_unix_passwd_like_postfix():
    """unix:passwd.byname returns the passwd line; keys fold (Postfix: ROOT finds root)."""
    root = pwd.getpwuid(0)
    want = ":".join(map(str, (root.pw_name, root.pw_passwd, 0, root.pw_gid, root.pw_gecos,
                              root.pw_dir, root.pw_shell)))
    assert open_table("unix:passwd.byname").get(root.pw_name.upper()) == want
    assert open_table("unix:passwd.byname").get("no-such-user-here") is None


def test_memory_registry():
    """memory:NAME opens a registered mapping; an unknown name is a TableError."""
    register_memory_table("t-users", {"a": "1"})
    assert open_table("memory:t-users").get("a") == "1"
    with pytest.raises(TableError):
        open_table("memory:t-nobody")


def test_own_type_with_options():
    """A user's opener gets the name and config; one accepting options gets fold too."""
    seen = {}

    def opener(name, config, *, fold=True):
        seen.update(name=name, fold=fold)
        return {"k": "v"}
    register_table_type("t-own", opener)
    assert open_table("t-own:x", None, fold=False).get("k") == "v"
    assert seen == {"name": "x", "fold": False}


@pytest.fixture
def sqlite_db(tmp_path):
    db = tmp_path / "s.db"
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.execute("create table virt (addr, dest)")
        con.executemany("insert into virt values (?, ?)", [
            ("alice@example.com", "a1@x"), ("alice@example.com", "a2@y"),
            ("bob@example.com", "b@z"), ("o'k@example.com", "quoted"),
            ("Carl@example.com", "upper")])
    con.close()
    return db


# Recorded with `postmap -q KEY sqlite:/abs/path/FILE.cf` on Postfix 3.7.11, same data.
@pytest.mark.parametrize("cf, key, want", [
    ("query = SELECT dest FROM virt WHERE addr='%s'", "alice@example.com", "a1@x,a2@y"),
    ("query = SELECT dest FROM virt WHERE addr='%s'", "ALICE@example.com", "a1@x,a2@y"),
    ("query = SELECT dest FROM virt WHERE addr='%s'", "o'k@example.com", "quoted"),
    ("query = SELECT dest FROM virt WHERE addr='%s'", "Carl@example.com", None),
    ("query = SELECT dest FROM virt WHERE addr LIKE '%%%u%%'\nresult_format = <%s> for %U at %d"
     "\ndomain = example.com", "alice@example.com", "<a1@x> for alice at x,<a2@y> for alice at y"),
    ("query = SELECT dest FROM virt WHERE addr LIKE '%%%u%%'\ndomain = example.com",
     "bob@other.com", None),
    ("query = SELECT dest FROM virt WHERE addr LIKE '%%%u%%'\ndomain = example.com", "bob", None),
    ("query = SELECT dest FROM virt WHERE addr='%u@%2.%1'", "ann@sub.example.com", None),
    ("query = SELECT dest FROM virt WHERE addr='%u@%2.%1'", "alice@example.com", "a1@x,a2@y"),
    ("query = SELECT dest FROM virt WHERE addr='%u@%2.%1'", "ann", None),
], ids=["s", "folded", "quote-escaped", "fold-misses-mixed-case", "result-format-domain",
        "other-domain", "no-domain", "labels-miss", "labels-hit", "labels-unqualified"])
def test_sqlite_recorded_answers(write, sqlite_db, cf, key, want):
    """sqlite: expands the query and formats results as Postfix does."""
    path = write("s.cf", f"dbpath = {sqlite_db}\n{cf}\n")
    assert open_table(f"sqlite:{path}").get(key) == want


def test_sqlite_expansion_limit_is_an_error(write, sqlite_db):
    """More results than expansion_limit is a TableError (Postfix: lookup error)."""
    path = write("s.cf", f"dbpath = {sqlite_db}\nquery = SELECT dest FROM virt\n"
                         "expansion_limit = 2\n")
    with pytest.raises(TableError, match="Expansion limit exceeded"):
        open_table(f"sqlite:{path}").get("a@example.com")


def test_sqlite_missing_database_is_an_error(write, tmp_path):
    """A database that cannot be opened is a TableError at lookup time."""
    path = write("s.cf", f"dbpath = {tmp_path / 'missing.db'}\nquery = SELECT 1\n")
    with pytest.raises(TableError):
        open_table(f"sqlite:{path}").get("k")


@pytest.mark.parametrize("source, warning", [
    ("/(/ x\n", "regexp map F, line 1: error in regex"),
    ("/a(b)/ $2\n", 'regexp map F, line 1: out of range replacement index "2": skipping this rule'),
    ("!/a(b)/ $1\n", "regexp map F, line 1: $number found in negative match replacement text"),
    ("/a/q x\n", 'regexp map F, line 1: unknown regexp option "q": skipping this rule'),
    ("if /a/\n/b/ x\n", "regexp map F, line 1: IF has no matching ENDIF"),
    ("endif\n", "regexp map F, line 1: ignoring ENDIF without matching IF"),
    ("/a x\n", 'regexp map F, line 1: no closing regexp delimiter "/": skipping this rule'),
], ids=["bad-regex", "index-range", "negative-ref", "bad-flag", "missing-endif",
        "stray-endif", "no-delimiter"])
def test_regexp_syntax_errors_name_file_and_line(source, warning):
    """A bad rule is reported with map name and line, and skipped."""
    from mailflow.tables.regexp import RegexpTable
    warnings: list[str] = []
    RegexpTable.from_text(source, "F", warn=warnings.append)
    assert warnings and warnings[0].startswith(warning)


def test_pcre_named_groups():
    """PCRE's (?<name>...) works although Python spells it (?P<name>...)."""
    from mailflow.tables.regexp import RegexpTable
    assert RegexpTable.from_text("/^(?<u>.*)@/ $1\n", "F", "pcre").get("joe@x") == "joe"


def test_inline_syntax_error_is_a_table_syntax_error():
    """A malformed inline: spec is refused with TableSyntaxError."""
    from mailflow.errors import TableSyntaxError
    with pytest.raises(TableSyntaxError, match="missing '='"):
        open_table("inline:{a=1, b}")


def test_regexp_pattern_python_would_warn_about_still_compiles():
    """A POSIX bracket expression starting with '[' compiles without a Python FutureWarning."""
    from mailflow.tables.regexp import RegexpTable
    assert RegexpTable.from_text("/^[[a]+$/ ok\n", "F").get("a[a") == "ok"
