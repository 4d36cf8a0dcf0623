"""Time plain ``pytest`` against ``pytest --refleak`` on a 400-test suite over a ~1M-object heap.

Usage::

    python benchmarks/run.py [--rounds N] [--warmup N] [--heap-records N] [-- PYTEST ARGS]

Each round runs the suite in ``benchmarks/suite`` twice, as subprocesses of
this interpreter (``sys.executable -m pytest``): first plain, then with
``--refleak``.  Alternating the two in one process tree spreads the machine's
noise over both; the medians of the wall times, and their ratio, are what to
compare.  Warm-up runs (one of each by default) are made first and not counted:
they write the bytecode caches and warm the file system.

Every run gets a fresh ``--basetemp`` directory, removed by this script after
the run and outside its timing.  With pytest's default numbered directories each
session would delete the one from three sessions back, and a plain run would
pay for removing a refleak run's files or the other way round.

Arguments after ``--`` are passed to both variants, e.g.
``-- --refleak-cycles=off`` or ``-- -k json``.

Standard library only.  It measures and does not gate: the exit status is 0
whatever the figures, and failing runs are reported as warnings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE / "suite"
BASE_ARGS = ["-p", "no:cacheprovider", "-q"]
VARIANTS = (("plain", []), ("refleak", ["--refleak"]))
HEAP_VARIABLE = "REFLEAK_BENCH_HEAP_RECORDS"

# pytest's closing line in quiet mode, e.g. "400 passed in 1.23s" or
# "2 failed, 398 passed in 75.20s (0:01:15)".
SUMMARY = re.compile(r"^=*\s*(?P<outcome>\d+ [\w ,]+?) in (?P<seconds>[\d.]+)s\b")

PROBE = r"""
import gc, json, platform, runpy, sys
info = {"python": platform.python_version(),
        "implementation": platform.python_implementation()}
try:
    import pytest
    info["pytest"] = pytest.__version__
except Exception as error:
    info["pytest"] = "not importable: %r" % (error,)
try:
    from importlib.metadata import version
    info["pytest_refleak"] = version("pytest-refleak")
except Exception as error:
    info["pytest_refleak"] = "not installed (%s)" % (type(error).__name__,)
try:
    conftest = runpy.run_path(sys.argv[1])
    info["heap_objects"], info["gc_tracked"] = conftest["heap_summary"]()
except Exception as error:
    info["heap_error"] = repr(error)
print(json.dumps(info))
"""


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(
        description="Compare the wall time of plain pytest and pytest --refleak "
        "on benchmarks/suite (400 tests over a ~1M-object heap). "
        "Arguments after '--' are passed to pytest in both variants.",
    )
    parser.add_argument("--rounds", type=int, default=5,
                        help="measured rounds, each one plain run then one refleak run (default 5)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured rounds run first (default 1)")
    parser.add_argument("--heap-records", type=int, default=None, metavar="N",
                        help="records in the suite's long-lived heap, five objects each "
                        "(default 200000, for 1M objects); 0 to compare against no heap")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.heap_records is not None:
        if args.heap_records < 0:
            parser.error("--heap-records must not be negative")
        # Read by suite/conftest.py; inherited by every subprocess.
        os.environ[HEAP_VARIABLE] = str(args.heap_records)
    return args, extra


def probe() -> dict[str, object]:
    """Versions, and the size of the suite's heap, asked of the interpreter under test."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROBE, str(SUITE / "conftest.py")],
            capture_output=True, text=True, cwd=SUITE, check=False,
        )
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError) as error:
        return {"probe_error": repr(error)}


def run_once(command: list[str], basetemp: Path) -> dict[str, object]:
    started = time.perf_counter()
    result = subprocess.run(
        [*command, f"--basetemp={basetemp}"], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=SUITE, check=False,
    )
    wall = time.perf_counter() - started
    shutil.rmtree(basetemp, ignore_errors=True)
    outcome, session = "no summary line", None
    for line in reversed(result.stdout.splitlines()):
        match = SUMMARY.match(line.strip())
        if match:
            outcome, session = match["outcome"], float(match["seconds"])
            break
    return {"wall": wall, "session": session, "outcome": outcome,
            "code": result.returncode, "output": result.stdout}


def record(label: str, name: str, run: dict[str, object],
           results: dict[str, list[dict[str, object]]] | None,
           failed: dict[str, dict[str, object]]) -> None:
    session = run["session"]
    session_text = f"{session:.2f}s" if session is not None else "-"
    status = "" if run["code"] == 0 else f"  (exit code {run['code']})"
    print(f"{label:<8}{name:<10}{run['wall']:>8.2f}s{session_text:>10}   "
          f"{run['outcome']}{status}", flush=True)
    if run["code"] != 0:
        failed.setdefault(name, run)
    if results is not None:
        results[name].append(run)


def describe(times: list[float]) -> str:
    return f"median {statistics.median(times):7.3f}s   min {min(times):7.3f}s"


def main(argv: list[str]) -> int:
    args, extra = parse_args(argv)
    info = probe()
    heap = info.get("heap_objects")
    heap_text = (
        f"{heap:,} objects ({info['gc_tracked']:,} tracked by the gc in all)"
        if isinstance(heap, int) else f"unknown ({info.get('heap_error', info.get('probe_error'))})"
    )
    base = [sys.executable, "-m", "pytest", str(SUITE), *BASE_ARGS]
    print("pytest-refleak benchmark: plain pytest vs pytest --refleak")
    print(f"python:   {info.get('python', platform.python_version())} "
          f"({info.get('implementation', platform.python_implementation())}) {sys.executable}")
    versions = f"{info.get('pytest', '?')}    pytest-refleak: {info.get('pytest_refleak', '?')}"
    print(f"pytest:   {versions}")
    print(f"platform: {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"suite:    {SUITE}, heap of {heap_text}")
    print(f"command:  {' '.join(base)} [--refleak]{' ' + ' '.join(extra) if extra else ''}"
          " --basetemp=<fresh directory>")
    if os.environ.get("PYTEST_ADDOPTS"):
        print(f"note:     PYTEST_ADDOPTS is set: {os.environ['PYTEST_ADDOPTS']!r}")
    print(f"rounds:   {args.rounds} measured after {args.warmup} warm-up, "
          "each running plain then refleak")
    print()
    print(f"{'round':<8}{'variant':<10}{'wall':>9}{'session':>10}   outcome")

    results: dict[str, list[dict[str, object]]] = {name: [] for name, _ in VARIANTS}
    failed: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="refleak-bench-") as scratch:
        for number in range(-args.warmup + 1, args.rounds + 1):
            label = str(number) if number > 0 else "warm-up"
            for name, flags in VARIANTS:
                basetemp = Path(scratch) / f"{name}-{number + args.warmup}"
                run = run_once([*base, *flags, *extra], basetemp)
                record(label, name, run, results if number > 0 else None, failed)

    walls = {name: [float(r["wall"]) for r in runs] for name, runs in results.items()}
    sessions = {
        name: [float(r["session"]) for r in runs if r["session"] is not None]
        for name, runs in results.items()
    }
    print()
    print("wall time of the whole pytest process (start-up and heap build included):")
    for name, _ in VARIANTS:
        print(f"  {name:<8} {describe(walls[name])}")
    if all(len(sessions[name]) == len(walls[name]) for name, _ in VARIANTS):
        plain_session = statistics.median(sessions["plain"])
        refleak_session = statistics.median(sessions["refleak"])
        print("session time as pytest reports it (collection and tests only):")
        for name, _ in VARIANTS:
            print(f"  {name:<8} {describe(sessions[name])}")
        if plain_session > 0:
            ratio = refleak_session / plain_session
            print(f"  session-time ratio, refleak over plain: {ratio:.2f}")

    for name, run in failed.items():
        print()
        print(f"WARNING: a {name} run exited with code {run['code']} ({run['outcome']}); "
              "its timing is not comparable. The end of its output:")
        lines = str(run["output"]).rstrip().splitlines()
        print("\n".join("  | " + line for line in lines[-25:]))

    print()
    ratio = statistics.median(walls["refleak"]) / statistics.median(walls["plain"])
    print(f"ratio (refleak / plain): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    sys.exit(0)
