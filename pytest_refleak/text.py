"""Turning measured objects into text at once, safely, so that nothing is kept."""

from __future__ import annotations

import re
import reprlib
import struct
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from typing import TypeGuard, TypeVar, overload

from pytest_refleak.origins import Origin, Origins

_T = TypeVar("_T")

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 4
_REPR.maxstring = 60
_REPR.maxother = 60

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "ki": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "mi": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "gi": 1024**3,
}


def type_name(obj: object) -> str:
    """The qualified name of an object's real type (proxies cannot lie about it)."""
    cls = type(obj)
    name = cls.__dict__.get("__qualname__", cls.__name__)
    return name if isinstance(name, str) else cls.__name__


@overload
def is_a(obj: object, classes: type[_T]) -> TypeGuard[_T]: ...
@overload
def is_a(obj: object, classes: tuple[type, ...]) -> bool: ...
def is_a(obj: object, classes: type | tuple[type, ...]) -> bool:
    """``isinstance`` by the object's real type.

    ``isinstance`` also believes ``__class__``, which a mock with a spec or a proxy
    answers by running code of its own: a mock made from a function says it is one,
    and reading its ``__code__`` then makes a child mock.  Measuring must not run
    the code of what it measures, nor make objects while it reads.
    """
    return issubclass(type(obj), classes)


def _fallback(obj: object) -> str:
    return f"<{type_name(obj)} at {id(obj):#x}>"


def _untrusted(obj: object) -> bool:
    """Objects whose repr may run arbitrary machinery: mocks and proxies."""
    cls = type(obj)
    if "mock" in (cls.__module__ or "").lower() or "Mock" in cls.__name__:
        return True
    try:
        return object.__getattribute__(obj, "__class__") is not cls
    except Exception:  # noqa: BLE001
        return True


_BUILTIN_CONTAINERS = (list, tuple, dict, set, frozenset, str, bytes, bytearray)

#: Types that say little about a leak on their own: the containers and plumbing
#: around the objects a project made.
PLAIN_TYPES = frozenset(
    {"dict", "list", "tuple", "set", "cell", "function", "method", "ReferenceType", "frame"}
)


def safe_repr(obj: object, limit: int = 80) -> str:
    """A short repr that never raises: it degrades to ``<Type at 0x...>``."""
    if _untrusted(obj):
        return _fallback(obj)
    try:
        # reprlib bounds the work for containers; anything else gets its own repr.
        text = _REPR.repr(obj) if type(obj) in _BUILTIN_CONTAINERS else repr(obj)
    except BaseException:  # noqa: BLE001 - includes RecursionError and worse
        return _fallback(obj)
    if not isinstance(text, str):
        return _fallback(obj)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _traceback_by_address() -> Callable[[int], object] | None:
    """CPython's lookup of a trace by address, for the one case tracemalloc gets wrong.

    Python 3.11 keeps some instances' attributes in a header placed before the
    object; ``tracemalloc.get_object_traceback`` looks for the allocation at the
    wrong address and finds nothing.  The lookup by address only reads
    tracemalloc's own table, so a wrong address returns None, nothing worse.
    """
    if sys.version_info[:2] != (3, 11):
        return None
    try:
        import ctypes

        lookup = ctypes.pythonapi._PyTraceMalloc_GetTraceback
    except (ImportError, AttributeError):
        return None
    lookup.restype = ctypes.py_object
    lookup.argtypes = [ctypes.c_uint, ctypes.c_size_t]
    return lambda address: lookup(0, address)


_BY_ADDRESS = _traceback_by_address()
_MANAGED_DICT = 1 << 4
_WORD = struct.calcsize("P")


def object_traceback(obj: object) -> tracemalloc.Traceback | None:
    """``tracemalloc.get_object_traceback``, also right for Python 3.11's inline attributes."""
    traceback = tracemalloc.get_object_traceback(obj)
    if traceback is not None or _BY_ADDRESS is None:
        return traceback
    if not type(obj).__flags__ & _MANAGED_DICT:
        return None
    # Two words of garbage-collector header and two of attribute header.
    frames = _BY_ADDRESS(id(obj) - 4 * _WORD)
    if not isinstance(frames, tuple):
        return None
    return tracemalloc.Traceback(frames)


def frames_of(traceback: tracemalloc.Traceback) -> tuple[tuple[str, int], ...]:
    """A traceback's ``(filename, lineno)`` pairs, innermost last.

    Read straight from the traceback where it keeps them so: iterating makes a
    ``Frame`` per entry, and with tracing on every allocation is expensive.
    """
    frames = getattr(traceback, "_frames", None)
    if isinstance(frames, tuple):
        return frames
    return tuple((f.filename, f.lineno) for f in traceback)


def object_frames(obj: object) -> tuple[tuple[str, int], ...]:
    """Where ``obj`` was allocated, innermost last; empty if it was not traced."""
    traceback = object_traceback(obj)
    return frames_of(traceback) if traceback is not None else ()


def allocation_frames(obj: object, origins: Origins, limit: int = 4) -> tuple[tuple[str, int], ...]:
    """Where ``obj`` was allocated, innermost last, without the test tooling's frames."""
    frames = object_frames(obj)
    if not frames:
        return ()
    return pick_frames(frames, origins, limit)


def pick_frames(
    frames: Sequence[tuple[str, int]], origins: Origins, limit: int = 4
) -> tuple[tuple[str, int], ...]:
    """The frames worth showing, innermost last, ending at the innermost interesting one."""
    kept = [f for f in frames if origins.of_file(f[0]) is not Origin.TOOLING]
    if not kept:
        return tuple(frames[-1:])
    for end in range(len(kept) - 1, -1, -1):
        if origins.of_file(kept[end][0]) in (Origin.PROJECT, Origin.TESTS):
            break
    else:
        end = len(kept) - 1
    # Keep frames below the project's line too: they say which library call allocated.
    tail = kept[end + 1 :][-1:]
    head = kept[: end + 1][-(limit - len(tail)) :]
    return tuple(head + tail)


def allocation_site(obj: object, origins: Origins) -> str | None:
    frames = allocation_frames(obj, origins, limit=1)
    return f"{frames[-1][0]}:{frames[-1][1]}" if frames else None


def format_size(n: float) -> str:
    """``640 B``, ``4.1 KiB``, ``12.0 MiB``."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str | int) -> int:
    """Parse ``512``, ``4KiB``, ``1.5 MB``; raise ``ValueError`` with a readable message."""
    if isinstance(text, bool):
        raise ValueError(f"expected a size such as 0, 512, 4KiB or 1MB, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"a size cannot be negative, got {text}")
        return text
    match = _SIZE.match(str(text))
    if not match or (match.group(2) is None and not match.group(1)):
        raise ValueError(f"expected a size such as 0, 512, 4KiB or 1MB, got {text!r}")
    unit = (match.group(2) or "").lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown size unit in {text!r}; use B, KiB, MiB, KB or MB")
    return int(float(match.group(1)) * _UNITS[unit])
