"""``mailflow postmap`` and ``mailflow postalias`` behave like Postfix's tools."""

from __future__ import annotations

import pytest

from . import recorded, sources


@pytest.fixture
def here(tmp_path, monkeypatch, config_dir):
    """Work in tmp_path with relative file names, as the recorded Postfix runs did."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def mf(run_cli, config_dir):
    def run(*args, stdin=""):
        return run_cli("-c", config_dir, *args, stdin=stdin)
    return run


def test_build_warnings_match_postfix(here, mf):
    """Building hash:FILE prints Postfix's warnings, in Postfix's order."""
    (here / "hash").write_text(sources.HASH)
    result = mf("postmap", "hash:hash")
    assert result.status == 0
    assert result.err.splitlines() == recorded.HASH_BUILD_WARNINGS
    assert (here / "hash.db").exists()


def test_dump_matches_postfix(here, mf):
    """``postmap -s`` lists the same entries as Postfix's."""
    (here / "hash").write_text(sources.HASH)
    mf("postmap", "hash:hash")
    assert sorted(mf("postmap", "-s", "hash:hash").out.splitlines()) == recorded.HASH_DUMP


@pytest.mark.parametrize("key, want", [(k, v) for k, v in recorded.HASH_HASH.items()],
                         ids=list(recorded.HASH_HASH))
def test_query_exit_status(here, mf, key, want):
    """``postmap -q`` prints the value and exits 0, or prints nothing and exits 1."""
    (here / "hash").write_text(sources.HASH)
    mf("postmap", "hash:hash")
    result = mf("postmap", "-q", key, "hash:hash")
    assert (result.status, result.out) == ((0, want + "\n") if want is not None else (1, ""))


def test_default_type_is_hash(here, mf):
    """A file without a type is a hash: table (default_database_type)."""
    (here / "t").write_text("a 1\n")
    assert mf("postmap", "t").status == 0
    assert mf("postmap", "-q", "a", "hash:t").out == "1\n"


def test_query_from_stdin(here, mf):
    """``postmap -q -`` prints key<TAB>value for each key found, keys as given."""
    (here / "t").write_text("bob b\ncarol c\n")
    mf("postmap", "hash:t")
    result = mf("postmap", "-q", "-", "hash:t", stdin="bob\nnobody\nCAROL\n")
    assert (result.status, result.out) == (0, "bob\tb\nCAROL\tc\n")


def test_query_searches_maps_in_order(here, mf):
    """With several maps, the first one holding the key answers."""
    (here / "a").write_text("k from-a\n")
    (here / "b").write_text("k from-b\nonly-b b\n")
    mf("postmap", "hash:a", "hash:b")
    assert mf("postmap", "-q", "k", "hash:a", "hash:b").out == "from-a\n"
    assert mf("postmap", "-q", "only-b", "hash:a", "hash:b").out == "b\n"


def test_fold_off_builds_and_queries_case_sensitively(here, mf):
    """-f keeps key case when building and when querying (postmap -f)."""
    (here / "t").write_text("B 3\nb 4\n")
    assert mf("postmap", "-f", "hash:t").err == ""
    assert mf("postmap", "-f", "-q", "B", "hash:t").out == "3\n"
    # Without -f the query key folds to "b" (Postfix answers 4 here too).
    assert mf("postmap", "-q", "B", "hash:t").out == "4\n"


@pytest.mark.parametrize("flag, value, err", [
    ((), "1", 'postmap: warning: t.db: duplicate entry: "a"\n'),
    (("-w",), "1", ""),
    (("-r",), "2", ""),
], ids=["warn", "w-ignores", "r-replaces"])
def test_duplicates(here, mf, flag, value, err):
    """A duplicate key warns and keeps the first value; -w is silent; -r replaces."""
    (here / "t").write_text("a 1\nA 2\n")
    assert mf("postmap", *flag, "hash:t").err == err
    assert mf("postmap", "-q", "a", "hash:t").out == value + "\n"


def test_incremental_add_from_stdin(here, mf):
    """-i adds entries from stdin to the existing table, warning on duplicates."""
    (here / "t").write_text("a 1\n")
    mf("postmap", "hash:t")
    result = mf("postmap", "-i", "hash:t", stdin="new val\nA changed\n")
    assert result.err == 'postmap: warning: t.db: duplicate entry: "a"\n'
    assert sorted(mf("postmap", "-s", "hash:t").out.splitlines()) == ["a\t1", "new\tval"]


def test_delete(here, mf):
    """-d removes a key (exit 0) and exits 1 when the key is absent."""
    (here / "t").write_text("a 1\nb 2\n")
    mf("postmap", "hash:t")
    assert mf("postmap", "-d", "A", "hash:t").status == 0
    assert mf("postmap", "-d", "zz", "hash:t").status == 1
    assert mf("postmap", "-s", "hash:t").out == "b\t2\n"


def test_null_flags_are_accepted(here, mf):
    """-N and -n are accepted and change nothing in the stored table."""
    (here / "t").write_text("a 1\n")
    assert mf("postmap", "-N", "hash:t").status == 0
    assert mf("postmap", "-n", "-q", "a", "hash:t").out == "1\n"


@pytest.mark.parametrize("args, err", [
    (("texthash:t",), "postmap: fatal: unsupported dictionary type: texthash does not support "
                      "bulk-mode creation.\n"),
    (("-q", "a", "-s", "hash:t"), "postmap: fatal: specify only one of -s or -q or -d\n"),
    ((), "postmap: fatal: usage: postmap [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] "
         "[-q key] [map_type:]file...\n"),
    (("-d", "a", "texthash:t"), "postmap: fatal: texthash:t map requires O_RDONLY access mode\n"),
    (("-s", "regexp:re"), "postmap: fatal: table regexp:re: sequence operation is not supported\n"),
    (("-q", "a", "hash:missing"), "postmap: fatal: open database missing.db: "
                                  "No such file or directory\n"),
    (("hash:missing",), "postmap: fatal: open missing: No such file or directory\n"),
], ids=["texthash-build", "two-modes", "no-map", "delete-texthash", "seq-regexp",
        "query-missing-db", "build-missing-source"])
def test_fatal_errors(here, mf, args, err):
    """Misuse ends with Postfix's fatal message and exit status 1."""
    (here / "t").write_text("a 1\n")
    (here / "re").write_text("/a/ 1\n")
    result = mf("postmap", *args)
    assert (result.status, result.err) == (1, err)


def test_table_error_is_fatal(here, mf):
    """A table that cannot answer makes the query fail instead of reporting 'not found'."""
    result = mf("postmap", "-q", "x", "unionmap:{inline:{b=1}, fail:x}")
    assert result.status == 1
    assert result.err.startswith("postmap: fatal: table fail:x: query error")


def test_header_query_mode(here, mf):
    """-h with -q - uses each logical header line of a message as a key."""
    (here / "re").write_text("/^subject: (.*)/ S=$1\n/^x-a: b\\n  cont$/ folded\n")
    message = "Subject: hi\nX-A: b\n  cont\n\nSubject: body\n"
    result = mf("postmap", "-h", "-q", "-", "regexp:re", stdin=message)
    assert result.out == "Subject: hi\tS=hi\nX-A: b\n  cont\tfolded\n"


def test_postalias_build_warnings_match_postfix(here, mf):
    """postalias warns about bad lines, non-local names and duplicates as Postfix does."""
    (here / "aliases").write_text(sources.ALIASES)
    result = mf("postalias", "hash:aliases")
    assert result.status == 0
    assert result.err.splitlines() == recorded.ALIASES_BUILD_WARNINGS


def test_postalias_dump_matches_postfix(here, mf):
    """``postalias -s`` prints key:<TAB>value, including the @:@ marker."""
    (here / "aliases").write_text(sources.ALIASES)
    mf("postalias", "aliases")
    assert sorted(mf("postalias", "-s", "aliases").out.splitlines()) == recorded.ALIASES_DUMP


def test_postalias_query_from_stdin(here, mf):
    """``postalias -q -`` prints key:<TAB>value lines."""
    (here / "aliases").write_text(sources.ALIASES)
    mf("postalias", "aliases")
    result = mf("postalias", "-q", "-", "aliases", stdin="root\nnobody\n")
    assert (result.status, result.out) == (0, "root:\talice, bob, carol\n")


def test_postalias_defaults_to_alias_database(here, mf, config_dir):
    """Without a file argument postalias builds the tables in alias_database."""
    (here / "aliases").write_text("root: admin\n")
    with open(config_dir / "main.cf", "a") as fh:
        fh.write(f"alias_database = hash:{here / 'aliases'}\n")
    assert mf("postalias").status == 0
    assert mf("postalias", "-q", "root", f"hash:{here / 'aliases'}").out == "admin\n"


def test_postalias_incremental_keeps_marker_without_warning(here, mf):
    """postalias -i adds aliases from stdin and refreshes @:@ silently."""
    (here / "aliases").write_text("root: admin\n")
    mf("postalias", "aliases")
    result = mf("postalias", "-i", "aliases", stdin="sales: ann, bob\n")
    assert (result.status, result.err) == (0, "")
    assert sorted(mf("postalias", "-s", "aliases").out.splitlines()) == \
        ["@:\t@", "root:\tadmin", "sales:\tann, bob"]


def test_default_type_comes_from_config(here, mf, tmp_path):
    """default_database_type in the -c directory picks the type of an untyped file."""
    other = tmp_path / "other-etc"
    other.mkdir()
    (other / "main.cf").write_text("default_database_type = btree\n")
    (here / "t").write_text("a 1\n")
    assert mf("postmap", "-c", str(other), "t").status == 0
    assert mf("postmap", "-q", "a", "btree:t").out == "1\n"


def test_help(mf):
    """--help prints the usage line and exits 0."""
    result = mf("postmap", "--help")
    assert result.status == 0 and result.out.startswith("usage: postmap ")
