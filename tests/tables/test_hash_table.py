"""hash:/btree: tables: FILE.db, folding, atomic rebuild, noticing a rebuilt file."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

import mailflow

from mailflow.adapters.sqlite_table import CHECK_INTERVAL, DbTable, db_items, update_db, write_db
from mailflow.errors import TableError
from mailflow.tables import open_table


def test_db_file_is_source_name_plus_db(tmp_path):
    """``hash:FILE`` is stored in FILE.db, as Postfix names it."""
    base = str(tmp_path / "virtual")
    write_db(base, [("a", "1")])
    assert sorted(os.listdir(tmp_path)) == ["virtual.db"]


def test_btree_reads_the_same_file(tmp_path):
    """btree: and hash: both read FILE.db."""
    base = str(tmp_path / "t")
    write_db(base, [("k", "v")])
    assert open_table(f"btree:{base}").get("K") == "v"


def test_missing_database_is_a_table_error(tmp_path):
    """A missing FILE.db cannot answer: TableError, not 'not found'."""
    with pytest.raises(TableError, match="open database"):
        open_table(f"hash:{tmp_path / 'nope'}").get("k")


def test_fold_off_looks_up_exact_key(tmp_path):
    """With fold=False the key is used as given (postmap -f)."""
    base = str(tmp_path / "t")
    write_db(base, [("B", "upper"), ("b", "lower")])
    assert open_table(f"hash:{base}", fold=False).get("B") == "upper"
    assert open_table(f"hash:{base}").get("B") == "lower"


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("elapsed, expected", [
    (CHECK_INTERVAL, "new"),
    (CHECK_INTERVAL * 0.9, "old"),
], ids=["after-the-check-interval", "within-the-check-interval"])
def test_reader_notices_rebuilt_file_once_per_interval(tmp_path, elapsed, expected):
    """An open table sees a rebuild, without reopening by hand, once the check interval has passed."""
    base = str(tmp_path / "t")
    write_db(base, [("k", "old")])
    clock = FakeClock()
    table = DbTable(base, clock=clock)
    assert table.get("k") == "old"
    write_db(base, [("k", "new")])
    clock.now += elapsed
    assert table.get("k") == expected
    table.close()


def test_missing_database_is_retried_on_every_lookup(tmp_path):
    """A table whose file is missing looks again at the next lookup, not a second later."""
    base = str(tmp_path / "t")
    table = DbTable(base, clock=FakeClock())
    with pytest.raises(TableError):
        table.get("k")
    write_db(base, [("k", "v")])
    assert table.get("k") == "v"
    table.close()


def test_update_is_atomic_and_keeps_order(tmp_path):
    """Incremental updates and deletes produce a complete new file."""
    base = str(tmp_path / "t")
    write_db(base, [("a", "1"), ("b", "2")])
    assert update_db(base, [("c", "3")], ["a"]) == {"a"}
    assert db_items(base) == [("b", "2"), ("c", "3")]
    assert [n for n in os.listdir(tmp_path) if "tmp" in n] == []


def test_reader_during_rebuilds_never_sees_a_partial_table(tmp_path):
    """While another thread rebuilds the table over and over, every lookup of
    every key finds a value from one complete generation."""
    base = str(tmp_path / "t")
    keys = [f"k{i}" for i in range(200)]
    write_db(base, [(k, "gen0") for k in keys])
    stop = threading.Event()
    errors: list[str] = []

    def rebuild():
        gen = 1
        while not stop.is_set():
            write_db(base, [(k, f"gen{gen}") for k in keys])
            gen += 1

    writer = threading.Thread(target=rebuild)
    writer.start()
    table = DbTable(base, check_interval=0)     # look at the file before every lookup
    try:
        for _ in range(5):
            for key in keys[::7] + [keys[-1]]:
                value = table.get(key)
                if value is None or not value.startswith("gen"):
                    errors.append(f"{key}: {value!r}")
    finally:
        stop.set()
        writer.join()
        table.close()
    assert errors == []


def test_reader_process_during_rebuild_sees_old_or_new(tmp_path):
    """A separate process reading while postmap rebuilds sees the old or the new table."""
    base = str(tmp_path / "t")
    keys = [f"k{i}" for i in range(300)]
    write_db(base, [(k, "old") for k in keys])
    reader = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys\n"
            "from mailflow.adapters.sqlite_table import DbTable\n"
            "t = DbTable(sys.argv[1], check_interval=0)\n"
            "seen = set()\n"
            "for _ in range(40):\n"
            "    seen |= {t.get('k0'), t.get('k299')}\n"
            "print(' '.join(sorted(map(str, seen))))\n"), base],
        stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(mailflow.__file__))))
    for _ in range(5):
        write_db(base, [(k, "new") for k in keys])
        write_db(base, [(k, "old") for k in keys])
    out, _ = reader.communicate(timeout=60)
    assert set(out.split()) <= {"old", "new"} and out.split()
