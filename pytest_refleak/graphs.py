"""Pictures of what keeps leaked objects alive: Graphviz files drawn by objgraph."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

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
    objects: Sequence[object], directory: Path, stem: str, ignore: Iterable[int] = ()
) -> list[Path]:
    """Write ``stem.dot`` (and ``stem.svg`` if Graphviz's ``dot`` is installed).

    Returns the files written.  Failing to render the picture loses the picture,
    never the report: problems are written into the list as missing files.
    """
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
    # objgraph writes reprs and names, which may hold lone surrogates.
    with dot_file.open("w", encoding="utf-8", errors="backslashreplace") as output:
        skip.add(id(output))
        objgraph.show_backrefs(
            targets,
            max_depth=MAX_DEPTH,
            too_many=TOO_MANY,
            extra_ignore=tuple(skip),
            output=output,
        )
    targets.clear()
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
