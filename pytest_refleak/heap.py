"""The interpreter's heap, handled so that per-test work never scans all of it.

Before each measured window every existing object is frozen (``gc.freeze()``):
collections during and after the test then look only at objects the test made,
and ``gc.get_objects()`` returns exactly those.  Frozen objects that become
garbage later are not collected until they are unfrozen, so a full collection
runs from time to time, on a budget that keeps its cost a small fraction of the
session.  A user's own freeze is never undone: if objects were frozen before the
plugin first measured (by a conftest that freezes after collection, say), the
plugin freezes on top of it, its full collections freeze again what they keep,
and the heap is left frozen when the session ends.  The same holds for a freeze
the user does later, in a session fixture or a test: it is noticed as the
an object the plugin made right after its own last freeze being frozen too.

Nothing else the user set is changed for longer than the plugin needs it: the
collector's debug flags are changed only while a collection runs (see
:class:`CycleCatcher`), and tracemalloc is started only when nobody traces, and
then stopped with its frame limit put back.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import gc
import os
import subprocess
import sys
import threading
import time
import tracemalloc
import types
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: Frames kept per allocation while tracing: enough to get past library code.
#: tracemalloc works out a line number for each frame kept on every allocation,
#: so a traced run costs about in proportion: on sqlparse's test_grouping.py
#: (3.11) 14.2 s CPU with 24, 9.0 s with 16, 8.4 s with 12; in code that
#: allocates deep in its own recursion far more (one of pyparsing's example
#: tests, traced: 19.3 s with 16, 11.0 s with 8; attrs' whole suite, whose
#: hypothesis tests are traced for memory, 54.4 s with 16, 37.1 s with 8).  The
#: held-out corpus and this project's tests give the same verdicts and sites
#: with 8.  What needs more (a thread's allocation is told by its whole stack,
#: a project's line more than seven calls above a library's allocation) is lost
#: past it: see docs/how-it-decides.md.
TRACE_FRAMES = 8

#: Frames kept while tracing a test whose memory a re-run already cleared, so that
#: only cycles are left to confirm: who made a cycle's members is nearly always
#: told by the allocating line alone (a method of the project's), and a cycle
#: whose maker a trace leaves open is traced again a step deeper (see
#: :data:`FRAME_LADDER` and ``cycles._settled``).  Tracing is most of a
#: cycle-making test's cost, and each frame kept costs at every allocation
#: (tracemalloc works out each frame's line number): parso parsing its own
#: sources, untraced 0.42 s, traced with 1 / 4 / 16 frames 2.8 / 6.8 / 12.6 s.
CYCLE_FRAMES = 1

#: Frames kept when even ``TRACE_FRAMES`` left a cycle's maker open: a test's
#: ``copy.deepcopy`` of a five-level structure holding a project object makes the
#: copy sixteen library frames above the test's line.  Enough to reach pytest's
#: own frames below any test; traced so only for such a cycle, once.
DEEPEST_FRAMES = 128

#: The frame limits a cycle's maker is traced with, each tried only when the one
#: before left it open: a class instance made by a dataclass's generated
#: ``__init__`` needs the caller's frame, a copy made deep in ``copy`` sixteen.
FRAME_LADDER = (CYCLE_FRAMES, 4, TRACE_FRAMES, DEEPEST_FRAMES)


def deeper_frames(frames: int) -> int:
    """The next frame limit of :data:`FRAME_LADDER` past ``frames``."""
    return next((n for n in FRAME_LADDER if n > frames), DEEPEST_FRAMES)


def _nothing() -> None:
    return None


# Python 3.13 names it _clear_internal_caches and deprecates the old name.
_clear_type_cache: Callable[[], None] = (
    getattr(sys, "_clear_internal_caches", None)
    or getattr(sys, "_clear_type_cache", None)
    or _nothing
)


#: A module's namespace, read without asking the module (a lazily loaded module
#: would load on any attribute read).
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]


#: Types whose objects hold values: no references, no storage apart from themselves.
ATOMS = frozenset((str, bytes, int, float, complex, bool, type(None)))


def referents(*objs: object) -> list[object]:
    """``gc.get_referents(*objs)``, but of a module only its namespace.

    The collector's view of a module also goes through the module's own C state,
    and on some interpreters that is unsafe to hand out: CPython 3.12 and 3.13.0
    list ``_asyncio``'s free list of future iterators there, memory already
    freed, and dropping the list frees it again; the free list then loops, and
    the next traversal of that module (any collection, ``gc.get_referrers``)
    never ends (python/cpython#122695, a corpus run hung in it on 3.12.1).
    What modules hold for Python code is in their namespace; what a C module
    keeps only in its state is left unwalked.  Every walk of the plugin's goes
    through here.
    """
    modules = [o for o in objs if issubclass(type(o), types.ModuleType)]
    if not modules:
        return gc.get_referents(*objs)
    found = gc.get_referents(*[o for o in objs if not issubclass(type(o), types.ModuleType)])
    found.extend(_MODULE_DICT.__get__(m) for m in modules)
    return found


def read_blocks() -> int:
    """Memory blocks the interpreter holds, without its attribute-lookup cache.

    The type attribute cache keeps the name strings of recent lookups alive; it is
    bounded but would otherwise look like growth of a block or two per test.
    """
    _clear_type_cache()
    return sys.getallocatedblocks()


class _MallInfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (2.33 and later): every field a size_t.
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


#: Sizes of ``bytes`` whose objects take one chunk of each of the bins of glibc's
#: per-thread cache (tcache) that Python's objects use: requests of 513 to 1032
#: bytes (chunks of 528 to 1040), seven of each, as many as a bin keeps by default.
_CACHE_FILLERS = tuple(size - sys.getsizeof(b"") for size in range(520, 1033, 16) for _ in range(7))


def fill_thread_cache() -> None:
    """Fill the calling thread's glibc cache of freed chunks in the sizes Python's
    objects take from ``malloc``.

    ``mallinfo2()`` counts a chunk parked in that cache as still in use: a run that
    frees a few objects of 513 to 1032 bytes into bins that were not full reads as
    holding more bytes, though nothing was kept, and gets traced for nothing.
    Filled first, the cache takes no more; what a run frees goes back to glibc's
    free lists, which are counted as free, and what it allocates and frees again
    is taken from and returned to the cache unseen.  Smaller chunks come only from
    C code's own ``malloc`` calls (Python's allocator serves objects that small),
    which filling through ctypes would cost ten times as much: a run can still
    seem to grow by those, which costs a traced re-run but decides nothing, as
    the traces count Python's allocations only.
    """
    # Every object is freed again: the cache keeps as many chunks as it takes,
    # glibc's free lists the rest.
    made = list(map(bytes, _CACHE_FILLERS))
    del made


def _glibc_mallinfo2() -> Callable[[], _MallInfo2] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return None
    function.restype = _MallInfo2
    function.argtypes = []
    return function


class MallocBytes:
    """Bytes the process holds through the C allocator, where that is cheap to ask.

    Python's small-object allocator serves objects of up to 512 bytes from its own
    arenas, which :func:`read_blocks` counts.  Everything bigger (long strings,
    bytes, the buffers of lists, bytearrays and arrays past that size) comes from
    ``malloc``, and a buffer that grows in place (``realloc``) stays one block:
    only a byte count sees it.  On Linux with glibc, ``mallinfo2()`` gives the
    bytes in use (``uordblks``) and in mapped chunks (``hblkhd``).  Elsewhere
    nothing this cheap exists and :meth:`read` says ``None``: memory is counted in
    blocks only.

    ``mallinfo2()`` walks glibc's lists of free chunks: cheap on an ordinary heap
    (a microsecond), slow on a badly fragmented one.  Once readings have cost more
    than :attr:`SHARE_DIVISOR`-th of the time since the first, they stop for the session.
    Both in the process's CPU time, not the clock's: on a loaded machine a reading
    that waits for a core looks slow by the clock, and stopping then would make a
    buffer grown in place a leak on a quiet machine and none on a busy one.
    """

    #: Readings may take this fraction of the session's CPU time, at most: 1/20.  A
    #: heap of many small free chunks (the held-out corpus under xdist: 0.8 ms a
    #: reading) took 1.3%, and a buffer grown in place passed after that.
    SHARE_DIVISOR = 20

    def __init__(self) -> None:
        self._read = _glibc_mallinfo2()
        # Nanoseconds spent and when the first reading started, in an array:
        # floats freed while a window is open would wait in their free list.
        self._clock = array.array("q", [0, 0])

    @property
    def available(self) -> bool:
        return self._read is not None

    def fill_thread_cache(self) -> None:
        """Before a reading that decides: see :func:`fill_thread_cache`."""
        if self._read is not None:
            fill_thread_cache()

    def read(self, out: array.array[int], index: int) -> bool:
        """Put the bytes held through ``malloc`` now in ``out[index]``; say whether
        they are known.

        Written into an array rather than returned: measuring windows read this
        between their block counts, and an int handed back allocates.
        """
        read = self._read
        if read is None:
            return False
        clock = self._clock
        clock[0] -= time.process_time_ns()
        if not clock[1]:
            clock[1] = -clock[0]
        info = read()
        out[index] = info.uordblks + info.hblkhd
        del info
        now = time.process_time_ns()
        clock[0] += now
        # In integers: a float made here would wait in its free list, and count.
        if clock[0] > (now - clock[1]) // self.SHARE_DIVISOR + 50_000_000:
            # Past the first 50 ms, readings must stay within their share.
            self._read = None
        return True


def os_threads() -> int:
    """The process's threads as the kernel counts them (Linux), 0 where it cannot say.

    ``/proc/self/task`` holds a directory per thread.  Listed, not counted from
    its link count: a clean hypothesis property test read +208 B/run when the
    window's closing steps called ``os.stat`` (any path), and did not with
    ``os.listdir``; why is not known.
    """
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


#: How long a window waits for threads that are ending, at most: 100 ms.
THREAD_EXIT_WAIT_NS = 100_000_000


def wait_for_ending_threads(counts: array.array[int], os_index: int, py_index: int) -> None:
    """Wait until threads that ended since the counts in ``counts`` have left the
    process, for :data:`THREAD_EXIT_WAIT_NS` at most.

    A thread that a test joined has finished its Python code, but it goes on for
    a moment in C: its thread state is freed and glibc returns its cache of freed
    chunks after ``join()`` has returned.  On a busy machine a reading taken then
    sees memory that is about to go (idna's eight-thread test read +1.3 to +5 KB
    or -4.8 KB from run to run, and was traced for 80 s).  So while the kernel
    counts more threads than when the window opened and Python does not (no
    thread the test started is still running its code), the window waits.
    Threads the test left running are not waited for: they are its own, and
    reported as such.
    """
    if not counts[os_index]:
        return
    deadline = time.monotonic_ns() + THREAD_EXIT_WAIT_NS
    while (
        os_threads() > counts[os_index]
        and threading.active_count() <= counts[py_index]
        and time.monotonic_ns() < deadline
    ):
        time.sleep(0.0002)


def malloc_chunk(size: int) -> int:
    """Bytes glibc's ``malloc`` takes for an object of ``size`` bytes that Python's
    small-object allocator does not serve (0 for those it does): the size and a
    word of header, rounded up to 16."""
    if size <= 512:
        return 0
    # Not max(): called between a window's collection and its first reading, where
    # anything freed into one of the interpreter's free lists (max's tuple of
    # arguments) is freed for good by the closing collection, a block too few.
    chunk = (size + 8 + 15) & ~15
    return chunk if chunk > 32 else 32


def _startup_freeze_count() -> int:
    """How many objects a fresh interpreter has frozen before any user code runs.

    Python 3.12 freezes a few hundred of its own objects at startup; only more
    than that means somebody called ``gc.freeze()``.  Asked of a fresh process,
    and only when anything is frozen at all.
    """
    if gc.get_freeze_count() == 0:
        return 0
    try:
        output = subprocess.run(
            [sys.executable, "-I", "-c", "import gc; print(gc.get_freeze_count())"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        return int(output.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0


class Heap:
    """Session-wide control of collection, freezing and allocation tracing.

    :meth:`restore` puts back exactly what this object changed.
    """

    #: A full collection may take this fraction of the session's time, at most.
    FULL_COLLECTION_SHARE = 0.02

    def __init__(self) -> None:
        # Objects frozen by the user, beyond the few Python 3.12 freezes itself at
        # startup.  Freezing more on top of theirs keeps them frozen; only
        # unfreezing at the end would undo their freeze, so then the heap stays frozen.
        self.user_frozen = gc.get_freeze_count() > _startup_freeze_count()
        self._frozen = False
        #: Made right after the plugin's last freeze: frozen since, somebody else froze.
        self._sentinel: list[object] = []
        self._started_tracing = False
        self._limit_before = tracemalloc.get_traceback_limit()
        self.tracing_held = False
        self._last_full = time.perf_counter()
        # Until a full collection has been timed, assume one costs this much.
        self._full_cost = 0.05
        self.full_collections = 0
        self.catcher = CycleCatcher()
        self.malloc = MallocBytes()

    # -- collection -------------------------------------------------------------

    def settle(self) -> None:
        """Collect the garbage made since the last window, then freeze the heap.

        The first time, the heap is frozen as it is: what garbage it holds waits
        for the first full collection, run when the time budget allows.
        """
        if not self._frozen:
            self.freeze()
            return
        self.notice_user_freeze()
        if self._full_collection_due():
            gc.unfreeze()
            started = time.perf_counter()
            gc.collect()
            self._full_cost = time.perf_counter() - started
            self._last_full = time.perf_counter()
            self.full_collections += 1
        else:
            gc.collect()
        self.freeze()

    def _full_collection_due(self) -> bool:
        waited = time.perf_counter() - self._last_full
        return waited * self.FULL_COLLECTION_SHARE > self._full_cost

    def freeze(self) -> None:
        gc.freeze()
        self.refrozen()

    def refrozen(self) -> None:
        """The plugin has just frozen the heap (here or elsewhere)."""
        self._frozen = True
        self._sentinel = []

    def notice_user_freeze(self) -> None:
        """Take a freeze done since the plugin's last one (a test's, a session fixture's)
        for the user's: from then on the heap is not unfrozen when the session ends.

        Called before each of the plugin's own freezes and unfreezes, which would
        hide it.  Costs a look at the objects made since the last freeze, as the
        collection that follows does.  (The permanent generation's size would not
        tell: frozen objects that die leave it, and a freeze inside a test freezes
        mostly objects that die with the test.)
        """
        if not self._frozen or self.user_frozen:
            return
        sentinel = self._sentinel
        if not any(obj is sentinel for obj in gc.get_objects()):
            self.user_frozen = True

    def user_froze(self) -> None:
        self.user_frozen = True

    @property
    def sentinel(self) -> object:
        """The object made right after the plugin's last freeze (not a test's)."""
        return self._sentinel

    @property
    def frozen(self) -> bool:
        return self._frozen

    # -- tracing ------------------------------------------------------------------

    def start_tracing(self, nframes: int) -> None:
        """Trace allocations from now on, unless somebody already does.

        A tracemalloc session of the user's (started before the session, by a
        fixture or by a test) is used as it is, with its frame limit, and never
        restarted: its traces are theirs.
        """
        if self._started_tracing or tracemalloc.is_tracing():
            return
        self._limit_before = tracemalloc.get_traceback_limit()
        tracemalloc.start(nframes)
        self._started_tracing = True

    def stop_tracing(self) -> None:
        if not self._started_tracing or self.tracing_held:
            return
        self._started_tracing = False
        # A test may have stopped it already; then only the frame limit is left.
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        if tracemalloc.get_traceback_limit() != self._limit_before:
            # The limit outlives tracing, and only starting sets it.
            tracemalloc.start(self._limit_before)
            tracemalloc.stop()

    def hold_tracing(self) -> None:
        """Keep tracing past the window that started it, until :meth:`release_tracing`.

        Explaining a leak after the verdict needs the allocation tracebacks of
        what the traced re-run made.
        """
        self.tracing_held = True

    def release_tracing(self) -> None:
        self.tracing_held = False
        self.stop_tracing()

    @property
    def user_tracing(self) -> bool:
        """Somebody else's tracemalloc session is running: its traces are not ours to reset."""
        return not self._started_tracing and tracemalloc.is_tracing()

    # -- leaving ------------------------------------------------------------------

    def restore(self) -> None:
        """Undo what this object changed: freezing, tracing, the collection hook."""
        self.catcher.close()
        self.release_tracing()
        self.notice_user_freeze()
        if self._frozen and not self.user_frozen:
            gc.unfreeze()
        self._frozen = False


_OURS = 1
_USERS = 2

#: What a window makes of objects a collection is about to free by way of their
#: finalizers: each part of them as the ids of its objects and a description.
Describe = Callable[[list[object]], "list[tuple[frozenset[int], object]]"]


class CycleCatcher:
    """Keeps what the cyclic collector frees during a window, to be looked at later.

    What was alive just before a collection and is dead just after it was freed
    by the collector, whatever route it took.  There are two routes:

    * Objects the collector frees itself.  While a collection runs, the
      ``DEBUG_SAVEALL`` flag is set, so the collector puts them into
      ``gc.garbage`` instead; when it ends, the flag is cleared again and exactly
      what that collection added is moved into :attr:`saved`.  Between
      collections the debug flags and ``gc.garbage`` are the user's: what they
      append stays.  When a collection starts with ``DEBUG_SAVEALL`` set by the
      user, what it frees is theirs to find in ``gc.garbage``: it is looked at
      but left there, except in a re-run (``rerun``), which the user would not
      have run: that garbage is the plugin's.  Objects that are uncollectable
      on their own merit (legacy finalizers) stay in ``gc.garbage`` too.
    * Objects their finalizers free.  Before it frees anything, the collector
      runs the finalizers of the garbage (``__del__``, a generator's or a
      coroutine's ``close()``); a generator kept on its own object drops its
      frame's reference to the object when closed, and the cycle is freed by
      reference counting, so it never reaches ``gc.garbage``.  So before each
      collection the young objects with a finalizer and what they reach are
      looked at; the part that nothing outside refers to is what the collection
      is about to free, and ``describe`` says what it is while it still exists.
      A part that ends in ``gc.garbage`` after all (a finalizer that left its
      cycle alone) is described from there instead.

    Past ``limit`` saved objects saving stops and only the count goes on.

    The hook stays registered from the first window to :meth:`close` and does
    nothing between windows: adding and removing it for each window would grow
    and shrink ``gc.callbacks`` inside the measurement.  A test that empties
    ``gc.callbacks`` loses it for the rest of its window only; garbage is then
    freed as usual, and the next window registers it again.
    """

    #: The most objects followed from finalizers before one collection.
    REACH_LIMIT = 20_000
    #: The most objects looked at for finalizers (and followed from them) in one
    #: window, after which finalizers are no longer looked at: a bound on what a
    #: test that makes millions of objects pays, about a quarter of a second.
    WINDOW_LOOK_LIMIT = 5_000_000

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self.saved: list[object] = []
        self.overflowed = False
        self._active = False
        self._registered = False
        self._rerun = False
        self._old_ids: set[int] | None = None
        self._describe: Describe | None = None
        self._keep: Callable[[object], None] | None = None
        self._pending: list[tuple[frozenset[int], object]] | None = None
        # Counters live in an array: updating them inside a measured window must
        # not allocate int objects that would count as the test's memory.
        # [0] objects freed, [1] length of gc.garbage when the collection started,
        # [2] who set DEBUG_SAVEALL for this collection (0: nobody, _OURS, _USERS),
        # [3] objects looked at for finalizers in this window.
        self._counts = array.array("q", [0, 0, 0, 0])
        self._on_collection_hook = self._on_collection

    @property
    def collected(self) -> int:
        """Objects the cyclic collector freed while catching."""
        return self._counts[0]

    def start(
        self,
        *,
        rerun: bool = False,
        old_ids: set[int] | None = None,
        describe: Describe | None = None,
        keep: Callable[[object], None] | None = None,
    ) -> bool:
        """Catch from now on.

        ``describe`` and ``keep`` look at what finalizers free: ``keep`` gets each
        description of a part that died.  ``old_ids``: objects that existed before
        the window (when the heap is not frozen); their finalizers are not looked at.
        """
        if not any(hook is self._on_collection_hook for hook in gc.callbacks):
            gc.callbacks.append(self._on_collection_hook)
        self._registered = True
        self.saved.clear()
        self._counts[0] = self._counts[2] = self._counts[3] = 0
        self.overflowed = False
        self._rerun = rerun
        self._old_ids = old_ids
        self._describe = describe if keep is not None else None
        self._keep = keep
        self._pending = None
        self._active = True
        return True

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if not self._active:
            return
        if phase == "start":
            self._collection_starts(info.get("generation", 2))
        elif phase == "stop":
            self._collection_stopped(info)

    def _collection_starts(self, generation: int) -> None:
        counts = self._counts
        counts[1] = len(gc.garbage)
        counts[2] = 0
        if self.overflowed:
            return
        if gc.get_debug() & gc.DEBUG_SAVEALL:
            counts[2] = _USERS
        else:
            gc.set_debug(gc.get_debug() | gc.DEBUG_SAVEALL)
            counts[2] = _OURS
        describe = self._describe
        if describe is None or counts[3] >= self.WINDOW_LOOK_LIMIT:
            return
        try:
            doomed = _freed_by_finalizers(generation, self._old_ids, self.REACH_LIMIT, counts)
            if doomed:
                self._pending = describe(doomed)
            del doomed
        except Exception:  # noqa: BLE001 - a hostile object costs this look, not the run
            self._pending = None

    def _collection_stopped(self, info: dict[str, Any]) -> None:
        counts = self._counts
        counts[0] += info.get("collected", 0)
        pending, self._pending = self._pending, None
        saving, counts[2] = counts[2], 0
        if not saving:
            return
        if saving == _OURS:
            gc.set_debug(gc.get_debug() & ~gc.DEBUG_SAVEALL)
        garbage = gc.garbage
        mark = min(counts[1], len(garbage))
        end = len(garbage) - info.get("uncollectable", 0)
        moved: list[object] = []
        if end > mark:
            moved = garbage[mark:end]
            if saving == _OURS or self._rerun:
                del garbage[mark:end]
        if pending and self._keep is not None:
            moved_ids = {id(o) for o in moved}
            for ids, description in pending:
                if ids.isdisjoint(moved_ids):
                    counts[0] += len(ids)
                    self._keep(description)
            del moved_ids
        del pending
        self.saved.extend(moved)
        moved.clear()
        if len(self.saved) >= self.limit:
            self.overflowed = True

    def stop(self) -> None:
        """Stop catching; :attr:`saved` keeps what was caught until :meth:`release`."""
        if not self._active:
            return
        self._active = False
        if self._counts[2] == _OURS:
            # Stopped from inside a collection (by a finalizer): its end is not ours.
            gc.set_debug(gc.get_debug() & ~gc.DEBUG_SAVEALL)
        self._counts[2] = 0
        self._old_ids = None
        self._describe = self._keep = None
        self._pending = None

    def release(self) -> None:
        self.saved.clear()

    def release_and_collect(self) -> None:
        """Let go of what was caught, and free it.

        What was taken out of ``gc.garbage`` is garbage again: with the user's
        ``DEBUG_SAVEALL`` set, the collection that frees it would hand it to the
        user, who never had it, so it runs without the flag.
        """
        self.saved.clear()
        debug = gc.get_debug()
        if debug & gc.DEBUG_SAVEALL:
            gc.set_debug(debug & ~gc.DEBUG_SAVEALL)
            try:
                gc.collect()
            finally:
                gc.set_debug(debug)
        else:
            gc.collect()

    def close(self) -> None:
        """Stop catching for good and unregister the hook."""
        self.stop()
        self.release()
        if self._registered:
            with contextlib.suppress(ValueError):
                gc.callbacks.remove(self._on_collection_hook)
            self._registered = False


_mro_of = type.__dict__["__mro__"].__get__
_dict_of = type.__dict__["__dict__"].__get__


def _has_finalizer(cls: type) -> bool:
    """Whether the collector runs code of an instance before freeing it (``tp_finalize``,
    which Python shows as ``__del__``: generators, coroutines, classes with ``__del__``).

    Read from the classes' own dicts: a metaclass's attribute hooks do not run.
    """
    return any("__del__" in _dict_of(klass) for klass in _mro_of(cls))


def _freed_by_finalizers(
    generation: int, old_ids: set[int] | None, limit: int, counts: array.array[int]
) -> list[object]:
    """Objects a collection of ``generation`` is about to free that have a finalizer
    or that one reaches: everything it reaches from such objects that nothing outside
    what it reaches refers to.

    A reference from another young object counts as from outside, even if that
    object is garbage too: what is missed that way stays alive with that object
    and the collector hands it over in ``gc.garbage``.
    """
    seeds, young = _young_with_finalizers(generation, old_ids, counts)
    if not seeds:
        return []
    nodes = _reached(seeds, young, limit)
    del seeds, young
    counts[3] += len(nodes)
    if not nodes:
        return []
    unreachable = _unreferenced_from_outside(nodes)
    return [nodes[i] for i in unreachable]


def _young_with_finalizers(
    generation: int, old_ids: set[int] | None, counts: array.array[int]
) -> tuple[list[object], set[int]]:
    objects: list[object] = []
    for g in range(min(generation, 2) + 1):
        objects.extend(gc.get_objects(generation=g))
    counts[3] += len(objects)
    # Classes first, at C speed: run at every collection inside a window, and a
    # test that makes a hundred thousand objects makes hundreds of collections.
    finalizing = {cls for cls in set(map(type, objects)) if _has_finalizer(cls)}
    seeds = []
    if finalizing:
        seeds = [
            obj
            for obj in objects
            if type(obj) in finalizing and (old_ids is None or id(obj) not in old_ids)
        ]
    if seeds and generation < 2:
        # Not in a full collection: its objects are the whole heap not frozen,
        # and a pass over all their references costs more than walking from the
        # few seeds it could drop (click's suite, 0.16 s of a 2 s test).
        seeds = _not_held_from_outside(seeds, objects)
    young: set[int] = set()
    if seeds:
        young = set(map(id, objects))
        if old_ids is not None:
            young -= old_ids
    objects.clear()
    finalizing.clear()
    return seeds, young


def _not_held_from_outside(seeds: list[object], objects: list[object]) -> list[object]:
    """The ``seeds`` (each also in ``objects``) that only ``objects`` refer to.

    A seed referred to from anywhere else (an older generation, a running
    frame's locals, a C structure) is alive, and so is everything it reaches:
    this collection frees none of it.  Telling that takes one traversal of the
    collected objects and no walk from the seeds: a parser's tokenizer, a
    generator suspended in a running frame at nearly every collection, had
    each collection follow a thousand young objects from it and find nothing
    (parso's suite, a quarter of each run).  References from old objects are
    counted as from inside, which only keeps more seeds than are garbage; the
    walk from them decides.
    """
    held = referred_to_only_by(objects, seeds, also_held=1)
    return [seed for seed, only in zip(seeds, held, strict=True) if only]


def referred_to_only_by(
    holders: Iterable[object], targets: list[object], also_held: int = 0
) -> list[bool]:
    """For each of ``targets``: whether ``holders`` make every reference to it.

    Counted as the collector counts: an object's reference count against the
    references the holders' traversal (``gc.get_referents``) shows.  ``targets``
    itself is not counted against, nor ``also_held`` more references to each
    that the caller keeps (each target also in a list or dict of its own).
    """
    # Read before the loop, whose variables keep the last objects seen.
    counts = _reference_counts(targets)
    index = {id(target): i for i, target in enumerate(targets)}
    inside = [0] * len(targets)
    for holder in holders:
        for referent in referents(holder):
            i = index.get(id(referent))
            if i is not None:
                inside[i] += 1
    own = _OWN_REFERENCES + also_held
    return [n - own <= m for n, m in zip(counts, inside, strict=True)]


def _reached(seeds: list[object], young: set[int], limit: int) -> list[object]:
    """``seeds`` and the young objects they reach, or nothing past ``limit``."""
    nodes: list[object] = []
    seen: set[int] = set()
    stack = list(seeds)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        nodes.append(obj)
        if len(nodes) > limit:
            nodes.clear()
            stack.clear()
            break
        stack.extend(r for r in referents(obj) if id(r) in young and id(r) not in seen)
    return nodes


@contextlib.contextmanager
def unshown_warnings() -> Iterator[None]:
    """Warnings raised inside are not shown, and the filters are put back only if
    something inside changed them.

    ``warnings.catch_warnings`` marks the filters changed as it enters and as it
    leaves, and every module's registry of the warnings it has shown is then
    emptied at its next warning: around each re-run, that emptied on every run a
    registry that grows by one entry per call (a deprecation warning whose text
    names the value passed: POSYDON's report), and hid the leak.  A test that
    sets a filter (``simplefilter("error")``) must not leave it to the tests
    after it, as pytest's own warnings plugin sees to for its real run.
    """
    saved = warnings.showwarning
    # A list, though typeshed calls it a sequence.
    filters: list[Any] = warnings.filters  # type: ignore[assignment]
    kept = list(filters)

    def unshown(*args: object, **kwargs: object) -> None:
        return None

    warnings.showwarning = unshown
    try:
        yield
    finally:
        warnings.showwarning = saved
        if warnings.filters is not filters or filters != kept:
            filters[:] = kept
            warnings.filters = filters
            # The private call that catch_warnings makes: the registries written
            # under the test's filters are stale again.  CPython 3.10 to 3.13.
            mutated = getattr(warnings, "_filters_mutated", None)
            if callable(mutated):
                mutated()


class _Probe(Warning):
    pass


def keep_warning_registries() -> None:
    """Mark every module's registry of the warnings it has shown as current.

    A registry is emptied at its module's next warning once the filters changed
    since it was last written: pytest's warnings plugin changes them as it leaves
    a test's run, so the first re-run found each registry empty and kept one
    entry, as many as it had before, and a registry that grows by one entry per
    call (a warning whose text names the value passed) looked level.  What the
    test's runs add to it across re-runs is then counted, as in a process that
    calls the code again.
    """
    probe: dict[Any, Any] = {}
    # The registry's version is written before the filters are read: under
    # filters that make warnings errors (``-W error``) it is there all the same.
    with unshown_warnings(), contextlib.suppress(Exception):
        warnings.warn_explicit("probe", _Probe, "probe", 0, registry=probe)
    version = probe.get("version")
    if type(version) is not int:
        return
    for module in list(sys.modules.values()):
        # Read without asking the module: a lazily loaded one would load.
        if not issubclass(type(module), types.ModuleType):
            continue
        namespace = _MODULE_DICT.__get__(module)
        registry = namespace.get("__warningregistry__") if type(namespace) is dict else None
        if type(registry) is dict and registry.get("version", version) != version:
            registry["version"] = version


#: A class's size and flags as the interpreter keeps them: a metaclass can give
#: its classes attributes of those names that say anything.
_BASICSIZE: Any = vars(type)["__basicsize__"]
_FLAGS: Any = vars(type)["__flags__"]


def type_flags(cls: type) -> int:
    """A class's ``tp_flags``, read without asking the class."""
    return int(_FLAGS.__get__(cls))


def words_of(obj: object) -> list[int]:
    """The machine words of ``obj``'s own structure: only its own allocation is read."""
    count = int(_BASICSIZE.__get__(type(obj))) // ctypes.sizeof(ctypes.c_size_t)
    return list((ctypes.c_size_t * count).from_address(id(obj)))


def _reference_counts(objects: Iterable[object]) -> list[int]:
    return [sys.getrefcount(obj) for obj in objects]


#: What :func:`_reference_counts` counts of its own for an object held by one list.
_OWN_REFERENCES = _reference_counts([object()])[0]


def _unreferenced_from_outside(nodes: list[object]) -> list[int]:
    """Indices of the ``nodes`` that nothing but other such nodes refers to.

    As the collector decides it: each object's reference count less the
    references the others hold (their traversal, as ``gc.get_referents`` shows
    it) is what refers to it from outside; what such an object reaches is alive.
    """
    index = {id(obj): i for i, obj in enumerate(nodes)}
    edges = [[index[id(r)] for r in referents(obj) if id(r) in index] for obj in nodes]
    inside = [0] * len(nodes)
    for targets in edges:
        for target in targets:
            inside[target] += 1
    counts = _reference_counts(nodes)
    alive = [counts[i] - _OWN_REFERENCES - inside[i] > 0 for i in range(len(nodes))]
    stack = [i for i, a in enumerate(alive) if a]
    while stack:
        for target in edges[stack.pop()]:
            if not alive[target]:
                alive[target] = True
                stack.append(target)
    return [i for i, a in enumerate(alive) if not a]
