"""Which allocations of a traced window another thread made.

A thread that was already running when a test started (a session fixture's
poller filling a bounded ``deque``, a worker's I/O thread) allocates while the
test runs, and what it keeps looks like the test's: neither the object census
nor the allocator's block count says which thread made what.  Tracemalloc's
traces carry no thread either, but they carry a stack, and a thread's stack
starts where the thread did: an allocation whose whole stack (shorter than the
traceback limit, so nothing was cut off) runs through the code a thread was
running when the window opened was made by that thread.  The main thread's
stack under pytest is always deeper than the limit, so the test's own
allocations are never complete and never match.

An object served from one of the interpreter's free lists has no trace (its
memory was allocated before tracing began, and a thread churning a bounded
structure keeps such memory coming back): it is judged by the traced objects it
refers to, which were made with it.

Threads the test starts itself are not listed (they did not exist when the
window opened), so what they keep stays the test's; and work a test hands to a
thread that was already waiting for it (a session-wide executor's worker) is
the test's when it runs the project's code in a file that thread was not
running.  Nothing here holds a frame: stacks are kept as file names and line
spans.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Callable, Sequence

from pytest_refleak.heap import referents
from pytest_refleak.text import object_frames

#: A frame's code as a trace sees it: file name, first and last line.
Span = tuple[str, int, int]

_THREADING_FILE = threading.__file__


def _span(code: types.CodeType) -> Span:
    last = code.co_firstlineno
    for _, _, line in code.co_lines():
        if line is not None and line > last:
            last = line
    return (code.co_filename, code.co_firstlineno, last)


def _anchor(stack: tuple[Span, ...]) -> int:
    """The index of a thread's first frame of its own code, past ``threading``'s."""
    anchor = 0
    while anchor < len(stack) - 1 and stack[anchor][0] == _THREADING_FILE:
        anchor += 1
    return anchor


def _cpu_clock(ident: int) -> int | None:
    """The CPU-time clock of the thread ``ident`` (POSIX threads), or None."""
    getter = getattr(time, "pthread_getcpuclockid", None)
    if getter is None:
        return None
    try:
        return int(getter(ident))
    except (OSError, OverflowError, ValueError):
        return None


def _nothing_handed(filename: str) -> bool:
    """Without a project to tell, no work counts as handed to a thread."""
    del filename
    return False


class OtherThreads:
    """The Python stacks of the other threads running when a window opened."""

    __slots__ = ("_anchored", "_clocks", "_handed", "_stacks")

    def __init__(
        self,
        stacks: Sequence[tuple[Span, ...]] = (),
        handed: Callable[[str], bool] = _nothing_handed,
        clocks: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        self._stacks = tuple(stacks)
        #: Each thread's CPU clock and its reading when the window opened, in
        #: nanoseconds; None where a thread's clock cannot be read.
        self._clocks = tuple(clocks) if clocks is not None else None
        # Per stack, worked out once rather than for every trace looked at: how
        # many frames a trace must share with it (past ``threading``'s, one
        # more), and the files it was running.
        self._anchored = tuple(
            (stack, _anchor(stack), frozenset(span[0] for span in stack)) for stack in self._stacks
        )
        #: Whether code in a file, run by a thread that was not running that file
        #: when the window opened, was handed to it by the test (the project's).
        self._handed = handed

    @classmethod
    def now(cls, handed: Callable[[str], bool] = _nothing_handed) -> OtherThreads:
        stacks: list[tuple[Span, ...]] = []
        clocks: list[tuple[int, int]] | None = []
        frames = sys._current_frames()
        # This call's own frame object, made by the listing: let go while the call
        # runs.  Held past its return, it would make its caller's frame object,
        # inside the window being opened.
        frames.pop(threading.get_ident(), None)
        try:
            for ident, frame in frames.items():
                clock = _cpu_clock(ident)
                if clock is None or clocks is None:
                    clocks = None
                else:
                    clocks.append((clock, time.clock_gettime_ns(clock)))
                spans: list[Span] = []
                current: types.FrameType | None = frame
                while current is not None:
                    spans.append(_span(current.f_code))
                    current = current.f_back
                spans.reverse()
                if spans:
                    stacks.append(tuple(spans))
        finally:
            # The frames are other threads' running code: never held.
            frames.clear()
            del frames
        return cls(stacks, handed, clocks)

    def __bool__(self) -> bool:
        return bool(self._stacks)

    def ran(self) -> bool:
        """Whether any of the threads ran since the window opened: one that did not
        (a server waiting in ``accept()``, as pytest-rerunfailures' is in every
        session) made nothing, and no allocation needs asking which thread made it.
        True where a thread's CPU clock cannot tell."""
        if not self._stacks:
            return False
        if self._clocks is None:
            return True
        for clock, before in self._clocks:
            try:
                if time.clock_gettime_ns(clock) != before:
                    return True
            except OSError:  # the thread ended: it ran
                return True
        return False

    def made(self, frames: Sequence[tuple[str, int]], limit: int) -> bool:
        """Whether an allocation with these ``(filename, lineno)`` frames, innermost
        last, was made by one of the threads.

        The stack must be whole (fewer frames than ``limit``) and agree, from the
        outermost frame, with a thread's stack as far as the thread's own code:
        past the frames of ``threading`` that start every thread, at least one
        more.  Deeper frames may differ: a thread waiting for work when the window
        opened runs other code when the work comes.  But work is the test's when
        it runs code of the project (``handed``) in a file the thread was not
        running when the window opened: a worker of a session-wide executor,
        waiting in ``concurrent.futures`` then, runs a function the test
        submitted; a poller whose loop is in the project's conftest runs its own.
        """
        if not frames or len(frames) >= limit:
            return False
        for stack, anchor, own in self._anchored:
            if len(frames) <= anchor:
                continue
            for (filename, line), (code_file, first, last) in zip(
                frames[: anchor + 1], stack[: anchor + 1], strict=True
            ):
                if filename != code_file or not first <= line <= last:
                    break
            else:
                return not any(
                    filename not in own and self._handed(filename)
                    for filename, _ in frames[anchor + 1 :]
                )
        return False

    def not_theirs(
        self,
        candidates: list[object],
        limit: int,
        frames_of: Callable[[object], tuple[tuple[str, int], ...]] = object_frames,
    ) -> list[object]:
        """The objects of ``candidates`` (each listed once there and once in the
        window's list of young objects) that none of the threads made; ``frames_of``
        reads where an object was allocated (:func:`object_frames`, or a memo of it)."""
        kept: list[object] = []
        for obj in candidates:
            made = self._made(obj, limit, frames_of)
            if made is None:
                # Ours: ``candidates``, the young objects' list, ``obj`` and
                # getrefcount's argument; one more is the call's.
                made = sys.getrefcount(obj) - 4 <= 1
            if not made:
                kept.append(obj)
        return kept

    def _made(
        self,
        obj: object,
        limit: int,
        frames_of: Callable[[object], tuple[tuple[str, int], ...]] = object_frames,
    ) -> bool | None:
        """Whether one of the threads made ``obj``: by its own trace, or, where it
        has none, by those of what it refers to, two levels deep.

        Every traced referent must be the threads' (one traced to the test makes
        the object the test's), and at least one must be traced.  None for an
        untraced tuple of untraced numbers and strings: the arguments of a call
        to C that one of the threads may be in the middle of, which nothing but
        the call refers to.  A thread waiting with a time-out (``Event.wait(0.5)``)
        holds ``(True, 0.5)`` for its lock's ``acquire`` until the wait ends.
        (Asking the thread's frame for its locals would tell, but reading a
        running frame's locals from outside changes it on 3.10-3.12.)
        """
        frames = frames_of(obj)
        if frames:
            return self.made(frames, limit)
        own = referents(obj)
        found = False
        level: list[object] = [obj]
        for _ in range(2):
            following: list[object] = []
            for parent in level:
                children = own if parent is obj else referents(parent)
                for child in children[:_FAN_OUT]:
                    child_frames = object_frames(child)
                    if not child_frames:
                        following.append(child)
                    elif self.made(child_frames, limit):
                        found = True
                    else:
                        return False
            level = following
        if found:
            return True
        if type(obj) is tuple and all(type(r) in _ATOMS for r in own):
            return None
        return False


#: How many referents of each object are looked at: what a container holds was
#: made with it, and a few entries tell as much as all.
_FAN_OUT = 16

_ATOMS = frozenset({bool, int, float, str, bytes, type(None)})
