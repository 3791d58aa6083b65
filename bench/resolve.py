"""Benchmark: address routing throughput with a 100,000-entry hash virtual map.

Run from the project directory::

    python bench/resolve.py [--entries N] [--rules R] [--skip-postfix]

Builds, in a temp directory, a ``hash:`` virtual alias map of N (default
100,000) entries ``userI@alias.example -> boxI@mbox.example`` with
``mailflow postmap``, and a ``regexp:`` transport map of R (default 20) rules
that send some mailboxes elsewhere, then measures addresses/second for:

1. the cleanup virtual alias expansion (``CleanupPipeline.expand``) of every
   key, in random order, through the hash table;
2. trivial-rewrite's resolve (``TrivialRewrite.resolve``) of every expanded
   address (class ``virtual_mailbox``, transport from the regexp map or
   ``virtual``), each address once, so its result cache never answers;
3. both, address by address, as cleanup and the queue manager do per recipient;
4. resolve again for 1,000 addresses repeated (the cached case);
5. the bare lookups, N keys on one ``postmap -q -`` command, mailflow's and
   (when installed) Postfix's on a map built by Postfix's own postmap.

Prints a table of addresses/second; process start-up is included in the
``postmap -q -`` rows.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailflow.address.resolve import TrivialRewrite  # noqa: E402
from mailflow.cleanup import CleanupPipeline  # noqa: E402
from mailflow.config import Config  # noqa: E402
from mailflow.model import Recipient  # noqa: E402


def write_maps(etc: Path, entries: int, rules: int) -> tuple[Path, Path]:
    virtual = etc / "virtual"
    with open(virtual, "w") as fh:
        for i in range(entries):
            fh.write(f"user{i}@alias.example box{i}@mbox.example\n")
    transport = etc / "transport"
    with open(transport, "w") as fh:
        # Rules that only the last few addresses reach, so most lookups try
        # every pattern (the regexp map's worst case).
        for r in range(rules - 1):
            fh.write(f"/^box{r}{r}{r}[0-9]*@mbox\\.example$/ lmtp:[127.0.0.{r + 1}]:24\n")
        fh.write("/^box[0-9]*99@mbox\\.example$/ relay:[archive.example]\n")
    return virtual, transport


def config_for(etc: Path, virtual: Path, transport: Path) -> Config:
    return Config(myhostname="mx.example.com", mydomain="example.com",
                  mydestination="$myhostname, localhost",
                  virtual_alias_domains="alias.example", virtual_alias_maps=f"hash:{virtual}",
                  virtual_mailbox_domains="mbox.example",
                  transport_maps=f"regexp:{transport}", config_directory=str(etc))


def rate(count: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def postmap_query(argv: list[str], keys: bytes, expect: int, env: dict | None = None) -> float:
    start = time.perf_counter()
    p = subprocess.run(argv, input=keys, capture_output=True, env=env)
    seconds = time.perf_counter() - start
    found = p.stdout.count(b"\n")
    if found != expect:
        raise RuntimeError(f"{argv[0]} answered {found} of {expect} keys: "
                           f"{p.stderr.decode(errors='replace')[:300]}")
    return expect / seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=100_000, help="virtual map entries (100000)")
    ap.add_argument("--rules", type=int, default=20, help="regexp transport rules (20)")
    ap.add_argument("--skip-postfix", action="store_true", help="do not time Postfix's postmap")
    args = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="mailflow-resolve-") as tmp:
        etc = Path(tmp)
        virtual, transport = write_maps(etc, args.entries, args.rules)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mailflow", "-c", str(etc), "postmap",
                        f"hash:{virtual}"], check=True, env=env, cwd=ROOT)
        build = time.perf_counter() - start
        print(f"  mailflow postmap built {args.entries} entries in {build:.1f}s", file=sys.stderr)

        cfg = config_for(etc, virtual, transport)
        pipeline = CleanupPipeline.from_config(cfg)
        rewrite = TrivialRewrite.from_config(cfg)
        order = list(range(args.entries))
        random.Random(1).shuffle(order)
        aliases = [Recipient(f"user{i}@alias.example") for i in order]

        finals: list[str] = []

        def expand_all() -> None:
            for r in aliases:
                finals.extend(x.address for x in pipeline.expand(r)[0])
        rows.append(("cleanup virtual expansion (hash map)", rate(len(aliases), expand_all)))
        assert finals[0] == f"box{order[0]}@mbox.example", finals[0]

        def resolve_all() -> None:
            for a in finals:
                rewrite.resolve(a)
        rows.append(("trivial-rewrite resolve (regexp transport)", rate(len(finals), resolve_all)))
        sample = rewrite.resolve("box99@mbox.example")
        assert (sample.address_class, sample.transport) == ("virtual_mailbox", "relay"), sample

        fresh = TrivialRewrite.from_config(cfg)

        def both() -> None:
            for r in aliases:
                for x in pipeline.expand(r)[0]:
                    fresh.resolve(x.address)
        rows.append(("expansion + resolve, per recipient", rate(len(aliases), both)))

        hot = finals[:1000]

        def cached() -> None:
            for _ in range(20):
                for a in hot:
                    rewrite.resolve(a)
        rewrite.resolve(hot[0])
        rows.append(("resolve, 1,000 addresses repeated (cached)", rate(20 * len(hot), cached)))

        keys = "".join(f"user{i}@alias.example\n" for i in order).encode()
        rows.append(("mailflow postmap -q - (one process)",
                     postmap_query([sys.executable, "-m", "mailflow", "-c", str(etc), "postmap",
                                    "-q", "-", f"hash:{virtual}"], keys, args.entries, env)))
        postmap = shutil.which("postmap") or "/usr/sbin/postmap"
        if args.skip_postfix:
            pass
        elif os.path.exists(postmap):
            pf = etc / "postfix"
            pf.mkdir()
            shutil.copy(virtual, pf / "virtual")
            subprocess.run([postmap, f"hash:{pf / 'virtual'}"], check=True)
            rows.append(("postfix postmap -q - (one process)",
                         postmap_query([postmap, "-q", "-", f"hash:{pf / 'virtual'}"], keys,
                                       args.entries)))
        else:
            print("  skipping Postfix's postmap: Postfix is not installed", file=sys.stderr)
    print(f"{args.entries} virtual alias entries (hash), {args.rules} regexp transport rules, "
          f"on {os.cpu_count()} CPUs")
    print(f"{'':46} {'addresses/s':>12}")
    for name, value in rows:
        print(f"{name:46} {value:12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
