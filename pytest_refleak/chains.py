"""What keeps a leaked object alive, written as the Python path that reaches it.

A referrer chain is found by a breadth-first search upwards from the leaked
objects, one ``gc.get_referrers`` call per level for the whole frontier: each
call is one pass over the heap, so the cost is the depth of the chain, not the
number of objects visited.  (``objgraph.find_backref_chain`` asks for the
referrers of one object at a time, which on a heap of a million objects costs a
pass per object visited.)  The search stops at the first root a developer would
recognise (a module, a class, ``sys.modules``, a logger, the ``atexit``
callbacks) and gives up, saying so, when its time or depth budget runs out.

Memory held by strings, bytes and numbers cannot be searched upwards: the
garbage collector does not know them.  Their holders are looked for among the
containers of the loaded modules first, where caches and registries live, then
among all containers, while the budget lasts.

Nothing found is kept: the search returns text.
"""

from __future__ import annotations

import collections
import gc
import itertools
import sys
import sysconfig
import time
import tracemalloc
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pytest_refleak.heap import referents
from pytest_refleak.text import (
    class_module,
    class_name,
    class_namespace,
    is_a,
    module_name,
    module_namespace,
    object_traceback,
    printable,
    safe_repr,
    type_name,
)

NO_REFERRERS = (
    "no referrers: kept alive by a reference count held in native code (a missing Py_DECREF?)"
)

_CONTAINERS = (dict, list, set, frozenset, tuple, collections.deque)
#: Containers the last-resort search of the whole heap looks into: the ones a
#: leak can grow.
_SEARCHED = frozenset((dict, list, set, collections.deque, types.CellType))


@dataclass
class Budget:
    """How much explaining one test may cost.

    Time is counted in this process's CPU time: a busy machine slows the search
    down but does not make it give up sooner.  Still, a loaded machine gets less
    done in a CPU second (two processes on one core share its caches), so time
    alone would make the same search finish on one machine and not on another:
    the first ``at_least`` objects are looked at whatever the clock says, and a
    search that small gives the same answer everywhere.
    """

    seconds: float = 1.5
    depth: int = 16
    breadth: int = 2000
    at_least: int = 0
    started: float = field(default_factory=time.process_time)
    _asked: int = field(default=0, repr=False)
    #: Questions left before the clock is read again; counted down in small ints,
    #: which the interpreter never allocates: the search runs while allocations
    #: are traced, and counting up past 256 made an int a question, each traced
    #: with its stack (a sixth of a leaking click test's explanation).
    _until_clock: int = field(default=32, repr=False)
    _over: bool = field(default=False, repr=False)

    def passed_over(self, count: int) -> None:
        """``count`` objects were looked at without a question (not containers)."""
        self._asked += count

    def spent(self, *, now: bool = False) -> bool:
        # Asked once per container searched: reading the clock each time would
        # cost a good part of the search.
        if self._over:
            return True
        if self._until_clock and not now:
            self._until_clock -= 1
            return False
        # The questions since the clock was last read, this one included.
        self._asked += _CLOCK_EVERY - self._until_clock + 1
        self._until_clock = _CLOCK_EVERY
        if self._asked > self.at_least:
            self._over = time.process_time() - self.started > self.seconds
        return self._over


#: How many questions :meth:`Budget.spent` answers between two readings of the clock.
_CLOCK_EVERY = 32


@dataclass(frozen=True)
class Chain:
    """A path from a root to a leaked object, or why there is none.

    ``kind``: ``"root"`` (the path starts at a root), ``"native"`` (it starts at
    an object nothing refers to), ``"none"`` (nothing refers to the leaked object
    itself) or ``"unknown"`` (the budget ran out).
    """

    text: str
    kind: str = "root"

    @property
    def sentence(self) -> str:
        if self.kind in ("root", "native"):
            return f"kept alive by {self.text}"
        return self.text


# -- searching upwards -------------------------------------------------------------------


def chains_to(
    targets: Sequence[object],
    *,
    ignore: Iterable[int] = (),
    budget: Budget | None = None,
    native_root: Callable[[object], str | None] | None = None,
) -> list[Chain]:
    """For each of ``targets``, the shortest chain of references from a root to it.

    ``ignore``: ids of the caller's own objects that refer to the targets (lists
    of objects being examined, say); frames running now are always ignored.
    ``native_root`` may name what holds an object nothing refers to (the
    ``atexit`` callbacks, when the test registered some).
    """
    budget = budget or Budget()
    skip = set(ignore)
    skip.update(id(f) for f in _stack())
    # Objects seen, by target and id; ``up`` maps each to the one it refers to, a
    # step nearer the target.  Only ``nodes`` holds objects.
    nodes: dict[_Key, object] = {(i, id(t)): t for i, t in enumerate(targets)}
    up: dict[_Key, _Key] = {}
    results: dict[int, Chain] = {}
    # A chain that ends at an object nothing refers to: used if no root is found.
    native: dict[int, Chain] = {}
    # Parallel lists, not pairs: a pair would be one more referrer of its object.
    frontier: list[object] = list(targets)
    owners: list[int] = list(range(len(targets)))
    skip.update((id(nodes), id(frontier), id(skip), id(targets), id(owners)))
    # A module's namespace is a root of its own: every other module refers to the
    # builtins' one (``__builtins__``), which would name it after whichever came first.
    for which, target in enumerate(targets):
        if _module_of_namespace(target) is not None:
            results[which] = Chain(_render([target]))
    depth = 0
    try:
        while frontier and len(results) < len(targets):
            if depth >= budget.depth or budget.spent(now=True):
                break
            depth += 1
            waiting: dict[int, list[int]] = {}
            for which, obj in zip(owners, frontier, strict=True):
                waiting.setdefault(id(obj), []).append(which)
            referred: set[int] = set()
            following: list[object] = []
            following_owners: list[int] = []
            # The call's argument tuple refers to the frontier too: it is built
            # here, so that it can be skipped (a tuple passed with * is passed as is).
            arguments = tuple(frontier)
            referrers = gc.get_referrers(*arguments)
            # This level's own containers; their ids are not kept past it, since
            # another object may take the same address once they are freed.
            mine = {id(arguments), id(following), id(following_owners), id(waiting), id(referrers)}
            for ref in referrers:
                if id(ref) in skip or id(ref) in mine or _is_tooling(ref):
                    continue
                root = _root_name(ref) is not None
                for child in referents(ref):
                    for which in waiting.get(id(child), ()):
                        referred.add(id(child))
                        key = (which, id(ref))
                        if which in results or key in nodes:
                            continue
                        nodes[key] = ref
                        up[key] = (which, id(child))
                        if root:
                            results[which] = _root_chain(_path(key, nodes, up))
                        elif len(following) < budget.breadth:
                            following.append(ref)
                            following_owners.append(which)
            for which, obj in zip(owners, frontier, strict=True):
                if id(obj) in referred or which in results or which in native:
                    continue
                name = native_root(obj) if native_root is not None else None
                if name is None and obj is targets[which]:
                    native[which] = Chain(NO_REFERRERS, kind="none")
                else:
                    native[which] = _native_chain(_path((which, id(obj)), nodes, up), name)
            del referrers, arguments
            keep = [i for i, w in enumerate(following_owners) if w not in results]
            frontier[:] = [following[i] for i in keep]
            owners[:] = [following_owners[i] for i in keep]
            following.clear()
        out = []
        for i, target in enumerate(targets):
            if i in results:
                out.append(results[i])
            elif i in native:
                out.append(native[i])
            else:
                why = "time" if budget.spent(now=True) else "depth"
                out.append(
                    Chain(
                        f"no root found within the {why} budget "
                        f"({depth} steps up from the {type_name(target)})",
                        kind="unknown",
                    )
                )
        return out
    finally:
        nodes.clear()
        frontier.clear()


def _root_chain(path: list[object]) -> Chain:
    try:
        return Chain(_render(path))
    finally:
        path.clear()


def _native_chain(path: list[object], name: str | None) -> Chain:
    """A chain whose top object nothing refers to; ``name`` says what holds it, if known."""
    try:
        if name is not None:
            return Chain(_render(path, f"{name} → {_describe(path[0])}"))
        return Chain(
            f"{_render(path)}, held from native code (nothing refers to the {type_name(path[0])})",
            kind="native",
        )
    finally:
        path.clear()


def _stack() -> list[types.FrameType]:
    frames = []
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _is_tooling(obj: object) -> bool:
    """The plugin's own objects and module namespaces are never where a leak hangs from."""
    if type(obj) is dict:
        name = obj.get("__name__")
        return type(name) is str and name.startswith("pytest_refleak")
    module = class_module(type(obj)) or ""
    return module.startswith("pytest_refleak")


_Key = tuple[int, int]


def _path(key: _Key, nodes: dict[_Key, object], up: dict[_Key, _Key]) -> list[object]:
    path = [nodes[key]]
    while key in up:
        key = up[key]
        path.append(nodes[key])
    return path


# -- roots and steps -------------------------------------------------------------------


def _module_of_namespace(obj: object) -> types.ModuleType | None:
    if type(obj) is not dict:
        return None
    name = obj.get("__name__")
    module = sys.modules.get(name) if type(name) is str else None
    if module is not None and module_namespace(module) is obj:
        return module
    return None


def _root_name(obj: object) -> str | None:
    """The name of a root a developer recognises, or None."""
    if obj is sys.modules:
        return "sys.modules"
    name = module_name(obj)
    if name is not None:
        return "atexit callbacks" if name == "atexit" else printable(name)
    module = _module_of_namespace(obj)
    if module is not None:
        return printable(module.__name__)
    if is_a(obj, type):
        defined_in = class_module(obj)  # type: ignore[arg-type]
        if defined_in not in ("builtins", None):
            return printable(f"{defined_in}.{class_name(obj)}")  # type: ignore[arg-type]
    logging = sys.modules.get("logging")
    if logging is not None and is_a(obj, logging.Logger):
        if is_a(obj, logging.RootLogger):
            return "logging.getLogger()"
        return f"logging.getLogger({safe_repr(object.__getattribute__(obj, 'name'))})"
    return None


def _is_namespace_of(owner: object, child: object) -> bool:
    """Whether ``child`` is the attribute dict of ``owner`` (module, class or instance)."""
    if type(child) is not dict:
        return False
    namespace = module_namespace(owner)
    if namespace is not None:
        return namespace is child
    if is_a(owner, type):
        return child.keys() == class_namespace(owner).keys()  # type: ignore[arg-type]
    try:
        return object.__getattribute__(owner, "__dict__") is child
    except Exception:  # noqa: BLE001 - no __dict__, or a hostile one
        return False


def _key_text(key: object) -> str:
    if type(key) is str and key.isidentifier():
        return f".{key}"
    return f"[{safe_repr(key, 40)}]"


def _in_dict(mapping: dict[object, object], child: object, attribute: bool) -> str:
    for key, value in list(mapping.items()):
        if value is child:
            return _key_text(key) if attribute else f"[{safe_repr(key, 40)}]"
    for key in list(mapping):
        if key is child:
            return f" → key {safe_repr(key, 60)}"
    return " → " + type_name(child)


def _attribute_of(owner: object, child: object) -> str | None:
    try:
        namespace = object.__getattribute__(owner, "__dict__")
    except Exception:  # noqa: BLE001
        namespace = None
    if isinstance(namespace, dict):
        for key, value in dict.copy(namespace).items():
            if value is child:
                return _key_text(key)
    for cls in type(owner).__mro__:
        namespace = class_namespace(cls)
        slots = namespace.get("__slots__", ())
        for name in (slots,) if type(slots) is str else slots:  # type: ignore[attr-defined]
            descriptor = namespace.get(name)
            # Only the slots' own descriptors: a property could run anything.
            if type(descriptor) is not types.MemberDescriptorType:
                continue
            try:
                if descriptor.__get__(owner, cls) is child:
                    return printable(f".{name}")
            except Exception:  # noqa: BLE001 - an empty slot
                continue
    return None


def _step(parent: object, child: object, grandchild: object | None) -> tuple[str, bool]:
    """The text for ``parent`` referring to ``child``, and whether ``grandchild``'s
    step has been said by it too (closures, attribute dicts)."""
    if module_name(parent) == "atexit":
        return f" → {_describe(child)}", False
    if _module_of_namespace(parent) is not None:
        return _in_dict(parent, child, attribute=True), False  # type: ignore[arg-type]
    if _is_namespace_of(parent, child):
        if grandchild is not None:
            assert isinstance(child, dict)
            return _in_dict(child, grandchild, attribute=True), True
        return ".__dict__", False
    if type(parent) is dict:
        return _in_dict(parent, child, attribute=False), False
    for base in (list, tuple, collections.deque):
        if is_a(parent, base):
            # The base's iterator: a subclass's __iter__ is the object's own code.
            items: Iterable[object] = base.__iter__(parent)  # type: ignore[arg-type]
            for i, item in enumerate(items):
                if item is child:
                    return f"[{i}]", False
    if is_a(parent, (set, frozenset)):
        return " → an item of the set", False
    if type(parent) is types.FunctionType:
        if child is parent.__closure__ and grandchild is not None:
            names = parent.__code__.co_freevars
            for name, cell in zip(names, parent.__closure__ or (), strict=False):
                if cell is grandchild:
                    return f" (closure variable {name!r})", True
        if child is parent.__closure__:
            return ".__closure__", False
        if child is parent.__defaults__:
            return " (default arguments)", False
        if child is parent.__globals__:
            return ".__globals__", False
    if type(parent) is types.CellType:
        return "", False
    if type(parent) is types.MethodType:
        if child is parent.__self__:
            return ".__self__", False
        if child is parent.__func__:
            return ".__func__", False
    if type_name(parent) == "_lru_cache_wrapper":
        return " (lru_cache)", False
    if type(parent) is types.FrameType:
        try:
            local_items = list(parent.f_locals.items())
        except Exception:  # noqa: BLE001
            local_items = []
        for name, value in local_items:
            if value is child:
                return printable(f" → local {name!r} of {parent.f_code.co_name}()"), False
    if type(parent) in (types.GeneratorType, types.CoroutineType):
        return printable(f" (suspended {parent.__qualname__})"), False  # type: ignore[attr-defined]
    attribute = _attribute_of(parent, child)
    if attribute is not None:
        return attribute, False
    return f" → {type_name(child)}", False


def _describe(obj: object) -> str:
    function = obj.__func__ if type(obj) is types.MethodType else obj
    if type(function) is types.FunctionType:
        return printable(f"{function.__qualname__}()")
    return f"<{type_name(obj)}>"


def _render(path: list[object], root: str | None = None) -> str:
    """``root.attr[key] → ...`` from a list of objects, root first, target last."""
    root = root or _root_name(path[0])
    text = root if root is not None else f"<{type_name(path[0])}>"
    i = 0
    while i < len(path) - 1:
        grandchild = path[i + 2] if i + 2 < len(path) else None
        step, skip_next = _step(path[i], path[i + 1], grandchild)
        text += step
        i += 2 if skip_next else 1
    return text


# -- holders of untracked memory ---------------------------------------------------------


def holders_of(
    sites: Sequence[tuple[str, int]],
    *,
    ignore: Iterable[int] = (),
    budget: Budget | None = None,
    limit: int = 2,
) -> tuple[list[tuple[object, object]], bool]:
    """Containers holding untracked objects allocated at ``sites`` (innermost frames).

    Returns pairs of (container, held object), at most ``limit``, and whether
    the search looked everywhere.  Needs the allocations to be traced.  The
    modules' own containers are searched first.
    """
    budget = budget or Budget()
    wanted = set(sites)
    skip = set(ignore)
    found: list[tuple[object, object]] = []

    def check(container: object, tuple_keys: bool = False) -> bool:
        # Allocations here are traced, and so slow: one iterator per container.
        if id(container) in skip:
            return False
        if type(container) is dict:
            # Keys too: a dict does not show the garbage collector its string keys.
            for key in container:
                # Or in a tuple key made elsewhere: the warnings registry's
                # (text, category, line), made where the warning was raised; in
                # the modules' own dicts only (across the heap, a tenth of a
                # leaking click test went to looking inside caches' keys).
                untracked = not gc.is_tracked(key)
                if (untracked and allocated_at(key) in wanted) or (
                    tuple_keys and _holds_from(key, wanted)
                ):
                    found.append((container, key))
                    return True
            for value in container.values():
                if not gc.is_tracked(value) and allocated_at(value) in wanted:
                    found.append((container, value))
                    return True
            return False
        # Other containers are read through the collector, never iterated: a
        # tuple found by gc.get_objects() may still be being filled in by C code.
        for item in referents(container):
            if gc.is_tracked(item):
                continue
            if allocated_at(item) in wanted or _holds_from(item, wanted):
                found.append((container, item))
                return True
        return False

    for container in _module_containers():
        if check(container, tuple_keys=True) and len(found) >= limit:
            return found, False
        if budget.spent():
            return found, False
    if found:
        return found, False
    everything = gc.get_objects()
    try:
        # Picked out in C: most of the heap is not a container a leak can grow,
        # and a Python loop over all of it was most of the search's time.  The
        # objects passed over still count as looked at (see Budget.at_least).
        # In chunks, counted once each: an int past 256 per object would be a
        # traced allocation of its own.
        for start in range(0, len(everything), _CHUNK):
            chunk = everything[start : start + _CHUNK]
            containers = list(
                itertools.compress(chunk, map(_SEARCHED.__contains__, map(type, chunk)))
            )
            budget.passed_over(len(chunk) - len(containers))
            chunk.clear()
            for container in containers:
                if check(container) and len(found) >= limit:
                    return found, False
                if budget.spent():
                    return found, False
            containers.clear()
    finally:
        everything.clear()
    return found, True


#: Objects of the heap sorted at a time in the search of the whole heap.
_CHUNK = 4096


def _holds_from(item: object, wanted: set[tuple[str, int]]) -> bool:
    """Whether ``item``, a tuple, holds a string or number allocated at ``wanted``:
    a tuple of those and of the interpreter's own classes is one the collector
    does not track, no container it lists, so what it holds would look held by
    nothing.  The tuple is then the held object, found in its container."""
    if type(item) is not tuple:
        return False
    return any(allocated_at(part) in wanted for part in item)


def allocated_at(obj: object) -> tuple[str, int] | None:
    """Where ``obj`` was allocated: the innermost traced frame, as cheaply as possible.

    This runs for every string in every container searched; the raw lookup saves
    building a ``tracemalloc.Traceback`` for each.
    """
    if _RAW_TRACEBACK is not None:
        frames = _RAW_TRACEBACK(obj)
        return frames[0] if frames else None  # most recent first
    traceback = object_traceback(obj)
    if traceback is None or not len(traceback):
        return None
    return traceback[-1].filename, traceback[-1].lineno


_RAW_TRACEBACK: Callable[[object], tuple[tuple[str, int], ...] | None] | None = getattr(
    tracemalloc, "_get_object_traceback", None
)


def _module_containers() -> Iterable[object]:
    """Containers that modules and their classes hold directly: caches and registries.

    The project's own modules come first: installed packages and the standard
    library are where a leak is least likely to be, and the most costly to search.
    """
    namespaces = [n for n in map(module_namespace, sys.modules.copy().values()) if n is not None]
    namespaces.sort(key=_installed)
    for namespace in namespaces:
        if _is_tooling(namespace):
            continue
        name = namespace.get("__name__")
        for value in dict.copy(namespace).values():
            if type(value) in _CONTAINERS:
                yield value
            elif is_a(value, type) and class_module(value) == name:  # type: ignore[arg-type]
                for attribute in list(class_namespace(value).values()):  # type: ignore[arg-type]
                    if type(attribute) in _CONTAINERS:
                        yield attribute


_STDLIB = sysconfig.get_paths()["stdlib"]


def _installed(namespace: dict[str, object]) -> bool:
    filename = namespace.get("__file__")
    if type(filename) is not str:
        return True
    return filename.startswith(_STDLIB) or "-packages" in filename


def held_step(container: object, item: object) -> str:
    """How ``container`` holds ``item``: ``(key)``, ``['name']``, ``[3]``, ``.attr``."""
    if type(container) is dict:
        for key, value in list(container.items()):
            if key is item:
                return "(key)"
            if value is item:
                return f"[{safe_repr(key, 40)}]"
    step, _ = _step(container, item, None)
    return step.removeprefix(" → ") or "(refers to)"


def describe_holding(container: object, item: object, chain: Chain) -> str:
    """``chain`` to ``container``, then the step from it to ``item``."""
    if type(container) is dict:
        for key, value in list(container.items()):
            if key is item:
                return f"{chain.text} (key {safe_repr(item, 40)})"
            if value is item:
                return f"{chain.text}[{safe_repr(key, 40)}]"
    step, _ = _step(container, item, None)
    return chain.text + step


def call_with_unfrozen_heap(heap_frozen: bool, action: Callable[[], object]) -> object:
    """Frozen objects are invisible to ``gc.get_referrers``: unfreeze around ``action``."""
    if heap_frozen:
        gc.unfreeze()
    try:
        return action()
    finally:
        if heap_frozen:
            gc.freeze()
