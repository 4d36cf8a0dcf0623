"""Deciding, from a test's measured runs, whether it leaks.

The first run of a test pays for everything done once: imports, caches filling,
fixtures of wider scope.  It only decides whether the test is worth a second
look.  A test leaks only if every measured re-run grows again; see
``docs/how-it-decides.md``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_refleak.cycles import CycleGroup
from pytest_refleak.measure import CYCLE_OTHER, CYCLE_PROJECT, CYCLE_UNDETERMINED, Reading
from pytest_refleak.resources import Found
from pytest_refleak.settings import Limits


class Kind(enum.Enum):
    CLEAN = "clean"
    LEAKED = "leaked"
    CYCLES = "cycles"
    INCONCLUSIVE = "inconclusive"


def _cycle_bits(mode: str) -> int:
    if mode == "project":
        return CYCLE_PROJECT | CYCLE_UNDETERMINED
    if mode == "all":
        return CYCLE_PROJECT | CYCLE_OTHER | CYCLE_UNDETERMINED
    return 0


#: Bytes held through ``malloc`` that a run may gain without counting as growth.
#: A clean test's run moves this figure by a few hundred bytes at most (pytest's
#: own lists and dicts past 512 bytes growing by ``realloc``); past it, the run
#: grew, and it is re-run to see whether it grows every time.
MALLOC_SLACK = 1024


def grew(reading: Reading) -> bool:
    """Whether a run left the process holding more memory.

    More allocator blocks, or more bytes through ``malloc``: a buffer grown in
    place by ``realloc`` (a ``bytearray`` or ``array`` extended) stays one block,
    and a big object freed elsewhere in the same run can hide a new block.
    """
    if reading.blocks > 0:
        return True
    return reading.malloc is not None and reading.malloc > MALLOC_SLACK


def disturbed(reading: Reading, limits: Limits) -> bool:
    """Whether a re-run's block count did not rise while more new objects than
    allowed stayed alive.

    New objects, counted net of what they replaced, each take at least one
    block, unless the interpreter served them from a free list of its own or
    something older than the re-run was freed during it (what an earlier re-run
    set up for wider scopes, an event loop's buffers, another tool's records):
    either way the count hides what the test kept, and such a run says nothing
    either way about growth; the other re-runs decide.  A test whose objects only
    replace older ones of the same type leaves no new objects, so it is not
    disturbed.  (A level count was taken as evidence of no growth from 5ac3f23
    to here: on 3.10 ``mock.patch`` seemed to leave a dict per run, which was
    an old class's registry of subclasses, no longer counted; meanwhile the
    leaking test of an anyio suite read level counts with its object kept, and
    passed.)

    A level count while another thread ran (its allocations and frees are in the
    count too) is taken as it reads.  Taking it as disturbed was tried (with the
    threads' CPU clocks telling whether one ran): beside a thread appending to a
    list every millisecond, under ``-n 2``, a test keeping one 60-byte string per
    run was then caught in 4 of 6 sessions instead of 3 of 6, but a clean test
    whose value a metrics client's shipper thread keeps in a ring of two
    (``corpus/cases/tests/test_telemetry.py``) read four level plain re-runs,
    all set aside, and its traced re-runs' block count, moved by the thread,
    made it LEAKED.
    """
    return reading.blocks_exact and reading.blocks <= 0 and reading.objects > limits.allow_objects


def moved(runs: Sequence[Reading], traced: Reading, net: Reading) -> bool:
    """Whether the untracked memory of the traced re-run and the next one moved
    rather than grew.

    The block count sees every allocation of the interpreter's allocators, big or
    small; only a buffer grown in place (``realloc``) gets bigger without a new
    block, and the plain re-runs' ``malloc`` bytes see that.  So when the exact
    block count rose in neither traced run, and the plain re-runs' bytes did not
    grow every time, the new strings and numbers traced there were matched by
    older ones freed: a bounded cache evicting the entry of an earlier run (freed
    where tracing did not see it) as it stores this run's.  A leak keeps its old
    entries, and its new ones take blocks.
    """
    if not (traced.blocks_exact and net.blocks_exact) or traced.blocks > 0 or net.blocks > 0:
        return False
    measured = [r.malloc for r in runs if r is not traced and r is not net and r.malloc is not None]
    # Without a bytes figure (a platform that cannot read it) the traces decide.
    return bool(measured) and not all(m > MALLOC_SLACK for m in measured)


def still_leaky(reading: Reading, limits: Limits, *, memory_moved: bool = False) -> bool:
    """Whether a re-run leaves the test suspect.

    Objects and memory only leak if the re-run grew the heap by at least one
    block: new objects that merely replaced old ones are no leak.  A re-run's
    block count is exact unless describing cycles allocated memory before the
    reading; then only the traced bytes outside the tooling can tell, unless
    they moved rather than grew (``memory_moved``, see :func:`moved`).
    """
    if reading.problem:
        return True
    if limits.cycles != "off":
        if reading.cycle_flags & _cycle_bits(limits.cycles):
            return True
        if reading.cycles.counted(limits.cycles):
            return True
    grown = grew(reading) or not reading.blocks_exact or disturbed(reading, limits)
    if reading.untracked is None:
        return grown
    objects = reading.objects > limits.allow_objects
    memory = reading.untracked > limits.allow_memory and not memory_moved
    if memory and reading.malloc is None:
        # A traced run reads no malloc bytes, and its blocks miss a buffer grown in
        # place: the bytes traced at the same lines in it and the next run decide.
        grown = True
    return grown and (objects or memory)


def traced_rerun_due(readings: Sequence[Reading], runs: int, limits: Limits) -> int:
    """Which re-run, counted from 1, is the traced one, given the re-runs so far.

    The last of the ``runs`` planned (the second when only cycles are left to
    confirm), one later for each plain re-run that was disturbed (see
    :func:`disturbed`), at most ``runs - 1`` later.  A disturbed
    re-run says nothing either way about growth, so it is not one of the plain
    re-runs that must all have grown before a traced one is worth its cost
    (several times a plain one's): python-dateutil's test that swaps its 8,600
    object zone database for a fresh one read disturbed on its first re-run,
    +1,968 malloc bytes of noise on its second, and was traced for 15 s, though
    a third plain re-run clears it.  A leak's plain re-runs grow undisturbed, and
    its traced re-run comes when it did.
    """
    late = sum(1 for r in readings if r.untracked is None and disturbed(r, limits))
    due = runs + min(late, runs - 1)
    if only_cycles_left(readings, limits):
        # Every plain re-run so far made them and one cleared memory: the next
        # re-run traces, the second at the earliest (or borrows the sites traced
        # for the test's other cases, see Checker._may_borrow).
        due = min(due, max(2, len(readings) + 1))
    return due


def memory_cleared(readings: Sequence[Reading], limits: Limits) -> bool:
    """Whether a re-run so far left no memory behind: memory leaks only if every
    re-run grows, so whatever follows, only cycles and resources can fail the test."""
    memory_only = dataclasses.replace(limits, cycles="off")
    return any(not still_leaky(r, memory_only) for r in readings)


def cycles_may_count(readings: Sequence[Reading], limits: Limits) -> bool:
    """Whether cycles can still fail the test: every re-run so far made some of
    the kind the mode counts (see :func:`judge`).  Once one made none, knowing
    more about who made the others cannot change the verdict."""
    if limits.cycles == "off":
        return False
    bits = _cycle_bits(limits.cycles)
    return all(r.cycle_flags & bits for r in readings)


def objects_leak_so_far(readings: Sequence[Reading], limits: Limits) -> bool:
    """Whether every re-run so far grew the heap and left more new objects than
    allowed: one more that does the same leaks, whatever its memory reads (see
    :func:`judge`)."""
    return bool(readings) and all(grew(r) and r.objects > limits.allow_objects for r in readings)


def only_cycles_left(readings: Sequence[Reading], limits: Limits) -> bool:
    """Whether the re-runs so far leave only cycles to confirm.

    Every one made cycles that count, and one grew no memory: memory must grow on
    every re-run to leak, so more re-runs cannot make it a leak; cycles are made
    on a run or not.  One whose new objects took no block (disturbed, see
    :func:`disturbed`) says nothing of memory, but it made its cycles: parso's
    tests, whose first re-run reads so, were re-run six times for their cycles
    where two decide.
    """
    if not readings:
        return False
    return cycles_may_count(readings, limits) and memory_cleared(readings, limits)


def settling(readings: Sequence[Reading], limits: Limits) -> bool:
    """Whether the memory growth is still shrinking from re-run to re-run.

    Caches warming up over several calls grow by less each time until they stop;
    a leak grows by about as much every time.  The last exact reading below an
    earlier one means the test has not settled yet.  A steady leak that reads a
    block more once (1, 1, 2, 1) is re-run again too, which costs re-runs but
    decides nothing wrongly: a warm-up can end with as many calls growing by the
    same block as a leak shows (an empty list kept on each of its last calls).

    Once the last exact reading did not grow at all, and was not disturbed
    (:func:`disturbed`), the growth has stopped: memory leaks only if every
    re-run grows, so no further re-run can make it a leak.  (Before, a 3.10
    test making cycles read 3, -2, -2 blocks and was re-run eight times.)
    """
    exact = [r for r in readings if r.blocks_exact]
    if len(exact) < 2 or exact[-1].blocks >= max(r.blocks for r in exact[:-1]):
        return False
    last = exact[-1]
    return grew(last) or disturbed(last, limits)


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    runs: int
    objects: tuple[int, ...] = ()
    blocks: tuple[int, ...] = ()
    leaked_objects: bool = False
    leaked_memory: bool = False
    memory_per_run: int = 0
    cycles: tuple[CycleGroup, ...] = ()
    detail: Reading | None = None
    note: str | None = None
    #: Pictures of what keeps the leak alive, when asked for.
    graphs: tuple[str, ...] = ()
    #: Resources that grew on the first run and every re-run, as the last re-run left them.
    resources: tuple[Found, ...] = ()

    @property
    def failed(self) -> bool:
        return self.kind in (Kind.LEAKED, Kind.CYCLES)

    @property
    def objects_per_run(self) -> int:
        """New objects that every re-run left: the least of the readings.

        A leak keeps at least this many each run; a reading above it also counts
        what that one run happened to leave beside the leak (a tracer's frame
        record, a cache's resize), so the last reading is no better a figure than
        any other.  The baseline and the JUnit properties use the same number.
        """
        return min(self.objects, default=0)


def judge(
    runs: Sequence[Reading], traced: Reading, limits: Limits, net: Reading | None = None
) -> Verdict:
    """The verdict over all re-runs, in the order they ran; ``traced`` is among them.

    ``net``, when there is one, is the re-run after the traced one, whose memory
    was counted from where the traced one ended: its untracked memory is the net
    growth of one run, and it is what the memory verdict uses.

    Memory must grow on every re-run (but a disturbed one, see :func:`disturbed`),
    by at least one allocator block or by bytes
    held through ``malloc`` (the traced one counts when describing cycles did not
    disturb its reading; it reads no malloc bytes, and the bytes traced at the same
    lines in it and the next run stand for them): new
    objects that merely replaced old ones (a buffer swapped for a fresh one) are
    no leak.  Given that, objects leak if every re-run left more new objects than
    allowed, and memory leaks if the traced re-run kept more than the allowed
    bytes in objects the garbage collector does not track (strings, bytes,
    numbers).  Cycles fail if the traced re-run found cycles of the kind the mode
    counts and every plain re-run saw some.
    """
    plain = [r for r in runs if r is not traced]
    problems = [r.problem for r in runs if r.problem]
    if problems:
        return Verdict(Kind.INCONCLUSIVE, len(runs), note=problems[0])
    objects = tuple(r.objects for r in runs)
    blocks = tuple(r.blocks for r in runs if r.blocks_exact)
    counted = net if net is not None else traced
    memory = counted.traced or 0
    untracked = counted.untracked or 0
    if net is not None:
        untracked = _grown_twice(traced, net)
    memory_moved = net is not None and moved(runs, traced, net)

    def run_grew(reading: Reading) -> bool:
        if grew(reading):
            return True
        # A traced run reads no malloc bytes: growth traced at the same lines in it
        # and the next run stands for them.
        traced_run = reading.malloc is None and reading.untracked is not None
        return traced_run and net is not None and untracked > 0 and not memory_moved

    exact = [r for r in runs if r.blocks_exact]
    # Disturbed re-runs are left out while others can decide; when every re-run was
    # disturbed, their falling block counts say the heap did not grow.
    steady = [r for r in exact if not disturbed(r, limits)]
    grows = all(run_grew(r) for r in (steady or exact))
    leaked_objects = grows and all(n > limits.allow_objects for n in objects)
    leaked_memory = grows and untracked > limits.allow_memory and not memory_moved
    cycles: tuple[CycleGroup, ...] = ()
    if cycles_may_count(plain, limits):
        cycles = traced.cycles.counted(limits.cycles)
    detail = traced
    if net is not None:
        # Where the memory came from, net of what the traced re-run had let go.
        detail = dataclasses.replace(traced, memory=net.memory, untracked=untracked)
    if leaked_objects or leaked_memory:
        kind = Kind.LEAKED
    elif cycles:
        kind = Kind.CYCLES
    else:
        kind = Kind.CLEAN
    return Verdict(
        kind=kind,
        runs=len(runs),
        objects=objects,
        blocks=blocks,
        leaked_objects=leaked_objects,
        leaked_memory=leaked_memory,
        memory_per_run=memory,
        cycles=cycles,
        detail=detail,
    )


def _grown_twice(traced: Reading, net: Reading) -> int:
    """Untracked memory that grew at the same lines in the traced re-run and the next.

    A leak allocates at the same place on every run.  Memory that turns up at a
    line in one run only was moved rather than added: a dict that existed before
    tracing started has its table reallocated at whichever line inserts into it
    when the table is full, and freeing the old table, allocated before the
    traces began, goes unseen.
    """
    before = dict(traced.untracked_lines)
    return sum(min(size, before.get(line, 0)) for line, size in net.untracked_lines)
