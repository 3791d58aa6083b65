"""Run the fuzz targets at a large budget and report inputs per second.

    python fuzz/run.py all --examples 100000
    python fuzz/run.py address main.cf --examples 1000000 --seconds 600

Each target is a hypothesis test (``max_examples=N``, generation only, no
example database) over :data:`fuzz.targets.TARGETS`; ``--seconds`` stops a
target early. A failure prints the smallest input hypothesis finds and the
exit status is 1. The figures are printed one line per target:
``TARGET  N inputs  S s  R inputs/s  ok``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from fuzz.targets import TARGETS, check  # noqa: E402


class _Budget(Exception):
    """The target's time is up."""


def run_target(name: str, examples: int, seconds: float | None) -> tuple[int, float, str]:
    target = TARGETS[name]
    count = 0
    start = time.perf_counter()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(target.inputs)
    def body(value):
        nonlocal count
        if seconds is not None and time.perf_counter() - start > seconds:
            raise _Budget()
        count += 1
        check(target, value)

    try:
        body()
        verdict = "ok"
    except _Budget:
        verdict = "ok (time budget)"
    except Exception as exc:  # noqa: BLE001 - reported, then exit 1
        inner = getattr(exc, "exceptions", None) or []
        why = "; ".join(f"{type(e).__name__}: {e}" for e in inner)
        verdict = f"FAILED: {type(exc).__name__}: {exc}" + (f" ({why})" if why else "")
    return count, time.perf_counter() - start, verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="+", help=f"'all' or any of: {', '.join(TARGETS)}")
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=None, help="time limit per target")
    args = parser.parse_args(argv)
    names = list(TARGETS) if args.targets == ["all"] else args.targets
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}")
    failed = False
    for name in names:
        count, took, verdict = run_target(name, args.examples, args.seconds)
        print(f"{name:12} {count:>9} inputs {took:8.1f} s {count / took if took else 0:9.0f} inputs/s  "
              f"{verdict}", flush=True)
        failed |= verdict.startswith("FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
