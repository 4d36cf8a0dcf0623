"""Benchmark suite setup: a long-lived heap of about a million objects, and shared fixtures.

The heap is built when this file is imported, before any test is collected, and
lives for the whole session, so plain ``pytest`` and ``pytest --refleak`` both
carry it.  It is what a large application keeps in memory (parsed config,
caches, object graphs): small lists, dicts, tuples and class instances that the
garbage collector tracks and would have to scan.  A per-test cost that grows
with the heap shows up as a large ratio in ``benchmarks/run.py``.

Nothing in this suite may leak: ``pytest --refleak benchmarks/suite`` must pass
all 400 tests.
"""

from __future__ import annotations

import gc
import json
import os

import pytest

#: Records in the heap; each one is five gc-tracked objects (see ``_record``;
#: six on Python 3.10, where an instance's ``__dict__`` is an object of its own).
#: ``run.py --heap-records N`` sets it through the environment, to see whether a
#: cost grows with the heap.
HEAP_RECORDS = int(os.environ.get("REFLEAK_BENCH_HEAP_RECORDS", "200000"))


class Node:
    """A plain class with an instance ``__dict__``, as most application objects are."""

    def __init__(self, key, payload, parent):
        self.key = key
        self.payload = payload
        self.parent = parent


class Point:
    __slots__ = ("x", "y", "tags")

    def __init__(self, x, y, tags):
        self.x = x
        self.y = y
        self.tags = tags


def _record(i, parent):
    # Five tracked objects: a list, a dict, a tuple holding the list (so it
    # stays tracked), a Node and a slotted Point.
    values = [i, i + 1, i + 2]
    attrs = {"id": i, "values": values}
    pair = (values, attrs)
    point = Point(i, -i, pair)
    return Node(i, point, parent)


def _build_heap(count):
    heap = []
    parent = None
    for i in range(count):
        node = _record(i, parent)
        heap.append(node)
        # Short chains of parents, as in a tree of application objects.
        parent = node if i % 8 else None
    return heap


# Built with the collector paused, which only saves start-up time: collections
# during the build would scan a heap that is still growing.  The heap is not
# frozen; the collector sees all of it once the build is done.
_was_enabled = gc.isenabled()
gc.disable()
try:
    HEAP = _build_heap(HEAP_RECORDS)
finally:
    if _was_enabled:
        gc.enable()


def pytest_unconfigure(config):
    # Let the heap go once the session is over.  Freeing it is quick (it holds
    # no cycles), whereas the full collections the interpreter makes while
    # shutting down would otherwise scan it, adding a second or so to every
    # run, plain or not, that has nothing to do with the tests.
    HEAP.clear()


def heap_summary():
    """Objects in the benchmark heap, and all objects the collector tracks now."""
    return HEAP_RECORDS * 5, len(gc.get_objects())


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def heap():
    return HEAP


@pytest.fixture
def records():
    """A fresh list of small records for a test to work on (function scope)."""
    return [
        {"id": i, "name": f"item-{i:04d}", "price": i * 1.25, "tags": ["a", "b", str(i % 7)]}
        for i in range(60)
    ]


@pytest.fixture
def workspace(tmp_path):
    """A directory with a few JSON files in it; removed again at teardown."""
    directory = tmp_path / "workspace"
    directory.mkdir()
    for n in range(3):
        (directory / f"part{n}.json").write_text(
            json.dumps({"part": n, "rows": [[n, k, k * n] for k in range(40)]})
        )
    yield directory
    for path in sorted(directory.iterdir()):
        path.unlink()
    directory.rmdir()
