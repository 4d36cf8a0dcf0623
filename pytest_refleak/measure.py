"""A measuring window: what a stretch of code left alive, in objects, memory and cycles.

A :class:`Window` is opened before the code runs and closed after.  Closing it
reports, as plain data, the growth in memory blocks, the new objects still alive,
and the garbage cycles the collector had to free.  Nothing measured is kept: the
reading holds counts and strings only.

Memory is counted in allocator blocks (``sys.getallocatedblocks()``): every live
allocation made through Python's allocators counts one, large ones included.
Because the count is a net figure, whatever the caller keeps for itself during
the window (pytest's reports, say) would look like growth; callers name those
objects as *bookkeeping* and their blocks are worked out and taken off.

What a window does not count is decided in :mod:`pytest_refleak.exclusions`; the
helpers that read its new objects are in :mod:`pytest_refleak.objects`.  Over 500
lines because :class:`Window` is one sequence of steps (open, collect, read
blocks, read objects, read memory) that reads best top to bottom in one place.
"""

from __future__ import annotations

import _thread
import array
import contextlib
import dataclasses
import functools
import gc
import sys
import threading
import tracemalloc
import types
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pytest_refleak import cycles as cycles_mod
from pytest_refleak.exclusions import (
    STRINGIO_LISTS,
    Exclusions,
    abc_cache_entries,
    current_frames,
    find_held_structures,
    forget_last_failure,
    frame_objects_of_callers,
    gc_callback_spans,
    hidden_lists,
    interned_size,
    interpreter_held_blocks,
    made_in_gc_callback,
    new_cache_links,
    recent_cache_entries,
    stringio_buffers,
    stringio_words,
    tooling_made,
    transport_made,
    untracked_entries,
    weakrefs_to,
    without_stringio_internals,
    without_subclass_registries,
)
from pytest_refleak.heap import (
    Heap,
    malloc_chunk,
    os_threads,
    read_blocks,
    referents,
    wait_for_ending_threads,
)
from pytest_refleak.objects import (
    alive_since_earlier,
    class_kind,
    estimated_blocks,
    function_parts,
    gone_by_type,
    kept_types,
    made_by,
    new_reachable,
    replaced,
    still_kept,
    traceback_keys,
    young_index,
)
from pytest_refleak.origins import Origin, Origins
from pytest_refleak.text import (
    allocation_frames,
    class_name,
    frames_of,
    is_a,
    object_frames,
    pick_frames,
    safe_repr,
    size_reader,
)
from pytest_refleak.threads import OtherThreads

_EMPTY_LIST = sys.getsizeof([])

# Bits of the quick cycle verdict a plain window records.
CYCLE_PROJECT = 1
CYCLE_OTHER = 2
CYCLE_UNDETERMINED = 4


@dataclass(frozen=True)
class TypeGrowth:
    """New objects of one type that outlived a window."""

    name: str
    count: int
    size: int
    samples: tuple[str, ...] = ()
    sites: tuple[tuple[tuple[str, int], ...], ...] = ()
    #: Ids of the sampled objects, to find them again while they are still alive
    #: (a leak keeps them); ids, not the objects, so that nothing is kept.
    sample_ids: tuple[int, ...] = ()
    #: What keeps the samples alive, as found after the verdict.
    chains: tuple[str, ...] = ()
    #: How many of them no other new object refers to: where the leak hangs from.
    roots: int = 0
    #: How many of them took the place of objects of their type that an earlier
    #: run left and that died since (see objects.replaced): not what grew.
    replaced: int = 0
    #: Weak references (``weakref.ref`` and its subclasses, such as the entries of
    #: a ``WeakValueDictionary``): they exist because their object does, so they
    #: never name a leak (see report.headline_growth).
    weak: bool = False

    @property
    def kept(self) -> int:
        """How many of them are more than the run before left: what grew."""
        return max(0, self.count - self.replaced)

    @property
    def kept_size(self) -> int:
        """Their size, for :attr:`kept` of them (objects of one type take about
        the same): a run that swapped 3,000 objects and kept one more grew by one."""
        if not self.replaced or not self.count:
            return self.size
        return self.size * self.kept // self.count


@dataclass(frozen=True)
class MemoryGrowth:
    """Live memory allocated at one place during a window (tracing windows only)."""

    size: int
    count: int
    frames: tuple[tuple[str, int], ...]
    #: The innermost frame as traced, to find what was allocated there.
    innermost: tuple[str, int] | None = None
    #: Whether the memory is not that of the new objects found alive: strings,
    #: bytes and numbers, which the garbage collector does not track.
    untracked: bool = False
    #: What holds memory allocated there, as found after the verdict.
    holders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    blocks: int
    objects: int
    by_type: tuple[TypeGrowth, ...] = ()
    traced: int | None = None
    untracked: int | None = None
    memory: tuple[MemoryGrowth, ...] = ()
    cycle_flags: int = 0
    cycles: cycles_mod.CycleFindings = field(default=cycles_mod.NO_CYCLES)
    collected: int = 0
    problem: str | None = None
    #: False when describing cycles allocated memory before it was read.
    blocks_exact: bool = True
    #: (id, id of type) of the new objects still alive, to tell at the next run
    #: whether they were replaced or kept: ids only, never the objects.
    kept: tuple[tuple[int, int], ...] = ()
    #: ``untracked`` by the line that allocated it (innermost frame).
    untracked_lines: tuple[tuple[tuple[str, int], int], ...] = ()
    #: Growth of the bytes the process holds through ``malloc`` (objects over 512
    #: bytes, buffers grown in place by ``realloc``), net of what the caller keeps;
    #: ``None`` where not known: the platform cannot say cheaply, or the window
    #: traced, and tracing's own records would swamp it.
    malloc: int | None = None
    #: The keys (:func:`pytest_refleak.cycles.shape_key`) of the cycles a plain
    #: window saw; ``None`` when there were too many to note.
    cycle_shapes: tuple[int, ...] | None = ()
    #: Of the ids the window was asked to watch (an earlier reading's samples),
    #: those that no longer name the object sampled: absent when the window
    #: closed (it died), or given to an object the window made (its address
    #: taken again).  An explanation that looked them up would find another object.
    stale: frozenset[int] = frozenset()


def without_samples(reading: Reading, ids: Iterable[int]) -> Reading:
    """``reading`` without the samples whose ids are among ``ids`` (see
    Reading.stale): an object since dead is not what the others of its type keep
    showing.  A type all of whose samples went keeps their printed forms, as what
    the traced run saw, and nothing to look up."""
    gone = frozenset(ids)

    def kept(growth: TypeGrowth) -> TypeGrowth:
        if gone.isdisjoint(growth.sample_ids):
            return growth
        left = [
            (text, i)
            for text, i in zip(growth.samples, growth.sample_ids, strict=False)
            if i not in gone
        ]
        if not left:
            return dataclasses.replace(growth, sample_ids=())
        return dataclasses.replace(
            growth, samples=tuple(t for t, _ in left), sample_ids=tuple(i for _, i in left)
        )

    return dataclasses.replace(reading, by_type=tuple(map(kept, reading.by_type)))


class Window:
    """Measures one run of a test.  See the module docstring."""

    def __init__(
        self,
        heap: Heap,
        origins: Origins,
        *,
        cycles: bool,
        trace: bool = False,
        nframes: int = 16,
        detailed: bool = False,
        calibration: dict[type, int] | None = None,
        offset: int = 0,
        freeze: bool = True,
        since: tracemalloc.Snapshot | None = None,
        grown_before: frozenset[tuple[str, int]] = frozenset(),
        previous: tuple[tuple[int, int], ...] = (),
        accept: Sequence[cycles_mod.Accepted] = (),
        settle_malloc: bool = False,
        watched: frozenset[int] = frozenset(),
        count_memory: bool = True,
        objects_decide: int | None = None,
    ) -> None:
        self.heap = heap
        #: Set when every re-run before this one grew and left more than this many
        #: new objects: if this one does too, the test leaks whatever its memory
        #: reads, and the memory is not searched for room the interpreter holds
        #: (see :func:`~pytest_refleak.exclusions.interpreter_held_blocks`).
        self.objects_decide = objects_decide
        #: Whether a traced window counts the memory it traced.  Not when earlier
        #: runs already cleared the test of memory growth: the window is traced to
        #: tell who made its cycles, and a snapshot of every trace, grouped by
        #: traceback, was most of a cycle-making test's cost.
        self.count_memory = count_memory
        #: Ids of objects sampled by an earlier window (see Reading.stale).
        self.watched = watched
        #: Whether glibc's cache of freed chunks is filled before the bytes held
        #: through malloc are read (see MallocBytes.fill_thread_cache).
        self.settle_malloc = settle_malloc
        #: Cycles the project makes on purpose (``refleak_accept_cycles``).
        self.accept = tuple(accept)
        #: What the previous run of the test left alive (see Reading.kept).
        self.previous = previous
        self.freeze = freeze
        # Tracing goes on from an earlier window: memory growth is counted from
        # this snapshot of it, so that what that window allocated and this one
        # freed is taken off.
        self.since = since
        #: The lines where untracked memory grew in the window ``since`` ended.
        self.grown_before = grown_before
        #: The traces when the window closed, to count the next window's growth from.
        self.end_snapshot: tracemalloc.Snapshot | None = None
        self.origins = origins
        self.trace = trace
        self.nframes = nframes
        self.detailed = detailed
        self.calibration = calibration or {}
        self.offset = offset
        self._catch = cycles
        self._catcher = heap.catcher
        # Everything the window writes between its two block readings is allocated
        # here, before the first: a measurement must not measure itself.
        # [4], [5]: bytes held through malloc at opening and closing; [6]: kinds of
        # cycles that finalizers broke and the collector freed; [7], [8]: threads
        # at opening, as the kernel and as Python count them.
        self._flags = array.array("q", [0, 0, 0, 0, 0, 0, 0, 0, 0])
        # The shapes of the cycles a plain (untraced) window saw: how many, or -1
        # past the room there is, then each one's key (cycles.shape_key).
        self._shapes = array.array("q", [0] * (1 + MAX_SHAPES))
        #: Whether the window reads the bytes held through malloc (_flags[4], [5]).
        self._malloc = False
        self._held_bytes = 0
        #: Frame objects of the code running when the window opened, held until
        #: it has been read (see frame_objects_of_callers).
        self._frames: list[types.FrameType] = []
        #: Cycles finalizers broke, described before the collection freed them.
        self._freed: list[cycles_mod.CycleGroup] = []
        self._describe_freed = self._describe_doomed
        self._keep_freed = self._keep_doomed
        self._old_sentinel: list[object] = []
        self._new_sentinel: list[object] | None = None
        self._old_ids: set[int] | None = None
        self._old_objects: list[object] | None = None
        self._held_blocks = 0
        self._watch_freezing = False
        self._blocks_before = 0
        self._catching = False
        self._findings: cycles_mod.CycleFindings = cycles_mod.NO_CYCLES
        self._snapshot: tracemalloc.Snapshot | None = None
        self._callback: object = None
        #: Threads already running when a traced window opened: what they
        #: allocate meanwhile is not the test's (see pytest_refleak.threads).
        self._threads = OtherThreads()

    def open(self) -> None:
        """Start measuring.

        Every reading follows a full collection of the unfrozen objects, which also
        empties the interpreter's free lists; nothing may be freed between that
        collection and the reading, or it would sit in a free list and count.
        """
        forget_last_failure()
        if self.trace:
            # Before the heap is settled and its old objects listed: what the search
            # keeps is then old, and it runs before tracing starts.
            find_held_structures()
            self._threads = OtherThreads.now(self.origins.handed)
        self._frames = frame_objects_of_callers()
        self._flags[7] = os_threads()
        self._flags[8] = threading.active_count()
        if self.settle_malloc and not self.trace:
            # Before the collection: the filling's own list would wait in the
            # interpreter's free list of lists, and count.
            self.heap.malloc.fill_thread_cache()
        if self.freeze:
            self.heap.settle()
        else:
            gc.collect()
        self._watch_freezing = self.freeze and self.heap.frozen
        if not self._watch_freezing:
            existing = gc.get_objects()
            self._old_ids = {id(o) for o in existing}
            if not self.freeze:
                # Held until the window closes, so that nothing old is freed and its
                # address handed to a new object, which would then look old.  The
                # list and its array are let go before memory is read: add them back.
                self._old_objects = existing
                self._held_blocks = 1 + (1 if existing else 0)
                self._held_bytes = malloc_chunk(sys.getsizeof(existing) - _EMPTY_LIST)
            del existing
        self._new_sentinel = []
        if self.trace and self.since is not None and tracemalloc.is_tracing():
            self._snapshot = self.since
        elif self.trace:
            self.heap.start_tracing(self.nframes)
            if self.heap.user_tracing:
                self._snapshot = tracemalloc.take_snapshot()
                # Taking the snapshot freed objects into the interpreter's free
                # lists; a collection empties them again, as before the closing reading.
                gc.collect()
        self._flags[6] = 0
        self._shapes[0] = 0
        self._freed.clear()
        self._catching = self._catch and self._catcher.start(
            rerun=not self.freeze,
            old_ids=self._old_ids,
            describe=self._describe_freed,
            keep=self._keep_freed,
        )
        if interned_size is not None:
            self._flags[2] = interned_size()
        # Tracing keeps its own records through malloc, for every allocation:
        # a traced window is counted in blocks and traced bytes only.
        self._malloc = not self.trace and self.heap.malloc.read(self._flags, 4)
        self._blocks_before = read_blocks()

    def _describe_doomed(self, doomed: list[object]) -> list[tuple[frozenset[int], object]]:
        """Cycles a collection is about to free by way of finalizers, described while
        they exist (see :class:`pytest_refleak.heap.CycleCatcher`)."""
        return list(
            cycles_mod.parts(
                doomed, self.origins, accept=self.accept, made_before=self._old_ids or frozenset()
            )
        )

    def _keep_doomed(self, description: object) -> None:
        if not isinstance(description, cycles_mod.CycleGroup) or description.accepted:
            return
        if self.detailed:
            self._freed.append(description)
        else:
            self._flags[6] |= _cycle_flag(description.origin, self.origins.project_loaded)
            _note_shape(self._shapes, description)

    def garbage_ids(self) -> set[int]:
        """Ids of the garbage the window has caught so far (kept for the cycle verdict)."""
        return {id(o) for o in self._catcher.saved} if self._catching else set()

    def close(self, exclusions: Callable[[], Exclusions] = Exclusions) -> Reading:
        """Read the window.  ``exclusions`` is called after memory has been read, so
        that building it does not count."""
        self._callback = exclusions
        try:
            return self._close(exclusions)
        finally:
            self._catcher.stop()
            self._catcher.release()
            self._new_sentinel = None
            self._callback = None
            self._old_ids = None
            self._old_objects = None
            self._snapshot = None
            self._threads = OtherThreads()
            if self.trace:
                self.heap.stop_tracing()

    def _close(self, exclusions: Callable[[], Exclusions]) -> Reading:
        self._old_objects = None
        # Before the collection, which empties the free lists the wait's own
        # objects went to.
        wait_for_ending_threads(self._flags, 7, 8)
        gc.collect()
        self._catcher.stop()
        self._flags[0] = self._flags[6]
        self._flags[1] = 1
        if self._catching and (self._catcher.saved or self._freed):
            # Described in a stack of its own under tracing (see in_a_shallow_stack):
            # the re-run after the traced one is traced too, and one of idna's, whose
            # garbage is 51,000 frames and tracebacks, took 10.6 s to flag in
            # pytest's stack.  The thread's leftovers go with the collection below.
            traced_now = self.trace and tracemalloc.is_tracing()
            if self.detailed:
                self._flags[1] = 0
                analyse = functools.partial(
                    cycles_mod.analyse,
                    self._catcher.saved,
                    self.origins,
                    also=self._freed,
                    accept=self.accept,
                    made_before=self._old_ids or frozenset(),
                )
                self._findings = in_a_shallow_stack(analyse) if traced_now else analyse()
                del analyse
                self._freed.clear()
            else:
                flag = functools.partial(
                    _quick_cycle_flags,
                    self._catcher.saved,
                    self.origins,
                    self.accept,
                    self._shapes,
                )
                self._flags[0] |= in_a_shallow_stack(flag) if traced_now else flag()
                del flag
        if self._catching:
            # The garbage, and the free lists that describing it refilled.  Also
            # when nothing was caught: the collection leaves the free lists as it
            # does after garbage, so that the window's own blocks (its calibrated
            # offset, measured with none) are the same either way.  Run only after
            # garbage, it read two blocks fewer than the window's own: a test that
            # made any cyclic garbage and kept an object per run read 0 blocks,
            # and passed.
            self._catcher.release_and_collect()
        if self._malloc:
            # A reader that stopped (over its time budget) gives no figure.
            self._malloc = self.heap.malloc.read(self._flags, 5)
        blocks_after = read_blocks()
        # Read after the blocks: a count over 256 is an int of its own, one block.
        collected = self._catcher.collected
        self._frames.clear()
        self._flags[3] = 0
        if interned_size is not None:
            self._flags[3] = max(0, interned_size() - self._flags[2])
        young = gc.get_objects()
        # A test may have stopped tracemalloc: the run then has no memory figures.
        tracing = self.trace and tracemalloc.is_tracing()
        # Comparing the traces is Python code allocating under tracing: in a stack
        # of its own, as the reading below.
        traced = in_a_shallow_stack(self._traced_growth) if tracing and self.count_memory else None
        try:
            if not tracing:
                return self._read_objects(young, exclusions(), blocks_after, traced, collected)
            # A partial, not a closure: a closure's cells would be made with this
            # frame, before the new objects are listed, and look new.
            read = functools.partial(
                self._read_objects,
                young,
                exclusions(),
                blocks_after,
                traced,
                collected,
                current_frames(),
            )
            return in_a_shallow_stack(read)
        finally:
            young.clear()

    def _traced_growth(self) -> tuple[tracemalloc.Snapshot, list[tracemalloc.StatisticDiff] | None]:
        snapshot = tracemalloc.take_snapshot()
        self.end_snapshot = snapshot
        previous = self._snapshot
        diff = snapshot.compare_to(previous, "traceback") if previous is not None else None
        return snapshot, diff

    def _read_objects(
        self,
        young: list[object],
        exclusions: Exclusions,
        blocks_after: int,
        traced: tuple[tracemalloc.Snapshot, list[tracemalloc.StatisticDiff] | None] | None,
        collected: int,
        running: list[types.FrameType] | None = None,
    ) -> Reading:
        callback, self._callback = self._callback, None
        # Each object's id, made once: under tracing every id() is a traced allocation.
        ids = [id(o) for o in young]
        all_ids = set(ids)
        ours = {id(young), id(ids), id(self._new_sentinel), *function_parts(callback)}
        # The heap's own marker of its last freeze, made after it.
        ours.add(id(self.heap.sentinel))
        # The window's own state, not through the callback: that holds the caller's
        # roots, whose new objects are the test's.
        # Walks under tracing pay for every allocation; see new_reachable.
        index = young_index(young) if self.trace else None
        ours |= new_reachable([self, self._catcher], all_ids, young=index)
        del callback
        if any(type(o) is types.FrameType for o in young):
            # Frames of code still running (the caller's, pytest's) are not leaks.
            ours.update(id(f) for f in (current_frames() if running is None else running))
        problem = None
        gone = gone_by_type(self.previous, all_ids)
        previous_alive = tuple(pair for pair in self.previous if pair[0] in all_ids)
        # Died: there when the window opened, gone now.  (A frozen object is listed
        # by neither: nothing is said of it.)
        stale: frozenset[int] = frozenset()
        if self._old_ids is not None:
            stale = (self.watched & self._old_ids) - all_ids
            all_ids -= self._old_ids
        stale |= self.watched & all_ids
        young_ids = all_ids - ours
        if previous_alive:
            young_ids -= alive_since_earlier(previous_alive, young, ids, young_ids)
        if self._watch_freezing and id(self._old_sentinel) in all_ids:
            problem = "the test unfroze the heap (gc.unfreeze), so old objects looked new"
            young_ids = set()
        elif self._watch_freezing and id(self._new_sentinel) not in all_ids:
            problem = "the test froze the heap (gc.freeze), hiding the objects it made"
            self.heap.user_froze()

        bookkeeping = new_reachable(exclusions.bookkeeping, young_ids, young=index)
        # What bookkeeping reaches it reaches whole (the walk follows new objects), so
        # the other walks look only for the rest, and stop once they have it all.
        rest = young_ids - bookkeeping
        # No walk finds the lists a new StringIO keeps in its C structure, which the
        # collector does not traverse: looked for, they kept every walk from
        # stopping once it had all the rest.  Whether they are the tooling's is
        # decided after, by whether their buffer is (without_stringio_internals).
        buffers = stringio_buffers(young, ids, rest) if STRINGIO_LISTS else {}
        sought = rest - hidden_lists(young, ids, buffers) if buffers else rest
        held = new_reachable(exclusions.holders, sought, young=index)
        ignored_types = exclusions.ignored_types
        # By the real type: isinstance would ask each object for its __class__.
        typed = [o for o in young if ignored_types and is_a(o, ignored_types)]
        ignored = new_reachable([*exclusions.ignored, *typed], sought, young=index)
        ignored |= abc_cache_entries(young, young_ids)
        links = 0
        # The walks look only for what is in ``rest``, so every buffer ``held`` has is
        # among ``buffers``.
        stored = stringio_words(buffers, held)
        del buffers
        # The lists of pytest's capture buffers are all that most clean tests leave
        # unaccounted for here (3.10, 3.11): they need no walk of the caches.
        if not young_ids <= bookkeeping | held | ignored | stored:
            # Only new objects nothing else accounts for can be a cache's new entries;
            # walking every cache's entries is skipped for the many tests with none.
            # A cache's traversal shows its keys and values themselves; nothing old
            # is looked through, so that what a cached object merely refers to (a
            # module's list that a test grows) stays the test's.
            recent = recent_cache_entries(exclusions.caches)
            cached = new_reachable(recent.roots, young_ids, old_depth=0, young=index)
            links = new_cache_links(recent.growing, cached) if cached else 0
            del recent
            ignored |= cached
        if exclusions.tracers and not young_ids <= bookkeeping | held | ignored | stored:
            held |= new_reachable(
                exclusions.tracers, young_ids - bookkeeping - held - ignored, young=index
            )
        del typed, index
        excluded = bookkeeping | held | ignored
        # A weak reference exists because its object does (a new class is listed in
        # its base's subclasses by one): to an excluded new object, it is excluded too.
        weak = weakrefs_to(young, young_ids - excluded, excluded)
        if weak:
            ignored |= weak
            excluded |= weak
        candidates = [
            o for o, i in zip(young, ids, strict=True) if i in young_ids and i not in excluded
        ]
        candidates = without_stringio_internals(candidates, stored)
        candidates = without_subclass_registries(candidates)
        # Asked only when another thread ran in the window: each answer reads an
        # object's trace, and a leak of a hundred thousand objects took a minute.
        others_ran = self.trace and tracemalloc.is_tracing() and self._threads.ran()
        if others_ran:
            # Both ask where each object was allocated: read once.
            seen: dict[int, tuple[tuple[str, int], ...]] = {}

            def allocated_at(obj: object) -> tuple[tuple[str, int], ...]:
                frames = seen.get(id(obj))
                if frames is None:
                    frames = seen[id(obj)] = object_frames(obj)
                return frames

            if self.origins.has_transport:
                candidates = [
                    o for o in candidates if not transport_made(o, self.origins, allocated_at)
                ]
            limit = tracemalloc.get_traceback_limit()
            candidates = self._threads.not_theirs(candidates, limit, allocated_at)
            del allocated_at, seen
        ignored_objects = [o for o, i in zip(young, ids, strict=True) if i in ignored]
        booked = estimated_blocks(
            [o for o, i in zip(young, ids, strict=True) if i in bookkeeping or i in ignored],
            self.calibration,
        )
        blocks = (
            blocks_after
            - self._blocks_before
            + self._held_blocks
            - booked
            - self.offset
            - links
            - self._flags[3]
        )

        traced_bytes = untracked_bytes = None
        memory: tuple[MemoryGrowth, ...] = ()
        lines: tuple[tuple[tuple[str, int], int], ...] = ()
        if traced is not None:
            # Memory of what the tooling holds (fixture values, reports) is not the
            # test's either.
            tooling = [o for o, i in zip(young, ids, strict=True) if i in held or i in bookkeeping]
            # Strings and numbers the caches hold are theirs as well: a cache's keys.
            atoms = untracked_entries(exclusions.caches, exclusions.slots)
            objects_leak = (
                self.objects_decide is not None
                and blocks > 0
                and len(candidates) - replaced(candidates, gone) > self.objects_decide
            )
            traced_bytes, lines, memory = self._memory_growth(
                traced,
                [*ignored_objects, *tooling, *atoms],
                kept_types(candidates, gone),
                deep=not objects_leak,
            )
            del atoms
            untracked_bytes = sum(size for _, size in lines)
            del tooling
        by_type = summarise(candidates, self.origins, detailed=self.detailed, gone=gone)
        return Reading(
            blocks=blocks,
            objects=len(candidates) - replaced(candidates, gone),
            # Only re-runs (windows that do not freeze) are compared with the run before.
            kept=() if self.freeze else still_kept(previous_alive, candidates),
            by_type=by_type,
            traced=traced_bytes,
            untracked=untracked_bytes,
            memory=memory,
            malloc=(self._flags[5] - self._flags[4] + self._held_bytes if self._malloc else None),
            cycle_flags=int(self._flags[0]),
            cycle_shapes=(
                tuple(self._shapes[1 : 1 + self._shapes[0]]) if self._shapes[0] >= 0 else None
            ),
            cycles=self._findings,
            collected=collected,
            problem=problem,
            blocks_exact=bool(self._flags[1]),
            untracked_lines=lines,
            stale=frozenset(stale),
        )

    def _memory_growth(
        self,
        traced: tuple[tracemalloc.Snapshot, list[tracemalloc.StatisticDiff] | None],
        ignored: list[object],
        candidates: list[object],
        *,
        deep: bool = True,
    ) -> tuple[int, tuple[tuple[tuple[str, int], int], ...], tuple[MemoryGrowth, ...]]:
        """Memory allocated in the window and still alive, outside the test tooling.

        Returns all of it, the part not allocated where the new objects still
        alive were (memory held by strings, numbers and other untracked objects)
        by allocating line, and the biggest allocation sites.  ``candidates`` are
        the new objects that may claim their lines (see
        :func:`~pytest_refleak.objects.kept_types`).  ``deep``: whether room the
        interpreter keeps may be searched for across the whole heap, which only
        corrects the memory figure.
        """
        snapshot, diff = traced
        skip = traceback_keys(ignored)
        objects = traceback_keys(candidates)
        grown: list[MemoryGrowth] = []
        total = 0
        # Untracked memory by the line that allocated it, and what that line holds
        # in all, net of what it freed: a line that replaces its object (a float
        # totting up a sum, called from wherever) allocates from one traceback
        # and frees from another, and grows by nothing.
        loose_by_line: dict[tuple[str, int], int] = {}
        net_by_line: dict[tuple[str, int], int] | None
        if diff is None:
            stats = [(s.traceback, s.size, s.count) for s in snapshot.statistics("traceback")]
            net_by_line = None
        else:
            stats = [(s.traceback, s.size_diff, s.count_diff) for s in diff if s.size_diff > 0]
            net_by_line = {}
            for s in diff:
                if s.size_diff:
                    line = frames_of(s.traceback)[-1]
                    net_by_line[line] = net_by_line.get(line, 0) + s.size_diff
        limit = tracemalloc.get_traceback_limit()
        callbacks = gc_callback_spans()
        tallied = [
            (frames, size, count)
            for frames, size, count in ((frames_of(t), size, count) for t, size, count in stats)
            if frames
            and not made_by(frames, skip)
            and not tooling_made(frames, self.origins)
            and not self._threads.made(frames, limit)
            and not made_in_gc_callback(frames, callbacks)
        ]
        loose = {frames for frames, _, _ in tallied if not made_by(frames, objects)}
        # The tables of old classes' registries of subclasses.  Looked for only in
        # the run after the traced one, and only where memory no new object
        # accounts for grew at a line where it grew in the traced run too (each
        # lookup allocates under tracing): the memory verdict counts what grew at
        # the same lines in both runs, so what is theirs needs taking off in one
        # of them only.
        twice = self.grown_before and any(frames[-1] in self.grown_before for frames in loose)
        held = (
            interpreter_held_blocks({f: (s, c) for f, s, c in tallied if f in loose}, deep=deep)
            if twice
            else {}
        )
        for frames, size, count in tallied:
            theirs = min(held.pop(frames, 0), count)
            if theirs:
                share = size * theirs // count
                size -= share
                count -= theirs
                if net_by_line is not None:
                    net_by_line[frames[-1]] = net_by_line.get(frames[-1], 0) - share
                if size <= 0:
                    continue
            total += size
            if frames in loose:
                loose_by_line[frames[-1]] = loose_by_line.get(frames[-1], 0) + size
            grown.append(
                MemoryGrowth(
                    size,
                    count,
                    pick_frames(frames, self.origins),
                    innermost=frames[-1],
                    untracked=frames in loose,
                )
            )
        grown.sort(key=lambda g: -g.size)
        if net_by_line is not None:
            loose_by_line = {
                line: min(size, max(0, net_by_line.get(line, 0)))
                for line, size in loose_by_line.items()
            }
        lines = tuple(sorted((line, size) for line, size in loose_by_line.items() if size > 0))
        return total, lines, tuple(grown[:10])


_T = TypeVar("_T")
# Not on 3.10: there, with the reading in a thread of its own, the memory held by
# strings in a module's containers was reported as held by no container (three
# tests of tests/test_explain.py, test_ci.py and test_resources.py, on 38f9d40;
# the cause is not known yet).  3.10 reads in the caller's stack, as before.
_SHALLOW = sys.version_info >= (3, 11)


def in_a_shallow_stack(call: Callable[[], _T]) -> _T:
    """Run ``call`` in a new thread of the interpreter and wait for its result.

    While tracemalloc traces, every allocation records the caller's stack, a line
    number worked out for each frame: in the deep stack of pytest, pluggy and the
    plugin each allocation of a traced reading cost 16-43 µs, in a fresh thread
    about 4 (measured on 3.11).  Reading a traced re-run allocates hundreds of
    thousands of times.  A bare ``_thread`` thread is used so that ``threading``
    never lists it: the resources the test left are read around, not during, it.

    The thread runs a function that exists before any window opens, on an
    argument that does too: a thread lets go of what it was started with only as
    it ends, after the caller has its result, and a closure made for it was then
    sometimes still alive when the window listed its new objects (twelve of them,
    counted as the test's, on 3.13).

    The caller waits until the thread is done, even when a signal handler raises
    in it meanwhile (pytest-timeout's signal method, Ctrl-C): the reading must not
    go on beside whatever runs next.  The exception is raised once it is.
    """
    # Not nested, nor from two threads at once: then in the caller's stack.
    if not _SHALLOW or not _SHALLOW_DONE.acquire(blocking=False):
        return call()
    _SHALLOW_BOX[0] = call
    try:
        _thread.start_new_thread(_shallow_run, _SHALLOW_ARGS)
    except BaseException:
        _SHALLOW_BOX[0] = None
        _SHALLOW_DONE.release()
        raise
    interrupted: BaseException | None = None
    while True:
        try:
            _SHALLOW_DONE.acquire()
            break
        except BaseException as error:  # noqa: BLE001 - raised once the thread ends
            interrupted = interrupted or error
    result, failed = _SHALLOW_BOX[1], _SHALLOW_BOX[2]
    _SHALLOW_BOX[1] = _SHALLOW_BOX[2] = None
    _SHALLOW_DONE.release()
    if interrupted is not None:
        raise interrupted
    if isinstance(failed, BaseException):
        raise failed
    return result  # type: ignore[return-value]


#: What :func:`in_a_shallow_stack`'s thread is given and gives back: the call, its
#: result, its exception.  Made once, with the thread's argument, at import.
_SHALLOW_BOX: list[object] = [None, None, None]
_SHALLOW_ARGS = (_SHALLOW_BOX,)
#: Held from before the thread starts until it has stored what the call gave.
_SHALLOW_DONE = _thread.allocate_lock()


def _shallow_run(box: list[object]) -> None:
    try:
        with line_numbers_by_instruction():
            box[1] = box[0]()  # type: ignore[operator]
    except BaseException as error:  # noqa: BLE001 - raised in the caller
        box[2] = error
    finally:
        box[0] = None
        _SHALLOW_DONE.release()


@contextlib.contextmanager
def line_numbers_by_instruction() -> Iterator[None]:
    """Where it pays (see :data:`_LINE_ARRAYS`), a profile function that does
    nothing is set in this thread meanwhile, unless one is set already (a
    profiler's, which does the same).  Only around the plugin's own work after a
    window's readings: it makes a frame object for every call."""
    if not _LINE_ARRAYS or sys.getprofile() is not None:
        yield
        return
    sys.setprofile(slice)
    try:
        yield
    finally:
        sys.setprofile(None)


#: Python 3.11 works out the line number of each frame of a traced allocation's
#: traceback by reading its code's location table from the start, unless the code
#: has a table of line numbers by instruction, which it makes only for code that
#: runs while a trace or profile function is set.  The readings run in this
#: thread under tracing, allocating hundreds of thousands of times: with a
#: profile function set here (``slice``, a builtin that takes any three arguments
#: and keeps nothing), the plugin's code gets those tables and each traceback
#: costs a fraction.  (3.10 has no such tables, and 3.12 and later find lines
#: another way; a profile function only slows them down.)
_LINE_ARRAYS = sys.version_info[:2] == (3, 11)


#: How many cycle shapes a plain window notes; past that, none are known.
MAX_SHAPES = 16


def _quick_cycle_flags(
    garbage: list[object],
    origins: Origins,
    accept: Sequence[cycles_mod.Accepted] = (),
    shapes: array.array[int] | None = None,
) -> int:
    """Which kinds of cycles the garbage holds, without keeping anything; their
    shapes go to ``shapes`` (see ``Window._shapes``).

    Runs between two block readings, so it allocates nothing that outlives it.
    """
    findings = cycles_mod.analyse(garbage, origins, accept=accept)
    flags = 0
    for group in findings.groups:
        if not group.accepted:
            flags |= _cycle_flag(group.origin, origins.project_loaded)
            if shapes is not None:
                _note_shape(shapes, group)
    if findings.truncated and shapes is not None:
        shapes[0] = -1
    return flags


def _note_shape(shapes: array.array[int], group: cycles_mod.CycleGroup) -> None:
    count = shapes[0]
    if count < 0:
        return
    key = cycles_mod.shape_key(group)
    if key in shapes[1 : 1 + count]:
        return
    if count >= MAX_SHAPES:
        shapes[0] = -1
        return
    shapes[1 + count] = key
    shapes[0] = count + 1


def _cycle_flag(origin: Origin | None, project_loaded: bool = True) -> int:
    if origin is Origin.PROJECT:
        return CYCLE_PROJECT
    if origin is None:
        # Plain containers: tracing would tell who made them, and only the
        # project's code could make them count (Origins.look_for_project).
        return CYCLE_UNDETERMINED if project_loaded else CYCLE_OTHER
    if origin is not Origin.TOOLING:
        return CYCLE_OTHER
    return 0


def summarise(
    candidates: list[object],
    origins: Origins,
    *,
    detailed: bool,
    gone: dict[int, int] | None = None,
) -> tuple[TypeGrowth, ...]:
    """The new objects by type.  Types whose every new object replaced one an
    earlier run left come last: a leak is told by what was kept, and a big object
    swapped for a fresh one on every run (a module's scratch dict) would otherwise
    head the report and take the search for holders first."""
    if not candidates:
        return ()
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    by_type_id: Counter[tuple[str, int]] = Counter()
    weak: set[str] = set()
    # Per object only what differs between objects: the count and the size.  A
    # leak of a hundred thousand objects has a handful of classes, and under
    # tracing every string or tuple made per object is a traced allocation.
    sizers: dict[type, Callable[[Any], int]] = {}
    by_class: Counter[type] = Counter()
    size_by_class: Counter[type] = Counter()
    for obj in candidates:
        cls = type(obj)
        by_class[cls] += 1
        sizer = sizers.get(cls)
        if sizer is None:
            sizer = sizers[cls] = size_reader(cls)
        try:
            size_by_class[cls] += sizer(obj)
        except Exception:  # noqa: BLE001 - a broken size only loses a figure
            continue
    for cls, count in by_class.items():
        name = class_name(cls)
        counts[name] += count
        sizes[name] += size_by_class[cls]
        # By the real type: isinstance would ask the object for its __class__.
        if issubclass(cls, weakref.ref):
            weak.add(name)
        by_type_id[name, class_kind(cls)] += count
    sizers.clear()
    by_class.clear()
    size_by_class.clear()
    replaced_of: Counter[str] = Counter()
    for (name, kind), count in by_type_id.items():
        replaced_of[name] += min(count, (gone or {}).get(kind, 0))

    if not detailed:
        return _by_growth(
            TypeGrowth(n, counts[n], sizes[n], replaced=replaced_of[n], weak=n in weak)
            for n in counts
        )
    inner = _referenced_within(candidates)
    roots: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    sample_ids: dict[str, list[int]] = {}
    sites: dict[str, list[tuple[tuple[str, int], ...]]] = {}
    looked: Counter[str] = Counter()
    # Objects nothing new refers to are where a leak hangs from: show those first.
    ordered = sorted(candidates, key=lambda o: id(o) in inner)
    names = {cls: class_name(cls) for cls in set(map(type, ordered))}
    for obj in ordered:
        name = names[type(obj)]
        if id(obj) not in inner:
            roots[name] += 1
        shown = samples.setdefault(name, [])
        if len(shown) < 3:
            shown.append(safe_repr(obj))
            sample_ids.setdefault(name, []).append(id(obj))
        where = sites.setdefault(name, [])
        # A bounded number of lookups per type: a leak of a million objects made at
        # one place would otherwise look each of them up.
        if len(where) < 2 and looked[name] < _SITE_LOOKUPS:
            looked[name] += 1
            frames = allocation_frames(obj, origins)
            if frames and frames not in where:
                where.append(frames)
    names.clear()
    return _by_growth(
        TypeGrowth(
            n,
            counts[n],
            sizes[n],
            tuple(samples.get(n, ())),
            tuple(sites.get(n, ())),
            tuple(sample_ids.get(n, ())),
            roots=roots[n],
            replaced=replaced_of[n],
            weak=n in weak,
        )
        for n in counts
    )


def _by_growth(growth: Iterable[TypeGrowth]) -> tuple[TypeGrowth, ...]:
    """``growth`` by what grew, biggest first: a type with thousands swapped and one
    kept is a one-object leak, and types whose every new object replaced one an
    earlier run left come last."""
    return tuple(sorted(growth, key=lambda g: (g.kept <= 0, -g.kept_size, -g.kept, g.name)))


#: Objects of one type whose allocation site is looked up, at most.
_SITE_LOOKUPS = 16


def _referenced_within(objects: list[object]) -> set[int]:
    ids = {id(o) for o in objects}
    inner: set[int] = set()
    for obj in objects:
        for ref in referents(obj):
            if id(ref) in ids and ref is not obj:
                inner.add(id(ref))
    return inner


def calibrate_offset(
    heap: Heap,
    origins: Origins,
    *,
    cycles: bool,
    freeze: bool = True,
    settle_malloc: bool = False,
) -> int:
    """The blocks an empty window reads: what measuring itself costs, to take off.

    Measured for each kind of window: one that freezes the heap and one that
    does not run different code between their readings, and what that code
    leaves in the interpreter's free lists differs by a block or two, which
    would hide a leak of one block or look like one.
    """
    reading = 0
    for _ in range(4):
        window = Window(heap, origins, cycles=cycles, freeze=freeze, settle_malloc=settle_malloc)
        window.open()
        reading = window.close().blocks
    return reading


def calibrate_type(heap: Heap, factory: Callable[[], object]) -> int:
    """Blocks an instance made by ``factory`` holds besides what the estimate counts.

    Attribute storage of instances differs between Python versions; measuring one
    instance once gives the figure for this interpreter.
    """
    heap.settle()
    warm = factory()  # the first instance of a class may allocate for the class itself
    first = read_blocks()
    second = read_blocks()
    reading_cost = second - first
    before = read_blocks()
    sample = factory()
    after = read_blocks()
    del warm
    young = gc.get_objects()
    try:
        young_ids = {id(o) for o in young}
        reachable = new_reachable([sample], young_ids)
        objects = [o for o in young if id(o) in reachable]
        counted = estimated_blocks(objects, {type(sample): 0})
    finally:
        young.clear()
    return max(0, after - before - reading_cost - counted)
