"""What a window's new objects are: what reaches what, the blocks they hold, their summary.

The helpers :class:`pytest_refleak.measure.Window` reads its new objects with,
once memory has been read: which new objects are reachable from given roots
(:func:`new_reachable`), how many allocator blocks objects hold
(:func:`estimated_blocks`), which new objects replaced the previous run's
(:func:`replaced`) and where memory was allocated (:func:`made_by`).  None of
them keeps what it is given.
"""

from __future__ import annotations

import ctypes
import gc
import struct
import sys
import types
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, compress
from operator import not_

from pytest_refleak.heap import ATOMS, referents, referred_to_only_by
from pytest_refleak.text import class_module, instance_dict, is_a, object_frames

_NO_ALLOCATION = (type(None), bool, type(Ellipsis), type(NotImplemented))
_EMPTY_SIZES: dict[type, int] = {
    dict: sys.getsizeof({}),
    list: sys.getsizeof([]),
    set: sys.getsizeof(set()),
    frozenset: sys.getsizeof(frozenset()),
    bytearray: sys.getsizeof(bytearray()),
}


#: New objects remembered per run, to tell replaced from kept (see Reading.kept).
_KEPT_LIMIT = 10_000


_QUALNAME = type.__dict__["__qualname__"].__get__


def kind_of(obj: object) -> int:
    """What a new object must match to take an old one's place: its class's module
    and qualified name, not the class itself, which a reloaded module makes anew.
    Read through the class's own storage (docs/hostile-input.md)."""
    return class_kind(type(obj))


def class_kind(cls: type) -> int:
    """:func:`kind_of` an instance of ``cls``."""
    module = class_module(cls)
    try:
        return hash((module if type(module) is str else "", _QUALNAME(cls)))
    except Exception:  # noqa: BLE001 - a broken class is only itself
        return id(cls)


def kinds_of(objects: Iterable[object]) -> list[int]:
    """:func:`kind_of` each of ``objects``, worked out once per class: a leak of a
    hundred thousand objects has a handful of classes, and under tracing every
    tuple hashed is a traced allocation."""
    known: dict[type, int] = {}
    out = []
    for obj in objects:
        cls = type(obj)
        kind = known.get(cls)
        if kind is None:
            kind = known[cls] = class_kind(cls)
        out.append(kind)
    known.clear()
    return out


def kept_ids(candidates: list[object]) -> tuple[tuple[int, int], ...]:
    head = candidates[:_KEPT_LIMIT]
    return tuple(zip(map(id, head), kinds_of(head), strict=True))


def gone_by_type(previous: Sequence[tuple[int, int]], alive: set[int]) -> dict[int, int]:
    """Of what earlier runs left alive, how many have died since, by type id."""
    return Counter(type_id for object_id, type_id in previous if object_id not in alive)


def still_kept(
    previous_alive: tuple[tuple[int, int], ...], candidates: list[object]
) -> tuple[tuple[int, int], ...]:
    """What earlier runs left that is still alive, and what this run left.

    A bounded structure (a ``deque(maxlen=2)``, a least-recently-used map) lets go
    of the entry of two or more runs before as it stores this run's.  What died is
    counted once, by the run it died in, and is not passed on, so that the same
    death never stands for two new objects.
    """
    return (previous_alive + kept_ids(candidates))[-_KEPT_LIMIT:]


def alive_since_earlier(
    previous_alive: tuple[tuple[int, int], ...],
    young: list[object],
    ids: list[int],
    young_ids: set[int],
) -> set[int]:
    """Of the objects that look new, those an earlier run left, still alive as the
    same type: they were alive when the window opened.

    They look new because the collector did not track them then: it stops tracking
    a dict that holds only strings and numbers (an emptied registry, say) when it
    collects, and storing an object in it tracks it again, so a module's dict that
    each run fills and empties again would look made by every run.  An object
    that did die and whose address a new one of the same type took is a
    replacement, which is not growth either.
    """
    earlier = dict(previous_alive)
    suspects = earlier.keys() & young_ids
    if not suspects:
        return set()
    return {
        i for o, i in zip(young, ids, strict=True) if i in suspects and earlier[i] == kind_of(o)
    }


def replaced(candidates: list[object], gone: dict[int, int]) -> int:
    """How many new objects took the place of what earlier runs left and has died
    since (``gone``, from :func:`gone_by_type`), type for type.

    Code that keeps only its latest object (a set swapped for a fresh one, the
    filter list that the warnings module's C code holds on to) leaves a new object
    alive on every run, and the previous run's is gone: no more objects than
    before.  A leak keeps the earlier runs' too.
    """
    if not gone:
        return 0
    new = _count_by_type(candidates)
    return sum(min(count, gone.get(kind, 0)) for kind, count in new.items())


def kept_types(candidates: list[object], gone: dict[int, int]) -> list[object]:
    """The new objects of the types that kept more than took the place of what
    earlier runs left (``gone``, see :func:`replaced`).

    Memory allocated where a new object was made is that object's, unless the
    object only took an old one's place: then its line says nothing of what else
    the line made and keeps.  A ``ContextVar`` named by a string, set in the
    running context, is no object the collector lists; the context's mapping node
    made at the same call replaces the run before's.  Taken as the node's, the
    variable and its value were missed.
    """
    if not gone:
        return candidates
    kinds = kinds_of(candidates)
    new = Counter(kinds)
    return [o for o, k in zip(candidates, kinds, strict=True) if new[k] > gone.get(k, 0)]


def _count_by_type(objects: list[object]) -> Counter[int]:
    return Counter(kinds_of(objects))


def function_parts(function: object) -> set[int]:
    """Ids of a callback and the closure cells it carries, not of what they refer to."""
    parts = {id(function)}
    closure = getattr(function, "__closure__", None)
    if closure:
        parts.add(id(closure))
        parts.update(id(cell) for cell in closure)
    return parts


Frames = tuple[tuple[str, int], ...]


#: Lookups in a row that found no new traceback, after which the rest of a type's
#: objects are taken to have been made where those were.
_SATURATED = 64


#: An object's allocation traceback, and the files its constructor can run in.
Sites = dict[tuple[str, int], dict[Frames, frozenset[str]]]


def traceback_keys(objects: Iterable[object]) -> Sites:
    """Allocation tracebacks of ``objects``, indexed by their innermost frame, each
    with the files of the object's class and its bases (see :func:`made_by`).

    A leak of a hundred thousand objects is most often made at one line: once a
    type's last :data:`_SATURATED` lookups found only tracebacks already known, its
    remaining objects are not looked up (each lookup costs as much as running a
    line of the test), which bounds the cost for big leaks.
    """
    keys: Sites = {}
    unchanged: dict[type, int] = {}
    files: dict[type, frozenset[str]] = {}
    # Per type, for this pass only: see text.object_traceback.
    managed: dict[type, bool] = {}
    for obj in objects:
        kind = type(obj)
        if unchanged.get(kind, 0) >= _SATURATED:
            continue
        frames = object_frames(obj, managed)
        if not frames:
            continue
        made_here = keys.setdefault(frames[-1], {})
        if frames in made_here:
            unchanged[kind] = unchanged.get(kind, 0) + 1
        else:
            if kind not in files:
                files[kind] = _class_files(kind)
            made_here[frames] = files[kind]
            unchanged[kind] = 0
    return keys


def _class_files(kind: type) -> frozenset[str]:
    """The source files of a class and its bases: where its constructor runs."""
    found = set()
    for base in kind.__mro__:
        module = sys.modules.get(getattr(base, "__module__", None) or "")
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str):
            found.add(filename)
    return frozenset(found)


def made_by(frames: Frames, origins: Sites) -> bool:
    """Whether an allocation happened where one of ``origins`` was made, or inside
    its constructor.

    Memory allocated by an object's constructor (its attribute storage, say) has
    the object's own allocation traceback as its outer part, and runs in the file
    of its class or a base (or in code generated for it, as ``dataclasses`` and
    ``attrs`` make ``__init__``).  Other calls made from the line that made the
    object are not its constructor: a doctest example ``f(text)[:9]`` makes its
    slice at the example's line, and what ``f`` keeps is not the slice's memory.
    Tracebacks keep only their innermost frames, so the two are compared over
    the frames both kept.
    """
    if not origins:
        return False
    for end in range(len(frames), 0, -1):
        found = origins.get(frames[end - 1])
        if not found:
            continue
        inner = frames[end][0] if end < len(frames) else None
        for origin, files in found.items():
            if inner is not None and inner not in files and not inner.startswith("<"):
                continue
            shared = min(len(origin), end)
            if origin[-shared:] == frames[end - shared : end]:
                return True
    return False


_CONTAINERS = (dict, list, tuple, set, frozenset)
#: Kinds hashed and compared by identity (a builtin method by its function and the
#: address of what it is bound to), so that set lookups run no code of theirs.
_IDENTITY_KINDS = frozenset((type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType))


@dataclass(frozen=True)
class Young:
    """What :func:`new_reachable` can rule out without an ``id()``: the types of the
    new objects, and the new objects of kinds hashed by identity (classes,
    functions, builtin functions, modules)."""

    types: frozenset[type]
    identity: frozenset[object]


def young_index(young: Iterable[object]) -> Young:
    objects = list(young)
    return Young(
        types=frozenset(type(obj) for obj in objects),
        identity=frozenset(obj for obj in objects if type(obj) in _IDENTITY_KINDS),
    )


def new_reachable(
    roots: Iterable[object],
    young_ids: set[int],
    old_depth: int = 2,
    young: Young | None = None,
) -> set[int]:
    """Ids of new objects reachable from ``roots`` (the roots too, if new).

    Between a root and the new objects it holds there may be old plain containers
    (an attribute dict, a stash's storage): those are looked through, up to
    ``old_depth`` of them, and no other old object is, so that a root such as a
    plugin object does not drag in the whole heap.
    """
    found: set[int] = set()
    if not young_ids:
        # Nothing new to find: the walk through old containers is skipped.
        return found
    visited_old: set[int] = set()
    roots = list(roots)
    for root in roots:
        if id(root) in young_ids:
            found.add(id(root))
    pending: list[tuple[object, int]]
    if young is None and old_depth == 0:
        # The roots' referents all at once, in C: the caches' walk passes hundreds
        # of containers, most of which gained nothing.
        pending = [(root, 0) for root in roots if id(root) in found]
        refs = referents(*roots)
        for ref in compress(refs, map(young_ids.__contains__, map(id, refs))):
            if id(ref) not in found:
                found.add(id(ref))
                pending.append((ref, 0))
        del refs
    else:
        pending = [(root, 0) for root in roots]
    wanted = len(young_ids)
    while pending:
        if len(found) >= wanted:
            break
        obj, depth = pending.pop()
        refs = referents(obj)
        if young is None and depth >= old_depth:
            # Nothing old is looked through from here, so only new referents
            # matter: picked out in C, which made walking filled caches several
            # times faster.  Not under tracing, where each id() is a traced int.
            for ref in compress(refs, map(young_ids.__contains__, map(id, refs))):
                if id(ref) not in found:
                    found.add(id(ref))
                    pending.append((ref, 0))
            continue
        # Never new (gc.get_objects lists none of them) and never looked through:
        # the strings and numbers a cache is mostly made of are passed over, in C,
        # before id() makes an int for each, an allocation that tracing (the
        # traced re-run) makes costly.  (A window's own set of the ids it found
        # was a tenth of each plain re-run's reading, one by one.)
        for ref in compress(refs, map(not_, map(ATOMS.__contains__, map(type, refs)))):
            kind = type(ref)
            if young is not None:
                # Likewise what cannot be new (no new object has its type; an old
                # class or function) and is not looked through, told by set lookups
                # hashed by address, which allocate nothing.  They only rule out.
                if kind not in young.types:
                    if depth >= old_depth or kind not in _CONTAINERS:
                        continue
                elif kind in _IDENTITY_KINDS and ref not in young.identity:
                    continue
            key = id(ref)
            if key in young_ids:
                if key not in found:
                    found.add(key)
                    pending.append((ref, 0))
            elif (
                depth < old_depth
                and type(ref) in _CONTAINERS
                and key not in visited_old
                and len(visited_old) < 10_000
            ):
                visited_old.add(key)
                pending.append((ref, depth + 1))
    return found


_MANAGED_DICT = 1 << 4
_WORD = struct.calcsize("P")


def _attribute_values_block(obj: object) -> int:
    """1 if ``obj`` keeps its attributes in a separately allocated values array.

    Python 3.11 and 3.12 store the attributes of most instances in such an array,
    found two words before the object's garbage-collector header, unless a real
    ``__dict__`` has been made for it (then the dict owns the array and is counted
    as an object of its own).  3.10 always uses a dict; 3.13 keeps the values in
    the object itself.  Reading the header words only looks inside the object's
    own allocation.
    """
    if sys.version_info[:2] not in ((3, 11), (3, 12)):
        return 0
    if not type(obj).__flags__ & _MANAGED_DICT:
        return 0
    header = ctypes.c_void_p.from_address(id(obj) - 3 * _WORD).value or 0
    if sys.version_info[:2] == (3, 12):
        return 1 if header & 1 else 0  # tagged: values, not a dict
    values = ctypes.c_void_p.from_address(id(obj) - 4 * _WORD).value or 0
    return 1 if header == 0 and values != 0 else 0


def hidden_blocks(obj: object) -> int:
    """Allocations an object owns besides its own block: a dict's table, a list's array."""
    empty = _EMPTY_SIZES.get(type(obj))
    if empty is None:
        return _attribute_values_block(obj)
    try:
        return 1 if sys.getsizeof(obj) > empty else 0
    except Exception:  # noqa: BLE001
        return 0


def estimated_blocks(
    objects: list[object],
    calibration: dict[type, int],
) -> int:
    """Blocks the given new objects hold, counted low rather than high.

    Tracked objects count one block each plus a dict's table or a list's array.
    Their untracked contents (strings, numbers, tuples of them) count when nothing
    but these objects refers to them, which is how new ones look.  Types in
    ``calibration`` count as measured, own attribute storage included.  An unknown
    kind of storage is not counted: too little only costs a re-run, too much
    could hide a leak.
    """
    total = 0
    skip_dicts: set[int] = set()
    for obj in objects:
        base = calibration.get(type(obj))
        if base is None:
            total += 1 + hidden_blocks(obj)
            continue
        total += base
        attributes = instance_dict(obj)
        if attributes is not None:
            skip_dicts.add(id(attributes))
    total -= sum(1 + hidden_blocks(o) for o in objects if id(o) in skip_dicts)
    # Untracked contents, looking inside tuples and dicts of them.
    holders: list[object] = list(objects)
    found: dict[int, object] = {}
    while holders:
        fresh = _untracked_referents(holders, found)
        holders = [o for o in fresh.values() if type(o) in (tuple, dict, frozenset)]
        found.update(fresh)
    if found:
        contents = list(found.values())
        # Each is also held by ``found``.
        only = referred_to_only_by(chain(objects, contents), contents, also_held=1)
        total += sum(1 + hidden_blocks(o) for o, n in zip(contents, only, strict=True) if n)
    return total


def _untracked_referents(holders: list[object], found: dict[int, object]) -> dict[int, object]:
    fresh: dict[int, object] = {}
    for holder in holders:
        for ref in referents(holder):
            key = id(ref)
            if key in found or key in fresh:
                continue
            if type(ref) in _NO_ALLOCATION or is_a(ref, type) or gc.is_tracked(ref):
                continue
            fresh[key] = ref
    return fresh
