"""Turning measured objects into text at once, safely, so that nothing is kept."""

from __future__ import annotations

import collections
import re
import struct
import sys
import sysconfig
import tracemalloc
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pytest_refleak.origins import Origin, Origins

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


def printable(text: str) -> str:
    """``text`` as it can be written anywhere: lone surrogates become ``\\udxxx`` escapes.

    Text made from user objects (a repr, a name, a file name decoded with
    ``surrogateescape``) may hold surrogates that no encoder accepts.  Every text
    the plugin makes from them passes through here before it is reported.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# A class's own storage, read through ``type``'s descriptors: a metaclass cannot
# intercept these, as it can ``cls.__dict__`` or ``cls.__mro__``.
_CLASS_DICT: Any = vars(type)["__dict__"]
_CLASS_NAME: Any = vars(type)["__name__"]
_CLASS_MRO: Any = vars(type)["__mro__"]
_CLASS_MODULE: Any = vars(type)["__module__"]
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]
_EXCEPTION_ARGS: Any = vars(BaseException)["args"]


def class_name(cls: type) -> str:
    """A class's name as its definition gave it, read without running any of its code."""
    name = _CLASS_DICT.__get__(cls).get("__qualname__")
    if type(name) is not str:
        name = _CLASS_NAME.__get__(cls)
    return printable(name)


def type_name(obj: object) -> str:
    """The qualified name of an object's real type (proxies cannot lie about it)."""
    return class_name(type(obj))


def class_module(cls: type) -> str | None:
    """The module a class was defined in, read without running any of its code."""
    module = _CLASS_MODULE.__get__(cls)
    return module if type(module) is str else None


def class_namespace(cls: type) -> Mapping[str, object]:
    """A class's own attributes, read without running any of its metaclass's code."""
    return _CLASS_DICT.__get__(cls)  # type: ignore[no-any-return]


def class_mro(cls: type) -> tuple[type, ...]:
    """A class's method resolution order, read without running any of its metaclass's code."""
    return _CLASS_MRO.__get__(cls)  # type: ignore[no-any-return]


def is_a(obj: object, cls: type | tuple[type, ...]) -> bool:
    """``isinstance`` by the object's real type.

    ``isinstance`` asks an object that is not of the class for its ``__class__``,
    which runs its ``__getattribute__``: a proxy lies, a broken object raises, a
    lazily loaded module loads.  This never asks the object.
    """
    mro = _CLASS_MRO.__get__(type(obj))
    if type(cls) is tuple:
        return any(c in mro for c in cls)
    return cls in mro


def module_namespace(obj: object) -> dict[str, object] | None:
    """A module's attribute dict (None for anything else), read without asking the module:
    a lazily loaded one (``importlib.util.LazyLoader``) would load."""
    if not is_a(obj, types.ModuleType):
        return None
    namespace = _MODULE_DICT.__get__(obj)
    return namespace if type(namespace) is dict else None


def instance_dict(obj: object) -> dict[str, object] | None:
    """An instance's attribute dict, read without running ``__getattr__`` hooks."""
    try:
        value = object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001
        return None
    return value if type(value) is dict else None


def module_name(obj: object) -> str | None:
    namespace = module_namespace(obj)
    name = namespace.get("__name__") if namespace is not None else None
    return name if type(name) is str else None


def size_of(obj: object) -> int:
    """``sys.getsizeof`` without running the object's code.

    Where the class's ``__sizeof__`` is the interpreter's own, that is what
    ``sys.getsizeof`` calls; a class's own (which could do anything) is passed over
    for the nearest built-in base's, without the collector's header: a figure a
    little low.
    """
    return size_reader(type(obj))(obj)


def size_reader(cls: type) -> Callable[[Any], int]:
    """What :func:`size_of` calls for an instance of ``cls``: looked up once per
    class when sizing many objects."""
    own = True
    for base in _CLASS_MRO.__get__(cls):
        method = _CLASS_DICT.__get__(base).get("__sizeof__")
        if method is None:
            continue
        if type(method) is not types.MethodDescriptorType:
            own = False
            continue
        if own:
            return sys.getsizeof
        return method
    return object.__sizeof__


def _fallback(obj: object) -> str:
    return f"<{type_name(obj)} at {id(obj):#x}>"


#: Types whose repr is the interpreter's own and runs no code of the object or of
#: anything it holds: shown as they are.
_SHOWN = frozenset(
    {
        float,
        complex,
        bool,
        type(None),
        type(Ellipsis),
        type(NotImplemented),
        range,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.CodeType,
        types.FrameType,
        types.GeneratorType,
        types.CoroutineType,
        types.AsyncGeneratorType,
        types.CellType,
        types.MethodWrapperType,
        types.WrapperDescriptorType,
        types.MethodDescriptorType,
        types.GetSetDescriptorType,
        types.MemberDescriptorType,
    }
)
#: Containers shown item by item, read through the base type's own methods: a
#: subclass's ``__iter__`` or ``items`` is never called.
_SEQUENCES: tuple[tuple[type, str, str], ...] = (
    (list, "[", "]"),
    (tuple, "(", ")"),
    (collections.deque, "deque([", "])"),
    (set, "{", "}"),
    (frozenset, "frozenset({", "})"),
)
_ITEMS = 4
_LEVELS = 2
_STRING = 60

#: Types that say little about a leak on their own: the containers and plumbing
#: around the objects a project made.
PLAIN_TYPES = frozenset(
    {
        "dict",
        "list",
        "tuple",
        "set",
        "cell",
        "function",
        "method",
        "ReferenceType",
        "frame",
        # The nodes of a contextvars context's mapping: what holds, never what leaked.
        "hamt",
        "hamt_bitmap_node",
        "hamt_array_node",
        "hamt_collision_node",
    }
)


def safe_repr(obj: object, limit: int = 80) -> str:
    """A short repr that runs no code of the object's: it never raises, hangs or lies.

    The interpreter's own types are shown as their repr shows them, containers
    item by item (at most a few items, two levels deep), exceptions by their
    arguments, instances of classes that keep ``object``'s repr by it.  Any other
    object is shown as ``<Type at 0x...>``: its class's ``__repr__`` is never
    called, since it may raise, run for ever, sleep or have effects
    (``docs/hostile-input.md``).
    """
    try:
        text = _shown(obj, _LEVELS)
    except BaseException:  # noqa: BLE001 - includes RecursionError and MemoryError
        text = _fallback(obj)
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(obj: object, level: int) -> str:
    cls = type(obj)
    if cls is str or cls is bytes or cls is bytearray:
        cut = obj[:_STRING]  # type: ignore[index]
        return repr(cut) + ("..." if len(obj) > _STRING else "")  # type: ignore[arg-type]
    if cls is int:
        # A huge int's repr takes long, and past a limit raises.
        bits = obj.bit_length()  # type: ignore[attr-defined]
        return repr(obj) if bits <= 256 else f"<int of {bits} bits>"
    if cls in _SHOWN:
        return repr(obj)
    mro = _CLASS_MRO.__get__(cls)
    if type in mro:
        return type.__repr__(obj)
    if dict in mro:
        if level <= 0:
            return _wrapped(cls, dict, "{...}")
        items = []
        pairs: Iterable[tuple[object, object]] = dict.items(obj)  # type: ignore[arg-type]
        for i, (key, value) in enumerate(pairs):
            if i == _ITEMS:
                items.append("...")
                break
            items.append(f"{_shown(key, level - 1)}: {_shown(value, level - 1)}")
        return _wrapped(cls, dict, "{" + ", ".join(items) + "}")
    for base, opening, closing in _SEQUENCES:
        if base in mro:
            if level <= 0:
                return _wrapped(cls, base, opening + "..." + closing)
            items = []
            for i, item in enumerate(base.__iter__(obj)):  # type: ignore[attr-defined]
                if i == _ITEMS:
                    items.append("...")
                    break
                items.append(_shown(item, level - 1))
            comma = "," if base is tuple and len(items) == 1 else ""
            return _wrapped(cls, base, opening + ", ".join(items) + comma + closing)
    if level <= 0:
        return _fallback(obj)
    if BaseException in mro:
        arguments = _EXCEPTION_ARGS.__get__(obj)
        return f"{class_name(cls)}({', '.join(_shown(a, level - 1) for a in arguments[:_ITEMS])})"
    if cls is types.MethodType:
        function = obj.__func__  # type: ignore[attr-defined]
        name = function.__qualname__ if type(function) is types.FunctionType else "?"
        return f"<bound method {name} of {_fallback(obj.__self__)}>"  # type: ignore[attr-defined]
    if types.ModuleType in mro:
        called = module_name(obj)
        return f"<module {_shown(called, 0)}>" if called is not None else _fallback(obj)
    if any(class_attribute(mro, name) is not _MISSING for name in _FIELD_CLASSES):
        # A dataclass's or attrs class's repr is made from its fields: shown from
        # them, without calling it.
        attributes = _public_attributes(obj, mro, level)
        if attributes:
            return f"{class_name(cls)}({attributes})"
    if class_attribute(mro, "__repr__") is _OBJECT_REPR:
        # The default repr: it reads the class, never the object.
        return object.__repr__(obj)
    return _fallback(obj)


#: Class attributes that mark a class whose repr shows its fields.
_FIELD_CLASSES = ("__dataclass_fields__", "__attrs_attrs__")


def _public_attributes(obj: object, mro: Sequence[type], level: int) -> str:
    """An instance's public attributes as ``name=value``, read from its ``__dict__``
    through the interpreter's own descriptor, so that no code of the object runs:
    ``AuditEntry(action='add', sku='ABC-1234')`` says more than an address.  Empty
    when the class stores attributes some other way (slots, a ``__dict__``
    property) or has no public ones.
    """
    attributes = attribute_dict(obj, mro)
    if attributes is None:
        return ""
    shown: list[str] = []
    for name, value in dict.items(attributes):
        if type(name) is not str or name.startswith("_"):
            continue
        if len(shown) == _ITEMS:
            shown.append("...")
            break
        shown.append(f"{printable(name)}={_shown(value, level - 1)}")
    return ", ".join(shown)


_OBJECT_REPR = vars(object)["__repr__"]
_MISSING = object()


def attribute_dict(obj: object, mro: Sequence[type] | None = None) -> dict[str, object] | None:
    """An instance's attribute dict, read through the interpreter's own ``__dict__``
    descriptor so that no code of the object runs; ``None`` when its class stores
    attributes some other way (slots, a ``__dict__`` property).  ``mro``: its
    class's, when the caller has it already."""
    if mro is None:
        mro = _CLASS_MRO.__get__(type(obj))
    descriptor = class_attribute(mro, "__dict__")
    if type(descriptor) is not types.GetSetDescriptorType:
        return None
    attributes = descriptor.__get__(obj, type(obj))
    return attributes if type(attributes) is dict else None


def class_attribute(mro: Iterable[type], name: str) -> object:
    """Where attribute lookup would find ``name`` on a class, without running any code."""
    for cls in mro:
        value = _CLASS_DICT.__get__(cls).get(name, _MISSING)
        if value is not _MISSING:
            return value
    return _MISSING


def _wrapped(cls: type, base: type, text: str) -> str:
    return text if cls is base else f"{class_name(cls)}({text})"


def _traceback_by_address() -> Callable[[int], object] | None:
    """CPython's lookup of a trace by address: for blocks that are not objects (a
    dict's table), and for the one case tracemalloc gets wrong.

    Python 3.11 keeps some instances' attributes in a header placed before the
    object; ``tracemalloc.get_object_traceback`` looks for the allocation at the
    wrong address and finds nothing.  The lookup by address only reads
    tracemalloc's own table, so a wrong address returns None, nothing worse.
    """
    try:
        import ctypes

        lookup = ctypes.pythonapi._PyTraceMalloc_GetTraceback
    except (ImportError, AttributeError):
        return None
    lookup.restype = ctypes.py_object
    lookup.argtypes = [ctypes.c_uint, ctypes.c_size_t]
    return lambda address: lookup(0, address)


_LOOKUP = _traceback_by_address()
_BY_ADDRESS = _LOOKUP if sys.version_info[:2] == (3, 11) else None


def block_frames(address: int) -> tuple[tuple[str, int], ...]:
    """Where the traced block at ``address`` was allocated, innermost last; empty if
    it was not traced (or tracing is off)."""
    frames = _LOOKUP(address) if _LOOKUP is not None else None
    if not isinstance(frames, tuple) or not frames:
        return ()
    return frames_of(tracemalloc.Traceback(frames))


_MANAGED_DICT = 1 << 4
_WORD = struct.calcsize("P")


def _pointer_reader(word: int) -> Callable[[object], int] | None:
    """Reads the address an object's C structure keeps at ``word`` (in machine
    words from its start).  Not on builds whose object header differs
    (free-threaded) or on other interpreters."""
    if sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    try:
        import ctypes
    except ImportError:
        return None
    pointer = ctypes.c_void_p
    return lambda obj: pointer.from_address(id(obj) + word * _WORD).value or 0


#: A list's item storage (``ob_item``) follows the reference count, the type and
#: the size in its C structure.
_ITEM_STORAGE = _pointer_reader(3)


def storage_frames(items: list[object]) -> tuple[tuple[str, int], ...]:
    """Where a list's item storage was last allocated, innermost last: the code that
    last grew it, by appending, extending or building it whole; empty if that was
    not traced.  (Filling a list that has room left allocates nothing.)"""
    if _ITEM_STORAGE is None or _LOOKUP is None:
        return ()
    address = _ITEM_STORAGE(items)
    return block_frames(address) if address else ()


#: Where a dict keeps the address of its table: after the object header, the
#: number of entries and the version tag (the same on 3.10 to 3.13).
_DICT_TABLE_WORD = 4


_DICT_TABLE = _pointer_reader(_DICT_TABLE_WORD)


def storage_frames_of(obj: object) -> tuple[tuple[str, int], ...]:
    """Where the storage a dict or list allocates apart from itself (a dict's
    table, a list's items) was last allocated, innermost last; empty if not traced
    or not such an object.  A dict's table is reallocated where an insertion
    outgrew it: that line, not the dict's, is where its memory shows."""
    if _LOOKUP is None:
        return ()
    if type(obj) is list:
        return storage_frames(obj)
    if type(obj) is dict and _DICT_TABLE is not None:
        address = _DICT_TABLE(obj)
        return block_frames(address) if address else ()
    return ()


def _managed_dict(kind: type, known: dict[type, bool] | None) -> bool:
    """Whether instances of ``kind`` keep their attributes before the object.

    ``known`` keeps the answer per type for one pass over many objects: reading
    ``__flags__`` makes an int each time, and under tracing every allocation
    records a traceback.  It belongs to the caller's pass, never to the module:
    a class held here would be kept alive by the plugin.
    """
    if known is None:
        return bool(kind.__flags__ & _MANAGED_DICT)
    managed = known.get(kind)
    if managed is None:
        managed = known[kind] = bool(kind.__flags__ & _MANAGED_DICT)
    return managed


def object_traceback(
    obj: object, known: dict[type, bool] | None = None
) -> tracemalloc.Traceback | None:
    """``tracemalloc.get_object_traceback``, also right for Python 3.11's inline attributes.

    ``known``: a dict the caller keeps for one pass over many objects (see
    :func:`_managed_dict`)."""
    traceback = tracemalloc.get_object_traceback(obj)
    if traceback is not None or _BY_ADDRESS is None:
        return traceback
    if not _managed_dict(type(obj), known):
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


_PLAIN_ATOMS = frozenset({str, int, float, bytes, complex})
# tracemalloc's own lookup, under the name all supported versions give it.
_raw_traceback: Callable[[object], object] = getattr(
    tracemalloc, "_get_object_traceback", lambda obj: None
)


def object_frames(
    obj: object, known: dict[type, bool] | None = None
) -> tuple[tuple[str, int], ...]:
    """Where ``obj`` was allocated, innermost last; empty if it was not traced.
    ``known`` as for :func:`object_traceback`."""
    if type(obj) in _PLAIN_ATOMS:
        # Strings and numbers, looked up by the thousand (what caches hold): the
        # raw frames, outermost last, without a Traceback made for each.
        raw = _raw_traceback(obj)
        return raw[::-1] if isinstance(raw, tuple) else ()
    traceback = object_traceback(obj, known)
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


def site_of(frames: Sequence[tuple[str, int]], origins: Origins) -> str | None:
    """``file:line`` of the innermost interesting frame of an allocation's ``frames``."""
    picked = pick_frames(frames, origins, limit=1) if frames else ()
    return f"{picked[-1][0]}:{picked[-1][1]}" if picked else None


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
