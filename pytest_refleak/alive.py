"""After the verdict: what keeps a leaking test's objects and memory alive.

The re-runs keep only ids of sample objects and the allocation sites of the
memory, never the objects.  A leak keeps them alive, so once a test is judged to
leak they are found again by id, and the referrer search runs while they are.
A test that does not leak pays nothing for this.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_refleak import graphs
from pytest_refleak.chains import (
    Budget,
    Chain,
    allocated_at,
    chains_to,
    describe_holding,
    held_step,
    holders_of,
)
from pytest_refleak.heap import ATOMS, referents, words_of
from pytest_refleak.measure import MemoryGrowth, Reading, TypeGrowth, in_a_shallow_stack
from pytest_refleak.report import headline_growth, one_line
from pytest_refleak.resources import Found as Resource
from pytest_refleak.resources import owners
from pytest_refleak.text import (
    block_frames,
    class_name,
    format_size,
    is_a,
    safe_repr,
    size_of,
    storage_frames_of,
    type_name,
)
from pytest_refleak.unseen import context_holder, opaque_holder, running_at, unseen_holder
from pytest_refleak.verdict import Verdict

#: Seconds of searching each leaking test gets while the session's allowance lasts,
#: and once it is spent.
FULL_SEARCH = 1.5
SHORT_SEARCH = 0.05
#: The session's allowance: this much, plus this share of the time it has run.
FREE_SECONDS = 10.0
SESSION_SHARE = 0.1
#: Objects a full search looks at before its time can run out: a small program's
#: whole heap (a fresh pytest process holds some 45,000 objects, 7,000 of them
#: dicts, lists and sets), so that what is found there does not depend on the
#: machine's load.
SURE_CONTAINERS = 100_000


def search_seconds(spent: float, elapsed: float) -> float:
    """How long the next leaking test's search may take, ``spent`` seconds having gone
    on explaining in a session that has run ``elapsed`` seconds.

    A suite where hundreds of tests leak (often through one cache they all go
    through) would otherwise spend most of its time explaining the same leak; past
    the allowance each leak still gets its verdict, types and allocation sites,
    and a short search.
    """
    left = FREE_SECONDS + SESSION_SHARE * elapsed - spent
    return min(FULL_SEARCH, max(SHORT_SEARCH, left))


@dataclass(frozen=True)
class Request:
    """How much to explain: types and memory sites to follow, files to draw."""

    types: int = 3
    sites: int = 3
    budget_seconds: float = FULL_SEARCH
    #: The test registered ``atexit`` callbacks on every run: a function that
    #: nothing refers to is held there.
    atexit_grew: bool = False
    graphs_dir: Path | None = None
    stem: str = "test"


@dataclass(frozen=True)
class Explained:
    verdict: Verdict
    graphs: tuple[Path, ...] = ()
    seconds: float = 0.0
    problem: str | None = None


def explain_alive(verdict: Verdict, request: Request, *, unfreeze: bool) -> Explained:
    """``verdict`` with referrer chains filled in, and the graph files written.

    ``unfreeze``: the heap is frozen by the plugin; frozen objects are invisible
    to ``gc.get_referrers``, so it is unfrozen for the search and frozen again.
    """
    started = time.perf_counter()
    detail = verdict.detail
    if detail is None or not (detail.by_type or detail.memory):
        return Explained(verdict)
    # With the heap unfrozen, the collections the search's own allocations would
    # trigger could each go over the whole heap.
    enabled = gc.isenabled()
    gc.disable()
    # Listed first once unfrozen, before what was frozen (see _explain).
    young = len(gc.get_objects()) if unfreeze else 0
    if unfreeze:
        gc.unfreeze()
    try:
        detail, files, problem = _explain(detail, request, young)
    except Exception as error:  # noqa: BLE001 - explaining must never lose the verdict
        return Explained(
            verdict,
            seconds=time.perf_counter() - started,
            problem=f"explaining it failed: {type(error).__name__}: {error}",
        )
    finally:
        if unfreeze:
            # Garbage the re-runs left must not be frozen with the rest, where no
            # collection would reach it: one full collection, paid by leaking tests.
            gc.collect()
            gc.freeze()
        if enabled:
            gc.enable()
    return Explained(
        dataclasses.replace(verdict, detail=detail),
        graphs=tuple(files),
        seconds=time.perf_counter() - started,
        problem=problem,
    )


def _explain(
    detail: Reading, request: Request, young: int = 0
) -> tuple[Reading, list[Path], str | None]:
    full = request.budget_seconds >= FULL_SEARCH
    budget = Budget(seconds=request.budget_seconds, at_least=SURE_CONTAINERS if full else 0)
    followed = list(detail.by_type[: request.types])
    # The summary is named after this type (report.headline_growth): explain it too.
    telling = headline_growth(detail.by_type)
    if telling is not None and telling not in followed:
        followed.append(telling)
    # Every sample of each type (up to three): the first may be an object a later
    # run swapped for its own, dead by now, while another is still kept.
    wanted = {i: g.name for g in followed for i in g.sample_ids}
    found: dict[int, object] = {}
    everything = gc.get_objects()
    try:
        # Allocating in this loop would be slow while allocations are traced (even
        # id() and a builtin type's __name__ allocate): each type is matched by name
        # once, and only objects of a wanted type get an id().  The samples are
        # looked for where they are: the heap was unfrozen for the search, which
        # lists the ``young`` objects made since the last freeze first (the last
        # re-run's) and what was frozen after them in the order it was frozen, the
        # earlier re-runs' last.  The search stops once it has them all, usually
        # within a few thousand of half a million objects, and reads the rest only
        # while a sample is missing (from the start, a dict sample meant an id()
        # for every dict of the heap: a fifth of a leaking click test).
        names = set(wanted.values())
        matches: dict[type, bool] = {}
        last = len(everything) - 1
        order = itertools.chain(
            itertools.islice(everything, young),
            map(everything.__getitem__, range(last, min(young, last + 1) - 1, -1)),
        )
        for obj in order:
            cls = type(obj)
            match = matches.get(cls)
            if match is None:
                match = matches[cls] = class_name(cls) in names
            if match:
                key = id(obj)
                if key in wanted and type_name(obj) == wanted[key]:
                    found[key] = obj
                    if len(found) == len(wanted):
                        break
        matches.clear()
        del order
    finally:
        everything.clear()
        del everything
    chosen: dict[str, int] = {}
    for growth in followed:
        alive = next((i for i in growth.sample_ids if i in found), None)
        if alive is not None:
            chosen[growth.name] = alive
    targets = [found[i] for i in chosen.values()]
    mine = {id(found), id(targets), id(chosen)}
    native = _native_root(request.atexit_grew, near=targets)
    chains = chains_to(targets, ignore=mine, budget=budget, native_root=native)
    by_id = {id(t): c for t, c in zip(targets, chains, strict=True)}
    by_type = tuple(_with_chain(g, by_id, chosen.get(g.name)) for g in detail.by_type)
    # The containers holding a sample of the strings and bytes, to draw them from
    # (a dict does not show the collector its string keys: the picture goes up from
    # the container), and a text for each held object: only when pictures are
    # asked for, and only until they are drawn.
    holding: list[object] | None = [] if request.graphs_dir is not None else None
    held: list[tuple[int, str, str]] = []
    mine.add(id(holding))
    # The objects explained, with what keeps each alive: memory no container
    # holds may be their own storage (a new class's dict outgrowing its table).
    owners = [(t, by_id[id(t)]) for t in targets]
    memory = tuple(
        _with_holders(m, budget, mine, holding, held, owners=owners) if i < request.sites else m
        for i, m in enumerate(detail.memory)
    )
    files: list[Path] = []
    problem = None
    if request.graphs_dir is not None and (targets or holding):
        try:
            files = graphs.draw(
                [*targets, *(holding or ())],
                request.graphs_dir,
                request.stem,
                ignore=mine,
                held=held,
            )
        except OSError as error:
            problem = f"explaining it failed: {type(error).__name__}: {error}"
    if holding is not None:
        holding.clear()
    targets.clear()
    found.clear()
    return dataclasses.replace(detail, by_type=by_type, memory=memory), files, problem


def _with_chain(growth: TypeGrowth, chains: dict[int, Chain], sample: int | None) -> TypeGrowth:
    if sample is None or sample not in chains:
        return growth
    growth = dataclasses.replace(growth, chains=(chains[sample].sentence,))
    # The sample shown is the one whose holder is named.
    ids = growth.sample_ids
    at = ids.index(sample)
    if at and len(growth.samples) == len(ids):
        order = [at, *(i for i in range(len(ids)) if i != at)]
        growth = dataclasses.replace(
            growth,
            samples=tuple(growth.samples[i] for i in order),
            sample_ids=tuple(ids[i] for i in order),
        )
    return growth


def _with_holders(
    growth: MemoryGrowth,
    budget: Budget,
    mine: set[int],
    holding: list[object] | None = None,
    held: list[tuple[int, str, str]] | None = None,
    owners: Sequence[tuple[object, Chain]] = (),
) -> MemoryGrowth:
    """``growth`` with what holds its memory.  For the picture, the first container
    found is added to ``holding`` and what it holds described in ``held``: (id of
    the container, the object's type and repr, how the container holds it)."""
    if not growth.untracked or growth.innermost is None or budget.spent():
        return growth
    site = growth.innermost
    # Before the search of the heap, which cannot lead there and may take its
    # whole budget: the running thread's context.
    context = context_holder(lambda found: not gc.is_tracked(found) and allocated_at(found) == site)
    if context is not None:
        return dataclasses.replace(growth, holders=(f"held by {context}",))
    # Then in the leaked objects themselves: their own storage grew there (a
    # BytesIO's buffer, a dict's table), which no container of the heap shows.
    # Before the heap, whose search may take the whole budget: a leaking click
    # test searched 100,000 containers to end "a missing Py_DECREF?" for its
    # BytesIO's buffer.
    owned = _own_storage(site, owners)
    if owned is not None:
        return dataclasses.replace(growth, holders=(owned,))
    # In a stack of its own (see measure.in_a_shallow_stack): the search runs while
    # allocations are traced, and each of its look-ups makes a traceback's tuple,
    # traced with as many of pytest's frames as tracing keeps.
    search = functools.partial(holders_of, [site], ignore=mine, budget=budget, limit=1)
    pairs, complete = in_a_shallow_stack(search)
    del search
    if not pairs:
        running = running_at(site)
        if running is not None:
            why = f"held by {running}, which is running the call made there"
        else:
            why = NOT_HELD if complete else "no holder found within the time budget"
        return dataclasses.replace(growth, holders=(why,))
    containers = [c for c, _ in pairs]
    if holding is not None and held is not None:
        container, item = pairs[0]
        # Two sites' memory is often in one container (a dict's keys and values).
        if not any(c is container for c in holding):
            holding.append(container)
        size = format_size(size_of(item))
        label = f"{type_name(item)} ({size})\n{safe_repr(item, 60)}"
        held.append((id(container), label, held_step(container, item)))
        del container, item
    chains = chains_to(containers, ignore=mine | {id(pairs), id(containers)}, budget=budget)
    texts = tuple(
        f"held by {describe_holding(container, item, chain)}"
        for (container, item), chain in zip(pairs, chains, strict=True)
    )
    pairs.clear()
    containers.clear()
    return dataclasses.replace(growth, holders=texts)


def _own_storage(site: tuple[str, int], owners: Sequence[tuple[object, Chain]]) -> str | None:
    """Which explained object's own storage was last allocated at ``site``, as text:
    a dict or list it owns (its attribute dict, a class's namespace) whose table
    or items grew there, or memory that its C structure, or that of an object it
    holds, keeps apart from itself (a ``BytesIO``'s or a ``bytearray``'s buffer)
    and that the garbage collector does not see.  Such memory is part of the
    object, not held apart."""
    for owner, chain in owners:
        parts: list[object] = [owner, *referents(owner)[:_PARTS]]
        for part in parts:
            frames = storage_frames_of(part)
            if frames and frames[-1] == site:
                what = "table" if type(part) is dict else "items"
                return f"held by the {what} of {_whose(owner, part)}, {chain.sentence}"
        for part in parts:
            # A class's structure is read by its own size: a builtin class is a
            # smaller structure than that, and its memory is no leak's.
            if type(part) in ATOMS or is_a(part, type):
                continue
            # The object's header (reference count, type) points at no storage.
            for word in words_of(part)[2:]:
                frames = block_frames(word) if word else ()
                if frames and frames[-1] == site:
                    whose = type_name(owner)
                    if part is not owner:
                        whose = f"{whose}'s {type_name(part)}"
                    return (
                        f"held by {whose}, in its C structure (the garbage collector"
                        f" does not see it), {chain.sentence}"
                    )
    return None


#: What of an explained object's parts is read for storage it keeps.
_PARTS = 256


def _whose(owner: object, part: object) -> str:
    if part is owner:
        return type_name(owner)
    if is_a(owner, type):
        return f"{class_name(owner)}'s namespace"  # type: ignore[arg-type]
    return f"{type_name(owner)}'s {type_name(part)}"


NOT_HELD = (
    "no container holds it: kept alive by a reference count held in native code "
    "(a missing Py_DECREF?)"
)


def _atexit_root(obj: object) -> str | None:
    return "atexit callbacks" if callable(obj) else None


def _native_root(atexit_grew: bool, near: Sequence[object] = ()) -> Callable[[object], str | None]:
    """What to ask about an object nothing the collector knows refers to, before
    blaming native code: the ``atexit`` callbacks when the test registered some on
    every run, then the holders the collector does not show, among them those in
    the structures of what the objects of the same leak (``near``) refer to."""

    def name(obj: object) -> str | None:
        return (
            (_atexit_root(obj) if atexit_grew else None)
            or unseen_holder(obj)
            or opaque_holder(obj, near)
        )

    return name


def atexit_callbacks() -> Callable[[], int] | None:
    """How to count the registered ``atexit`` callbacks, where CPython tells."""
    import atexit

    count = getattr(atexit, "_ncallbacks", None)
    return count if callable(count) else None


def draw_the_rest(
    verdict: Verdict, directory: Path, nodeid: str, stem: str, *, unfreeze: bool
) -> Explained:
    """``verdict`` with pictures of its cycles and of what owns its leaked resources,
    and, for a leak that got no picture at all, one saying what leaked.

    Cycles are drawn from the loops their verdict recorded (their objects were
    freed long ago); resources from their owning objects, found again by number
    while the last re-run's threads, files and tasks are still there.  A failure to
    draw is noted and loses nothing else.
    """
    started = time.perf_counter()
    files = [Path(p) for p in verdict.graphs]
    problem = None
    try:
        if verdict.cycles:
            text = graphs.cycles_dot(f"{nodeid}: reference cycles", verdict.cycles)
            files += graphs.save(text, directory, f"{stem}.cycles")
        for found in verdict.resources:
            files += _draw_resource(found, directory, nodeid, stem, unfreeze=unfreeze)
        if not files:
            files += graphs.save(
                graphs.note_dot(nodeid, _nothing_drawn(verdict, nodeid)), directory, stem
            )
    except Exception as error:  # noqa: BLE001 - a picture must never lose the verdict
        problem = f"drawing it failed: {type(error).__name__}: {error}"
    return Explained(
        dataclasses.replace(verdict, graphs=tuple(map(str, files))),
        seconds=time.perf_counter() - started,
        problem=problem,
    )


def _draw_resource(
    found: Resource, directory: Path, nodeid: str, stem: str, *, unfreeze: bool
) -> list[Path]:
    name = f"{stem}.{found.kind.replace(' ', '-')}"
    title = f"{nodeid}: {found.sentence()}"
    enabled = gc.isenabled()
    gc.disable()
    if unfreeze:
        gc.unfreeze()
    owned: list[object] = []
    try:
        owned = owners(found)
        if owned:
            # The thread's own running frames and threading's registry of threads
            # hold every thread: what is drawn is what else does.
            ignore = {id(owned), *_threads_own(owned)}
            return graphs.draw(owned, directory, name, ignore=ignore)
    finally:
        owned.clear()
        if unfreeze:
            gc.collect()
            gc.freeze()
        if enabled:
            gc.enable()
    why = NO_OWNER.get(found.kind, "no Python object owning it was found")
    return graphs.save(graphs.note_dot(title, [found.sentence(), why]), directory, name)


#: Why a leaked resource has no picture of holders.
NO_OWNER = {
    "fds": "no file or socket object owns it: nothing in Python holds it\n"
    "(opened with os.open, or detached from the object that opened it)",
    "processes": "no subprocess.Popen object owns it: nothing in Python holds it",
    "state": "process state is held by the interpreter itself",
    "pending tasks": "the tasks were still pending when their event loop was shut down",
}


def _threads_own(owned: list[object]) -> set[int]:
    """Ids of what holds every running thread: threading's registries and the frames
    the thread is running."""
    import sys
    import threading

    ids = {id(getattr(threading, name, None)) for name in ("_active", "_limbo")}
    frames = sys._current_frames()
    for obj in owned:
        ident = obj.ident if is_a(obj, threading.Thread) else None  # type: ignore[attr-defined]
        frame = frames.get(ident) if ident is not None else None
        while frame is not None:
            ids.add(id(frame))
            # Up to 3.12 a frame's locals, once asked for (the referrer search asks),
            # are a dict the frame keeps: it holds the thread as ``self`` too.
            local_names = frame.f_locals
            if type(local_names) is dict:
                ids.add(id(local_names))
            frame = frame.f_back
    frames.clear()
    return ids


def _nothing_drawn(verdict: Verdict, nodeid: str) -> list[str]:
    """What a leak with no picture of its own leaked, and why there is none."""
    lines = [one_line(nodeid, verdict)]
    detail = verdict.detail
    for growth in detail.memory[:5] if detail is not None else ():
        site = growth.innermost or (growth.frames[-1] if growth.frames else None)
        where = f"{site[0]}:{site[1]}" if site is not None else "an unknown place"
        lines.append(f"+{format_size(growth.size)} allocated at {where}")
        lines.extend(f"  {holder}" for holder in growth.holders)
    if verdict.note:
        lines.append(f"({verdict.note})")
    lines.append("nothing that holds it was found to draw")
    return lines
