#!/usr/bin/env python3
"""Profile one pytest run in CPU time and show where pytest-refleak spends it.

``python -m cProfile`` times with the wall clock, which on a loaded machine
charges every function for the time other processes ran.  This runs
``pytest.main`` under ``cProfile.Profile(time.process_time)`` instead, writes the
profile, and prints the entries inside ``pytest_refleak`` by cumulative time and
the whole run's top entries by own time.

Run it with the interpreter of the environment that has pytest, the project and
pytest-refleak, from the directory the suite runs in::

    /tmp/refleak-suites/sqlparse-0.6.1/venv/bin/python \\
        /path/to/benchmarks/profile_pytest.py out.prof -- -p no:cacheprovider -q --refleak tests

``--top N`` sets how many entries each listing has (default 30).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output", help="where to write the profile (pstats format)")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("pytest_args", nargs=argparse.REMAINDER,
                    help="arguments for pytest, after '--'")
    args = ap.parse_args(argv)
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args

    import pytest  # the environment's pytest, not this script's concern otherwise

    profile = cProfile.Profile(time.process_time)
    started = time.process_time()
    profile.enable()
    try:
        code = pytest.main(pytest_args)
    finally:
        profile.disable()
    spent = time.process_time() - started
    profile.dump_stats(args.output)
    print(f"\npytest exit code {int(code)}; CPU time {spent:.1f} s; profile in {args.output}")
    stats = pstats.Stats(args.output, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats("pytest_refleak", args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
