"""The interpreter's heap, handled so that per-test work never scans all of it.

Before each measured window every existing object is frozen (``gc.freeze()``):
collections during and after the test then look only at objects the test made,
and ``gc.get_objects()`` returns exactly those.  Frozen objects that become
garbage later are not collected until they are unfrozen, so a full collection
runs from time to time, on a budget that keeps its cost a small fraction of the
session.  A user's own freeze is never undone: if objects were frozen before the
plugin first measured (by a conftest that freezes after collection, say), the
plugin freezes on top of it, its full collections freeze again what they keep,
and the heap is left frozen when the session ends.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import gc
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def _nothing() -> None:
    return None


# Python 3.13 names it _clear_internal_caches and deprecates the old name.
_clear_type_cache: Callable[[], None] = (
    getattr(sys, "_clear_internal_caches", None)
    or getattr(sys, "_clear_type_cache", None)
    or _nothing
)


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
    """

    #: Readings may take this fraction of the session's time, at most: 1/100.
    SHARE_DIVISOR = 100

    def __init__(self) -> None:
        self._read = _glibc_mallinfo2()
        # Nanoseconds spent and when the first reading started, in an array:
        # floats freed while a window is open would wait in their free list.
        self._clock = array.array("q", [0, 0])

    @property
    def available(self) -> bool:
        return self._read is not None

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
        clock[0] -= time.perf_counter_ns()
        if not clock[1]:
            clock[1] = -clock[0]
        info = read()
        out[index] = info.uordblks + info.hblkhd
        del info
        now = time.perf_counter_ns()
        clock[0] += now
        # In integers: a float made here would wait in its free list, and count.
        if clock[0] > (now - clock[1]) // self.SHARE_DIVISOR + 50_000_000:
            # Past the first 50 ms, readings must stay within their share.
            self._read = None
        return True


def malloc_chunk(size: int) -> int:
    """Bytes glibc's ``malloc`` takes for an object of ``size`` bytes that Python's
    small-object allocator does not serve (0 for those it does): the size and a
    word of header, rounded up to 16."""
    if size <= 512:
        return 0
    return max(32, (size + 8 + 15) & ~15)


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

    Records what the interpreter looked like when created; :meth:`restore` puts
    back exactly what this object changed.
    """

    #: A full collection may take this fraction of the session's time, at most.
    FULL_COLLECTION_SHARE = 0.02

    def __init__(self) -> None:
        self._debug_before = gc.get_debug()
        self._tracing_before = tracemalloc.is_tracing()
        # Objects frozen by the user, beyond the few Python 3.12 freezes itself at
        # startup.  Freezing more on top of theirs keeps them frozen; only
        # unfreezing at the end would undo their freeze, so then the heap stays frozen.
        self.user_frozen = gc.get_freeze_count() > _startup_freeze_count()
        self._frozen = False
        self._started_tracing = False
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
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    # -- tracing ------------------------------------------------------------------

    def start_tracing(self, nframes: int) -> None:
        """Trace allocations from now on; a fresh start forgets earlier traces."""
        if self._tracing_before:
            return
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        tracemalloc.start(nframes)
        self._started_tracing = True

    def stop_tracing(self) -> None:
        if self._started_tracing and not self.tracing_held:
            tracemalloc.stop()
            self._started_tracing = False

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
        """tracemalloc was running before the session: its traces are not ours to reset."""
        return self._tracing_before

    # -- leaving ------------------------------------------------------------------

    def restore(self) -> None:
        """Undo what this object changed: freezing, tracing, the gc debug flags."""
        self.catcher.close()
        self.release_tracing()
        if self._frozen and not self.user_frozen:
            gc.unfreeze()
        self._frozen = False
        if gc.get_debug() & gc.DEBUG_SAVEALL and not self._debug_before & gc.DEBUG_SAVEALL:
            gc.set_debug(gc.get_debug() & ~gc.DEBUG_SAVEALL)


class CycleCatcher:
    """Keeps what the cyclic collector frees during a window, to be looked at later.

    With ``DEBUG_SAVEALL`` set, the collector puts everything it would free into
    ``gc.garbage``.  After each collection a ``gc.callbacks`` hook moves those
    objects out of ``gc.garbage`` into a private list, so that code under test
    sees ``gc.garbage`` as it would without the plugin.  Objects that are
    uncollectable on their own merit (legacy finalizers) stay in ``gc.garbage``.
    Past ``limit`` objects saving stops and only the count goes on.

    The hook stays registered from the first window to :meth:`close` and does
    nothing between windows: adding and removing it for each window would grow
    and shrink ``gc.callbacks`` inside the measurement.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self.saved: list[object] = []
        self.overflowed = False
        self._active = False
        self._set_flag = False
        self._registered = False
        # Counters live in an array: updating them inside a measured window must
        # not allocate int objects that would count as the test's memory.
        self._counts = array.array("q", [0, 0])
        self._on_collection_hook = self._on_collection

    @property
    def collected(self) -> int:
        """Objects the cyclic collector freed while catching."""
        return self._counts[0]

    def start(self) -> bool:
        if gc.get_debug() & gc.DEBUG_SAVEALL:
            # The user collects garbage themselves; taking it from them is not ours to do.
            return False
        if not self._registered:
            gc.callbacks.append(self._on_collection_hook)
            self._registered = True
        self.saved.clear()
        self._counts[0] = 0
        self._counts[1] = len(gc.garbage)
        self.overflowed = False
        gc.set_debug(gc.get_debug() | gc.DEBUG_SAVEALL)
        self._set_flag = True
        self._active = True
        return True

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or not self._active:
            return
        self._counts[0] += info.get("collected", 0)
        garbage = gc.garbage
        mark = self._counts[1]
        end = len(garbage) - info.get("uncollectable", 0)
        if end > mark:
            if not self.overflowed:
                self.saved.extend(garbage[mark:end])
            del garbage[mark:end]
        self._counts[1] = len(garbage)
        if len(self.saved) >= self.limit and not self.overflowed:
            self.overflowed = True
            self._clear_flag()

    def _clear_flag(self) -> None:
        if self._set_flag:
            gc.set_debug(gc.get_debug() & ~gc.DEBUG_SAVEALL)
            self._set_flag = False

    def stop(self) -> None:
        """Stop catching; :attr:`saved` keeps what was caught until :meth:`release`."""
        if not self._active:
            return
        self._active = False
        self._clear_flag()

    def release(self) -> None:
        self.saved.clear()

    def close(self) -> None:
        """Stop catching for good and unregister the hook."""
        self.stop()
        self.release()
        if self._registered:
            with contextlib.suppress(ValueError):
                gc.callbacks.remove(self._on_collection_hook)
            self._registered = False
