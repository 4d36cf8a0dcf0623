"""Writing verdicts for people: the per-test explanation and the one-line summary."""

from __future__ import annotations

import itertools
import linecache
import os
from collections.abc import Sequence

from pytest_refleak.measure import TypeGrowth
from pytest_refleak.resources import KINDS, PENDING
from pytest_refleak.settings import Limits
from pytest_refleak.text import PLAIN_TYPES, format_size
from pytest_refleak.verdict import Kind, Verdict


def _where(filename: str, lineno: int, root: str | None) -> str:
    if root and not filename.startswith("<"):
        try:
            relative = os.path.relpath(filename, root)
        except ValueError:
            relative = filename
        if not relative.startswith(".."):
            filename = relative
    return f"{filename}:{lineno}"


def _frames(
    frames: Sequence[tuple[str, int]], root: str | None, indent: str, what: str = ""
) -> list[str]:
    lines = []
    for i, (filename, lineno) in enumerate(reversed(frames)):
        lead = "called from "
        if i == 0:
            lead = f"{what} allocated at " if what else "allocated at "
        lines.append(f"{indent}{lead}{_where(filename, lineno, root)}")
        code = linecache.getline(filename, lineno).strip()
        if code:
            lines.append(f"{indent}    {code}")
    return lines


def _type_table(
    growth: Sequence[TypeGrowth], root: str | None, limit: int = 8, sites: int = 1
) -> list[str]:
    # What grew; types whose every new object replaced one the run before left
    # are only counted, below.
    shown = [g for g in growth if g.kept]
    swapped = sum(g.replaced for g in growth)
    if not shown:
        # A row of "×0" would read as a leak of nothing.
        if not swapped:
            return []
        return [
            "  no new object is still alive after the traced re-run: its "
            f"{swapped} new object{'s' if swapped != 1 else ''} took the place of as many "
            "the run before left (swapped, not kept)"
        ]
    width = max(len(g.name) for g in shown[:limit])
    lines = ["  what is still alive after the traced re-run:"]
    for g in shown[:limit]:
        sample = f"  e.g. {g.samples[0]}" if g.samples else ""
        lines.append(f"    {g.name:<{width}}  ×{g.kept:<4} {format_size(g.kept_size):>9}{sample}")
        for chain in g.chains:
            lines.append(f"        {chain}")
        for frames in g.sites[:sites]:
            lines.extend(_frames(frames, root, "        "))
    if len(shown) > limit:
        rest = sum(g.kept for g in shown[limit:])
        lines.append(f"    ... and {rest} more objects of {len(shown) - limit} other types")
    if swapped:
        lines.append(
            f"    (and {swapped} new objects in place of as many the run before left:"
            " swapped, not kept)"
        )
    return lines


def explain(verdict: Verdict, limits: Limits, root: str | None = None, verbosity: int = 0) -> str:
    """The report section for a leaking test; ``verbosity`` as pytest's ``-v``/``-q``."""
    if verbosity < 0:
        return _brief(verdict, root)
    runs = verdict.runs
    lines: list[str] = []
    detail = verdict.detail
    if verdict.kind is Kind.LEAKED:
        lines.append(f"refleak: {_summary(verdict)}, on every one of {runs} re-runs")
        if verdict.leaked_objects:
            per_run = ", ".join(str(n) for n in verdict.objects)
            lines.append(
                f"  objects: {per_run} new objects still alive after each re-run "
                f"(allowed: {limits.allow_objects})"
            )
        if verdict.leaked_memory:
            lines.append(
                f"  memory:  +{format_size(verdict.memory_per_run)} still allocated after a re-run "
                f"(allowed: {format_size(limits.allow_memory)})"
            )
        if detail is not None and detail.by_type:
            lines.extend(
                _type_table(
                    detail.by_type,
                    root,
                    limit=16 if verbosity > 0 else 8,
                    sites=2 if verbosity > 0 else 1,
                )
            )
            own = sum(g.kept_size for g in detail.by_type)
            if own and verdict.memory_per_run > own:
                # The table gives each object's own size (sys.getsizeof); the memory
                # figure is everything the run kept, which a reader adds up and misses.
                lines.append(
                    f"    ({format_size(own)} is their own size; the other "
                    f"{format_size(verdict.memory_per_run - own)}"
                    " of the memory kept per run is what they hold: attribute storage,"
                    " arrays, strings)"
                )
        if detail is not None and detail.memory:
            lines.append("  where the memory still allocated after the traced re-run came from:")
            for growth in detail.memory[: 8 if verbosity > 0 else 5]:
                blocks = f"{growth.count} block{'s' if growth.count != 1 else ''}"
                lines.append(f"    +{format_size(growth.size)} in {blocks}")
                for holder in growth.holders:
                    lines.append(f"      {holder}")
                lines.extend(_frames(growth.frames, root, "      "))
        for found in verdict.resources:
            lines.append(f"  {found.sentence()}")
        if verdict.note:
            lines.append(f"  ({verdict.note})")
    if verdict.cycles:
        if verdict.kind is Kind.CYCLES:
            lines.append(f"refleak: {_summary(verdict)}, on every one of {runs} re-runs")
            lines.append(
                "  (garbage that only the cyclic garbage collector can free: each run "
                "leaves it for a later collection)"
            )
        else:
            lines.append("  it also left reference cycles for the cyclic garbage collector:")
        mode = limits.cycles
        lines.append(f"  cycles made by {_mode_words(mode)} (--refleak-cycles={mode}):")
        for group in verdict.cycles[:5]:
            kinds = ", ".join(f"{name} ×{n}" for name, n in group.types[:4])
            lines.append(f"    cycle of {group.size} objects ({kinds})")
            lines.append(f"      {group.path}")
            # Each site says which member it made: a cycle of a Shelf, its list
            # and its Bins has one line for each.
            for site, member in itertools.zip_longest(
                group.sites[:3], group.site_types[:3], fillvalue=""
            ):
                filename, _, lineno = site.rpartition(":")
                lines.extend(_frames([(filename, int(lineno or 0))], root, "      ", member))
        if len(verdict.cycles) > 5:
            lines.append(f"    ... and {len(verdict.cycles) - 5} more cycles")
        if verdict.kind is Kind.CYCLES and verdict.note:
            lines.append(f"  ({verdict.note})")
    for path in verdict.graphs:
        lines.append(f"  {_picture_of(path)}: {_relative(path, root)}")
    return "\n".join(lines)


def _picture_of(path: str) -> str:
    """What a picture shows, from the name ``graphs`` gave it (``stem.cycles.dot``)."""
    name = os.path.basename(path)
    for suffix in (".dot", ".svg"):
        name = name.removesuffix(suffix)
    part = name.rpartition(".")[2] if "." in name else ""
    if part == "cycles":
        return "picture of the reference cycles"
    if part.replace("-", " ") in (*KINDS, PENDING):
        return f"picture of what holds the leaked {part.replace('-', ' ')}"
    return "picture of what keeps it alive"


def _mode_words(mode: str) -> str:
    return "the project's own code" if mode == "project" else "any code but the test tooling"


def one_line(nodeid: str, verdict: Verdict) -> str:
    """``LEAKED test_x.py::test_y - 1 object/run, +120 B: Thing ×1 via lib._registry``."""
    word = "LEAKED" if verdict.kind is Kind.LEAKED else "CYCLES"
    return f"{word} {nodeid} - {_headline(verdict)}"


def _headline(verdict: Verdict) -> str:
    parts = ", ".join(_parts(verdict))
    culprit = _culprit(verdict)
    return f"{parts}: {culprit}" if culprit else parts


def _culprit(verdict: Verdict) -> str:
    """The biggest leaked type and what keeps it, or the biggest memory holder."""
    # A resource left behind, by name, says more than the objects it drags along.
    for found in verdict.resources:
        if found.items:
            return found.items[0]
    detail = verdict.detail
    if detail is None:
        return ""
    top = headline_growth(detail.by_type) if verdict.leaked_objects else None
    if top is not None:
        chain = top.chains[0] if top.chains else ""
        via = ""
        if chain.startswith(_KEPT):
            via = f" via {_container(chain[len(_KEPT) :])}"
        elif chain.startswith("no referrers"):
            via = " with no referrers (a missing Py_DECREF?)"
        return f"{top.name} ×{top.kept}{via}"
    if verdict.leaked_memory and detail is not None:
        for growth in detail.memory:
            held = growth.holders[0] if growth.holders else ""
            if held.startswith(_HELD):
                return f"held by {_container(held[len(_HELD) :])}"
            if held.startswith("no container"):
                return "held by no container (a missing Py_DECREF?)"
    return ""


def headline_growth(by_type: Sequence[TypeGrowth]) -> TypeGrowth | None:
    """The type a leak is named by: what it hangs from, unless that only holds it
    or is a weak reference to it.

    A class of the project says more than the dicts, lists and bound methods around
    it; but where the leak hangs from a frame (``sys._getframe()`` kept), the frame
    itself is what leaked, not the generators of the calls it keeps alive.  Only
    types the run kept more of: one whose new objects all took the place of the
    run before's names nothing, and ``None`` when no type grew.
    """
    kept = [g for g in by_type if g.kept]
    if not kept:
        return None
    # A weak reference, of whatever class, only says that its object is alive.
    named = [g for g in kept if not g.weak]
    return (
        next((g for g in named if g.roots and g.name not in PLAIN_TYPES), None)
        or next((g for g in named if g.roots and g.name not in _HOLDERS), None)
        or next((g for g in named if g.name not in PLAIN_TYPES), None)
        or kept[0]
    )


#: Plain types that only hold what leaked: containers and wrappers.  A frame is
#: plain too, but a frame that outlived its call is a leak of its own.
_HOLDERS = PLAIN_TYPES - {"frame"}
_KEPT = "kept alive by "
_HELD = "held by "


def _container(chain: str) -> str:
    """The start of a chain, up to the first subscript or step: where the leak piles up."""
    ends = [i for i in (chain.find(mark) for mark in ("[", " → ", " (", ", held")) if i > 0]
    return chain[: min(ends)] if ends else chain


def _brief(verdict: Verdict, root: str | None) -> str:
    """The report for ``-q``: the headline and what keeps each type alive."""
    lines = [f"refleak: {_headline(verdict)}"]
    detail = verdict.detail
    if detail is not None:
        for g in [g for g in detail.by_type if g.chains and g.kept][:4]:
            for chain in g.chains:
                lines.append(f"  {g.name}: {chain}")
        for growth in detail.memory[:3]:
            for holder in growth.holders:
                lines.append(f"  +{format_size(growth.size)}: {holder}")
    for group in verdict.cycles[:3]:
        lines.append(f"  cycle: {group.path}")
    for found in verdict.resources:
        lines.append(f"  {found.sentence()}")
    # The Graphviz files only: their renderings sit next to them.
    for path in verdict.graphs:
        if path.endswith(".dot"):
            lines.append(f"  picture: {_relative(path, root)}")
    if verdict.note:
        lines.append(f"  ({verdict.note})")
    return "\n".join(lines)


def _relative(path: str, root: str | None) -> str:
    if root:
        try:
            relative = os.path.relpath(path, root)
        except ValueError:
            return path
        if not relative.startswith(".."):
            return relative
    return path


def _summary(verdict: Verdict) -> str:
    """What leaked, in words: the first line of a test's failure."""
    parts = []
    if verdict.leaked_objects:
        n = verdict.objects_per_run
        parts.append(f"{n} new object{'s' if n != 1 else ''} left alive per run")
    if verdict.leaked_memory:
        parts.append(f"+{format_size(verdict.memory_per_run)} of memory kept per run")
    if verdict.cycles:
        count = len(verdict.cycles)
        parts.append(f"{count} reference cycle{'s' if count != 1 else ''} left per run")
    parts.extend(f"{found.short()} per run" for found in verdict.resources)
    return ", ".join(parts) if parts else "leaked"


def _parts(verdict: Verdict) -> list[str]:
    parts = []
    detail = verdict.detail
    if verdict.leaked_objects:
        n = verdict.objects_per_run
        parts.append(f"{n} object{'s' if n != 1 else ''}/run")
    if verdict.leaked_objects or verdict.leaked_memory:
        size = verdict.memory_per_run
        if not size and detail is not None:
            size = sum(g.kept_size for g in detail.by_type)
        if size:
            parts.append(f"+{format_size(size)}/run")
    if verdict.cycles:
        first = verdict.cycles[0]
        count = len(verdict.cycles)
        parts.append(f"{count} cycle{'s' if count != 1 else ''} ({first.path})")
    parts.extend(found.per_run() for found in verdict.resources)
    return parts
