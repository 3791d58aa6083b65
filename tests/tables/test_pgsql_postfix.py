"""Postfix's postmap and mailflow's postmap on the same pgsql: .cf files and
the same PostgreSQL: same answers, same exit status, same kind of message
when the server is down. Skipped without Postfix's pgsql support."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_server  # noqa: E402

SCHEMA = """
DROP TABLE IF EXISTS va, vm, vd;
CREATE TABLE va (address text, goto text, n int);
CREATE TABLE vm (username text, domain text, maildir text);
CREATE TABLE vd (domain text, transport text);
INSERT INTO va VALUES
  ('joe@example.com', 'joe@inbox.example', 1),
  ('team@example.com', 'ann@example.com', 2),
  ('team@example.com', 'bob@example.org', 3),
  ('team@example.com', NULL, 4),
  ('@example.net', 'catchall@example.com', 5),
  ('o''neil@example.com', 'quoted@example.com', 6),
  ('bare', 'bare-target', 7);
INSERT INTO vm VALUES ('joe', 'example.com', 'example.com/joe/'),
  ('ann', 'example.org', 'example.org/ann/'), ('postmaster', 'example.org', 'pm/');
INSERT INTO vd VALUES ('example.com', 'smtp'), ('example.org', 'lmtp');
"""

KEYS = ["joe@example.com", "JOE@Example.COM", "team@example.com", "nobody@example.com",
        "@example.net", "o'neil@example.com", "bare", "joe", "ann@example.org",
        "ann@mail.example.org", "x@org", "postmaster@EXAMPLE.ORG", "", "joe@"]

TABLES = {
    "aliases": ("SELECT goto FROM va WHERE address='%s' ORDER BY n", {}),
    "multi-column": ("SELECT goto, n FROM va WHERE address='%s' ORDER BY n", {}),
    "user-domain": ("SELECT maildir FROM vm WHERE username='%u' AND domain='%d'", {}),
    "user-only": ("SELECT maildir FROM vm WHERE username='%u' ORDER BY domain", {}),
    "labels": ("SELECT transport FROM vd WHERE domain='%2.%1'", {"result_format": "%s:[%S]"}),
    "result-format": ("SELECT goto FROM va WHERE address='%s' ORDER BY n",
                      {"result_format": "%u at %d for %U/%D"}),
    "domain-list": ("SELECT maildir FROM vm WHERE username='%u' AND domain='%d'",
                    {"domain": "example.com, !example.net"}),
    "domain-table": ("SELECT maildir FROM vm WHERE username='%u' AND domain='%d'",
                     {"domain": "!mail.example.org, example.org"}),
    "legacy": ("", {"select_field": "goto", "table": "va", "where_field": "address",
                    "additional_conditions": "ORDER BY n"}),
}


@pytest.fixture(scope="module")
def pg():
    if subprocess.run(["postconf", "-m"], capture_output=True, text=True).stdout.split().count(
            "pgsql") == 0:
        pytest.skip("Postfix's pgsql support (postfix-pgsql) is not installed")
    server = pg_server.server()
    server.load(SCHEMA)
    return server


def both(real_postfix, run_cli, config_dir, *args: str, stdin: str = ""):
    theirs = real_postfix("postmap", *args, stdin=stdin)
    mine = run_cli("-c", config_dir, "postmap", *args, stdin=stdin)
    return theirs, mine


@pytest.mark.parametrize("name", TABLES)
def test_same_answers_for_every_key(pg, tmp_path, real_postfix, run_cli, config_dir, name):
    """postmap -q - gives the same key/value lines for every key and the same exit status."""
    query, params = TABLES[name]
    path = pg.cf(tmp_path / f"{name}.cf", query, **params)
    keys = "".join(k + "\n" for k in KEYS if k)
    theirs, mine = both(real_postfix, run_cli, config_dir, "-q", "-", f"pgsql:{path}", stdin=keys)
    assert (mine.status, mine.out) == (theirs.returncode, theirs.stdout)
    assert theirs.stdout  # every table answers some key


SINGLE = ["team@example.com", "JOE@Example.COM", "nobody@example.com", "joe", "", "joe@"]


@pytest.mark.parametrize("name", ["aliases", "user-domain"])
def test_same_single_answers(pg, tmp_path, real_postfix, run_cli, config_dir, name):
    """postmap -q KEY prints the same value (or nothing) with the same exit status."""
    query, params = TABLES[name]
    path = pg.cf(tmp_path / f"{name}.cf", query, **params)
    for key in SINGLE:
        theirs, mine = both(real_postfix, run_cli, config_dir, "-q", key, f"pgsql:{path}")
        assert (key, mine.status, mine.out) == (key, theirs.returncode, theirs.stdout)


def test_no_folding_with_f(pg, tmp_path, real_postfix, run_cli, config_dir):
    """postmap -f looks up the key as given, in both."""
    path = pg.cf(tmp_path / "a.cf", TABLES["aliases"][0])
    theirs, mine = both(real_postfix, run_cli, config_dir, "-f", "-q", "JOE@Example.COM",
                        f"pgsql:{path}")
    assert (mine.status, mine.out) == (theirs.returncode, theirs.stdout) == (1, "")


def test_expansion_limit_fails_in_both(pg, tmp_path, real_postfix, run_cli, config_dir):
    """Too many results: both exit 1 with a fatal query error and print nothing."""
    path = pg.cf(tmp_path / "a.cf", TABLES["aliases"][0], expansion_limit="1")
    theirs, mine = both(real_postfix, run_cli, config_dir, "-q", "team@example.com", f"pgsql:{path}")
    assert (mine.status, mine.out) == (theirs.returncode, theirs.stdout) == (1, "")
    fatal = f"postmap: fatal: table pgsql:{path}: query error"
    assert fatal in theirs.stderr and fatal in mine.err
    warning = f"Expansion limit exceeded for key: 'team@example.com'"
    assert warning in theirs.stderr and warning in mine.err


def test_server_down_fails_in_both(pg, tmp_path, real_postfix, run_cli, config_dir):
    """No server: both warn about the connection and exit 1 with a fatal query
    error naming the table, never "not found"."""
    dead = pg_server._free_port()
    path = pg.cf(tmp_path / "a.cf", TABLES["aliases"][0], hosts=f"inet:127.0.0.1:{dead}")
    for args in (("-q", "joe@example.com"), ("-q", "-")):
        theirs, mine = both(real_postfix, run_cli, config_dir, *args, f"pgsql:{path}",
                            stdin="joe@example.com\n")
        assert (mine.status, mine.out) == (theirs.returncode, theirs.stdout) == (1, "")
        for err in (theirs.stderr, mine.err):
            assert re.search(rf"postmap: warning: connect to pgsql server inet:127.0.0.1:{dead}: "
                             r".*Connection refused", err), err
            assert f"postmap: fatal: table pgsql:{path}: query error: " in err


@pytest.mark.parametrize("text, want", [
    ("hosts = x\nquery = SELECT 1\n", "bad string length 0 < 1: dbname = "),
    ("dbname = m\n", "bad string length 0 < 1: table = "),
], ids=["no-dbname", "no-query"])
def test_bad_cf_same_fatal(tmp_path, pg, real_postfix, run_cli, config_dir, text, want):
    """A .cf file missing a required setting: both refuse it with the same words."""
    path = tmp_path / "bad.cf"
    path.write_text(text)
    os.utime(path, (time.time() - 10,) * 2)  # Postfix waits for a new file to settle
    theirs, mine = both(real_postfix, run_cli, config_dir, "-q", "k", f"pgsql:{path}")
    assert theirs.returncode == mine.status == 1
    assert theirs.stderr.strip() == mine.err.strip() == f"postmap: fatal: {path}: {want}".strip()
