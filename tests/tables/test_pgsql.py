"""pgsql: tables against a real PostgreSQL started by the tests (pg_server.py)."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from mailflow.errors import TableError
from mailflow.tables import open_table
from mailflow.tables.dbcommon import CfFile
from mailflow.tables.pgsql import PgsqlTable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_server  # noqa: E402

SCHEMA = """
DROP TABLE IF EXISTS aliases, mailbox, domains;
CREATE TABLE aliases (address text, goto text, active boolean DEFAULT true, n int);
CREATE TABLE mailbox (username text, domain text, maildir text);
CREATE TABLE domains (domain text);
INSERT INTO aliases VALUES
  ('joe@example.com', 'joe@inbox.example', true, 1),
  ('team@example.com', 'ann@example.com', true, 2),
  ('team@example.com', 'bob@example.com', true, 3),
  ('team@example.com', NULL, true, 4),
  ('team@example.com', '', true, 5),
  ('off@example.com', 'off@else.example', false, 6),
  ('o''neil@example.com', 'quoted@example.com', true, 7),
  ('back\\slash@example.com', 'backslash@example.com', true, 8),
  ('bare', 'bare-target', true, 9);
INSERT INTO mailbox VALUES ('joe', 'example.com', 'example.com/joe/'),
  ('ann', 'example.org', 'example.org/ann/');
INSERT INTO domains VALUES ('example.com'), ('example.org');
"""


@pytest.fixture(scope="module")
def pg():
    server = pg_server.server()
    server.load(SCHEMA)
    return server


@pytest.fixture
def table(pg, tmp_path):
    """Open a pgsql table on a .cf file written for the test server."""
    opened = []

    def make(query: str, **params: str) -> PgsqlTable:
        path = pg.cf(tmp_path / f"t{len(opened)}.cf", query, **params)
        t = open_table(f"pgsql:{path}")
        opened.append(t)
        return t
    yield make
    for t in opened:
        t.close()


ALIASES = "SELECT goto FROM aliases WHERE address='%s' AND active ORDER BY n"


def test_lookup_found_and_not_found(table):
    """A row's column is the value; no row is "not found"."""
    t = table(ALIASES)
    assert t.get("joe@example.com") == "joe@inbox.example"
    assert t.get("nobody@example.com") is None
    assert t.get("off@example.com") is None


def test_rows_and_columns_join_with_commas_skipping_null_and_empty(table):
    """Every column of every row is a value; NULL and empty ones are left out."""
    t = table("SELECT goto, n FROM aliases WHERE address='%s' ORDER BY n")
    assert t.get("team@example.com") == "ann@example.com,2,bob@example.com,3,4,5"


def test_key_is_folded_unless_asked_not_to(pg, tmp_path):
    """Keys are lower-cased as postmap does, unless fold=False (postmap -f)."""
    path = pg.cf(tmp_path / "t.cf", ALIASES)
    assert open_table(f"pgsql:{path}").get("JOE@Example.COM") == "joe@inbox.example"
    assert open_table(f"pgsql:{path}", fold=False).get("JOE@Example.COM") is None


def test_key_is_quoted(table):
    """Quotes and backslashes in the key are escaped by the server's rules."""
    t = table(ALIASES)
    assert t.get("o'neil@example.com") == "quoted@example.com"
    assert t.get("back\\slash@example.com") == "backslash@example.com"
    assert t.get("x' OR 'a'='a") is None


def test_user_and_domain_expansions(table):
    """%u and %d split the key; a key without a domain is not looked up."""
    t = table("SELECT maildir FROM mailbox WHERE username='%u' AND domain='%d'")
    assert t.get("joe@example.com") == "example.com/joe/"
    assert t.get("joe") is None


def test_domain_labels_and_result_format(table):
    """%1/%2 pick domain labels of the key; result_format decorates each value."""
    t = table("SELECT domain FROM domains WHERE domain='%2.%1'", result_format="relay:[%s]")
    assert t.get("x@mail.example.org") == "relay:[example.org]"
    assert t.get("x@org") is None


def test_domain_list_keeps_other_keys_from_the_server(table):
    """Keys outside `domain` are not found without a query: this query would fail."""
    t = table("SELECT nothing FROM no_such_table WHERE k='%s'", domain="example.net")
    assert t.get("joe@example.com") is None
    assert t.get("bare") is None
    with pytest.raises(TableError):
        t.get("joe@example.net")


def test_legacy_query_form(table):
    """select_field/table/where_field/additional_conditions build the query."""
    t = table("", select_field="goto", table="aliases", where_field="address",
              additional_conditions="AND active ORDER BY n")
    assert t.get("team@example.com") == "ann@example.com,bob@example.com"


def test_expansion_limit_is_an_error(table):
    """More results than expansion_limit is a lookup error, not a truncated answer."""
    t = table(ALIASES, expansion_limit="1")
    assert t.get("joe@example.com") == "joe@inbox.example"
    with pytest.raises(TableError, match="expansion limit exceeded for key: 'team@example.com'"):
        t.get("team@example.com")


def test_unix_socket_and_uri_hosts(pg, tmp_path, monkeypatch):
    """hosts may name a Unix socket directory or a postgresql:// URI."""
    monkeypatch.setenv("PGPORT", str(pg.port))  # unix:/dir has no port: libpq's default
    unix = pg.cf(tmp_path / "u.cf", ALIASES, hosts=f"unix:{pg.socket_dir}")
    uri = pg.cf(tmp_path / "r.cf", ALIASES, dbname="",
                hosts=f"postgresql://mailflow:{pg_server.PASSWORD}@127.0.0.1:{pg.port}/mail")
    for path in (unix, uri):
        assert open_table(f"pgsql:{path}").get("joe@example.com") == "joe@inbox.example"


def test_main_cf_parameters(pg, config_dir):
    """A table name that is not a path reads NAME_* parameters from main.cf."""
    from mailflow.config import Config
    (config_dir / "main.cf").write_text(
        f"pgaliases_hosts = inet:127.0.0.1:{pg.port}\npgaliases_user = mailflow\n"
        f"pgaliases_password = {pg_server.PASSWORD}\npgaliases_dbname = mail\n"
        f"pgaliases_query = {ALIASES}\n")
    t = open_table("pgsql:pgaliases", Config.from_directory(config_dir))
    assert t.get("joe@example.com") == "joe@inbox.example"


def test_failover_skips_a_dead_host_and_remembers(pg, tmp_path, caplog):
    """A host that refuses is logged and skipped; for retry_interval later
    connections do not try it again (no pooling here: each lookup connects)."""
    dead = _dead_port()
    path = pg.cf(tmp_path / "t.cf", ALIASES, hosts=f"127.0.0.1:{dead}, 127.0.0.1:{pg.port}")
    t = PgsqlTable(CfFile.read(path), path, pool_size=0)
    with caplog.at_level(logging.WARNING, logger="mailflow.tables"):
        assert t.get("joe@example.com") == "joe@inbox.example"
        assert t.get("team@example.com") == "ann@example.com,bob@example.com"
        assert t._idle == []
    refused = [m for m in caplog.messages if f"connect to pgsql server 127.0.0.1:{dead}" in m]
    assert len(refused) == 1


def test_failed_host_is_tried_again_after_retry_interval(pg, tmp_path):
    """Once retry_interval has passed, a host that failed is tried again."""
    now = [1000.0]
    path = pg.cf(tmp_path / "t.cf", ALIASES, hosts=f"127.0.0.1:{pg.port}", retry_interval="30")
    t = PgsqlTable(CfFile.read(path), path, clock=lambda: now[0])
    for slot in t._slots:  # as if both entries had just failed
        slot.down_until, slot.last_error = now[0] + 30, "connect to pgsql server: refused"
    with pytest.raises(TableError, match="no PostgreSQL server available"):
        t.get("joe@example.com")
    now[0] += 31
    assert t.get("joe@example.com") == "joe@inbox.example"
    t.close()


def test_server_down_is_an_error_naming_the_table(pg, tmp_path, caplog):
    """No server answering is a TableError naming the table, never "not found"."""
    path = pg.cf(tmp_path / "t.cf", ALIASES, hosts=f"127.0.0.1:{_dead_port()}")
    t = open_table(f"pgsql:{path}")
    with caplog.at_level(logging.WARNING, logger="mailflow.tables"):
        with pytest.raises(TableError) as info:
            t.get("joe@example.com")
    assert str(info.value).startswith(f"table pgsql:{path}: query error: ")
    assert "Connection refused" in str(info.value)
    assert any("connect to pgsql server" in m for m in caplog.messages)
    # The hosts are now left alone for retry_interval: the next lookup fails at once.
    start = time.monotonic()
    with pytest.raises(TableError, match="no PostgreSQL server available"):
        t.get("joe@example.com")
    assert time.monotonic() - start < 0.5


def test_silent_server_times_out(pg, tmp_path):
    """A server that accepts the connection and never answers fails after connect_timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        path = pg.cf(tmp_path / "t.cf", ALIASES, connect_timeout="2",
                     hosts=f"127.0.0.1:{silent.getsockname()[1]}, 127.0.0.1:{_dead_port()}")
        t = open_table(f"pgsql:{path}")
        start = time.monotonic()
        with pytest.raises(TableError, match=f"table pgsql:{path}: query error"):
            t.get("joe@example.com")
        assert time.monotonic() - start < 10


def test_slow_query_times_out(table):
    """A query slower than query_timeout is a lookup error (each host tried once)."""
    t = table("SELECT '%s' FROM pg_sleep(5)", query_timeout="1")
    start = time.monotonic()
    with pytest.raises(TableError, match=r"no answer within query_timeout \(1s\)"):
        t.get("x")
    assert time.monotonic() - start < 4.5


def test_hung_server_process_is_left_for_a_fresh_connection(pg, tmp_path, caplog):
    """A pooled connection whose server process stops answering is dropped after
    query_timeout; the lookup goes on with a new connection and answers."""
    import os
    import signal
    path = pg.cf(tmp_path / "t.cf", ALIASES, query_timeout="1")
    t = open_table(f"pgsql:{path}")
    assert t.get("joe@example.com") == "joe@inbox.example"
    [(_slot, conn, _used)] = t._idle
    backend = conn.pgconn.backend_pid
    os.kill(backend, signal.SIGSTOP)
    try:
        with caplog.at_level(logging.WARNING, logger="mailflow.tables"):
            start = time.monotonic()
            assert t.get("joe@example.com") == "joe@inbox.example"
            assert 0.9 < time.monotonic() - start < 4
    finally:
        os.kill(backend, signal.SIGCONT)
    assert any("pgsql query failed" in m and "query_timeout" in m for m in caplog.messages)


def test_bad_query_is_an_error(table):
    """SQL the server rejects is a lookup error with the server's words."""
    with pytest.raises(TableError, match='relation "no_such_table" does not exist'):
        table("SELECT v FROM no_such_table WHERE k='%s'").get("x")


def test_pooled_connection_survives_a_server_restart(pg, tmp_path):
    """After a restart the dead pooled connection is replaced at once, as Postfix's
    doubled single host does: no lookup fails."""
    t = open_table(f"pgsql:{pg.cf(tmp_path / 't.cf', ALIASES)}")
    assert t.get("joe@example.com") == "joe@inbox.example"
    pg.stop()
    pg.start()
    assert t.get("joe@example.com") == "joe@inbox.example"


def test_threads_share_one_small_pool(pg, tmp_path):
    """Lookups from many threads get their own answers; at most pool_size
    connections stay open afterwards."""
    path = pg.cf(tmp_path / "t.cf", "SELECT '%s' || '!'")
    t = PgsqlTable(CfFile.read(path), path, pool_size=3)
    errors: list[str] = []

    def worker(n: int) -> None:
        for i in range(100):
            key = f"k{n}-{i}"
            got = t.get(key)
            if got != key + "!":
                errors.append(f"{key} -> {got}")
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(t._idle) <= 3
    t.close()


def test_caller_connection_pool_and_factory(pg):
    """A caller may hand in one connection, a psycopg_pool pool, or a connect function."""
    import psycopg
    from psycopg_pool import ConnectionPool
    conninfo = (f"host=127.0.0.1 port={pg.port} dbname=mail user=mailflow "
                f"password={pg_server.PASSWORD}")
    params = {"query": ALIASES}
    with psycopg.connect(conninfo) as conn:
        t = PgsqlTable(params, "given-connection", connect=conn)
        assert t.get("joe@example.com") == "joe@inbox.example"
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with ConnectionPool(conninfo, min_size=1, max_size=2, open=True) as pool:
        t = PgsqlTable(params, "given-pool", connect=pool)
        assert t.get("team@example.com") == "ann@example.com,bob@example.com"
    t = PgsqlTable(params, "given-factory", connect=lambda: psycopg.connect(conninfo, autocommit=True))
    assert t.get("joe@example.com") == "joe@inbox.example"
    t.close()


def test_caller_connection_error_is_table_error(pg):
    """A broken connection handed in is a TableError, not a psycopg exception."""
    import psycopg
    conn = psycopg.connect(f"host=127.0.0.1 port={pg.port} dbname=mail user=mailflow "
                           f"password={pg_server.PASSWORD}")
    conn.close()
    with pytest.raises(TableError, match="table pgsql:given: query error"):
        PgsqlTable({"query": ALIASES}, "given", connect=conn).get("joe@example.com")


@pytest.mark.parametrize("text, message", [
    ("hosts = x\nquery SELECT\n", ", line 2: missing '=' after attribute name"),
    ("hosts = x\nquery = SELECT 1\n", ": bad string length 0 < 1: dbname = "),
    ("dbname = m\nquery = SELECT %q\n", ": invalid query template: SELECT %q"),
    ("dbname = m\nquery = q\nexpansion_limit = many\n",
     ", line 3: bad numerical configuration: expansion_limit = many"),
    ("dbname = m\n", ": bad string length 0 < 1: table = "),
], ids=["syntax", "no-dbname", "template", "number", "no-query"])
def test_bad_cf_file_is_refused_at_open(tmp_path, text, message):
    """A bad .cf file is a TableError naming the file (and line when there is one)."""
    path = tmp_path / "bad.cf"
    path.write_text(text)
    with pytest.raises(TableError) as info:
        open_table(f"pgsql:{path}")
    assert message in str(info.value)
    assert str(path) in str(info.value)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docs_page_examples_run():
    """The Python examples of docs/tables-databases.md give the output written there."""
    import doctest
    page = Path(__file__).resolve().parents[2] / "docs" / "tables-databases.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted > 0 and result.failed == 0


def test_forked_child_does_not_share_the_parents_connections(pg, tmp_path):
    """After fork the child opens its own connection; the parent's keeps working."""
    import os
    t = open_table(f"pgsql:{pg.cf(tmp_path / 't.cf', ALIASES)}")
    assert t.get("joe@example.com") == "joe@inbox.example"
    parent_conn = t._idle[0][1]
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads; this
        # child only runs the lookup and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: exit status 0 only when its own connection answered
        ok = False
        try:
            ok = t.get("joe@example.com") == "joe@inbox.example" and t._idle[0][1] is not parent_conn
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert t.get("joe@example.com") == "joe@inbox.example" and t._idle[0][1] is parent_conn
