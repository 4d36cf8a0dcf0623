"""What is not the test's: every rule that takes growth off a test's account.

The principle: a new object, or a new block of memory, is the test's unless
something else is the reason it exists and will answer for it: the interpreter
(its caches, its frames, interned names), the standard library's caches, pytest
and other tools keeping their own records (reports, fixture bookkeeping, log
buffers, pytest-xdist's messaging), or a cache with a size limit, which drops
what it holds once full.  Each rule names that owner and is narrow enough that
the same kind of object made or kept by the test still counts, and gets a test on
both sides: the harmless case left alone (``tests/test_not_leaks.py``), the leak
still caught (``tests/test_leaks.py``).

Rules that need pytest's records are applied by the plugin, through
:mod:`pytest_refleak.pytest_internals`; the rest are here, for the measuring
code, which never imports pytest.  Every case, and where it is applied:

Named by the caller, as an :class:`Exclusions` (``protocol.Checker._measure_rerun``
builds the re-runs' one; the first run is not measured):

- the item, its stash, and the finalizer lists of the wider-scoped fixtures it
  uses (what a run leaves on pytest's node, another plugin's per-run record or a
  timer's handle): ``holders``;
- the logging plugin's handlers and ``config.stash``, which swap in fresh
  buffers each phase: ``holders``;
- what ``pytest_refleak_ignore`` declares: ``ignored`` and ``ignored_types``;
- ``lru_cache`` wrappers with a size limit, the standard library's bounded dict
  caches and hypothesis's caches: ``caches`` (what they gained is theirs to drop);
- the containers at the top level of the test tooling's modules, pytest's and
  those of every package installed with a pytest plugin (:func:`tooling_state`):
  ``caches`` on re-runs.  The tooling's record of what it has seen is its own,
  however many entries a test adds (hypothesis tags every strategy label it
  sees, and a strategy sampling from objects made per example has a new label
  on every run, replayed examples or not).  Their keys and values that the
  collector does not track (strings, numbers) are theirs too
  (:func:`untracked_entries`);

Applied by :class:`pytest_refleak.measure.Window`:

- before a window opens: a previous failure's traceback in ``sys.last_*``
  (:func:`forget_last_failure`), the frame objects of the code now running
  (:func:`frame_objects_of_callers`);
- reading new objects: frames of code still running (:func:`current_frames`),
  ``abc``'s cache entries (:func:`abc_cache_entries`), the entries bounded
  caches link their new keys and values with (:func:`new_cache_links`), weak
  references to excluded objects (:func:`weakrefs_to`), ``io.StringIO``'s hidden
  lists before Python 3.12 (:func:`without_stringio_internals`), the registries
  in which old classes list their subclasses (:func:`without_subclass_registries`),
  objects made by
  pytest-xdist's messaging thread (:func:`transport_made`);
- reading memory: what the test tooling allocated, file names the import system
  joined, names the standard library interned on Python 3.12
  (:func:`tooling_made`), the interned-string table's growth on 3.12
  (:data:`interned_size`), and the tables of old classes' registries of
  subclasses (:func:`interpreter_held_blocks`, in the re-run after the traced one).

Put back before and after each re-run to what they held when the re-runs began
(``protocol.Checker._rerun`` through :func:`clear_caches` and
:func:`saved_caches`): ``re``'s and ``_strptime``'s compiled patterns.  Emptied
before and after each re-run, and put back once the re-runs are done:
``linecache``, ``sys.path_importer_cache``, ``zipimport``'s directory cache,
pytest's assertion rewriting cache of module names.  Emptied only: the
interpreter's type cache, typing's caches of generic aliases, hypothesis's
caches, and whatever ``pytest_refleak_clear_caches`` implementations empty.

Over 500 lines on purpose: the point of this module is that the whole list is
in one place.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import functools
import gc
import io
import itertools
import linecache
import sys
import tracemalloc
import types
import typing
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from pytest_refleak.heap import _clear_type_cache, referents, words_of
from pytest_refleak.objects import Frames
from pytest_refleak.origins import Origin, Origins
from pytest_refleak.text import (
    block_frames,
    class_module,
    is_a,
    module_namespace,
    object_frames,
)

ModulesSeen = tuple[int, str, int]


def modules_seen() -> ModulesSeen:
    """Which modules are loaded, cheaply: how many, and the last one put in.

    A count alone misses an import that follows a module's removal (``six.moves``
    and tests that re-import a module do both), so the looks below that are made
    again only when modules changed key on the newest entry of ``sys.modules`` too.
    """
    modules = sys.modules
    try:
        last = next(reversed(modules.copy()))
    except StopIteration:
        return (0, "", 0)
    return (len(modules), last, id(modules.get(last)))


# -- named by the caller --------------------------------------------------------------


@dataclass
class Exclusions:
    """Objects of the test tooling, told apart from what the test left behind.

    ``bookkeeping``: kept by the tooling during the window and still held at its
    end (reports, say); new objects reachable from them are not the test's, and
    their blocks are taken off the memory growth.  ``holders``: long-lived
    tooling objects whose new contents replaced old ones (no memory growth).
    ``ignored``: objects and types the user declared not to be leaks.
    ``caches``: bounded caches; what they gained is theirs to drop, like ignored
    objects, but only their new entries are looked at.
    ``tracers``: the objects tracing the interpreter (:func:`~pytest_refleak.origins.tracers`),
    holders like ``holders``, walked last and only for new objects nothing else
    accounts for: coverage's records are large, and hold a test's new objects
    only when it ran code not seen before.
    """

    bookkeeping: Sequence[object] = ()
    holders: Sequence[object] = ()
    ignored: Sequence[object] = ()
    ignored_types: tuple[type, ...] = ()
    caches: Sequence[object] = ()
    #: Namespaces and instance dicts of the tooling (its modules', a test item's):
    #: the strings and numbers they hold directly are the tooling's memory.
    slots: Sequence[object] = ()
    tracers: Sequence[object] = ()


# -- before a window opens -----------------------------------------------------------


def forget_last_failure() -> None:
    """Drop a previous failure's traceback now, rather than inside the next window.

    pytest deletes ``sys.last_*`` when the next test's call phase starts; the frames
    they hold would otherwise be freed during the measured window.
    """
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        with contextlib.suppress(AttributeError):
            delattr(sys, name)


def frame_objects_of_callers() -> list[types.FrameType]:
    """Make the frame objects of every function now running, before memory is read,
    and return them, to be held until memory has been read again.

    Since Python 3.11 a running function has a frame object only once something
    asks for it.  A frame object that outlives its function (one a caught
    exception's traceback keeps, in a cycle, until the collector frees it) makes
    its caller's frame object when it takes over the finished frame, and so on up
    the stack: the measuring code's own callers, still running when the window
    closes, would then hold one new frame object each, counted as the test's.
    Asking for them here makes them once, outside the window.

    The functions that opened the window (its ``open`` and whatever called that)
    return before it closes, and their frame objects would die inside it: a block
    each, taken off the test's growth, one more than an empty window measuring
    its own cost sees.  That hid a leak of one block (a 1 KiB ``bytes`` kept per
    call) at every first look but the first.  Held until the closing reading,
    they die outside the window.
    """
    frames = []
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


# -- reading a window's new objects ---------------------------------------------------


def current_frames() -> list[types.FrameType]:
    frames = []
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def abc_cache_entries(young: list[object], young_ids: set[int]) -> set[int]:
    """Ids of the new entries of the ``abc`` module's caches.

    ``isinstance`` and ``issubclass`` against an abstract class remember the
    answer per class, in sets of weak references that die with the class.  The C
    implementation makes each entry as a weak reference whose callback is a
    ``_destroy`` method bound to a weak reference to the set: three objects, the
    interpreter's to drop, not the test's.  The classes themselves are not among
    them.
    """
    found: set[int] = set()
    for obj in young:
        if type(obj) is not _WEAKREF:
            continue
        callback: object = obj.__callback__
        if type(callback) is not _BUILTIN or getattr(callback, "__name__", None) != "_destroy":
            continue
        set_ref = getattr(callback, "__self__", None)
        if type(set_ref) is not _WEAKREF or type(set_ref()) is not set:
            continue
        for part in (obj, callback, set_ref):
            if id(part) in young_ids:
                found.add(id(part))
    return found


def weakrefs_to(young: list[object], among: set[int], targets: set[int]) -> set[int]:
    """Ids of the weak references in ``among`` whose object is one of ``targets``."""
    found: set[int] = set()
    for obj in young:
        if type(obj) is _WEAKREF and id(obj) in among:
            referent = obj()
            if referent is not None and id(referent) in targets:
                found.add(id(obj))
            del referent
    return found


_WEAKREF = weakref.ref
_BUILTIN: type = type(len)


def _lru_link_type() -> type | None:
    """The type of the entries ``functools.lru_cache`` links in a list, in C: untracked
    objects, one per cached call, that only the cache's own traversal shows."""
    probe = functools.lru_cache(maxsize=1)(lambda: _LINK_PROBE)
    probe()
    refs = referents(probe)
    # The cache's type, then the entry's key, value and type.
    kind = refs[3] if len(refs) > 3 and refs[2] is _LINK_PROBE else None
    if not isinstance(kind, type) or not kind.__name__.endswith("lru_list_elem"):
        return None
    return kind


_LINK_PROBE = object()
_LRU_LINK = _lru_link_type()
#: Per ``lru_cache`` wrapper (by id, with a weak reference to tell a reused id):
#: its count of calls when a reading last looked.
_calls_seen: dict[int, tuple[weakref.ref[object], int]] = {}


@dataclass
class CacheEntries:
    """What to walk to find the entries bounded caches gained in a window.

    ``roots``: caches, and lists of an ``lru_cache``'s recent entries, whose
    referents are the entries' keys and values.  ``growing``: the recent entries
    of the caches not yet full, as (key, value, link type) triples in one list.
    """

    roots: list[object]
    growing: list[list[object]]


def recent_cache_entries(caches: Sequence[object]) -> CacheEntries:
    """The parts of the bounded caches that can hold what they gained since the
    last reading.

    ``lru_cache`` keeps its entries in order of use: every call that finds or adds
    an entry moves it to the recent end, where its traversal lists it last.  So
    the entries made in a window are among the last *n* it lists, *n* the calls
    made since the previous reading (one that looked earlier only makes *n*
    larger), and a cache called by nobody gained nothing.  Walking every entry of
    every cache was a sixth of a plain suite's time once the caches had filled
    (tabulate's, 3.11).  Any other kind of cache is walked whole.
    """
    roots: list[object] = []
    growing: list[list[object]] = []
    for cache in caches:
        if type(cache) is not _LRU_WRAPPER or _LRU_LINK is None:
            roots.append(cache)
            continue
        info = cache.cache_info()
        calls = info.hits + info.misses
        seen = _calls_seen.get(id(cache))
        _calls_seen[id(cache)] = (weakref.ref(cache), calls)
        # Not seen yet, or its counts were reset (cache_clear): all of it.
        since = seen[1] if seen is not None and seen[0]() is cache else calls + 1
        if since == calls:
            continue
        refs = referents(cache)
        # The cache's type first, then each entry as its key, value and link type,
        # oldest first, then the wrapper's own parts.
        end = 1
        while end + 2 < len(refs) and refs[end + 2] is _LRU_LINK:
            end += 3
        if since > calls:
            roots.append(cache)
            entries = refs[1:end]
        else:
            entries = refs[max(1, end - 3 * (calls - since)) : end]
            roots.append(entries)
            roots.append(refs[end:])
        if info.maxsize is not None and info.currsize < info.maxsize:
            # A full cache reuses its oldest entry for a new one: nothing was allocated.
            growing.append(entries)
        del refs
    return CacheEntries(roots, growing)


def new_cache_links(growing: Sequence[list[object]], new: set[int]) -> int:
    """How many entries the caches gained whose key or value is among ``new``:
    each is one block that no other reading accounts for."""
    count = 0
    for entries in growing:
        for i in range(0, len(entries) - 2, 3):
            if id(entries[i]) in new or id(entries[i + 1]) in new:
                count += 1
    return count


#: Before 3.12, io.StringIO accumulates text in lists it does not show to the
#: garbage collector: nothing visibly refers to them.
STRINGIO_LISTS = sys.version_info < (3, 12)


def stringio_buffers(young: list[object], ids: list[int], among: set[int]) -> dict[int, list[int]]:
    """The machine words of the structures of the new ``StringIO`` buffers in
    ``among``, by the buffer's id: among them the addresses of the accumulator
    lists each keeps where the garbage collector does not traverse.  Read once per
    window, for :func:`hidden_lists` and then :func:`stringio_words`."""
    return {
        key: words_of(obj)
        for obj, key in zip(young, ids, strict=True)
        if key in among and type(obj) is io.StringIO
    }


def stringio_words(buffers: dict[int, list[int]], held: set[int]) -> set[int]:
    """The addresses stored in the structures of the tooling's new ``StringIO``
    buffers (those of ``buffers`` that ``held`` has): among them, the hidden
    accumulator lists of :func:`without_stringio_internals`."""
    stored: set[int] = set()
    for key, words in buffers.items():
        if key in held:
            stored.update(words)
    return stored


def hidden_lists(young: list[object], ids: list[int], buffers: dict[int, list[int]]) -> set[int]:
    """Ids of the new lists that a new ``StringIO`` of ``buffers`` keeps in its own C
    structure (its accumulator), where the garbage collector does not traverse:
    no walk of references can reach them, so a walk looking for them never stops
    early.  Whose they are is decided as before (:func:`without_stringio_internals`)."""
    words = {word for stored in buffers.values() for word in stored}
    if not words:
        return set()
    return {key for obj, key in zip(young, ids, strict=True) if key in words and type(obj) is list}


def without_stringio_internals(candidates: list[object], stored: set[int]) -> list[object]:
    """Drop the hidden accumulator lists of the tooling's new ``StringIO`` buffers
    (``stored``: :func:`stringio_words`).

    Decided by what holds them, not by what they look like: a buffer keeps its
    lists in its own C structure, where the garbage collector does not look, so
    the lists dropped are those whose address a held buffer's structure stores.
    A list the test keeps (in a module's list, a ``defaultdict``) is held by
    something else, and stays the test's however small it is.  The buffers'
    lists replace the lists of the buffers they replaced: not memory growth either.
    """
    if not stored:
        return candidates
    return [o for o in candidates if not (type(o) is list and id(o) in stored)]


_WORD = ctypes.sizeof(ctypes.c_void_p)


def _subclasses_offset() -> int | None:
    """Where a class's structure stores its registry of subclasses (``tp_subclasses``),
    found on a probe class and checked there; ``None`` where it cannot be."""

    class _Base:
        pass

    class _Sub(_Base):
        pass

    words = words_of(_Base)
    mro = id(_Base.__mro__)
    # tp_mro, tp_cache, tp_subclasses: the order CPython's type structure has had
    # since 3.0.  Checked, not assumed: the word must point at a dict of weak
    # references to the probe's subclass.
    for index in range(3, len(words) - 2):
        if words[index] != mro:
            continue
        pointer = words[index + 2]
        if not pointer:
            return None
        registry = ctypes.cast(pointer, ctypes.py_object).value
        if type(registry) is dict and [r() for r in registry.values()] == [_Sub]:
            return (index + 2) * _WORD
        return None
    return None


_SUBCLASSES_OFFSET = _subclasses_offset()


def _address_space() -> memoryview[int] | None:
    """The process's memory as machine words, to read many scattered words fast.

    Reading through ``ctypes`` makes an object per word, which tracing records
    with its traceback: 11,000 words took 21 ms under tracing that way, 1.5 ms
    this way.
    Only words inside live objects are ever read, as with ``ctypes``.
    """
    try:
        space = (ctypes.c_char * _SPACE).from_address(0)
        return memoryview(space).cast("B").cast("P")
    except (ValueError, TypeError, OverflowError, MemoryError):
        return None


_SPACE = 1 << 47 if sys.maxsize > 2**32 else 1 << 31
_WORDS = _address_space()


def _word(address: int) -> int:
    if _WORDS is not None and address < _SPACE:
        return int(_WORDS[address // _WORD])
    return int(ctypes.c_size_t.from_address(address).value)


_HEAPTYPE = 1 << 9
#: Where a dict keeps the address of its table: after the object header, the
#: number of entries and the version tag (the same on 3.10 to 3.13).
_DICT_KEYS_WORD = 4


def _subclass_registries() -> Iterator[tuple[type, int]]:
    """Every live class, with the address of its registry of subclasses (0 if none).

    Python 3.12 stores an index there for the interpreter's static types, not an
    address: it is only ever compared with addresses, never followed.
    """
    offset = _SUBCLASSES_OFFSET
    if offset is None:
        return
    for cls in _live_classes():
        yield cls, _word(id(cls) + offset)


_BASES = type.__dict__["__bases__"]


def registry_owner(registry: object) -> type | None:
    """The class whose registry of subclasses ``registry`` is, if it is one.

    A class lists its subclasses in a dict of weak references that only its C
    structure holds: the collector shows nothing that refers to it.  Found from
    a subclass it lists, whose bases are asked for the address each keeps.
    """
    if _SUBCLASSES_OFFSET is None or type(registry) is not dict:
        return None
    for ref in registry.values():
        if type(ref) is not weakref.ReferenceType:
            return None
        subclass = ref()
        if not is_a(subclass, type):
            continue
        for base in _BASES.__get__(subclass, type):
            if _word(id(base) + _SUBCLASSES_OFFSET) == id(registry):
                return base  # type: ignore[no-any-return]
        return None
    return None


def _live_classes() -> Iterator[type]:
    """Every live class, from ``object`` down its subclasses."""
    stack: list[type] = [object]
    seen: set[int] = set()
    while stack:
        cls = stack.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        yield cls
        stack.extend(type.__subclasses__(cls))


def _plain_namespaces() -> Iterator[dict[str, object]]:
    """The namespaces of the loaded plain modules.  A lazily loaded module, whose
    attributes would load it, is not a plain module and is passed over."""
    for module in list(sys.modules.values()):
        if type(module) is types.ModuleType:
            yield module.__dict__


def without_subclass_registries(candidates: list[object]) -> list[object]:
    """``candidates`` less the dicts in which a class lists its subclasses.

    A class keeps its registry of subclasses in its own structure, where the
    collector does not look; the collector stops tracking it while it is empty and
    tracks it again once a class made during a test is listed (Python 3.10).  So an
    old registry, emptied again when that class died, looks new.  It is the
    class's, never the test's: a subclass the test left alive is counted itself.
    Decided by what holds the dict (a class stores its address), not by its looks.
    """
    dicts = {
        id(o)
        for o in candidates
        if type(o) is dict and all(type(v) is _WEAKREF for v in o.values())
    }
    if not dicts:
        return candidates
    registries: set[int] = set()
    # Walked live, not from the classes found earlier: a class listing its first
    # subclass now made its registry now.
    for _, address in _subclass_registries():
        if address in dicts:
            registries.add(address)
            if len(registries) == len(dicts):
                break
    if not registries:
        return candidates
    return [o for o in candidates if id(o) not in registries]


def interpreter_held_blocks(
    wanted: dict[Frames, tuple[int, int]] | None = None,
    *,
    deep: bool = True,
) -> dict[Frames, int]:
    """Traced blocks that old objects keep in their own structures, by
    allocating traceback: how many at each.

    A class's registry of subclasses: listing a new subclass (mock makes one per
    mock) grows its base's registry, and its table is reallocated at the line
    that made the subclass; it shrinks again when the subclass dies.  That memory
    is the class's, as the table of an old dict is the dict's: never the test's.
    A subclass the test keeps alive is counted by its objects.  Likewise the room
    that old structures keep for reuse and that holds no data (see
    :func:`_room_kept_for_reuse`): an empty module dict's table, and on 3.10 a
    function's spare frame and lookup cache.  Read only while tracing.

    ``wanted``: the bytes and blocks that grew at each allocating traceback.
    When the structures above do not account for all of them, the empty dicts
    held anywhere deeper are looked for too (see :func:`_deep_empty_dict_tables`),
    until they do; not for a single block of a size no dict table has, nor
    when not ``deep``.  The search walks up to :data:`DEEP_WALK_LIMIT` objects,
    all of them when it finds nothing, as it does beside a real leak, where each
    object's id is a traced allocation: 0.85 s of each of click's leaking tests
    (1.4 s in all), to correct a figure when objects already decide.
    """
    held: dict[Frames, int] = {}
    if not tracemalloc.is_tracing():
        return held
    _STRUCTURES.refresh()
    for block in itertools.chain(_registry_tables(), _room_kept_for_reuse()):
        frames = block_frames(block)
        if frames:
            held[frames] = held.get(frames, 0) + 1
    if not wanted or not deep:
        return held
    missing = {
        frames: count - held.get(frames, 0)
        for frames, (size, count) in wanted.items()
        if count > held.get(frames, 0) and (count > 1 or size in _dict_table_sizes())
    }
    if not missing:
        return held
    found: set[int] = set()
    for block in _deep_empty_dict_tables():
        if block in found:
            continue
        frames = block_frames(block)
        if frames not in missing:
            continue
        found.add(block)
        held[frames] = held.get(frames, 0) + 1
        missing[frames] -= 1
        if not missing[frames]:
            del missing[frames]
            if not missing:
                break
    return held


@functools.cache
def _dict_table_sizes() -> frozenset[int]:
    """The sizes a dict's table can have, as this Python allocates them: what a
    dict's size counts beyond an empty one's, for each table a growing dict takes
    (keys of strings only, and of anything)."""
    sizes: set[int] = set()
    empty = sys.getsizeof({})
    for make in (str, float):
        grown: dict[object, None] = {}
        for n in range(1 << 16):
            grown[make(n)] = None
            sizes.add(sys.getsizeof(grown) - empty)
    return frozenset(sizes)


#: How many objects :func:`_deep_empty_dict_tables` looks at, at most: it runs only
#: where memory would otherwise be called leaked, and stops early once it found
#: what it looks for; a leak never lets it, so its cost is bounded here (about a
#: tenth of a second on a heap of a few hundred thousand objects).
DEEP_WALK_LIMIT = 500_000


def _deep_empty_dict_tables(limit: int = DEEP_WALK_LIMIT) -> Iterator[int]:
    """The tables of empty dicts held anywhere from the loaded modules and the
    frames now running, nearest first.

    The same room as an empty module dict's (see :func:`_room_kept_for_reuse`),
    held further away: a cache that a call fills and empties again inside a
    per-thread object that a module holds (hypothesis's per-thread ``unwrap``
    cache, a ``WeakKeyDictionary`` in a ``threading.local``) can end up with a
    table made in this run in place of one made before tracing began.  Found by
    the address the dict stores.  Walked through the collector's referents only,
    a level at a time (one call, one list a level: under tracing each allocation
    records a traceback): nothing is asked of any object, and frozen objects are
    reached as well.  Strings and numbers, which hold nothing, are passed over
    before they are counted.
    """
    level: list[object] = list(sys.modules.values())
    level.extend(sys._current_frames().values())
    seen: set[int] = set()
    is_tracked = gc.is_tracked
    while level and len(seen) < limit:
        level = [o for o in level if type(o) is dict or is_tracked(o)]
        further: list[object] = []
        for key, obj in zip(list(map(id, level)), level, strict=True):
            if key in seen:
                continue
            seen.add(key)
            if type(obj) is dict and not obj:
                table = _word(key + _DICT_KEYS_WORD * _WORD)
                if table != _SHARED_EMPTY_TABLE:
                    yield table
                continue
            further.append(obj)
        level = referents(*further) if further else []


def _registry_tables() -> Iterator[int]:
    """The addresses of the tables of the live classes' registries of subclasses."""
    for ref, slot in _STRUCTURES.registries:
        if ref() is None:
            continue
        registry = _word(slot)
        table = _word(registry + _DICT_KEYS_WORD * _WORD) if registry else 0
        if table:
            yield table


def _code_words() -> tuple[int, int, int] | None:
    """Where Python 3.10's code objects keep their spare frame and their warm-up
    cache (``co_zombieframe``, ``co_opcache_map``, ``co_opcache``), as word
    indexes into the code object; ``None`` on other versions or where a probe
    does not find them where CPython 3.10 puts them.

    A 3.10 function keeps the frame of its last finished call for its next call,
    and after its 1,024th call a cache of its global and attribute lookups: both
    allocated while some test ran, held by the code object for as long as it
    lives, in its C structure where the collector does not look.  Which frame is
    kept moves from call to call (a generator's frame made in this run may take
    the place of one made before tracing began, whose release tracing never
    sees), so a test that merely runs old code looks, under tracing, as if it
    kept a frame and a cache.  Those blocks are the interpreter's.  3.11 has
    neither: its frames live on a stack of their own, its caches inside the code.
    """
    if sys.version_info[:2] != (3, 10):
        return None
    seen: list[int] = []

    def probe() -> None:
        seen.append(id(sys._getframe()))

    probe()
    code = probe.__code__
    words = words_of(code)
    try:
        zombie = words.index(seen[0])
    except ValueError:
        return None
    # co_zombieframe, co_weakreflist, co_extra, co_opcache_map, co_opcache.
    if zombie + 4 >= len(words) or words[zombie - 1] != id(code.co_linetable):
        return None
    return zombie, zombie + 3, zombie + 4


_CODE_WORDS = _code_words()
#: The collector's header, allocated before a frame object's own fields.
_GC_HEADER = sys.getsizeof(sys._getframe()) - sys._getframe().__sizeof__()


def _room_kept_for_reuse() -> Iterator[int]:
    """The addresses of the blocks old structures keep for reuse: the tables of
    empty dicts that modules hold, and on 3.10 what code objects keep (see
    :func:`_code_words`).

    An empty dict holds no data, only room: a module's dict that a call fills and
    empties again (hypothesis's registry of the threads inside a call) can end up
    with a table made elsewhere (the interpreter reuses dict tables), whose own
    allocation was traced in this run while the table it replaced was allocated
    before tracing began.  Only modules' dicts are looked at: walking every
    class and function for theirs costs a third of a second under tracing.
    """
    for namespace in _plain_namespaces():
        for value in namespace.values():
            if type(value) is dict and not value:
                table = _word(id(value) + _DICT_KEYS_WORD * _WORD)
                if table != _SHARED_EMPTY_TABLE:
                    yield table
    if _CODE_WORDS is None:
        return
    zombie, cache_map, cache = _CODE_WORDS
    for code in _live_code():
        base = id(code)
        frame = _word(base + zombie * _WORD)
        if frame:
            yield frame - _GC_HEADER
        for index in (cache_map, cache):
            block = _word(base + index * _WORD)
            if block:
                yield block


#: The table every new empty dict shares, allocated by no one.
_SHARED_EMPTY_TABLE = _word(id({}) + _DICT_KEYS_WORD * _WORD)


def _live_code() -> Iterator[types.CodeType]:
    """The code of the functions that loaded modules and live classes define, with
    what they wrap or close over, and the code nested in it.

    Found from the modules and the classes, not from the collector's list, which
    leaves out what the plugin froze.  Read by exact type only: nothing is asked
    of an object (a lazily loaded module is passed over).
    """
    found: list[object] = []
    for plain in _plain_namespaces():
        found.extend(plain.values())
    namespace = type.__dict__["__dict__"]
    for cls in _live_classes():
        found.extend(namespace.__get__(cls).values())
    functions: set[int] = set()
    codes: set[int] = set()
    while found:
        obj = found.pop()
        kind = type(obj)
        # By exact type, then cast: isinstance would ask each object its __class__.
        if kind is staticmethod or kind is classmethod:
            found.append(typing.cast("staticmethod[..., object]", obj).__func__)
            continue
        if kind is property:
            prop = typing.cast(property, obj)
            found.extend((prop.fget, prop.fset, prop.fdel))
            continue
        if kind is not types.FunctionType or id(obj) in functions:
            continue
        function = typing.cast(types.FunctionType, obj)
        functions.add(id(function))
        # What a decorator wraps: its original, in the wrapper's cells or __wrapped__.
        for cell in function.__closure__ or ():
            with contextlib.suppress(ValueError):
                found.append(cell.cell_contents)
        # Its attributes (__wrapped__ among them) through the collector: reading
        # __dict__ would give every function without one a new, empty dict.
        own = function.__globals__
        for part in referents(function):
            if type(part) is dict and part is not own:
                found.extend(part.values())
        nested = [function.__code__]
        while nested:
            code = nested.pop()
            if id(code) in codes:
                continue
            codes.add(id(code))
            nested.extend(c for c in code.co_consts if type(c) is types.CodeType)
            yield code


class _Structures:
    """The classes whose registries of subclasses are read, each kept by weak
    reference with the address of the word to read, which is read only while it
    is alive: nothing is kept alive.

    Found again only when modules were imported since the last search (a walk of
    every class).  Not a module-level list: the walks over the
    test tooling's module-level containers would go through it on every run.
    """

    def __init__(self) -> None:
        self.registries: list[tuple[weakref.ref[type], int]] = []
        self.modules: ModulesSeen | None = None

    def refresh(self) -> None:
        seen = modules_seen()
        if self.modules == seen:
            return
        self.registries = []
        if _SUBCLASSES_OFFSET is not None:
            # Only classes that list subclasses already: one whose first subclass
            # comes later makes its registry then, in one run, not on every run.
            for cls, address in _subclass_registries():
                if address and (sys.version_info < (3, 12) or _TYPE_FLAGS.__get__(cls) & _HEAPTYPE):
                    self.registries.append((weakref.ref(cls), id(cls) + _SUBCLASSES_OFFSET))
        self.modules = seen


_STRUCTURES = _Structures()
_TYPE_FLAGS = type.__dict__["__flags__"]


def find_held_structures() -> None:
    """Finds the classes :func:`interpreter_held_blocks` reads, if modules were
    imported since: called before tracing starts, where the search costs a few
    milliseconds instead of tens (and none of the test's time allowance).  Also
    works out the sizes of dict tables once, for the same reason."""
    _STRUCTURES.refresh()
    _dict_table_sizes()


def transport_made(
    obj: object,
    origins: Origins,
    frames_of: Callable[[object], tuple[tuple[str, int], ...]] = object_frames,
) -> bool:
    """Whether pytest-xdist's messaging made ``obj``, in a thread of its own, as it
    does while a test runs in a worker.  Known only where allocations are traced;
    ``frames_of`` as for :meth:`OtherThreads.not_theirs`."""
    frames = frames_of(obj)
    if not frames:
        return False
    filename = _allocating_file(frames, origins)
    return filename is not None and origins.is_transport(filename)


def _allocating_file(frames: Sequence[tuple[str, int]], origins: Origins) -> str | None:
    """The file of the innermost frame outside the standard library (``frames``
    outermost first): standard library code allocates on behalf of its caller."""
    for filename, _ in reversed(frames):
        if origins.of_file(filename) not in (Origin.STDLIB, Origin.UNKNOWN):
            return filename
    return None


# -- reading a window's memory -------------------------------------------------------

#: Python 3.12 makes interned strings immortal.
_IMMORTAL_INTERNS = sys.version_info[:2] == (3, 12)


def _code_lines(code: object) -> frozenset[tuple[str, int]]:
    if not isinstance(code, types.CodeType):
        return frozenset()
    return frozenset((code.co_filename, line) for _, _, line in code.co_lines() if line)


def _import_system_paths() -> tuple[frozenset[tuple[str, int]], frozenset[str]]:
    """Where the import system joins the path of a module file it finds: the lines of
    ``_path_join``, and the files of the finders that call it.

    Such a path becomes the file name of the module's code.  Once that code has
    allocated while tracemalloc traces, tracemalloc keeps the name, in native code,
    until tracing stops: a module imported from a fresh path on every run
    (generated code, templates compiled to a temporary directory or archive)
    leaves one name per run, which is the tracing's memory, not the test's.
    """
    external = sys.modules.get("importlib._bootstrap_external")
    join = getattr(getattr(external, "_path_join", None), "__code__", None)
    finders = [getattr(getattr(external, "FileFinder", None), "find_spec", None)]
    zipimport = sys.modules.get("zipimport")
    finders.append(getattr(getattr(zipimport, "zipimporter", None), "__init__", None))
    files = {
        code.co_filename
        for code in (getattr(f, "__code__", None) for f in finders)
        if isinstance(code, types.CodeType)
    }
    return _code_lines(join), frozenset(files)


_PATH_JOIN, _IMPORT_FILES = _import_system_paths()

#: On Python 3.12 the number of interned strings, each kept forever: the standard
#: library interning a name it has not seen (pathlib interns every part of every
#: path it makes) grows the heap by a block that nobody can free.  That block is
#: the interpreter's, not the test's.
interned_size: Callable[[], int] | None = (
    getattr(sys, "getunicodeinternedsize", None) if _IMMORTAL_INTERNS else None
)


#: Where each function in ``gc.callbacks`` lies: first and last line, by file.
CallbackSpans = dict[str, list[tuple[int, int]]]


def gc_callback_spans() -> CallbackSpans:
    """The lines of the functions the collector calls around every collection
    (``gc.callbacks``), by file.

    What they allocate is the bookkeeping of whoever registered them (hypothesis
    totals the time spent collecting in a module-level float, swapped on every
    collection), made on every collection, the plugin's own included: never a
    test's.  Only plain functions and methods are looked at, by exact type.
    """
    spans: CallbackSpans = {}
    for callback in list(gc.callbacks):
        function = callback
        if type(function) is types.MethodType:
            function = function.__func__
        if type(function) is not types.FunctionType:
            continue
        code = function.__code__
        lines = [line for _, _, line in code.co_lines() if line is not None]
        if lines:
            spans.setdefault(code.co_filename, []).append((min(lines), max(lines)))
    return spans


def made_in_gc_callback(frames: Sequence[tuple[str, int]], spans: CallbackSpans) -> bool:
    """Whether an allocation was made inside one of the collector's callbacks
    (see :func:`gc_callback_spans`)."""
    if not spans:
        return False
    for filename, line in frames:
        for first, last in spans.get(filename, ()):
            if first <= line <= last:
                return True
    return False


def tooling_made(frames: Sequence[tuple[str, int]], origins: Origins) -> bool:
    """Whether the innermost frame outside the standard library is the test tooling's.

    Standard library code allocates on behalf of its caller: pytest's logging
    plugin writing through ``logging`` is pytest's memory, a test's call to
    ``json.loads`` is the test's.  On Python 3.12 interned strings live
    forever; the standard library interning a new name (pathlib interns every
    path component it sees) is the interpreter keeping it, not the test.
    """
    if len(frames) >= 2 and frames[-1] in _PATH_JOIN and frames[-2][0] in _IMPORT_FILES:
        return True
    if _IMMORTAL_INTERNS and frames:
        filename, lineno = frames[-1]
        if origins.of_file(filename) is Origin.STDLIB and "sys.intern(" in (
            linecache.getline(filename, lineno)
        ):
            return True
    allocating = _allocating_file(frames, origins)
    return allocating is not None and origins.of_file(allocating) is Origin.TOOLING


# -- caches emptied around re-runs, and bounded caches -------------------------------

#: (module, attribute) of plain dict caches: saved, emptied, put back.
_DICT_CACHES = (
    ("re", "_cache"),
    ("re", "_cache2"),
    ("_strptime", "_regex_cache"),
    ("linecache", "cache"),
    # A finder per directory or archive ever imported from: a test importing from
    # a fresh temporary path adds one on every run.
    ("sys", "path_importer_cache"),
    ("zipimport", "_zip_directory_cache"),
)

_LRU_WRAPPER = type(functools.lru_cache(maxsize=1)(lambda: None))


def _module_dicts(names: Iterable[tuple[str, str]]) -> list[dict[object, object]]:
    """The dicts found at these (module, attribute) names, of modules loaded now."""
    found = []
    for module_name, attribute in names:
        cache = getattr(sys.modules.get(module_name), attribute, None)
        if isinstance(cache, dict):
            found.append(cache)
    return found


def _typing_cleanups() -> list[object]:
    """The ``cache_clear`` methods of typing's caches of generic aliases."""
    return list(getattr(sys.modules.get("typing"), "_cleanups", None) or ())


def _dict_caches() -> list[dict[object, object]]:
    found = _module_dicts(_DICT_CACHES)
    # pytest's assertion rewriting hook remembers, for every module name ever
    # imported, whether to rewrite it: a test importing fresh names (a template
    # loader's generated modules) adds one on every run.  Found by name, as this
    # module does not import pytest: the one read of pytest's insides outside
    # pytest_internals.  ``AssertionRewritingHook._marked_for_rewrite_cache``,
    # checked on pytest 8.0.0, 8.3.5 and 9.2.0.
    for finder in sys.meta_path:
        if type(finder).__name__ == "AssertionRewritingHook" and type(finder).__module__.startswith(
            "_pytest."
        ):
            cache = getattr(finder, "_marked_for_rewrite_cache", None)
            if isinstance(cache, dict):
                found.append(cache)
    return found


#: Copies of the dict caches, taken by :func:`saved_caches`.
SavedCaches = list[tuple[dict[object, object], dict[object, object]]]


def clear_caches(saved: SavedCaches | None = None) -> None:
    """Put the standard library's dict caches back to ``saved`` (emptied, where it
    has no copy of them), and empty the interpreter's type cache, typing's caches
    of generic aliases and test libraries' caches.

    Compiled patterns are put back, not emptied (:func:`saved_caches`): what a run
    added goes, what it evicted comes back, and what was there stays, so that a
    re-run finds the patterns the first run compiled.  Emptied, a project that
    compiles a hundred regular expressions per parse compiled them again on every
    re-run (a quarter of the plugin's time on sqlparse's suite).  Put back the
    same way before a run and inside its window after it, the caches hold the same
    entries in a table of the same size at both ends: no growth to read.

    typing's are size-limited, but a test that makes ``List[Point]`` for a class it
    defines keeps that class, and all it owns, in them on every run until they are
    full.  They cannot be put back; emptying them only costs typing a lookup.
    """
    _clear_type_cache()
    copies = {id(cache): contents for cache, contents in saved or ()}
    for cache in _dict_caches():
        cache.clear()
        contents = copies.get(id(cache))
        if contents:
            cache.update(contents)
    for clear in _typing_cleanups():
        with contextlib.suppress(Exception):
            clear()  # type: ignore[operator]
    # Not looked for again here: this runs inside measured windows.
    for library_cache in library_caches(refresh=False):
        with contextlib.suppress(Exception):
            _empty_library_cache(library_cache)


@contextmanager
def saved_caches() -> Iterator[SavedCaches]:
    """Put the dict caches back as they were when the block started; the copies of
    compiled patterns it yields are what :func:`clear_caches` puts back meanwhile.

    Only those: they are what costs to fill again.  ``linecache`` put back the same
    way changed a verdict: a clean property test drawing fresh lambdas then kept
    one more table of hypothesis's ``WeakKeyDictionary`` of lambda descriptions
    per re-run on 3.11 (a pytester test in ``test_bounds.py``).  That growth is
    hypothesis's own: outside pytest, a ``@given`` function called 200 times with
    ``gc.collect()`` between keeps adding about two blocks per call after 150
    calls while ``linecache`` stays warm, and none from the 40th call on with
    ``linecache`` emptied around each call (3.11).  The others are emptied as
    before.
    """
    saved = [(cache, dict(cache)) for cache in _dict_caches()]
    bounded = {id(cache) for cache in bounded_dict_caches()}
    try:
        yield [(cache, contents) for cache, contents in saved if id(cache) in bounded]
    finally:
        for cache, contents in saved:
            cache.clear()
            cache.update(contents)


#: (module, attribute) of the dict caches above that drop old entries past a size.
_BOUNDED_DICTS = (("re", "_cache"), ("re", "_cache2"), ("_strptime", "_regex_cache"))


def bounded_dict_caches() -> list[object]:
    """The standard library's size-limited dict caches (compiled regular expressions,
    ``strptime`` formats): what a first run adds to them is no reason to re-run."""
    return list(_module_dicts(_BOUNDED_DICTS))


_library: tuple[ModulesSeen | None, list[object]] = (None, [])


def library_caches(*, refresh: bool = True) -> list[object]:
    """Size-limited caches of test libraries, found at the top level of their modules.

    hypothesis keeps strategies, constraints and constants in caches of its own
    (``hypothesis.internal.cache``), and a property test adds new entries on every
    run, as it draws new examples, until they are full.  Looked up again only when
    modules were imported since the last look, and only if ``refresh``: not from
    inside a measured window, where the new list would count as the test's.
    """
    global _library
    if not refresh:
        return _library[1]
    seen = modules_seen()
    if _library[0] != seen:
        found = []
        # A copy, made in one step: another thread may be importing meanwhile.
        for name, module in sys.modules.copy().items():
            if not (name == "hypothesis" or name.startswith("hypothesis.")):
                continue
            namespace = module_namespace(module)
            if namespace is None:
                continue
            for value in dict.copy(namespace).values():
                if class_module(type(value)) == "hypothesis.internal.cache":
                    found.append(value)
        _library = (seen, found)
    return _library[1]


def _empty_library_cache(cache: object) -> None:
    clear = getattr(type(cache), "clear", None)
    if callable(clear):
        clear(cache)
        return
    # hypothesis's plain LRU cache has no clear(); its entries are in one mapping.
    entries = getattr(cache, "cache", None)
    if isinstance(entries, dict):
        entries.clear()


_bounded: tuple[ModulesSeen | None, list[object]] = (None, [])
#: Per module name: the module (weakly), its namespace's id and size when looked
#: through, and the bounded caches found there.
_bounded_in: dict[str, tuple[weakref.ref[types.ModuleType], int, int, list[object]]] = {}


def bounded_caches() -> list[object]:
    """``lru_cache`` wrappers with a size limit, found at the top level of any module
    and among the methods of its classes.

    Looked up again only when modules were imported since the last look, and then
    only in the modules that are new or whose namespace changed size: suites that
    add and drop modules on every test (``six.moves``) would otherwise have every
    module and class looked through again for each run.
    """
    global _bounded
    seen = modules_seen()
    if _bounded[0] != seen:
        _bounded = (seen, _find_bounded_caches())
    return _bounded[1]


def _find_bounded_caches() -> list[object]:
    found: dict[int, object] = {}
    looked: dict[str, tuple[weakref.ref[types.ModuleType], int, int, list[object]]] = {}
    for name, module in sys.modules.copy().items():
        # Read without asking the module: a lazily loaded one would load.
        namespace = module_namespace(module)
        if namespace is None:
            continue
        entry = _bounded_in.get(name)
        if (
            entry is None
            or entry[0]() is not module
            or entry[1] != id(namespace)
            or entry[2] != len(namespace)
        ):
            try:
                ref = weakref.ref(module)
            except TypeError:  # a module stand-in that takes no weak reference
                found.update((id(c), c) for c in _caches_in(namespace))
                continue
            entry = (ref, id(namespace), len(namespace), _caches_in(namespace))
        looked[name] = entry
        found.update((id(c), c) for c in entry[3])
    _bounded_in.clear()
    _bounded_in.update(looked)
    # typing caches each generic alias it makes (List[Point]) in size-limited
    # lru_caches that no module attribute names; it lists their cache_clear methods.
    for clear in _typing_cleanups():
        _add_if_bounded(getattr(clear, "__self__", None), found)
    return list(found.values())


def _caches_in(namespace: dict[str, object]) -> list[object]:
    found: dict[int, object] = {}
    name = namespace.get("__name__")
    for value in dict.copy(namespace).values():
        # type(), not isinstance(): a lazy proxy's __class__ may run its code.
        if not issubclass(type(value), type):
            _add_if_bounded(value, found)
            continue
        try:
            if type.__getattribute__(value, "__module__") != name:
                continue
            members = list(type.__getattribute__(value, "__dict__").copy().values())
        except Exception:  # noqa: BLE001 - an odd class has no caches we can use
            continue
        # Methods of the module's own classes: a cache on a method is one too.
        for member in members:
            _add_if_bounded(member, found)
    return list(found.values())


def _add_if_bounded(value: object, found: dict[int, object]) -> None:
    if type(value) in (staticmethod, classmethod):
        value = value.__func__  # type: ignore[attr-defined]
    if type(value) is not _LRU_WRAPPER:
        return
    try:
        bounded = value.cache_parameters()["maxsize"] is not None
    except Exception:  # noqa: BLE001 - an odd wrapper is simply not a cache here
        bounded = False
    if bounded:
        found[id(value)] = value


_TOOLING_CONTAINERS = (dict, list, set)
_tooling: tuple[ModulesSeen | None, list[object], list[object]] = (None, [], [])


def tooling_state(origins: Origins) -> list[object]:
    """The containers at the top level of the test tooling's modules: pytest's, and
    those of every package installed with a pytest plugin (hypothesis, say).

    Only what these containers themselves gained is excluded: a test's object
    that a tooling container does not hold, kept by the test's or the project's
    own module, stays the test's.  Looked up again only when modules were
    imported since the last look, and never from inside a measured window.
    """
    return _tooling_modules(origins)[0]


def tooling_namespaces(origins: Origins) -> list[object]:
    """The namespaces of the same modules.  A number or string one of them holds
    directly is the tooling's (hypothesis adds each collection's time to a module
    global float): see :func:`untracked_entries`."""
    return _tooling_modules(origins)[1]


def _tooling_modules(origins: Origins) -> tuple[list[object], list[object]]:
    global _tooling
    seen = modules_seen()
    if _tooling[0] != seen:
        found: list[object] = []
        namespaces: list[object] = []
        listed: set[int] = set()
        shared = vars(builtins)
        for module in sys.modules.copy().values():
            # Read without asking the module: a lazily loaded one would load.
            namespace = module_namespace(module)
            if namespace is None:
                continue
            if not origins.of_plugin(namespace.get("__file__")):  # type: ignore[arg-type]
                continue
            namespaces.append(namespace)
            for value in dict.copy(namespace).values():
                # Every module holds the builtins' namespace (``__builtins__``): it
                # is everyone's, and what a test puts there is the test's.
                listable = type(value) in _TOOLING_CONTAINERS and value is not shared
                if listable and id(value) not in listed:
                    listed.add(id(value))
                    found.append(value)
        _tooling = (seen, found, namespaces)
    return _tooling[1], _tooling[2]


_ATOMS = (int, float, complex, str, bytes)


def untracked_entries(caches: Sequence[object], slots: Sequence[object] = ()) -> list[object]:
    """The strings and numbers that plain dict, list and set caches hold as keys or
    values: the collector does not track them, so only their allocation sites tell
    their memory apart (``Window`` skips memory allocated where these were).

    The same goes for the values of the tooling's namespaces and instance dicts
    (``Exclusions.slots``): what the tooling rebinds a name of its own to is its own,
    however the previous value was freed.  Not their keys: those are the names of
    the tooling's globals and attributes, made when its code was compiled, and
    looking through them (some 25,000 strings in pytest's and its plugins' modules)
    was most of the cost of a traced window.
    """
    found: list[object] = []
    for cache in caches:
        if type(cache) is dict:
            entries: Iterable[object] = (*cache.keys(), *cache.values())
        elif type(cache) is list or type(cache) is set:
            entries = cache
        else:
            continue
        found.extend(e for e in entries if type(e) in _ATOMS)
    for slot in slots:
        if type(slot) is dict:
            found.extend(e for e in slot.values() if type(e) in _ATOMS)
    return found
