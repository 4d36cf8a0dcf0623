"""Caches the interpreter and the standard library fill as a side effect of running code.

Re-runs empty the caches that can grow with every call (a regular expression
compiled from a fresh string, a new ``strptime`` format) before and after each
measured run, so that such growth is not taken for a leak; CPython's own leak
hunting in ``Lib/test/libregrtest`` does the same.  Emptying them for good would
make the next test fill them again and look suspicious in turn, so their
contents are put back once the re-runs are done.

Bounded caches that cannot be saved and put back (``functools.lru_cache`` with a
``maxsize``, the standard library's, the project's or a third party's) are not
emptied; :func:`bounded_caches` finds them so that their contents can be told
apart from leaks: a cache that cannot grow past its size is no leak.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pytest_refleak.heap import _clear_type_cache
from pytest_refleak.origins import Origins

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
    # module does not import pytest.
    for finder in sys.meta_path:
        if type(finder).__name__ == "AssertionRewritingHook" and type(
            finder
        ).__module__.startswith("_pytest."):
            cache = getattr(finder, "_marked_for_rewrite_cache", None)
            if isinstance(cache, dict):
                found.append(cache)
    return found


def clear_caches() -> None:
    """Empty the interpreter's type cache, the standard library's dict caches,
    typing's caches of generic aliases and test libraries' caches.

    typing's are size-limited, but a test that makes ``List[Point]`` for a class it
    defines keeps that class, and all it owns, in them on every run until they are
    full.  They cannot be put back; emptying them only costs typing a lookup.
    """
    _clear_type_cache()
    for cache in _dict_caches():
        cache.clear()
    for clear in _typing_cleanups():
        with contextlib.suppress(Exception):
            clear()  # type: ignore[operator]
    # Not looked for again here: this runs inside measured windows.
    for library_cache in library_caches(refresh=False):
        with contextlib.suppress(Exception):
            _empty_library_cache(library_cache)


@contextmanager
def saved_caches() -> Iterator[None]:
    """Put the dict caches back as they were when the block started."""
    saved = [(cache, dict(cache)) for cache in _dict_caches()]
    try:
        yield
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


_library: tuple[int, list[object]] = (-1, [])


def library_caches(*, refresh: bool = True) -> list[object]:
    """Size-limited caches of test libraries, found at the top level of their modules.

    hypothesis keeps strategies, constraints and constants in caches of its own
    (``hypothesis.internal.cache``), and a property test adds new entries on every
    run, as it draws new examples, until they are full.  Looked up again only when
    modules were imported since the last look, and only if ``refresh``: not from
    inside a measured window, where the new list would count as the test's.
    """
    global _library
    if refresh and _library[0] != len(sys.modules):
        found = []
        # A copy, made in one step: another thread may be importing meanwhile.
        for name, module in sys.modules.copy().items():
            if not (name == "hypothesis" or name.startswith("hypothesis.")):
                continue
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for value in dict.copy(namespace).values():
                if type(value).__module__ == "hypothesis.internal.cache":
                    found.append(value)
        _library = (len(sys.modules), found)
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


_bounded: tuple[int, list[object]] = (-1, [])


def bounded_caches() -> list[object]:
    """``lru_cache`` wrappers with a size limit, found at the top level of any module
    and among the methods of its classes.

    Looked up again only when modules were imported since the last look.
    """
    global _bounded
    if _bounded[0] != len(sys.modules):
        _bounded = (len(sys.modules), _find_bounded_caches())
    return _bounded[1]


def _find_bounded_caches() -> list[object]:
    found: dict[int, object] = {}
    for module in sys.modules.copy().values():
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
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
    # typing caches each generic alias it makes (List[Point]) in size-limited
    # lru_caches that no module attribute names; it lists their cache_clear methods.
    for clear in _typing_cleanups():
        _add_if_bounded(getattr(clear, "__self__", None), found)
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
_tooling: tuple[int, list[object]] = (-1, [])


def tooling_state(origins: Origins) -> list[object]:
    """The containers at the top level of the test tooling's modules: pytest's, and
    those of every package installed with a pytest plugin (hypothesis, say).

    What those gain while a test runs is the tooling's record of what it has seen,
    however many entries a test adds: hypothesis keeps a tag for every label of
    every strategy it ever drew from (``STRUCTURAL_COVERAGE_CACHE``), and a strategy
    built from values drawn in the test has a new label on every run.  A test's own
    objects stay the test's: an object the test's code keeps from its own module is
    still reachable from there (see ``docs/how-it-decides.md``).  Looked up again
    only when modules were imported since the last look, and never from inside a
    measured window.
    """
    global _tooling
    if _tooling[0] != len(sys.modules):
        found: list[object] = []
        for module in sys.modules.copy().values():
            namespace = getattr(module, "__dict__", None)
            filename = namespace.get("__file__") if isinstance(namespace, dict) else None
            if not isinstance(namespace, dict) or not origins.of_plugin(filename):
                continue
            found.extend(
                value
                for value in dict.copy(namespace).values()
                if type(value) in _TOOLING_CONTAINERS
            )
        _tooling = (len(sys.modules), found)
    return _tooling[1]
