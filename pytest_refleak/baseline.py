"""The baseline: leaks a project knows about and accepts for now, kept in a JSON file.

A project that turns leak checking on in a codebase that already leaks records
those leaks once (``--refleak-baseline-update``) and commits the file.  From then
on the tests it names pass as *known leaks*, and only a new leak, or a known one
that grew, fails.  The file looks like this (``docs/ci.md`` has the details)::

    {
      "version": 1,
      "leaks": {
        "tests/test_cache.py::test_fill": {
          "bytes": 3120,
          "cycles": 0,
          "kind": "leaked",
          "objects": 2,
          "types": {"Entry": 2}
        }
      }
    }

A test that leaves resources behind has ``"resources": {"threads": 1}`` too: how
many of each kind it left per run (a kind it did not leave is not listed).
The figures are per run of the test.  A known leak may grow a little before it
fails again, because measured figures wobble: see :data:`TOLERANCES`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_refleak.record import Record, write_atomically
from pytest_refleak.text import printable, safe_repr

BASELINE_VERSION = 1
#: Characters read at most: a baseline of a few thousand leaks is a few hundred KiB.
MAX_CHARACTERS = 64 * 1024 * 1024
LEAK_KINDS = ("leaked", "cycles")


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Tolerance:
    """How far a figure may grow past its recorded value before the leak counts as grown.

    It may grow by ``share`` of the recorded value, and at least by ``step``; a
    figure recorded as zero may grow only by ``from_zero``.
    """

    share: float
    step: int
    from_zero: int

    def limit(self, recorded: int) -> int:
        if recorded == 0:
            return self.from_zero
        return recorded + max(self.step, int(recorded * self.share))


#: Objects and cycles are counted exactly, and the recorded object count is the
#: smallest of the re-runs', but the same leak can count one object more or less
#: on another Python version; a leak of a kind the test did not have fails at
#: once.  Memory moves in steps whenever a container that outlives the test
#: resizes, and differs more between Python versions.
TOLERANCES: dict[str, Tolerance] = {
    "objects": Tolerance(share=0.25, step=1, from_zero=0),
    "cycles": Tolerance(share=0.25, step=1, from_zero=0),
    "bytes": Tolerance(share=0.5, step=4096, from_zero=4096),
}


@dataclass(frozen=True)
class Entry:
    """One known leak: what a test left per run when it was recorded."""

    kind: str
    objects: int = 0
    bytes: int = 0
    cycles: int = 0
    types: Mapping[str, int] = field(default_factory=dict)
    #: Resources left per run, by kind (``threads``, ``fds``, ...).
    resources: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of_record(cls, record: Record) -> Entry:
        """The entry that accepts what ``record`` (a leaking test's record) measured."""
        objects = record.get("objects_per_run") or [0]
        return cls(
            kind=str(record.get("kind")),
            objects=min(objects),
            bytes=int(record.get("bytes_per_run", 0)),
            cycles=len(record.get("cycles", ())),
            types=_type_counts(record),
            resources={str(r["kind"]): int(r["per_run"]) for r in record.get("resources") or ()},
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "bytes": self.bytes,
            "cycles": self.cycles,
            "kind": self.kind,
            "objects": self.objects,
            "types": dict(sorted(self.types.items())),
        }
        if self.resources:
            document["resources"] = dict(sorted(self.resources.items()))
        return dict(sorted(document.items()))


def _type_counts(record: Record) -> dict[str, int]:
    counts: dict[str, int] = {}
    for growth in record.get("types", ()):
        counts[growth["name"]] = counts.get(growth["name"], 0) + int(growth["count"])
    return counts


# -- reading -------------------------------------------------------------------------


def load(path: str, *, missing_ok: bool = False, shown: str | None = None) -> dict[str, Entry]:
    """The entries of the baseline at ``path``; :class:`BaselineError` if it cannot be used.

    ``missing_ok`` is for writing a baseline: a file that does not exist yet, or
    is empty, is then a baseline with no entries.  Messages name the file as
    ``shown``, by default ``path``.
    """
    real_path, path = path, shown or path
    how_to_write = "write it with --refleak-baseline-update"
    try:
        with open(real_path, encoding="utf-8") as file:
            # Bounded: a device that never ends (/dev/zero) is not read for ever.
            text = file.read(MAX_CHARACTERS + 1)
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise BaselineError(f"baseline {path} does not exist; {how_to_write}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"baseline {path} cannot be read: {_reason(error)}") from None
    if len(text) > MAX_CHARACTERS:
        raise BaselineError(f"baseline {path} is too large to be a baseline")
    if not text.strip():
        if missing_ok:
            return {}
        raise BaselineError(f"baseline {path} is empty; {how_to_write}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BaselineError(
            f"baseline {path} is not valid JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno}); fix it, or delete it and {how_to_write}"
        ) from None
    except (RecursionError, MemoryError, ValueError) as error:
        # Nesting too deep for the reader, a number too long to convert, and the like.
        raise BaselineError(
            f"baseline {path} cannot be read ({type(error).__name__}: "
            f"{safe_repr(str(error), 100)}); fix it, or delete it and {how_to_write}"
        ) from None
    try:
        return parse(document, path)
    except BaselineError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the file holds, one clear message
        raise BaselineError(
            f"baseline {path} cannot be used ({type(error).__name__}); delete it and {how_to_write}"
        ) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def parse(document: object, path: str) -> dict[str, Entry]:
    """Validate a baseline document read from ``path`` and return its entries."""
    if not isinstance(document, dict) or "version" not in document:
        raise BaselineError(
            f"baseline {path} has no version field: it is not a pytest-refleak baseline"
        )
    version = document["version"]
    # Exactly the number: JSON's true is equal to 1 in Python, and 1.0 too.
    if type(version) is not int or version != BASELINE_VERSION:
        raise BaselineError(
            f"baseline {path} has version {safe_repr(version, 40)}, but this pytest-refleak reads "
            f"version {BASELINE_VERSION}; delete it and write it again with "
            "--refleak-baseline-update"
        )
    leaks = document.get("leaks")
    if not isinstance(leaks, dict):
        raise BaselineError(f"baseline {path}: 'leaks' must be an object of test ids")
    return {str(nodeid): _entry(nodeid, data, path) for nodeid, data in leaks.items()}


def _entry(nodeid: str, data: object, path: str) -> Entry:
    where = f"baseline {path}, entry {safe_repr(nodeid, 200)}"
    if not isinstance(data, dict):
        raise BaselineError(f"{where}: expected an object of figures, got {safe_repr(data, 60)}")
    unknown = sorted(set(data) - {"kind", "objects", "bytes", "cycles", "types", "resources"})
    if unknown:
        raise BaselineError(f"{where}: unknown field {unknown[0]!r}")
    kind = data.get("kind")
    if type(kind) is not str or kind not in LEAK_KINDS:
        raise BaselineError(
            f"{where}: 'kind' must be one of {', '.join(LEAK_KINDS)}, got {safe_repr(kind, 60)}"
        )
    types = data.get("types", {})
    if not isinstance(types, dict):
        raise BaselineError(
            f"{where}: 'types' must map type names to counts, got {safe_repr(types, 60)}"
        )
    resources = data.get("resources", {})
    if not isinstance(resources, dict):
        raise BaselineError(
            f"{where}: 'resources' must map resource kinds to counts, "
            f"got {safe_repr(resources, 60)}"
        )
    return Entry(
        kind=kind,
        objects=_count(data.get("objects", 0), f"{where}: 'objects'"),
        bytes=_count(data.get("bytes", 0), f"{where}: 'bytes'"),
        cycles=_count(data.get("cycles", 0), f"{where}: 'cycles'"),
        types={
            str(name): _count(n, f"{where}: type {safe_repr(name, 60)}")
            for name, n in types.items()
        },
        resources={
            str(name): _count(n, f"{where}: resource {safe_repr(name, 60)}")
            for name, n in resources.items()
        },
    )


def _count(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise BaselineError(
            f"{where} must be a whole number, 0 or more, got {safe_repr(value, 60)}"
        )
    return value


# -- comparing -------------------------------------------------------------------------


def growth(record: Record, entry: Entry) -> list[str]:
    """How a leaking test's record exceeds its entry, beyond the tolerances; empty if not.

    The types are not compared: which objects of the interpreter's own a leak
    drags along differs between Python versions, and a traced re-run in a
    pytest-xdist worker may catch objects of its messaging thread.
    """
    current = Entry.of_record(record)
    reasons = []
    figures = (
        ("objects", current.objects, entry.objects, "objects/run"),
        ("cycles", current.cycles, entry.cycles, "cycles/run"),
        ("bytes", current.bytes, entry.bytes, "bytes/run"),
    )
    for name, now, recorded, unit in figures:
        if now > TOLERANCES[name].limit(recorded):
            reasons.append(f"{now} {unit}, recorded {recorded}")
    # Resources are counted exactly, and a kind not recorded is a new leak.
    for kind, now in sorted(current.resources.items()):
        recorded = entry.resources.get(kind, 0)
        if now > recorded:
            reasons.append(f"{now} {kind}/run, recorded {recorded}")
    return reasons


def describe(entry: Entry) -> str:
    """The recorded figures in a few words, for reports."""
    parts = []
    if entry.objects:
        parts.append(f"{entry.objects} object{'s' if entry.objects != 1 else ''}/run")
    if entry.cycles:
        parts.append(f"{entry.cycles} cycle{'s' if entry.cycles != 1 else ''}/run")
    parts.append(f"{entry.bytes} bytes/run")
    parts.extend(f"{n} {kind}/run" for kind, n in sorted(entry.resources.items()))
    return ", ".join(parts)


@dataclass(frozen=True)
class Stale:
    nodeid: str
    reason: str


def stale_entries(
    entries: Mapping[str, Entry],
    records: Mapping[str, Record],
    collected: set[str],
    exists: Callable[[str], bool],
) -> list[Stale]:
    """Entries whose test no longer leaks or no longer exists, in test id order.

    A test no longer leaks when it was checked in this run and came out clean.
    It no longer exists when its file is gone, or when its file was collected in
    this run (selected or deselected) without it.  Tests that were not run, or
    could not be checked, keep their entries.
    """
    modules = {_module(nodeid) for nodeid in collected}
    found = []
    for nodeid in sorted(entries):
        record = records.get(nodeid)
        if record is not None:
            if record.get("kind") == "clean":
                found.append(Stale(nodeid, "no longer leaks"))
            continue
        module = _module(nodeid)
        if not exists(module) or (module in modules and nodeid not in collected):
            found.append(Stale(nodeid, "no longer exists"))
    return found


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


# -- writing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Update:
    entries: dict[str, Entry]
    added: int
    removed: int
    changed: int


def updated(
    entries: Mapping[str, Entry], records: Iterable[Record], stale: Iterable[Stale]
) -> Update:
    """The baseline after this run: stale entries gone, this run's leaks recorded.

    A leak that is new, grew past its tolerance or changed kind is recorded as it
    was measured.  A known leak within its tolerance keeps its entry, with the
    figures that went down lowered: the file changes only when the leaks do, and
    a shrinking leak ratchets its entry down.
    """
    new = dict(entries)
    for item in stale:
        new.pop(item.nodeid, None)
    for record in records:
        if record.get("kind") not in LEAK_KINDS:
            continue
        nodeid = record["nodeid"]
        measured = Entry.of_record(record)
        old = entries.get(nodeid)
        if old is None or old.kind != measured.kind or growth(record, old):
            new[nodeid] = measured
        else:
            new[nodeid] = _lowered(old, measured)
    added = len(new.keys() - entries.keys())
    removed = len(entries.keys() - new.keys())
    changed = sum(1 for k in new.keys() & entries.keys() if new[k] != entries[k])
    return Update(dict(sorted(new.items())), added, removed, changed)


def _lowered(old: Entry, measured: Entry) -> Entry:
    objects = min(old.objects, measured.objects)
    return Entry(
        kind=old.kind,
        objects=objects,
        bytes=min(old.bytes, measured.bytes),
        cycles=min(old.cycles, measured.cycles),
        types=old.types if objects == old.objects else measured.types,
        resources={
            kind: min(n, measured.resources[kind])
            for kind, n in old.resources.items()
            if kind in measured.resources
        },
    )


def dumps(entries: Mapping[str, Entry]) -> str:
    """The file's text: sorted and indented, so that a change reads well in a diff."""
    document = {
        "version": BASELINE_VERSION,
        "leaks": {nodeid: entries[nodeid].to_json() for nodeid in sorted(entries)},
    }
    # As the report's: a lone surrogate is written as its JSON escape.
    return printable(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def write(path: str, entries: Mapping[str, Entry]) -> None:
    write_atomically(path, dumps(entries))


def relative_to(path: str, root: str) -> str:
    """``path`` as shown to people: relative to ``root`` when it lies inside it."""
    try:
        relative = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
