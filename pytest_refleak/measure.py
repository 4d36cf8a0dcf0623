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
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import functools
import gc
import linecache
import struct
import sys
import tracemalloc
import types
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pytest_refleak import cycles as cycles_mod
from pytest_refleak.heap import Heap, read_blocks
from pytest_refleak.origins import Origin, Origins
from pytest_refleak.text import (
    allocation_frames,
    frames_of,
    object_frames,
    pick_frames,
    safe_repr,
    type_name,
)

# Bits of the quick cycle verdict a plain window records.
CYCLE_PROJECT = 1
CYCLE_OTHER = 2
CYCLE_UNDETERMINED = 4

_NO_ALLOCATION = (type(None), bool, type(Ellipsis), type(NotImplemented))
_EMPTY_SIZES: dict[type, int] = {
    dict: sys.getsizeof({}),
    list: sys.getsizeof([]),
    set: sys.getsizeof(set()),
    frozenset: sys.getsizeof(frozenset()),
    bytearray: sys.getsizeof(bytearray()),
}


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


@dataclass
class Exclusions:
    """Objects of the test tooling, told apart from what the test left behind.

    ``bookkeeping``: kept by the tooling during the window and still held at its
    end (reports, say); new objects reachable from them are not the test's, and
    their blocks are taken off the memory growth.  ``owned``: the tooling's lists
    and dicts (a test item's fixture values, say); a new one is bookkeeping, and
    its new contents are too, but only if nothing else holds them.  ``holders``: long-lived
    tooling objects whose new contents replaced old ones (no memory growth).
    ``ignored``: objects and types the user declared not to be leaks.
    ``caches``: bounded caches; what they gained is theirs to drop, like ignored
    objects, but only their new entries are looked at.
    ``extra_blocks``: blocks the caller knows it holds besides all these.
    ``exact``: new tooling objects to count as bookkeeping one by one (pytest's
    record of a node it set up), without what they refer to.
    """

    bookkeeping: Sequence[object] = ()
    owned: Sequence[object] = ()
    holders: Sequence[object] = ()
    ignored: Sequence[object] = ()
    ignored_types: tuple[type, ...] = ()
    caches: Sequence[object] = ()
    extra_blocks: int = 0
    #: Tooling objects that are bookkeeping themselves, but not what they refer to.
    exact: Sequence[object] = ()


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
        previous: tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.heap = heap
        #: What the previous run of the test left alive (see Reading.kept).
        self.previous = previous
        self.freeze = freeze
        # Tracing goes on from an earlier window: memory growth is counted from
        # this snapshot of it, so that what that window allocated and this one
        # freed is taken off.
        self.since = since
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
        self._flags = array.array("q", [0, 0, 0, 0])
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

    def open(self) -> None:
        """Start measuring.

        Every reading follows a full collection of the unfrozen objects, which also
        empties the interpreter's free lists; nothing may be freed between that
        collection and the reading, or it would sit in a free list and count.
        """
        _forget_last_failure()
        _frame_objects_of_callers()
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
        self._catching = self._catch and self._catcher.start()
        if _interned_size is not None:
            self._flags[2] = _interned_size()
        self._blocks_before = read_blocks()

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
            if self.trace:
                self.heap.stop_tracing()

    def _close(self, exclusions: Callable[[], Exclusions]) -> Reading:
        self._old_objects = None
        gc.collect()
        self._catcher.stop()
        collected = self._catcher.collected
        self._flags[0] = 0
        self._flags[1] = 1
        if self._catching and self._catcher.saved:
            if self.detailed:
                self._flags[1] = 0
                self._findings = cycles_mod.analyse(self._catcher.saved, self.origins)
            else:
                self._flags[0] = _quick_cycle_flags(self._catcher.saved, self.origins)
            self._catcher.release()
            # The garbage, and the free lists that describing it refilled.
            gc.collect()
        blocks_after = read_blocks()
        self._flags[3] = 0
        if _interned_size is not None:
            self._flags[3] = max(0, _interned_size() - self._flags[2])
        young = gc.get_objects()
        traced = self._traced_growth() if self.trace else None
        try:
            return self._read_objects(young, exclusions(), blocks_after, traced, collected)
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
    ) -> Reading:
        callback, self._callback = self._callback, None
        # Each object's id, made once: under tracing every id() is a traced allocation.
        ids = [id(o) for o in young]
        all_ids = set(ids)
        ours = {id(young), id(ids), id(self._new_sentinel), *_function_parts(callback)}
        # The window's own state, not through the callback: that holds the caller's
        # roots, whose new objects are the test's.
        ours |= _closure([self, self._catcher], all_ids)
        del callback
        if any(type(o) is types.FrameType for o in young):
            # Frames of code still running (the caller's, pytest's) are not leaks.
            ours.update(id(f) for f in _current_frames())
        problem = None
        gone = _gone_by_type(self.previous, all_ids)
        if self._old_ids is not None:
            all_ids -= self._old_ids
        young_ids = all_ids - ours
        if self._watch_freezing and id(self._old_sentinel) in all_ids:
            problem = "the test unfroze the heap (gc.unfreeze), so old objects looked new"
            young_ids = set()
        elif self._watch_freezing and id(self._new_sentinel) not in all_ids:
            problem = "the test froze the heap (gc.freeze), hiding the objects it made"

        owned_tracked, owned_untracked = _exclusive_contents(
            exclusions.owned, young, ids, young_ids
        )
        bookkeeping = _closure([*exclusions.bookkeeping, *owned_tracked], young_ids)
        bookkeeping.update(id(c) for c in exclusions.owned if id(c) in young_ids)
        bookkeeping.update(id(o) for o in exclusions.exact if id(o) in young_ids)
        held = _closure(exclusions.holders, young_ids)
        ignored_types = exclusions.ignored_types
        typed = [o for o in young if ignored_types and isinstance(o, ignored_types)]
        ignored = _closure([*exclusions.ignored, *typed], young_ids)
        ignored |= _abc_cache_entries(young, young_ids)
        links = 0
        if not young_ids <= bookkeeping | held | ignored:
            # Only new objects nothing else accounts for can be a cache's new entries;
            # walking every cache's entries is skipped for the many tests with none.
            # A cache's traversal shows its keys and values themselves; nothing old
            # is looked through, so that what a cached object merely refers to (a
            # module's list that a test grows) stays the test's.
            cached = _closure(exclusions.caches, young_ids, old_depth=0)
            links = _new_cache_links(exclusions.caches, cached) if cached else 0
            ignored |= cached
        del typed
        excluded = bookkeeping | held | ignored
        # A weak reference exists because its object does (a new class is listed in
        # its base's subclasses by one): to an excluded new object, it is excluded too.
        weak = _weakrefs_to(young, young_ids - excluded, excluded)
        if weak:
            ignored |= weak
            excluded |= weak
        candidates = [
            o for o, i in zip(young, ids, strict=True) if i in young_ids and i not in excluded
        ]
        if _STRINGIO_LISTS:
            candidates = _without_stringio_internals(candidates, young, ids, held)
        if self.trace and self.origins.has_transport and tracemalloc.is_tracing():
            candidates = [o for o in candidates if not self._transport_made(o)]
        ignored_objects = [o for o, i in zip(young, ids, strict=True) if i in ignored]
        booked = _estimated_blocks(
            [o for o, i in zip(young, ids, strict=True) if i in bookkeeping or i in ignored],
            self.calibration,
            extra_untracked=owned_untracked,
        )
        blocks = (
            blocks_after
            - self._blocks_before
            + self._held_blocks
            - booked
            - self.offset
            - exclusions.extra_blocks
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
            atoms = _untracked_entries(exclusions.caches)
            traced_bytes, lines, memory = self._memory_growth(
                traced, [*ignored_objects, *tooling, *atoms], candidates
            )
            del atoms
            untracked_bytes = sum(size for _, size in lines)
            del tooling
        by_type = _summarise(candidates, self.origins, detailed=self.detailed)
        return Reading(
            blocks=blocks,
            objects=len(candidates) - _replaced(candidates, gone),
            # Only re-runs (windows that do not freeze) are compared with the run before.
            kept=() if self.freeze else _kept(candidates),
            by_type=by_type,
            traced=traced_bytes,
            untracked=untracked_bytes,
            memory=memory,
            cycle_flags=int(self._flags[0]),
            cycles=self._findings,
            collected=collected,
            problem=problem,
            blocks_exact=bool(self._flags[1]),
            untracked_lines=lines,
        )

    def _memory_growth(
        self,
        traced: tuple[tracemalloc.Snapshot, list[tracemalloc.StatisticDiff] | None],
        ignored: list[object],
        candidates: list[object],
    ) -> tuple[int, tuple[tuple[tuple[str, int], int], ...], tuple[MemoryGrowth, ...]]:
        """Memory allocated in the window and still alive, outside the test tooling.

        Returns all of it, the part not allocated where the new objects still
        alive were (memory held by strings, numbers and other untracked objects)
        by allocating line, and the biggest allocation sites.
        """
        snapshot, diff = traced
        skip = _traceback_keys(ignored)
        objects = _traceback_keys(candidates)
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
        for traceback, size, count in stats:
            frames = frames_of(traceback)
            if not frames or _made_by(frames, skip) or self._tooling_made(frames):
                continue
            total += size
            loose = not _made_by(frames, objects)
            if loose:
                loose_by_line[frames[-1]] = loose_by_line.get(frames[-1], 0) + size
            grown.append(
                MemoryGrowth(
                    size,
                    count,
                    pick_frames(frames, self.origins),
                    innermost=frames[-1],
                    untracked=loose,
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

    def _transport_made(self, obj: object) -> bool:
        """Whether pytest-xdist's messaging made ``obj``, in a thread of its own, as it
        does while a test runs in a worker.  Known only where allocations are traced."""
        frames = object_frames(obj)
        if not frames:
            return False
        filename = self._allocating_file(frames)
        return filename is not None and self.origins.is_transport(filename)

    def _allocating_file(self, frames: Sequence[tuple[str, int]]) -> str | None:
        """The file of the innermost frame outside the standard library (``frames``
        outermost first): standard library code allocates on behalf of its caller."""
        for filename, _ in reversed(frames):
            if self.origins.of_file(filename) not in (Origin.STDLIB, Origin.UNKNOWN):
                return filename
        return None

    def _tooling_made(self, frames: Sequence[tuple[str, int]]) -> bool:
        """Whether the innermost frame outside the standard library is the test tooling's.

        Standard library code allocates on behalf of its caller: pytest's logging
        plugin writing through ``logging`` is pytest's memory, a test's call to
        ``json.loads`` is the test's.  On Python 3.12 interned strings live
        forever; the standard library interning a new name (pathlib interns every
        path component it sees) is the interpreter keeping it, not the test.
        """
        if len(frames) >= 2 and frames[-1] in _PATH_JOIN and frames[-2][0] in _IMPORT_FILES:
            return True
        if _IMMORTAL_INTERNS and frames:
            filename, lineno = frames[-1]
            if self.origins.of_file(filename) is Origin.STDLIB and "sys.intern(" in (
                linecache.getline(filename, lineno)
            ):
                return True
        allocating = self._allocating_file(frames)
        return allocating is not None and self.origins.of_file(allocating) is Origin.TOOLING


#: New objects remembered per run, to tell replaced from kept (see Reading.kept).
_KEPT_LIMIT = 10_000


def _kept(candidates: list[object]) -> tuple[tuple[int, int], ...]:
    return tuple((id(o), id(type(o))) for o in candidates[:_KEPT_LIMIT])


def _gone_by_type(previous: Sequence[tuple[int, int]], alive: set[int]) -> dict[int, int]:
    """Of what the previous run left alive, how many have died since, by type id."""
    return Counter(type_id for object_id, type_id in previous if object_id not in alive)


def _replaced(candidates: list[object], gone: dict[int, int]) -> int:
    """How many new objects took the place of what the previous run left, type for type.

    Code that keeps only its latest object (a set swapped for a fresh one, the
    filter list that the warnings module's C code holds on to) leaves a new object
    alive on every run, and the previous run's is gone: no more objects than
    before.  A leak keeps the previous run's too.
    """
    if not gone:
        return 0
    new = Counter(id(type(obj)) for obj in candidates)
    return sum(min(count, gone.get(kind, 0)) for kind, count in new.items())


def _function_parts(function: object) -> set[int]:
    """Ids of a callback and the closure cells it carries, not of what they refer to."""
    parts = {id(function)}
    closure = getattr(function, "__closure__", None)
    if closure:
        parts.add(id(closure))
        parts.update(id(cell) for cell in closure)
    return parts


Frames = tuple[tuple[str, int], ...]


def _traceback_keys(objects: Iterable[object]) -> dict[tuple[str, int], set[Frames]]:
    """Allocation tracebacks of ``objects``, indexed by their innermost frame."""
    keys: dict[tuple[str, int], set[Frames]] = {}
    for obj in objects:
        frames = object_frames(obj)
        if frames:
            keys.setdefault(frames[-1], set()).add(frames)
    return keys


def _made_by(frames: Frames, origins: dict[tuple[str, int], set[Frames]]) -> bool:
    """Whether an allocation happened where one of ``origins`` was made, or inside it.

    Memory allocated by an object's constructor (its attribute storage, say) has
    the object's own allocation traceback as its outer part.  Tracebacks keep only
    their innermost frames, so the two are compared over the frames both kept.
    """
    if not origins:
        return False
    for end in range(len(frames), 0, -1):
        found = origins.get(frames[end - 1])
        if not found:
            continue
        for origin in found:
            shared = min(len(origin), end)
            if origin[-shared:] == frames[end - shared : end]:
                return True
    return False


def _forget_last_failure() -> None:
    """Drop a previous failure's traceback now, rather than inside the next window.

    pytest deletes ``sys.last_*`` when the next test's call phase starts; the frames
    they hold would otherwise be freed during the measured window.
    """
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        with contextlib.suppress(AttributeError):
            delattr(sys, name)


def _frame_objects_of_callers() -> None:
    """Make the frame objects of every function now running, before memory is read.

    Since Python 3.11 a running function has a frame object only once something
    asks for it.  A frame object that outlives its function (one a caught
    exception's traceback keeps, in a cycle, until the collector frees it) makes
    its caller's frame object when it takes over the finished frame, and so on up
    the stack: the measuring code's own callers, still running when the window
    closes, would then hold one new frame object each, counted as the test's.
    Asking for them here makes them once, outside the window.
    """
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        frame = frame.f_back


def _current_frames() -> list[types.FrameType]:
    frames = []
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


_CONTAINERS = (dict, list, tuple, set, frozenset)


def _closure(roots: Iterable[object], young_ids: set[int], old_depth: int = 2) -> set[int]:
    """Ids of new objects reachable from ``roots`` (the roots too, if new).

    Between a root and the new objects it holds there may be old plain containers
    (an attribute dict, a stash's storage): those are looked through, up to
    ``old_depth`` of them, and no other old object is, so that a root such as a
    plugin object does not drag in the whole heap.
    """
    found: set[int] = set()
    visited_old: set[int] = set()
    pending: list[tuple[object, int]] = [(root, 0) for root in roots]
    for root in roots:
        if id(root) in young_ids:
            found.add(id(root))
    while pending:
        obj, depth = pending.pop()
        for ref in gc.get_referents(obj):
            key = id(ref)
            if key in young_ids:
                if key not in found:
                    found.add(key)
                    pending.append((ref, 0))
            elif (
                depth < old_depth
                and type(ref) in _CONTAINERS
                and key not in visited_old
                and len(visited_old) < 10_000
            ):
                visited_old.add(key)
                pending.append((ref, depth + 1))
    return found


_ATOMS = (int, float, complex, str, bytes)


def _untracked_entries(caches: Sequence[object]) -> list[object]:
    """The strings and numbers that caches hold as keys or values (only plain dict,
    list and set caches are looked in): the collector does not track them, so only
    their allocation sites tell their memory apart."""
    found: list[object] = []
    for cache in caches:
        if type(cache) is dict:
            entries: Iterable[object] = (*cache.keys(), *cache.values())
        elif type(cache) in (list, set):
            entries = cache  # type: ignore[assignment]
        else:
            continue
        found.extend(e for e in entries if type(e) in _ATOMS)
    return found


def _abc_cache_entries(young: list[object], young_ids: set[int]) -> set[int]:
    """Ids of the new entries of the ``abc`` module's caches.

    ``isinstance`` and ``issubclass`` against an abstract class remember the
    answer per class, in sets of weak references that die with the class.  The C
    implementation makes each entry as a weak reference whose callback is a
    ``_destroy`` method bound to a weak reference to the set: three objects, the
    interpreter's to drop, not the test's.  The classes themselves are not among
    them.
    """
    found: set[int] = set()
    for obj in young:
        if type(obj) is not _WEAKREF:
            continue
        callback: object = obj.__callback__
        if type(callback) is not _BUILTIN or getattr(callback, "__name__", None) != "_destroy":
            continue
        set_ref = getattr(callback, "__self__", None)
        if type(set_ref) is not _WEAKREF or type(set_ref()) is not set:
            continue
        for part in (obj, callback, set_ref):
            if id(part) in young_ids:
                found.add(id(part))
    return found


def _weakrefs_to(young: list[object], among: set[int], targets: set[int]) -> set[int]:
    """Ids of the weak references in ``among`` whose object is one of ``targets``."""
    found: set[int] = set()
    for obj in young:
        if type(obj) is _WEAKREF and id(obj) in among:
            referent = obj()
            if referent is not None and id(referent) in targets:
                found.add(id(obj))
            del referent
    return found


_WEAKREF = weakref.ref
_BUILTIN: type = type(len)


def _lru_link_type() -> type | None:
    """The type of the entries ``functools.lru_cache`` links in a list, in C: untracked
    objects, one per cached call, that only the cache's own traversal shows."""
    probe = functools.lru_cache(maxsize=1)(lambda: _LINK_PROBE)
    probe()
    refs = gc.get_referents(probe)
    # The cache's type, then the entry's key, value and type.
    kind = refs[3] if len(refs) > 3 and refs[2] is _LINK_PROBE else None
    if not isinstance(kind, type) or not kind.__name__.endswith("lru_list_elem"):
        return None
    return kind


_LINK_PROBE = object()
_LRU_LINK = _lru_link_type()


def _new_cache_links(caches: Sequence[object], new: set[int]) -> int:
    """How many entries the caches gained whose key or value is among ``new``.

    A cache's traversal shows its type, then each entry as its key, value and
    type; the entry is one block that no other reading accounts for.  Only
    caches not yet full are counted: until then every entry is a new one.
    """
    if _LRU_LINK is None:
        return 0
    count = 0
    for cache in caches:
        try:
            info = cache.cache_info()  # type: ignore[attr-defined]
            full = info.currsize >= info.maxsize
        except Exception:  # noqa: BLE001 - not a cache we can read: nothing is taken off
            continue
        if full:
            # A full cache reuses its oldest entry for a new one: nothing was allocated.
            continue
        refs = gc.get_referents(cache)
        for i in range(1, len(refs) - 2, 3):
            if refs[i + 2] is not _LRU_LINK:
                break
            if id(refs[i]) in new or id(refs[i + 1]) in new:
                count += 1
        del refs
    return count


def _references_within(objects: Iterable[object], targets: dict[int, object]) -> dict[int, int]:
    """How many references each of ``targets`` gets from ``objects``."""
    counts: dict[int, int] = {}
    for holder in objects:
        for ref in gc.get_referents(holder):
            key = id(ref)
            if key in targets:
                counts[key] = counts.get(key, 0) + 1
    return counts


def _exclusive_contents(
    containers: Sequence[object], young: list[object], ids: list[int], young_ids: set[int]
) -> tuple[list[object], list[object]]:
    """The new values of ``containers`` that nothing but these and other new objects hold.

    Returns the tracked ones and the untracked ones (strings, tuples of them...).
    A value held from anywhere else (an old registry, say) is not returned: it is
    the test's to answer for.
    """
    values: dict[int, object] = {}
    for container in containers:
        if isinstance(container, dict):
            contents: Iterable[object] = container.values()
        elif isinstance(container, list):
            contents = container
        else:
            continue
        values.update(
            (id(v), v)
            for v in contents
            if not isinstance(v, _NO_ALLOCATION) and (id(v) in young_ids or not gc.is_tracked(v))
        )
    if not values:
        return [], []
    known = _references_within(containers, values)
    new = (o for o, i in zip(young, ids, strict=True) if i in young_ids)
    inner = _references_within(new, values)
    tracked: list[object] = []
    untracked: list[object] = []
    for key in list(values):
        is_young = key in young_ids
        # Ours: ``values``, ``young`` if tracked, and getrefcount's argument.  The
        # count is taken right here: passing the object into a helper would add
        # references, and a different number on different Python versions.
        ours = 2 + (1 if is_young else 0)
        if sys.getrefcount(values[key]) - ours <= known.get(key, 0) + inner.get(key, 0):
            (tracked if is_young else untracked).append(values[key])
    return tracked, untracked


#: Python 3.12 makes interned strings immortal.
_IMMORTAL_INTERNS = sys.version_info[:2] == (3, 12)


def _code_lines(code: object) -> frozenset[tuple[str, int]]:
    if not isinstance(code, types.CodeType):
        return frozenset()
    return frozenset((code.co_filename, line) for _, _, line in code.co_lines() if line)


def _import_system_paths() -> tuple[frozenset[tuple[str, int]], frozenset[str]]:
    """Where the import system joins the path of a module file it finds: the lines of
    ``_path_join``, and the files of the finders that call it.

    Such a path becomes the file name of the module's code.  Once that code has
    allocated while tracemalloc traces, tracemalloc keeps the name, in native code,
    until tracing stops: a module imported from a fresh path on every run
    (generated code, templates compiled to a temporary directory or archive)
    leaves one name per run, which is the tracing's memory, not the test's.
    """
    external = sys.modules.get("importlib._bootstrap_external")
    join = getattr(getattr(external, "_path_join", None), "__code__", None)
    finders = [getattr(getattr(external, "FileFinder", None), "find_spec", None)]
    zipimport = sys.modules.get("zipimport")
    finders.append(getattr(getattr(zipimport, "zipimporter", None), "__init__", None))
    files = {
        code.co_filename
        for code in (getattr(f, "__code__", None) for f in finders)
        if isinstance(code, types.CodeType)
    }
    return _code_lines(join), frozenset(files)


_PATH_JOIN, _IMPORT_FILES = _import_system_paths()

#: On Python 3.12 the number of interned strings, each kept forever: the standard
#: library interning a name it has not seen (pathlib interns every part of every
#: path it makes) grows the heap by a block that nobody can free.  That block is
#: the interpreter's, not the test's.
_interned_size: Callable[[], int] | None = (
    getattr(sys, "getunicodeinternedsize", None) if _IMMORTAL_INTERNS else None
)

#: Before 3.12, io.StringIO accumulates text in lists it does not show to the
#: garbage collector: nothing visibly refers to them.
_STRINGIO_LISTS = sys.version_info < (3, 12)


def _without_stringio_internals(
    candidates: list[object], young: list[object], ids: list[int], held: set[int]
) -> list[object]:
    """Drop the hidden accumulator lists of the tooling's new ``StringIO`` buffers.

    Each held buffer accounts for at most two lists of at most one string that no
    new object refers to.  They replace the lists of the buffers they replaced, so
    they are not memory growth either.
    """
    buffers = sum(
        1 for o, i in zip(young, ids, strict=True) if type(o).__name__ == "StringIO" and i in held
    )
    if not buffers:
        return candidates
    budget = 2 * buffers
    suspects = {
        id(o): o
        for o in candidates
        if isinstance(o, list)
        and type(o) is list
        and len(o) <= 1
        and all(type(x) is str for x in o)
    }
    if not suspects:
        return candidates
    # Only what refers to a suspect is looked into, so that the walk makes an id for
    # a few objects, not for everything the new objects refer to.
    new = set(ids)
    for holder in gc.get_referrers(*suspects.values()):
        if id(holder) in new:
            for ref in gc.get_referents(holder):
                suspects.pop(id(ref), None)
    drop: set[int] = set()
    for key in suspects:
        if len(drop) == budget:
            break
        drop.add(key)
    return [o for o in candidates if id(o) not in drop]


_MANAGED_DICT = 1 << 4
_WORD = struct.calcsize("P")


def _attribute_values_block(obj: object) -> int:
    """1 if ``obj`` keeps its attributes in a separately allocated values array.

    Python 3.11 and 3.12 store the attributes of most instances in such an array,
    found two words before the object's garbage-collector header, unless a real
    ``__dict__`` has been made for it (then the dict owns the array and is counted
    as an object of its own).  3.10 always uses a dict; 3.13 keeps the values in
    the object itself.  Reading the header words only looks inside the object's
    own allocation.
    """
    if sys.version_info[:2] not in ((3, 11), (3, 12)):
        return 0
    if not type(obj).__flags__ & _MANAGED_DICT:
        return 0
    header = ctypes.c_void_p.from_address(id(obj) - 3 * _WORD).value or 0
    if sys.version_info[:2] == (3, 12):
        return 1 if header & 1 else 0  # tagged: values, not a dict
    values = ctypes.c_void_p.from_address(id(obj) - 4 * _WORD).value or 0
    return 1 if header == 0 and values != 0 else 0


def _hidden_blocks(obj: object) -> int:
    """Allocations an object owns besides its own block: a dict's table, a list's array."""
    empty = _EMPTY_SIZES.get(type(obj))
    if empty is None:
        return _attribute_values_block(obj)
    try:
        return 1 if sys.getsizeof(obj) > empty else 0
    except Exception:  # noqa: BLE001
        return 0


def _estimated_blocks(
    objects: list[object],
    calibration: dict[type, int],
    extra_untracked: Sequence[object] = (),
) -> int:
    """Blocks the given new objects hold, counted low rather than high.

    Tracked objects count one block each plus a dict's table or a list's array.
    Their untracked contents (strings, numbers, tuples of them) count when nothing
    but these objects refers to them, which is how new ones look.  Types in
    ``calibration`` count as measured, own attribute storage included.  An unknown
    kind of storage is not counted: too little only costs a re-run, too much
    could hide a leak.  ``extra_untracked`` are untracked objects already known to
    be new and exclusive.
    """
    total = 0
    skip_dicts: set[int] = set()
    for obj in objects:
        base = calibration.get(type(obj))
        if base is None:
            total += 1 + _hidden_blocks(obj)
            continue
        total += base
        instance_dict = _instance_dict(obj)
        if instance_dict is not None:
            skip_dicts.add(id(instance_dict))
    total -= sum(1 + _hidden_blocks(o) for o in objects if id(o) in skip_dicts)
    counted: dict[int, object] = {id(o): o for o in extra_untracked}
    total += sum(1 + _hidden_blocks(o) for o in extra_untracked)
    # Untracked contents, looking inside tuples and dicts of them.
    holders: list[object] = [*objects, *extra_untracked]
    found: dict[int, object] = {}
    while holders:
        fresh = _untracked_referents(holders, found, counted)
        holders = [o for o in fresh.values() if type(o) in (tuple, dict, frozenset)]
        found.update(fresh)
    if found:
        known = _references_within([*objects, *extra_untracked, *found.values()], found)
        for key in list(found):
            # Ours: ``found`` and getrefcount's argument (see _exclusive_contents).
            if sys.getrefcount(found[key]) - 2 <= known.get(key, 0):
                total += 1 + _hidden_blocks(found[key])
    return total


def _untracked_referents(
    holders: list[object], found: dict[int, object], counted: dict[int, object]
) -> dict[int, object]:
    fresh: dict[int, object] = {}
    for holder in holders:
        for ref in gc.get_referents(holder):
            key = id(ref)
            if key in found or key in counted or key in fresh:
                continue
            if isinstance(ref, (*_NO_ALLOCATION, type)) or gc.is_tracked(ref):
                continue
            fresh[key] = ref
    return fresh


def _instance_dict(obj: object) -> dict[str, object] | None:
    try:
        value = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001
        return None
    return value if type(value) is dict else None


def _quick_cycle_flags(garbage: list[object], origins: Origins) -> int:
    """Which kinds of cycles the garbage holds, without keeping anything.

    Runs between two block readings, so it allocates nothing that outlives it.
    """
    findings = cycles_mod.analyse(garbage, origins)
    flags = 0
    for group in findings.groups:
        if group.origin is Origin.PROJECT:
            flags |= CYCLE_PROJECT
        elif group.origin is None:
            flags |= CYCLE_UNDETERMINED
        elif group.origin is not Origin.TOOLING:
            flags |= CYCLE_OTHER
    return flags


#: Objects per type whose allocation site is looked up to describe a leak.
_SITE_LOOKUPS = 32


def _summarise(
    candidates: list[object], origins: Origins, *, detailed: bool
) -> tuple[TypeGrowth, ...]:
    if not candidates:
        return ()
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for obj in candidates:
        name = type_name(obj)
        counts[name] += 1
        with contextlib.suppress(Exception):  # a broken __sizeof__ only loses a figure
            sizes[name] += sys.getsizeof(obj)
    if not detailed:
        return tuple(TypeGrowth(n, c, sizes[n]) for n, c in counts.most_common())
    inner = _referenced_within(candidates)
    samples: dict[str, list[str]] = {}
    sample_ids: dict[str, list[int]] = {}
    sites: dict[str, list[tuple[tuple[str, int], ...]]] = {}
    looked_up: dict[str, int] = {}
    # Objects nothing new refers to are where a leak hangs from: show those first.
    ordered = sorted(candidates, key=lambda o: id(o) in inner)
    for obj in ordered:
        name = type_name(obj)
        shown = samples.setdefault(name, [])
        if len(shown) < 3:
            shown.append(safe_repr(obj))
            sample_ids.setdefault(name, []).append(id(obj))
        where = sites.setdefault(name, [])
        looked = looked_up[name] = looked_up.get(name, 0) + 1
        # Two different sites per type are shown; a few lookups per type find them
        # when there are two.  Looking up every object of a leak made at one line
        # would cost more than the test itself (see "bounds" in how-it-decides).
        if len(where) < 2 and looked <= _SITE_LOOKUPS:
            frames = allocation_frames(obj, origins)
            if frames and frames not in where:
                where.append(frames)
    order = sorted(counts, key=lambda n: (-sizes[n], -counts[n], n))
    return tuple(
        TypeGrowth(
            n,
            counts[n],
            sizes[n],
            tuple(samples.get(n, ())),
            tuple(sites.get(n, ())),
            tuple(sample_ids.get(n, ())),
        )
        for n in order
    )


def _referenced_within(objects: list[object]) -> set[int]:
    ids = {id(o) for o in objects}
    inner: set[int] = set()
    for obj in objects:
        for ref in gc.get_referents(obj):
            if id(ref) in ids and ref is not obj:
                inner.add(id(ref))
    return inner


def calibrate_offset(heap: Heap, origins: Origins, *, cycles: bool) -> int:
    """The blocks an empty window reads: what measuring itself costs, to take off."""
    reading = 0
    for _ in range(4):
        window = Window(heap, origins, cycles=cycles)
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
        reachable = _closure([sample], young_ids)
        objects = [o for o in young if id(o) in reachable]
        counted = _estimated_blocks(objects, {type(sample): 0})
    finally:
        young.clear()
    return max(0, after - before - reading_cost - counted)
