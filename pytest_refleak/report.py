"""Writing verdicts for people: the per-test explanation and the one-line summary."""

from __future__ import annotations

import linecache
import os
from collections.abc import Sequence

from pytest_refleak.measure import TypeGrowth
from pytest_refleak.settings import Limits
from pytest_refleak.text import format_size
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


def _frames(frames: Sequence[tuple[str, int]], root: str | None, indent: str) -> list[str]:
    lines = []
    for i, (filename, lineno) in enumerate(reversed(frames)):
        lead = "allocated at " if i == 0 else "called from "
        lines.append(f"{indent}{lead}{_where(filename, lineno, root)}")
        code = linecache.getline(filename, lineno).strip()
        if code:
            lines.append(f"{indent}    {code}")
    return lines


def _type_table(growth: Sequence[TypeGrowth], root: str | None, limit: int = 8) -> list[str]:
    if not growth:
        return []
    width = max(len(g.name) for g in growth[:limit])
    lines = []
    for g in growth[:limit]:
        sample = f"  e.g. {g.samples[0]}" if g.samples else ""
        lines.append(f"    {g.name:<{width}}  ×{g.count:<4} {format_size(g.size):>9}{sample}")
        for frames in g.sites[:1]:
            lines.extend(_frames(frames, root, "        "))
    if len(growth) > limit:
        rest = sum(g.count for g in growth[limit:])
        lines.append(f"    ... and {rest} more objects of {len(growth) - limit} other types")
    return lines


def explain(verdict: Verdict, limits: Limits, root: str | None = None) -> str:
    """The report section for a leaking test."""
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
            lines.append("  what is still alive after the traced re-run:")
            lines.extend(_type_table(detail.by_type, root))
        if detail is not None and detail.memory:
            lines.append("  where the memory still allocated after the traced re-run came from:")
            for growth in detail.memory[:5]:
                lines.append(f"    +{format_size(growth.size)} in {growth.count} blocks")
                lines.extend(_frames(growth.frames, root, "      "))
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
            for site in group.sites[:3]:
                filename, _, lineno = site.rpartition(":")
                lines.extend(_frames([(filename, int(lineno or 0))], root, "      "))
        if len(verdict.cycles) > 5:
            lines.append(f"    ... and {len(verdict.cycles) - 5} more cycles")
    return "\n".join(lines)


def _mode_words(mode: str) -> str:
    return "the project's own code" if mode == "project" else "any code but the test tooling"


def one_line(nodeid: str, verdict: Verdict) -> str:
    """``LEAKED test_x.py::test_y - 1 object/run (Thing ×1), +120 B/run``."""
    word = "LEAKED" if verdict.kind is Kind.LEAKED else "CYCLES"
    return f"{word} {nodeid} - {', '.join(_parts(verdict))}"


def _summary(verdict: Verdict) -> str:
    """What leaked, in words: the first line of a test's failure."""
    parts = []
    if verdict.leaked_objects:
        n = verdict.objects[-1] if verdict.objects else 0
        parts.append(f"{n} new object{'s' if n != 1 else ''} left alive per run")
    if verdict.leaked_memory:
        parts.append(f"+{format_size(verdict.memory_per_run)} of memory kept per run")
    if verdict.cycles:
        count = len(verdict.cycles)
        parts.append(f"{count} reference cycle{'s' if count != 1 else ''} left per run")
    return ", ".join(parts) if parts else "leaked"


def _parts(verdict: Verdict) -> list[str]:
    parts = []
    detail = verdict.detail
    if verdict.leaked_objects:
        n = verdict.objects[-1] if verdict.objects else 0
        what = ""
        if detail is not None and detail.by_type:
            what = " (" + ", ".join(f"{g.name} ×{g.count}" for g in detail.by_type[:3]) + ")"
        parts.append(f"{n} object{'s' if n != 1 else ''}/run{what}")
    if verdict.leaked_memory:
        parts.append(f"+{format_size(verdict.memory_per_run)}/run")
    if verdict.cycles:
        first = verdict.cycles[0]
        count = len(verdict.cycles)
        parts.append(f"{count} cycle{'s' if count != 1 else ''} ({first.path})")
    return parts
