"""Run the fuzz targets at a large budget and report inputs per second.

    python fuzz/run.py all --examples 100000
    python fuzz/run.py address main.cf --examples 1000000 --seconds 600
    python fuzz/run.py all --examples 1000000 --engine atheris

Each target is a hypothesis test (``max_examples=N``, generation only, no
example database) over :data:`fuzz.targets.TARGETS`; ``--seconds`` stops a
target early. A failure prints the smallest input hypothesis finds and the
exit status is 1. The figures are printed one line per target:
``TARGET  N inputs  S s  R inputs/s  ok``.

``--engine atheris`` (when ``pip install atheris`` works) runs each target
under libFuzzer in a process of its own instead, coverage-guided, with the
raw bytes turned into the target's input (text decoded as UTF-8 with
surrogate escapes; the SMTP targets take their options and chunk size from
the first bytes); the same promise is checked for every input.
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


def _atheris_one(name: str, examples: int) -> None:
    """Run one target under atheris in this process (libFuzzer exits it)."""
    import atheris
    target = TARGETS[name]

    def one(data: bytes) -> None:
        if target.from_bytes is not None:
            value = target.from_bytes(data)
        else:
            value = data if target.binary else data.decode("utf-8", "surrogateescape")
        check(target, value)
    import tempfile
    crashes = os.path.join(tempfile.gettempdir(), f"mailflow-fuzz-{name}-")
    atheris.Setup([sys.argv[0], f"-runs={examples}", "-print_final_stats=0",
                   f"-artifact_prefix={crashes}"], one)
    atheris.Fuzz()


def run_atheris(name: str, examples: int) -> tuple[int, float, str]:
    import subprocess
    start = time.perf_counter()
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--engine", "atheris-one",
                           name, "--examples", str(examples)], capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode == 0:
        return examples, took, "ok"
    tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
    return examples, took, "FAILED:\n    " + "\n    ".join(tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="+", help=f"'all' or any of: {', '.join(TARGETS)}")
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=None, help="time limit per target")
    parser.add_argument("--engine", choices=["hypothesis", "atheris", "atheris-one"],
                        default="hypothesis")
    args = parser.parse_args(argv)
    if args.engine == "atheris-one":
        _atheris_one(args.targets[0], args.examples)
        return 0
    names = list(TARGETS) if args.targets == ["all"] else args.targets
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}")
    failed = False
    for name in names:
        if args.engine == "atheris":
            count, took, verdict = run_atheris(name, args.examples)
        else:
            count, took, verdict = run_target(name, args.examples, args.seconds)
        print(f"{name:12} {count:>9} inputs {took:8.1f} s {count / took if took else 0:9.0f} inputs/s  "
              f"{verdict}", flush=True)
        failed |= verdict.startswith("FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
