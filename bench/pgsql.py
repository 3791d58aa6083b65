"""Benchmark: lookups/second through a ``pgsql:`` table of 100,000 rows.

Run from the project directory::

    python bench/pgsql.py [--rows N] [--keys K] [--threads T]

Starts a private PostgreSQL in a temporary directory (as the tests do,
``tests/tables/pg_server.py``; as ``nobody`` when run as root), fills a
table with N (default 100,000) rows ``userI@example.com -> boxI@example.net``
and writes one ``pgsql:`` ``.cf`` file for it. Then it looks up K (default
20,000) keys in random order, nine in ten of them present:

1. **postfix**: Postfix's ``postmap -q - pgsql:FILE.cf < keys`` (one
   process, one connection, one query per key);
2. **mailflow postmap**: ``mailflow postmap -q - pgsql:FILE.cf < keys``, the
   same command shape (process start-up included in both);
3. **mailflow, in process**: ``PgsqlTable.get`` in a loop, one thread;
4. **mailflow, T threads**: the same table shared by T threads (its pool
   gives each its own connection), as the daemon's lookups run in threads.

Each run's answers are checked (every present key found, every absent one
not). Each row is the best of ``--repeat`` (default 3) runs, the four kinds
taking turns, so that a busy machine hurts all of them alike. Prints
lookups/second and the ratio to Postfix.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "tables"))

import pg_server  # noqa: E402

from mailflow.tables.dbcommon import CfFile  # noqa: E402
from mailflow.tables.pgsql import PgsqlTable  # noqa: E402

QUERY = "SELECT goto FROM bench_alias WHERE address='%s'"


def make_keys(rows: int, count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"user{rng.randrange(rows)}@example.com" if rng.random() < 0.9
            else f"nobody{rng.randrange(rows)}@example.com" for _ in range(count)]


def expected_hits(keys: list[str]) -> int:
    return sum(1 for k in keys if k.startswith("user"))


def run_postmap(argv: list[str], keys: list[str], env: dict | None = None) -> float:
    data = "".join(k + "\n" for k in keys).encode()
    start = time.perf_counter()
    p = subprocess.run(argv, input=data, capture_output=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    found = p.stdout.count(b"\n")
    if found != expected_hits(keys):
        raise SystemExit(f"{argv[0]}: {found} answers, expected {expected_hits(keys)}:"
                         f" {p.stderr.decode()[-500:]}")
    return len(keys) / seconds


def in_process(cf: str, keys: list[str], threads: int) -> float:
    table = PgsqlTable(CfFile.read(cf), cf, pool_size=threads)
    table.get(keys[0])  # connect before the clock starts, as a running daemon has
    found = [0] * threads
    chunks = [keys[i::threads] for i in range(threads)]

    def work(n: int) -> None:
        found[n] = sum(1 for k in chunks[n] if table.get(k) is not None)
    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - start
    table.close()
    if sum(found) != expected_hits(keys):
        raise SystemExit(f"in process: {sum(found)} found, expected {expected_hits(keys)}")
    return len(keys) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--keys", type=int, default=20_000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bindir = pg_server.find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    have_postfix = shutil.which("postmap") is not None and "pgsql" in subprocess.run(
        ["postconf", "-m"], capture_output=True, text=True).stdout.split()
    server = pg_server.PgServer(bindir)
    try:
        server.load(f"""
            CREATE TABLE bench_alias (address text PRIMARY KEY, goto text NOT NULL);
            INSERT INTO bench_alias SELECT 'user' || i || '@example.com', 'box' || i || '@example.net'
              FROM generate_series(0, {args.rows - 1}) AS i;
            ANALYZE bench_alias;""")
        cf = server.cf(Path(server.base) / "alias.cf", QUERY)
        os.chmod(server.base, 0o755)
        keys = make_keys(args.rows, args.keys)
        load = os.getloadavg()[0]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        runs: dict[str, Callable[[], float]] = {}
        if have_postfix:
            runs["postfix postmap -q -"] = lambda: run_postmap(
                ["postmap", "-q", "-", f"pgsql:{cf}"], keys)
        runs["mailflow postmap -q -"] = lambda: run_postmap(
            [sys.executable, "-m", "mailflow", "postmap", "-q", "-", f"pgsql:{cf}"], keys, env)
        runs["mailflow in process, 1 thread"] = lambda: in_process(cf, keys, 1)
        runs[f"mailflow in process, {args.threads} threads"] = lambda: in_process(
            cf, keys, args.threads)
        best = {name: 0.0 for name in runs}
        for _ in range(args.repeat):
            for name, run in runs.items():
                best[name] = max(best[name], run())
        rows = list(best.items())
    finally:
        server.destroy()
    reference = rows[0][1] if have_postfix else None
    print(f"{args.keys} lookups ({expected_hits(keys)} found) in a pgsql: table of {args.rows} rows,"
          f" best of {args.repeat}, on {os.cpu_count()} CPUs, load {load:.2f}")
    print(f"{'':40} {'lookups/s':>10} {'vs postfix':>11}")
    for name, per_second in rows:
        ratio = f"{per_second / reference:.2f}x" if reference else "-"
        print(f"{name:40} {per_second:>10.0f} {ratio:>11}")


if __name__ == "__main__":
    main()
