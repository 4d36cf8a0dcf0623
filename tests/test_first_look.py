"""A verdict is a fact about the test, not about what ran before it.

The first run of a test may only pass it when exact figures say nothing is left:
small leaks must be caught whatever ran before (other leaks, the same leak in
other parametrized cases), and memory grown by ``realloc`` of an existing buffer
or held outside Python's small-object allocator counts as much as new blocks.
Each leak here has a clean twin that must pass in the same positions.
"""

from __future__ import annotations

import array
import random
import re
import sys
import textwrap

import pytest
from conftest import run

from pytest_refleak.heap import MallocBytes, malloc_chunk
from pytest_refleak.measure import Reading
from pytest_refleak.verdict import MALLOC_SLACK, grew

#: Code under test: each leaking function has a clean twin that does the same
#: work without keeping anything.
GROWLIB = textwrap.dedent(
    """
    import array
    import ctypes
    import itertools

    _counter = itertools.count()
    KEEP = []
    NAMES = set()
    KEYS = set()
    BUFFER = bytearray()
    SAMPLES = array.array("d")
    STABLE = set()
    SCRATCH = []
    REPLACED = bytearray()
    HELD = []

    def keep_kilobyte():
        KEEP.append(bytes(1024))

    def add_long_name():
        NAMES.add("n" * 2000 + str(next(_counter)))

    def add_short_key():
        # 20 ASCII characters: a 69-byte str.
        KEYS.add(f"k{next(_counter):019d}")

    def receive_chunk():
        BUFFER.extend(bytes(65536))

    def record_samples():
        SAMPLES.frombytes(bytes(16384))

    def lose_big_bytes():
        data = b"x" * 8191 + bytes([next(_counter) % 256])
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(data))

    # Clean twins.

    def replace_buffer():
        global REPLACED
        REPLACED = bytearray(65536)

    def record_and_clear():
        SAMPLES.frombytes(bytes(16384))
        del SAMPLES[:]

    def add_same_name():
        STABLE.add("n" * 2000 + str(7))

    def push_and_pop():
        SCRATCH.append(bytes(1024))
        SCRATCH.pop()

    def hold_latest():
        HELD[:] = [bytes(8192)]
    """
)

LEAKS = {
    "kilobyte": "keep_kilobyte",
    "long_name": "add_long_name",
    "short_key": "add_short_key",
    "bytearray": "receive_chunk",
    "array": "record_samples",
    "incref": "lose_big_bytes",
}

CLEAN = {
    "replaced_bytearray": "replace_buffer",
    "cleared_array": "record_and_clear",
    "same_name": "add_same_name",
    "push_pop": "push_and_pop",
    "held_latest": "hold_latest",
}

#: Reorders the collected tests: ``REFLEAK_ORDER=reverse`` or a shuffle's seed.
REORDER = textwrap.dedent(
    """
    import os
    import random

    def pytest_collection_modifyitems(items):
        order = os.environ.get("REFLEAK_ORDER", "")
        if order == "reverse":
            items.reverse()
        elif order:
            random.Random(int(order)).shuffle(items)
    """
)


@pytest.fixture
def grow(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(growlib=GROWLIB)
    pytester.makeini("[pytest]\n")
    return pytester


def verdicts(result: pytest.RunResult) -> dict[str, str]:
    """Each test's outcome: LEAKED from the refleak summary, else pytest's own word."""
    found: dict[str, str] = {}
    for line in result.outlines:
        match = re.match(r"(PASSED|FAILED|ERROR|LEAKED|CYCLES) (test_\S+\.py::\S+)", line)
        if match:
            word, nodeid = match.groups()
            if found.get(nodeid) != "LEAKED":
                found[nodeid] = word
    return found


def many(name: str, function: str, count: int = 8) -> str:
    return (
        "import pytest\nimport growlib\n"
        f"@pytest.mark.parametrize('i', range({count}))\n"
        f"def test_{name}(i):\n    growlib.{function}()\n"
    )


def leaked_ids(result: pytest.RunResult) -> set[str]:
    return {n for n, word in verdicts(result).items() if word == "LEAKED"}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_leak_caught_alone(grow: pytest.Pytester, name: str) -> None:
    """Each small leak is caught when its test runs alone."""
    grow.makepyfile(test_it=f"import growlib\ndef test_{name}():\n    growlib.{LEAKS[name]}()\n")
    result = run(grow, "--refleak", "-rA")
    assert leaked_ids(result) == {f"test_it.py::test_{name}"}, result.stdout.str()
    result.assert_outcomes(failed=1)


#: Missed after other runs of the same leak (a known gap, see docs/how-it-decides.md):
#: a buffer grown by ``realloc`` over-allocates, so after a few dozen calls it grows
#: in lumps, not on every re-run.  (The 69-byte key, listed here until stop 29, is
#: caught on 3.10-3.13 since 3.10's spare frames are no longer counted.)
KNOWN_MISSES = {"bytearray", "array"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                reason="known gap: a buffer grown by realloc grows in lumps, not every run"
            ),
        )
        if name in KNOWN_MISSES
        else name
        for name in sorted(LEAKS)
    ],
)
@pytest.mark.parametrize("order", ["file", "reversed"])
def test_leak_caught_after_other_leaks(grow: pytest.Pytester, name: str, order: str) -> None:
    """The same leak in eight parametrized cases: every case is LEAKED, whichever
    order the cases run in (reversed: node ids named on the command line)."""
    grow.makepyfile(test_it=many(name, LEAKS[name]))
    ids = [f"test_it.py::test_{name}[{i}]" for i in range(8)]
    args = ids[::-1] if order == "reversed" else []
    result = run(grow, "--refleak", "-rA", *args)
    assert leaked_ids(result) == set(ids), result.stdout.str()
    result.assert_outcomes(failed=8)


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_twin_passes(grow: pytest.Pytester, name: str) -> None:
    """The clean twins, in eight cases after and before a leaking test: all pass,
    and the leaking tests around them are still caught."""
    grow.makepyfile(
        test_it=many(name, CLEAN[name])
        + "def test_before():\n    growlib.keep_kilobyte()\n"
        + "def test_zz_after():\n    growlib.add_short_key()\n"
    )
    ids = ["test_it.py::test_before"]
    ids += [f"test_it.py::test_{name}[{i}]" for i in range(8)]
    ids.append("test_it.py::test_zz_after")
    result = run(grow, "--refleak", "-rA", *ids)
    assert leaked_ids(result) == {"test_it.py::test_before", "test_it.py::test_zz_after"}, (
        result.stdout.str()
    )
    result.assert_outcomes(failed=2, passed=8)


MIXED = {
    "test_a.py": (
        "import growlib\n"
        "def test_kilobyte(): growlib.keep_kilobyte()\n"
        "def test_push_pop(): growlib.push_and_pop()\n"
        "def test_short_key(): growlib.add_short_key()\n"
        "def test_replace(): growlib.replace_buffer()\n"
        "def test_nothing(): assert sum(range(100)) == 4950\n"
    ),
    "test_b.py": (
        "import growlib\n"
        "def test_bytearray(): growlib.receive_chunk()\n"
        "def test_same_name(): growlib.add_same_name()\n"
        "def test_incref(): growlib.lose_big_bytes()\n"
        "def test_cleared(): growlib.record_and_clear()\n"
        "def test_long_name(): growlib.add_long_name()\n"
        "def test_held(): growlib.hold_latest()\n"
    ),
}
MIXED_LEAKS = {
    "test_a.py::test_kilobyte",
    "test_a.py::test_short_key",
    "test_b.py::test_bytearray",
    "test_b.py::test_incref",
    "test_b.py::test_long_name",
}


#: Two shuffled orders, fixed so that a failure can be run again.
_SEEDS = [str(s) for s in random.Random(12).sample(range(1000), 2)]


@pytest.mark.parametrize("order", ["file", "reverse", *_SEEDS])
def test_same_verdicts_in_every_order(
    grow: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    """One mixed suite run in file order, reversed and shuffled, serial and with
    ``-n 2``: every test gets the same verdict every time.  One case per order, so
    that the suite's own workers share them out."""
    grow.makepyfile(**{name[:-3]: text for name, text in MIXED.items()})
    grow.makepyfile(reorder=REORDER)
    seen: dict[str, dict[str, str]] = {}
    for workers in ([], ["-n", "2"]):
        monkeypatch.setenv("REFLEAK_ORDER", "" if order == "file" else order)
        result = run(grow, "--refleak", "-rA", "-p", "reorder", *workers)
        label = f"order={order} {' '.join(workers) or 'serial'}"
        seen[label] = verdicts(result)
    names = [
        f"{module}::{line[4:].split('(')[0]}"
        for module, text in MIXED.items()
        for line in text.splitlines()
        if line.startswith("def ")
    ]
    expected = {n: "LEAKED" if n in MIXED_LEAKS else "PASSED" for n in names}
    wrong = {label: found for label, found in seen.items() if found != expected}
    assert not wrong, f"expected {expected}\ngot {wrong}"


def test_malloc_bytes_see_a_buffer_grown_in_place() -> None:
    """Where the platform can say it, the bytes held through malloc grow with a
    buffer that ``realloc`` grows in place, which the block count does not see."""
    malloc = MallocBytes()
    if not malloc.available:
        pytest.skip("no cheap malloc statistics on this platform")
    buffer = bytearray(1 << 20)
    readings = array.array("q", [0, 0])
    blocks = sys.getallocatedblocks()
    assert malloc.read(readings, 0)
    buffer.extend(bytes(1 << 20))
    assert malloc.read(readings, 1)
    assert readings[1] - readings[0] >= 1 << 20
    assert sys.getallocatedblocks() - blocks < 4
    del buffer


def _bytes_freed_into_the_cache(fill: bool) -> int:
    """What the bytes held through malloc read after a run that makes seven
    objects of 700 bytes and frees them all, the cache's bin for them emptied
    before (by enough objects of that size made before the run and still held: taking
    from its bin refills the cache from glibc's list of chunks that size)."""
    malloc = MallocBytes()
    readings = array.array("q", [0, 0])
    # ``bytes * n`` takes its chunk through malloc, which serves it from the
    # cache first (``bytes(n)`` asks calloc, which may not); ``size`` is a
    # variable, or the compiler would make each product one constant.
    size = 700
    held = [b"x" * size for _ in range(2000)]
    if fill:
        malloc.fill_thread_cache()
    assert malloc.read(readings, 0)
    made = [b"y" * size for _ in range(7)]
    del made
    assert malloc.read(readings, 1)
    del held
    return readings[1] - readings[0]


def test_a_full_cache_of_freed_chunks_reads_freed_objects_as_freed() -> None:
    """glibc counts a chunk in its per-thread cache as in use: a run that frees
    into bins of it that are not full seems to hold more.  Filled before the
    reading, the cache takes nothing more, and the run reads what it kept."""
    if not MallocBytes().available:
        pytest.skip("no cheap malloc statistics on this platform")
    parked = [_bytes_freed_into_the_cache(fill=False) for _ in range(3)]
    settled = [_bytes_freed_into_the_cache(fill=True) for _ in range(3)]
    # Seven chunks of 752 bytes parked: more than a clean run may grow by.
    assert max(parked) > MALLOC_SLACK, parked
    assert max(settled) <= MALLOC_SLACK, settled


def _reads_left_on(monkeypatch: pytest.MonkeyPatch, clock: str) -> bool:
    """Whether the malloc reader is still on after readings that each seem to take
    a second by ``clock``."""
    from pytest_refleak import heap

    malloc = MallocBytes()
    readings = array.array("q", [0])
    ticks = iter(range(0, 10**15, 10**9))
    monkeypatch.setattr(heap.time, clock, lambda: next(ticks))
    for _ in range(5):
        malloc.read(readings, 0)
    monkeypatch.undo()
    return malloc.read(readings, 0)


def test_the_malloc_reader_stops_over_its_share_of_cpu_time_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Readings that wait for a core (a second each by the clock, on a loaded
    machine) keep the reader on; readings that cost the process a second each stop
    it, as they would cost more than their share."""
    if not MallocBytes().available:
        pytest.skip("no cheap malloc statistics on this platform")
    assert _reads_left_on(monkeypatch, "perf_counter_ns")
    assert not _reads_left_on(monkeypatch, "process_time_ns")


def test_a_full_cache_of_freed_chunks_still_sees_a_buffer_grow() -> None:
    """Filling the cache hides nothing a run keeps: a buffer ``realloc`` grows
    still reads as grown, by its growth."""
    malloc = MallocBytes()
    if not malloc.available:
        pytest.skip("no cheap malloc statistics on this platform")
    buffer = bytearray(1 << 16)
    readings = array.array("q", [0, 0])
    malloc.fill_thread_cache()
    assert malloc.read(readings, 0)
    buffer.extend(bytes(1 << 16))
    assert malloc.read(readings, 1)
    assert readings[1] - readings[0] >= 1 << 16
    del buffer


@pytest.mark.parametrize(
    ("blocks", "malloc", "grown"),
    [(1, None, True), (0, None, False), (0, MALLOC_SLACK + 1, True), (0, MALLOC_SLACK, False)],
)
def test_growth_in_blocks_or_bytes(blocks: int, malloc: int | None, grown: bool) -> None:
    """A run grew if it kept another block, or more than the slack in malloc bytes."""
    assert grew(Reading(blocks=blocks, objects=0, malloc=malloc)) is grown


def test_malloc_chunk_sizes() -> None:
    """What Python's small-object allocator serves costs malloc nothing."""
    assert malloc_chunk(512) == 0
    assert malloc_chunk(513) == 528
    assert malloc_chunk(1024) == 1040
