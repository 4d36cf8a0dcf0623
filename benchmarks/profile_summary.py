#!/usr/bin/env python3
"""Summarise a py-spy profile of a pytest run: where pytest-refleak spends its time.

Record one run with py-spy's raw (collapsed stacks) output, from the directory the
suite runs in, with the environment's interpreter::

    py-spy record -r 50 -f raw -o run.raw -- venv/bin/python -m pytest -q --refleak tests
    python benchmarks/profile_summary.py run.raw

It prints the share of samples under each function of ``pytest_refleak``
(inclusive, a function counted once per stack however deep it recurses) and the
functions with the most samples of their own.  py-spy samples from outside the
process; a profiler inside it (cProfile) would change what the plugin measures:
its per-function records of every newly made code object are new memory, and
suites that compile code (jinja2's templates) then fail as leaking.

Stdlib only.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

FRAME_RE = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) per frame, outermost first; line numbers dropped."""
    out = []
    for frame in stack.split(";"):
        m = FRAME_RE.match(frame)
        out.append((m.group("func"), m.group("file")) if m else (frame, ""))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw", type=Path, help="py-spy record -f raw output")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--package", default="pytest_refleak",
                    help="whose functions to list by inclusive share (default %(default)s)")
    args = ap.parse_args(argv)

    total = 0
    inclusive: Counter[tuple[str, str]] = Counter()
    own: Counter[tuple[str, str]] = Counter()
    in_package = 0
    for line in args.raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        fs = frames(stack)
        own[fs[-1]] += count
        mine = {f for f in fs if args.package in f[1]}
        if mine:
            in_package += count
        for f in mine:
            inclusive[f] += count
    if not total:
        print("no samples")
        return 1
    print(f"{total} samples; {in_package / total:.0%} with a frame of {args.package} on the stack")
    print(f"\n{args.package}, by share of samples under the function (inclusive):")
    for (func, file), n in inclusive.most_common(args.top):
        print(f"  {n / total:6.1%}  {func}  ({file})")
    print("\nby samples of the function itself:")
    for (func, file), n in own.most_common(args.top):
        print(f"  {n / total:6.1%}  {func}  ({file})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
