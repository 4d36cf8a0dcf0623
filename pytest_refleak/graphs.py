"""Pictures of a leak: Graphviz files, one or more for every leaking test.

What is still alive (objects, the containers holding leaked strings and bytes,
the objects owning leaked threads, files, sockets, tasks and processes) is drawn
by objgraph from the live objects.  Cycles are gone by the time a test is judged:
they are drawn from the loop their verdict recorded, by the small DOT writer here,
which also writes a note for a leak with nothing to draw.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Iterable, Sequence
from pathlib import Path

from pytest_refleak.cycles import CycleGroup
from pytest_refleak.heap import referents
from pytest_refleak.text import printable

#: How far up from the leaked objects the picture goes, and how many referrers of
#: one object it draws before it stops there.
MAX_DEPTH = 6
TOO_MANY = 8


def file_stem(nodeid: str) -> str:
    """A file name for a test: its node id with everything unusual replaced.

    Replacing loses what told two ids apart (``t[a b]`` and ``t[a/b]`` both read
    ``t_a_b``), so a name that is not the id itself ends with a digest of the id.
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid).strip("_.")[:150] or "test"
    if stem == nodeid:
        return stem
    digest = hashlib.sha256(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem}-{digest}"


def draw(
    objects: Sequence[object],
    directory: Path,
    stem: str,
    ignore: Iterable[int] = (),
    held: Sequence[tuple[int, str, str]] = (),
) -> list[Path]:
    """Write ``stem.dot`` (and ``stem.svg`` if Graphviz's ``dot`` is installed).

    ``held``: objects the collector cannot find the referrers of (a dict does not
    show it its string keys), each drawn as a box under the drawn container that
    holds it, as (id of the container, label, label of the edge).

    Returns the files written.  Failing to render the picture loses the picture,
    never the report: problems are written into the list as missing files.
    """
    import io

    import objgraph  # only when pictures are asked for

    directory.mkdir(parents=True, exist_ok=True)
    dot_file = directory / f"{stem}.dot"
    skip = set(ignore)
    frame = sys._getframe()
    while frame is not None:
        skip.add(id(frame))
        frame = frame.f_back  # type: ignore[assignment]
    skip.add(id(objects))
    targets = list(objects)
    skip.add(id(targets))
    output = io.StringIO()
    skip.add(id(output))
    objgraph.show_backrefs(
        targets,
        max_depth=MAX_DEPTH,
        too_many=TOO_MANY,
        extra_ignore=tuple(skip),
        filter=_worth_drawing,
        output=output,
    )
    targets.clear()
    text = output.getvalue()
    if held:
        # objgraph names a node ``o`` and the object's id.
        lines = []
        for n, (holder, label, step) in enumerate(held):
            lines.append(f"  held{n} [label={quoted(label)}, fontcolor=red];")
            lines.append(f"  o{holder} -> held{n} [label={quoted(step)}];")
        text = text.rstrip().removesuffix("}") + "\n".join(lines) + "\n}\n"
    # objgraph writes reprs and names, which may hold lone surrogates.
    dot_file.write_text(text, encoding="utf-8", errors="backslashreplace")
    return _rendered(dot_file)


def _worth_drawing(referrer: object) -> bool:
    """Leave out functions that hold nothing but their module's globals.

    Every function of a module refers to the module's namespace: drawn, they fill
    the picture and, past ``TOO_MANY`` referrers, crowd out the module itself.  A
    function with no closure, defaults, attributes or annotations can refer to
    nothing else.  (Its attributes are looked for among its referents: asking for
    ``__dict__`` would give it one.)
    """
    if type(referrer) is not types.FunctionType:
        return True
    if referrer.__closure__ or referrer.__defaults__ or referrer.__kwdefaults__:
        return True
    namespaces = (referrer.__globals__, getattr(referrer, "__builtins__", None))
    return any(
        type(r) in (dict, tuple) and not any(r is n for n in namespaces)
        for r in referents(referrer)
    )


def _rendered(dot_file: Path) -> list[Path]:
    """``dot_file``, and its SVG rendering when Graphviz is installed and manages it."""
    written = [dot_file]
    dot = shutil.which("dot")
    if dot is not None:
        svg_file = dot_file.with_suffix(".svg")
        try:
            subprocess.run(
                [dot, "-Tsvg", str(dot_file), "-o", str(svg_file)],
                check=True,
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            pass
        else:
            written.append(svg_file)
    return written


# -- drawing by hand: what is no longer alive, or has nothing to draw ---------------------

#: Longest line of a label, and most lines: a key's repr or a description is cut there.
LABEL_LIMIT = 120
LABEL_LINES = 24


def quoted(text: str) -> str:
    """``text`` as a DOT string: quoted, escaped, cut short, and encodable."""
    lines = printable(text).replace("\r", "").split("\n")
    if len(lines) > LABEL_LINES:
        lines = [*lines[: LABEL_LINES - 1], f"… and {len(lines) - LABEL_LINES + 1} more lines"]
    lines = [line if len(line) <= LABEL_LIMIT else line[: LABEL_LIMIT - 1] + "…" for line in lines]
    # In a DOT string a backslash starts an escape of Graphviz's own (\l, \N): a
    # backslash of the text is doubled, and line breaks become \n.
    text = "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return f'"{text}"'


def dot_text(
    title: str,
    nodes: Sequence[tuple[str, str]],
    edges: Sequence[tuple[str, str, str]],
    clusters: Sequence[tuple[str, Sequence[str]]] = (),
) -> str:
    """A DOT digraph: ``nodes`` as (name, label), ``edges`` as (from, to, label),
    ``clusters`` as (label, names of the nodes boxed together)."""
    lines = [
        "digraph refleak {",
        f"  label={quoted(title)};",
        "  labelloc=t;",
        "  node [shape=box, style=filled, fillcolor=white];",
    ]
    boxed = {name for _, names in clusters for name in names}
    labels = dict(nodes)
    for n, (label, names) in enumerate(clusters):
        lines.append(f"  subgraph cluster_{n} {{")
        lines.append(f"    label={quoted(label)};")
        lines.extend(f"    {name} [label={quoted(labels[name])}];" for name in names)
        lines.append("  }")
    lines.extend(f"  {name} [label={quoted(label)}];" for name, label in nodes if name not in boxed)
    for source, target, label in edges:
        lines.append(f"  {source} -> {target} [label={quoted(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def cycles_dot(title: str, groups: Sequence[CycleGroup]) -> str:
    """The loop of each cycle, one box per cycle, each edge named as the member holds
    the next one (``.parent``, ``['key']``, ``[0]``, ``.f_locals['x']``)."""
    nodes: list[tuple[str, str]] = []
    edges: list[tuple[str, str, str]] = []
    clusters: list[tuple[str, list[str]]] = []
    for g, group in enumerate(groups):
        start, steps = group.loop
        kinds = ", ".join(f"{name} ×{n}" for name, n in group.types[:4])
        names = [f"c{g}_0"]
        nodes.append((names[0], start or "?"))
        for i, (_, name) in enumerate(steps[:-1], start=1):
            names.append(f"c{g}_{i}")
            nodes.append((names[-1], name))
        # The last step leads back to where the loop started.
        targets = [*names[1:], names[0]]
        for source, target, (step, _) in zip(names, targets, steps, strict=False):
            edges.append((source, target, step or "(refers to)"))
        clusters.append((f"cycle of {group.size} objects ({kinds})", names))
    return dot_text(title, nodes, edges, clusters)


def note_dot(title: str, lines: Sequence[str]) -> str:
    """A picture of a leak with nothing to draw: one box saying what leaked and why."""
    return dot_text(title, [("note", "\n".join(lines) or title)], [])


def save(text: str, directory: Path, name: str) -> list[Path]:
    """Write ``text`` as ``name.dot`` in ``directory`` (and render it); the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    dot_file = directory / f"{name}.dot"
    dot_file.write_text(text, encoding="utf-8", errors="backslashreplace")
    return _rendered(dot_file)
