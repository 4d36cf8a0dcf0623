"""What a checked test came to, as plain JSON-able data, and the report of a whole run.

A record is a ``dict`` of strings, numbers, lists and ``None``: it travels on
pytest's test reports (pytest-xdist sends those from its workers to the
controller as JSON) and goes into the ``--refleak-report`` file as it is.  Clean
tests, the common case, get a small record; :func:`complete` fills in the rest
when the report is written.  The fields are listed in ``docs/ci.md``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import stat
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from pytest_refleak.report import explain, one_line
from pytest_refleak.settings import Limits
from pytest_refleak.text import printable
from pytest_refleak.verdict import Kind, Verdict

REPORT_VERSION = 1

#: What a record's ``verdict`` can be.
CLEAN = "clean"
LEAKED = "leaked"
CYCLES = "cycles"
KNOWN = "known leak"
ERROR = "error"
VERDICTS = (CLEAN, LEAKED, CYCLES, KNOWN, ERROR)
#: The ``kind`` of a test that passed but could not be checked.
INCONCLUSIVE = "inconclusive"
#: The ``kind`` of a test not checked because of the project's mistake (a hook of
#: its raised): the run ends with the usage error exit code.
USAGE_ERROR = "usage error"

Record = dict[str, Any]
_T = TypeVar("_T")

_DEFAULTS: dict[str, Any] = {
    "location": None,
    "note": None,
    "runs": 0,
    "objects_per_run": [],
    "bytes_per_run": 0,
    "leaked_objects": False,
    "leaked_memory": False,
    "types": [],
    "memory": [],
    "cycles": [],
    "summary": None,
    "text": None,
    "baseline": None,
    "growth": [],
    "resources": [],
    "graphs": [],
}


def clean_record(nodeid: str, runs: int = 0) -> Record:
    """The record of a test that left nothing behind: kept small, most tests are clean."""
    return {"nodeid": nodeid, "verdict": CLEAN, "kind": CLEAN, "runs": runs}


def unchecked_record(
    nodeid: str,
    note: str,
    location: tuple[str, int] | None = None,
    *,
    kind: str | None = None,
) -> Record:
    """The record of a test that could not be judged; ``note`` says why.

    ``kind`` is ``"inconclusive"`` when the test passed but its re-runs could not
    decide, and ``None`` when the test itself did not pass.
    """
    return encodable(
        {
            "nodeid": nodeid,
            "verdict": ERROR,
            "kind": kind,
            "note": note,
            "location": list(location) if location else None,
        }
    )


def verdict_record(
    nodeid: str,
    verdict: Verdict,
    limits: Limits,
    *,
    root: str,
    location: tuple[str, int] | None = None,
    verbosity: int = 0,
) -> Record:
    """The full record of a test that was re-run: its figures, types, sites and cycles.

    ``verbosity`` (pytest's ``-v``/``-q``) decides how much of the explanation
    goes into its text.
    """
    if verdict.kind is Kind.CLEAN:
        return clean_record(nodeid, verdict.runs)
    if verdict.kind is Kind.INCONCLUSIVE:
        note = verdict.note or "its re-runs could not decide"
        return unchecked_record(nodeid, note, location, kind=verdict.kind.value)
    detail = verdict.detail
    record: Record = {
        "nodeid": nodeid,
        "verdict": verdict.kind.value,
        "kind": verdict.kind.value,
        "location": list(location) if location else None,
        # Something the check could not do for this leak (a bound reached, say).
        "note": verdict.note,
        "runs": verdict.runs,
        "objects_per_run": list(verdict.objects),
        "bytes_per_run": verdict.memory_per_run,
        "leaked_objects": verdict.leaked_objects,
        "leaked_memory": verdict.leaked_memory,
        "types": [
            {
                "name": g.name,
                # Net of those that took the place of an earlier run's (``replaced``).
                "count": g.kept,
                "bytes": g.kept_size,
                "replaced": g.replaced,
                "samples": list(g.samples),
                "sites": [_frames(frames, root) for frames in g.sites],
                # What keeps the objects alive, as text, when the measurement says.
                "chains": [_text(chain) for chain in getattr(g, "chains", ())],
            }
            for g in (detail.by_type if detail is not None else ())
        ],
        "memory": [
            {
                "bytes": m.size,
                "blocks": m.count,
                "frames": _frames(m.frames, root),
                "holders": list(m.holders),
            }
            for m in (detail.memory if detail is not None else ())
        ],
        "cycles": [
            {
                "size": group.size,
                "types": [[name, count] for name, count in group.types],
                "origin": group.origin.value if group.origin is not None else None,
                "path": group.path,
                "sites": [_site(site, root) for site in group.sites],
                "site_types": list(group.site_types),
            }
            for group in verdict.cycles
        ],
        "resources": [
            {"kind": found.kind, "per_run": found.grew, "items": list(found.items)}
            for found in verdict.resources
        ],
        # Pictures, as the report names them: relative to the root where they can be.
        "graphs": [_relative(path, root) for path in verdict.graphs],
        "summary": one_line(nodeid, verdict),
        "text": explain(verdict, limits, root=root, verbosity=verbosity),
        "baseline": None,
        "growth": [],
    }
    return encodable(record)


def encodable(value: _T) -> _T:
    """``value`` with every string in it made encodable (see :func:`printable`).

    A record's texts come from user objects, names and file names; pytest-xdist
    sends records as UTF-8, the report file is UTF-8, and the terminal may be too.
    """
    return cast(_T, _encodable(value))


def _encodable(value: object) -> object:
    if type(value) is str:
        return printable(value)
    if type(value) is list or type(value) is tuple:
        return [_encodable(item) for item in value]
    if type(value) is dict:
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    return value


def _text(chain: object) -> str:
    if isinstance(chain, str):
        return chain
    if isinstance(chain, (list, tuple)):
        return " → ".join(str(step) for step in chain)
    return str(chain)


def _relative(filename: str, root: str) -> str:
    if filename.startswith("<") or not os.path.isabs(filename):
        return filename
    try:
        relative = os.path.relpath(filename, root)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative.replace(os.sep, "/")


def _frames(frames: Sequence[tuple[str, int]], root: str) -> list[list[Any]]:
    return [[_relative(filename, root), lineno] for filename, lineno in frames]


def _site(site: str, root: str) -> list[Any]:
    filename, _, lineno = site.rpartition(":")
    if not filename or not lineno.isdigit():
        return [site, 0]
    return [_relative(filename, root), int(lineno)]


def not_checked(record: Record) -> bool:
    """Whether a record is of a test that passed but could not be checked for leaks.

    A test that failed is not among them: it fails the run on its own.
    """
    return record.get("verdict") == ERROR and record.get("kind") == INCONCLUSIVE


def size_of(record: Record) -> int:
    """How much a record's leak holds per run, to put the largest first."""
    by_type = sum(int(t.get("bytes", 0)) for t in record.get("types", ()))
    return max(int(record.get("bytes_per_run", 0)), by_type)


def complete(record: Record) -> Record:
    """The record with every field of the documented schema, in a fixed order."""
    merged = {**_DEFAULTS, **record}
    order = ("nodeid", "verdict", "kind", *_DEFAULTS)
    return {key: merged.get(key) for key in order}


def junit_properties(record: Record) -> list[tuple[str, object]]:
    """The figures JUnit XML carries for a checked test, as ``record_property`` pairs."""
    objects = record.get("objects_per_run") or [0]
    properties: list[tuple[str, object]] = [
        ("refleak_verdict", record["verdict"]),
        ("refleak_objects_per_run", min(objects)),
        ("refleak_bytes_per_run", int(record.get("bytes_per_run", 0))),
    ]
    resources = record.get("resources")
    if resources:
        left = ", ".join(f"{r['kind']}: {r['per_run']}" for r in resources)
        properties.append(("refleak_resources_per_run", left))
    return properties


def report_document(
    records: Iterable[Record],
    *,
    limits: Limits,
    interrupted: bool,
    stale: Iterable[Mapping[str, str]] = (),
    baseline: str | None = None,
    version: str = "",
    strict: bool = False,
) -> dict[str, Any]:
    """The ``--refleak-report`` document: every checked test, sorted by test id."""
    tests = sorted((complete(r) for r in records), key=lambda r: str(r["nodeid"]))
    totals = dict.fromkeys(VERDICTS, 0)
    for record in tests:
        totals[record["verdict"]] = totals.get(record["verdict"], 0) + 1
    return {
        "version": REPORT_VERSION,
        "tool": {"name": "pytest-refleak", "version": version},
        "python": platform.python_version(),
        "interrupted": interrupted,
        "settings": {
            "cycles": limits.cycles,
            "runs": limits.runs,
            "allow_objects": limits.allow_objects,
            "allow_memory": limits.allow_memory,
            "baseline": baseline,
            "strict": strict,
        },
        "totals": {
            "checked": len(tests),
            **totals,
            "not_checked": sum(1 for record in tests if not_checked(record)),
        },
        "tests": tests,
        "stale": [dict(item) for item in stale],
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The document as JSON text that can always be written as UTF-8.

    A lone surrogate left in a string becomes its ``\\udxxx`` escape, which is
    how JSON writes it anyway: the text reads back as the same document.
    """
    return printable(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to what ``path`` is: readers of a file see the old one or the new one.

    A regular file, or a missing one, is replaced in one step: the text goes to a
    temporary file beside it first, which is then renamed over it, so that an
    interruption leaves the old file whole.  A symbolic link is followed, and its
    target written, not the link replaced.  Anything else that can be opened for
    writing (``/dev/null``, a FIFO, a terminal) is written straight into: renaming
    over it would put a regular file where the device was.  Missing parent
    directories are made, as pytest does for ``--junitxml``.
    """
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        return
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            # The replaced file keeps its permissions, not the umask's.
            with contextlib.suppress(OSError):
                os.chmod(temporary, stat.S_IMODE(mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
