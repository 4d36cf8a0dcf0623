"""Holders the garbage collector does not show: before blaming native code, look there.

``gc.get_referrers`` finds only containers the collector tracks.  An object can
also be held, from Python code, by places it does not walk: the frames a thread
is running now (their locals and the method being called), the signal module's
table of handlers, a class's registry of its subclasses, a thread's running event
loop, the variables set in the running thread's ``contextvars`` context and their
values, and (near a leak) the structure of an object whose type does not show its
references to the collector.  An object nothing the collector knows refers to is
blamed on native code (a missing ``Py_DECREF``) only after these are searched.
Never imports pytest.
"""

from __future__ import annotations

import contextvars
import gc
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterable

from pytest_refleak.exclusions import registry_owner
from pytest_refleak.heap import ATOMS, referents, type_flags, words_of
from pytest_refleak.text import class_module, class_name, type_name

# signal.getsignal converts each handler to an enum where it can; the C function
# answers the same question without.
_getsignal: Callable[[int], object] = getattr(
    sys.modules.get("_signal"), "getsignal", signal.getsignal
)


def unseen_holder(obj: object) -> str | None:
    """What holds ``obj`` out of the collector's sight, as text, or ``None``."""
    return (
        _in_running_frames(obj)
        or _signal_handler(obj)
        or _running_loop(obj)
        or _running_context(obj)
        or context_holder(lambda found: found is obj)
        or _subclass_registry(obj)
    )


def _subclass_registry(obj: object) -> str | None:
    base = registry_owner(obj)
    if base is None:
        return None
    module = class_module(base)
    name = f"{module}.{class_name(base)}" if module else class_name(base)
    return f"{name}'s registry of subclasses (in its C structure)"


#: A type's flag for garbage-collector support: without it, its objects show the
#: collector nothing of what they refer to.
_HAVE_GC = 1 << 14


def opaque_holder(obj: object, near: Iterable[object]) -> str | None:
    """An object of a type without garbage-collector support that stores ``obj``'s
    address in its own structure, and what holds that object, as text.

    Such a type's objects refer to others without showing the collector, so what
    they hold has no referrer it can find, as a reference leaked by native code
    has none: on Python 3.10 and 3.11 a ``TextIOWrapper``'s newline decoder keeps
    the codec's decoder so.  Looked for among what the objects ``near`` (the
    other objects the same leak keeps) refer to, by reading each such object's
    own structure.  (Looking through every object the test's runs made cost 15 s
    of a leak's explanation under tracing.)
    """
    target = id(obj)
    for holder in near:
        for ref in referents(holder):
            kind = type(ref)
            if kind in ATOMS or type_flags(kind) & _HAVE_GC or ref is obj:
                continue
            if target in words_of(ref):
                return (
                    f"the structure of {type_name(ref)} (whose references the"
                    f" garbage collector does not see), held by {type_name(holder)}"
                )
    return None


def _running_context(obj: object) -> str | None:
    """The running thread's own context: a copy of it shares its mapping."""
    if type(obj) is not contextvars.Context:
        return None
    mine = set(map(id, referents(contextvars.copy_context())))
    if mine and mine & set(map(id, referents(obj))):
        return "the running thread, as its contextvars context"
    return None


def context_holder(matches: Callable[[object], bool]) -> str | None:
    """The running thread's ``contextvars`` context, if a variable set in it, its
    value or what that value directly holds ``matches``; as text, or ``None``.

    A context keeps every variable set in it, and its value, in a mapping the
    collector's referrer search does not lead to (its nodes are not containers a
    leak search reads): a variable made per object and set without a token to
    reset it stays for as long as the context does, a thread's own for good.
    Only the calling thread's context can be read.
    """
    try:
        items = list(contextvars.copy_context().items())
    except Exception:  # noqa: BLE001 - a context that cannot be read names nothing
        return None
    try:
        for variable, value in items:
            name = getattr(variable, "name", "?")
            where = f"the running thread's context (contextvars), ContextVar {name!r}"
            if matches(variable):
                return f"{where} set in it"
            if matches(name):
                return f"{where} set in it: its name"
            if matches(value):
                return f"{where}: its value"
            if gc.is_tracked(value) and any(matches(item) for item in referents(value)):
                return f"{where}: in its value"
    finally:
        items.clear()
    return None


def running_at(site: tuple[str, int]) -> str | None:
    """The thread running a frame at ``site`` (file, line), which holds memory allocated
    there (Python 3.10 allocates each frame: its memory stays while the call runs)."""
    names = _thread_names()
    frames = _other_threads_frames()
    try:
        for ident, top in frames.items():
            frame: types.FrameType | None = top
            while frame is not None:
                if (frame.f_code.co_filename, frame.f_lineno) == site:
                    return f"the running thread {names.get(ident, str(ident))!r}"
                frame = frame.f_back
    finally:
        frames.clear()
    return None


def _other_threads_frames() -> dict[int, types.FrameType]:
    """The frame each other thread is running.  Not this thread's: held in a local,
    this call's own frame would refer to itself, and outlive its return with what
    it was asked about (the collector is off while leaks are explained), a referrer
    the next search would follow."""
    frames = sys._current_frames()
    frames.pop(threading.get_ident(), None)
    return frames


def _thread_names() -> dict[int, str]:
    return {t.ident: t.name for t in threading.enumerate() if t.ident is not None}


def _in_running_frames(obj: object) -> str | None:
    """A local of a frame some thread is running, or the method it is running."""
    names = _thread_names()
    method = obj if isinstance(obj, types.MethodType) else None
    frames = _other_threads_frames()
    try:
        for ident, top in frames.items():
            thread = names.get(ident, f"thread {ident}")
            frame: types.FrameType | None = top
            while frame is not None:
                code = frame.f_code
                # A bound method being called is on its caller's stack, out of sight.
                if (
                    method is not None
                    and code is getattr(method.__func__, "__code__", None)
                    and _local(frame, "self") is method.__self__
                ):
                    return f"the running thread {thread!r}"
                name = _local_name(frame, obj)
                if name is not None:
                    return f"the running thread {thread!r}: local {name!r} of {code.co_name}()"
                frame = frame.f_back
    finally:
        frames.clear()
    return None


def _local(frame: types.FrameType, name: str) -> object:
    try:
        return frame.f_locals.get(name)
    except Exception:  # noqa: BLE001 - a frame whose locals cannot be read
        return None


def _local_name(frame: types.FrameType, obj: object) -> str | None:
    try:
        items = list(frame.f_locals.items())
    except Exception:  # noqa: BLE001
        return None
    for name, value in items:
        if value is obj:
            return str(name)
    return None


def _signal_handler(obj: object) -> str | None:
    if not callable(obj):
        return None
    for number in signal.valid_signals():
        try:
            handler = _getsignal(number)
        except (ValueError, OSError):
            continue
        if handler is obj:
            try:
                name = signal.Signals(number).name
            except ValueError:
                name = f"signal {int(number)}"
            return f"the handler of {name} (signal.signal)"
    return None


def _running_loop(obj: object) -> str | None:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not isinstance(obj, asyncio.AbstractEventLoop):
        return None
    try:
        running = obj.is_running()
    except Exception:  # noqa: BLE001
        return None
    if running:
        return "a thread running this event loop (asyncio keeps it in the thread's state)"
    return None
