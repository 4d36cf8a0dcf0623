"""Checks every corpus case outside pytest: does it really leak, make cycles, or neither?

Each case's test body is a plain callable (no fixtures), so it can be called in a loop
here, with a full collection after each call and the automatic collector off:

- ``leak``: after the first two calls, every further call leaves more live objects
  (``len(gc.get_objects())``) or more traced memory (``tracemalloc``, which sees
  strings and bytes the collector does not track, large blocks outside pymalloc and
  what a ``realloc`` adds to an existing buffer);
- ``cycles``: every call leaves garbage that only the collector frees (what
  ``gc.collect()`` returns), and some of it is the project's (a one-off call with
  ``DEBUG_SAVEALL`` looks at the garbage: an instance or class of a corpus package, or
  a function, frame or generator of a corpus package's code); no steady growth;
- ``clean``: no growth after the first two calls, and any cyclic garbage is not the
  project's (a case marked ``garbage = "test"`` may make any).

Usage: ``python corpus/verify.py [-k SUBSTRING] [--show]``. Prints a table of the
mismatches (``--show``: of every case) and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import doctest
import gc
import importlib
import inspect
import os
import sys
import tracemalloc
import types
import weakref
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]
from expectations import CASES, Case, load  # noqa: E402

CALLS = 8
WARM_UP = 2
# A clean case may wobble by this much over the measured calls (a dict or set
# resizing once, a free list); a leak is told by growth on every call, not by size.
CLEAN_SLACK_BYTES = 1024
CLEAN_SLACK_OBJECTS = 2

PROJECT_PACKAGES = frozenset(
    p.name for p in CASES.iterdir() if p.is_dir() and (p / "__init__.py").exists()
)
PROJECT_DIRS = tuple(str(CASES / name) + os.sep for name in PROJECT_PACKAGES)


def _is_project_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(PROJECT_DIRS)


def _is_project(obj: object) -> bool:
    kind = type(obj)
    if isinstance(obj, type):
        return str(getattr(obj, "__module__", "")).split(".")[0] in PROJECT_PACKAGES
    if kind is types.FunctionType:
        return _is_project_file(obj.__code__.co_filename)  # type: ignore[attr-defined]
    if kind is types.FrameType:
        return _is_project_file(obj.f_code.co_filename)  # type: ignore[attr-defined]
    if kind in (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType):
        code = getattr(obj, "gi_code", None) or getattr(obj, "cr_code", None) or obj.ag_code  # type: ignore[attr-defined]
        return _is_project_file(code.co_filename)
    return str(getattr(kind, "__module__", "")).split(".")[0] in PROJECT_PACKAGES


def _parametrize(func: Any, param: str) -> dict[str, Any]:
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        names, values = mark.args[0], mark.args[1]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        for value in values:
            row = value if len(names) > 1 else (value,)
            if "-".join(str(v) for v in row) == param:
                return dict(zip(names, row, strict=True))
    raise LookupError(f"no parameter set {param!r}")


def _doctest_call(path: str, name: str) -> Callable[[], None]:
    module = importlib.import_module(path[: -len(".py")].replace("/", "."))
    found = [t for t in doctest.DocTestFinder().find(module) if t.name == name]
    if not found:
        raise LookupError(f"no doctest {name!r} in {path}")
    example = found[0]

    def call() -> None:
        # A fresh copy of the module's globals each time, as a first run gets.
        example.globs = dict(module.__dict__)
        runner = doctest.DocTestRunner(verbose=False)
        result = runner.run(example, out=lambda _s: None)
        if result.failed:
            raise AssertionError(f"doctest {name} failed")

    return call


def _run_async(func: Any, kwargs: dict[str, Any]) -> None:
    # A fresh loop per call, as pytest-asyncio gives each test; not asyncio.run, whose
    # SIGINT handling leaves a few bytes behind on every call on its own.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(func(**kwargs))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def resolve(nodeid: str) -> Callable[[], None]:
    """The case as a function of no arguments."""
    path, _, rest = nodeid.partition("::")
    if not path.startswith("tests/"):
        return _doctest_call(path, rest)
    module = importlib.import_module(Path(path).stem)
    *owners, name = rest.split("::")
    param = None
    if name.endswith("]"):
        name, _, param = name[:-1].partition("[")
    owner: Any = module
    for part in owners:
        owner = getattr(owner, part)()
    func = getattr(owner, name)
    kwargs = _parametrize(func, param) if param is not None else {}
    if inspect.iscoroutinefunction(func):
        return lambda: _run_async(func, kwargs)
    return lambda: func(**kwargs)


def _project_garbage(call: Callable[[], None]) -> int:
    """How many of the project's objects one more call leaves for the collector."""
    call()
    # Weak references see the project's objects that a finalizer frees during the
    # collection; DEBUG_SAVEALL keeps the rest (frames, which have no weak references).
    refs = []
    for obj in gc.get_objects():
        if _is_project(obj):
            with contextlib.suppress(TypeError):  # frames, and classes with __slots__
                refs.append(weakref.ref(obj))
    del obj
    debug = gc.get_debug()
    gc.set_debug(debug | gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        saved = [o for o in gc.garbage if _is_project(o)]
        dead = sum(1 for r in refs if r() is None)
        return dead + sum(1 for o in saved if type(o) is types.FrameType)
    finally:
        gc.garbage.clear()
        gc.set_debug(debug)


def measure(call: Callable[[], None]) -> dict[str, Any]:
    """Calls ``call`` CALLS times; what was alive and collected after each call."""
    # Preallocated, so that recording the figures allocates nothing the figures see.
    objects = array("q", [0] * CALLS)
    memory = array("q", [0] * CALLS)
    garbage = array("q", [0] * CALLS)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for i in range(CALLS):
            call()
            # Not what gc.collect() returns: that leaves out what a finalizer freed
            # on the way (a generator's close() breaking the cycle it was in).
            # What was alive before the collection and is gone after it was garbage.
            before = len(gc.get_objects())
            gc.collect()
            objects[i] = len(gc.get_objects())
            garbage[i] = before - objects[i]
            memory[i] = tracemalloc.get_traced_memory()[0]
        project_garbage = _project_garbage(call)
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    measured = range(WARM_UP, CALLS)
    return {
        "objects": [objects[i] - objects[i - 1] for i in measured],
        "memory": [memory[i] - memory[i - 1] for i in measured],
        "garbage": [garbage[i] for i in measured],
        "project_garbage": project_garbage,
    }


def judge(case: Case, m: dict[str, Any]) -> str:
    """What the figures show: ``leak``, ``cycles``, ``clean`` or ``unclear``."""
    # Where memory grows for reasons outside the case (hypothesis keeps untracked
    # numbers and strings from every run of a property test for tens of runs; the
    # import system on 3.13 keeps a little from every re-import), only objects tell.
    memory_counts = not case.noise
    grows = all(d > 0 for d in m["objects"]) or (
        memory_counts and all(d > 0 for d in m["memory"])
    )
    if grows:
        return "leak"
    flat = sum(m["objects"]) <= CLEAN_SLACK_OBJECTS and (
        not memory_counts or sum(m["memory"]) <= CLEAN_SLACK_BYTES
    )
    if not flat:
        return "unclear"
    every_call = all(g > 0 for g in m["garbage"])
    if case.garbage == "test":
        return "clean"
    if every_call and m["project_garbage"]:
        return "cycles"
    if any(m["garbage"]) and m["project_garbage"]:
        return "unclear"
    return "clean"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="keyword", default="", help="only cases whose id has this")
    parser.add_argument("--show", action="store_true", help="print every case, not only mismatches")
    args = parser.parse_args(argv)

    sys.path[:0] = [str(CASES), str(CASES / "tests")]
    cases = [c for c in load() if args.keyword in c.nodeid]
    rows = []
    mismatches = 0
    for case in cases:
        try:
            m = measure(resolve(case.nodeid))
            seen = judge(case, m)
            detail = (
                f"objs {m['objects']} bytes {m['memory']} "
                f"gc {m['garbage']} project {m['project_garbage']}"
            )
        except Exception as exc:  # noqa: BLE001 - a broken case is a mismatch to show
            seen, detail = "error", f"{type(exc).__name__}: {exc}"
        wrong = seen != case.verdict
        mismatches += wrong
        if wrong or args.show:
            rows.append((("MISMATCH" if wrong else "ok"), case.nodeid, case.verdict, seen, detail))
    width = max((len(r[1]) for r in rows), default=10)
    for status, nodeid, want, seen, detail in rows:
        print(f"{status:8} {nodeid:{width}} want {want:6} saw {seen:7} {detail}")
    counts = {v: sum(1 for c in cases if c.verdict == v) for v in ("leak", "cycles", "clean")}
    print(
        f"{len(cases)} cases ({counts['leak']} leak, {counts['cycles']} cycles, "
        f"{counts['clean']} clean) on Python {sys.version.split()[0]}: {mismatches} mismatches"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
