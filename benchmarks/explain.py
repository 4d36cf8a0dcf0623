"""How long explaining a leak takes, on a small heap and on a heap of a million objects.

Usage::

    python benchmarks/explain.py [--heap-records N]

Writes a small suite into a temporary directory: a module with the usual kinds of
leak (a module-level list, a class registry, a logger handler, an unbounded
``lru_cache``, strings in a module-level dict, bytes nothing refers to) and one
test for each, and a ``conftest.py`` that builds a long-lived heap of
``5 * N`` objects before collection.  Runs ``pytest --refleak -v`` on it twice,
without and with the big heap, and prints what the plugin reports it spent on
explaining the leaks (finding what keeps them alive), per leaking test.

Standard library only; it measures and does not gate.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CONFTEST = '''
import os

class Node:
    def __init__(self, key, payload, parent):
        self.key, self.payload, self.parent = key, payload, parent

def _build(count):
    heap, parent = [], None
    for i in range(count):
        values = [i, i + 1, i + 2]
        attrs = {"id": i, "values": values}
        parent = Node(i, (values, attrs), parent if i % 100 else None)
        heap.append(parent)
    return heap

HEAP = _build(int(os.environ.get("REFLEAK_BENCH_HEAP_RECORDS", "0")))
'''

LEAKY = '''
import ctypes, functools, logging

registry = []
labels = {}

class Entry:
    instances = {}
    def __init__(self):
        Entry.instances[id(self)] = self

class Calculator:
    @functools.lru_cache(maxsize=None)
    def compute(self, x):
        return x

def append():
    registry.append(Entry.__new__(Entry))

def register():
    Entry()

def handler():
    logging.getLogger("bench.audit").addHandler(logging.NullHandler())

def cached():
    Calculator().compute(1)

def label(n):
    labels[f"label-{len(labels)}-{n}"] = f"text {n} " * 3

def lose():
    lost = bytes(bytearray(64))
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(lost))
'''

TESTS = '''
import leaky

def test_list():
    leaky.append()

def test_registry():
    leaky.register()

def test_handler():
    leaky.handler()

def test_lru_cache():
    leaky.cached()

def test_strings():
    leaky.label(3)

def test_lost_bytes():
    leaky.lose()
'''

STATS = re.compile(r"refleak: checked (\d+) tests?, .*explaining leaks took ([\d.]+)s")


def run(directory: Path, records: int) -> tuple[int, float, str]:
    env = {**os.environ, "REFLEAK_BENCH_HEAP_RECORDS": str(records), "PY_COLORS": "0"}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--refleak", "-v"]
    result = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    match = STATS.search(output)
    if match is None:
        raise SystemExit(f"no statistics line in the output:\n{output}")
    # The refleak section's lines, not pytest's short summary, which repeats them.
    leaked = len(re.findall(r"^LEAKED (?!.* - refleak: )", output, flags=re.MULTILINE))
    return leaked, float(match.group(2)), output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heap-records", type=int, default=200_000)
    parser.add_argument("--show", action="store_true", help="print the big-heap run's output")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="refleak-explain-") as name:
        directory = Path(name)
        (directory / "conftest.py").write_text(textwrap.dedent(CONFTEST))
        (directory / "leaky.py").write_text(textwrap.dedent(LEAKY))
        (directory / "test_leaks.py").write_text(textwrap.dedent(TESTS))
        print(f"python: {sys.version.split()[0]}  suite: 6 leaking tests")
        output = ""
        for records in (0, args.heap_records):
            leaked, seconds, output = run(directory, records)
            per_test = seconds / leaked if leaked else 0.0
            print(
                f"heap of {records * 5:>9,} objects: {leaked} leaks explained in {seconds:.2f}s "
                f"({per_test:.2f}s per leaking test)"
            )
        if args.show:
            print(output)


if __name__ == "__main__":
    main()
