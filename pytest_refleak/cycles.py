"""Reference cycles in garbage: which objects form them, who made them, how they loop.

The input is the garbage the cyclic collector found during a test (captured by
:class:`pytest_refleak.heap.CycleCatcher`).  Only objects that lie on a cycle
(a strongly connected component of the garbage) are judged; objects that were
merely reachable from a cycle are not.

Who made a cycle is decided member by member, from what the object is and, when
allocations were traced, from where it was made (see ``docs/how-it-decides.md``):

* a frame counts for the file of its code, but only the outermost frame of the
  cycle does, because inner frames point outwards through ``f_back``;
* exceptions and tracebacks do not count: they join whichever frame keeps them;
* any other object counts for the code that was running when it was allocated,
  with two corrections.  What a module body makes while it is imported counts
  for whoever imported it: a test that re-executes a module leaves class objects
  made by the module's code, but on the test's behalf.  And an object that
  belongs to the project or its tests by its kind (an instance of one of their
  classes, a class, a function of their code) made by library code counts for
  the project's or tests' code that called the library: ``copy.deepcopy`` of a
  test's object, a class that ``collections.namedtuple`` makes for the project;
* without a traced allocation, functions, methods, generators and coroutines
  count for the file of their code, classes and instances of Python classes for
  the module of the class, and plain containers not at all.

A cycle belongs to the project when any member counts for the project, unless a
class is on it: a class is cyclic by nature, and whoever made it made the cycle.  The line
falls where allocation tracing can see it: what matters is which code made the
objects, not which code linked them, so a cycle of objects a test made, which a
project method then links up, is the test's.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import re
import tracemalloc
import types
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from pytest_refleak.heap import FRAME_LADDER, referents
from pytest_refleak.origins import Origin, Origins
from pytest_refleak.text import (
    attribute_dict,
    class_module,
    class_mro,
    class_namespace,
    instance_dict,
    is_a,
    object_frames,
    safe_repr,
    site_of,
    storage_frames,
    type_name,
)

#: How close a cycle's maker is to the user, highest first.
_PRECEDENCE = (
    Origin.PROJECT,
    Origin.TESTS,
    Origin.THIRD_PARTY,
    Origin.STDLIB,
    Origin.UNKNOWN,
    Origin.TOOLING,
)

_CODE_OWNERS = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)


@dataclass(frozen=True)
class CycleGroup:
    """One strongly connected component of garbage, as plain data."""

    size: int
    types: tuple[tuple[str, int], ...]
    origin: Origin | None
    path: str
    sites: tuple[str, ...]
    #: The loop ``path`` names, as data for drawing it: the type it starts from,
    #: then each step round as (how the previous member refers to the next, the
    #: next's type); the last step's member is the first again.
    loop: tuple[str, tuple[tuple[str, str], ...]] = ("", ())
    #: The type of the member allocated at each of ``sites``, in the same order.
    site_types: tuple[str, ...] = ()
    #: The ``refleak_accept_cycles`` name that accepts this cycle, if one does.
    accepted: str = ""
    #: Whether a member's maker was decided from allocation traces cut short before
    #: what decides it (see :func:`_settled`): a deeper trace could name another.
    shallow: bool = False
    #: Whether every such member was left open only because an earlier run made it
    #: (untraced, or traced with fewer frames): tracing on into the next run, with
    #: as many frames, settles it.
    late: bool = False


def precedence(group: CycleGroup) -> tuple[int, int]:
    """Where a group comes in a test's report: by whose it is, then the biggest first."""
    return (_PRECEDENCE.index(group.origin) if group.origin else -1, -group.size)


def shape_key(group: CycleGroup) -> int:
    """A number that tells cycles of the same shape apart: the loop that names
    them.  Not how many objects of each type the cycle holds, which varies with
    the data (a parse tree's size).  Made without keeping anything."""
    return hash((group.path, group.loop))


@dataclass(frozen=True)
class CycleFindings:
    groups: tuple[CycleGroup, ...]
    garbage: int
    truncated: bool

    def counted(self, mode: str) -> tuple[CycleGroup, ...]:
        """The cycles that fail a test in ``mode`` (``project`` or ``all``)."""
        if mode == "project":
            return tuple(g for g in self.groups if g.origin is Origin.PROJECT and not g.accepted)
        if mode == "all":
            return tuple(
                g for g in self.groups if g.origin is not Origin.TOOLING and not g.accepted
            )
        return ()

    def undetermined(self) -> tuple[CycleGroup, ...]:
        """Cycles of plain containers whose maker needs allocation tracing to tell."""
        return tuple(g for g in self.groups if g.origin is None and not g.accepted)


NO_CYCLES = CycleFindings(groups=(), garbage=0, truncated=False)


def analyse(
    garbage: Sequence[object],
    origins: Origins,
    *,
    limit: int = 20_000,
    max_groups: int = 50,
    also: Sequence[CycleGroup] = (),
    accept: Sequence[Accepted] = (),
    made_before: Container[int] = frozenset(),
) -> CycleFindings:
    """Find the cycles in ``garbage`` and describe them without keeping references.

    ``also``: cycles described earlier (see :func:`parts`), reported with these.
    ``made_before``: ids of the objects that existed when the window opened (an
    earlier run made them, traced as that run was, if at all).
    """
    if not garbage and not also:
        return NO_CYCLES
    found = parts(
        garbage,
        origins,
        limit=limit,
        max_groups=max_groups,
        accept=accept,
        made_before=made_before,
    )
    groups = [group for _, group in found] + list(also)[: max(0, max_groups - len(found))]
    truncated = len(garbage) > limit or len(found) + len(also) >= max_groups
    groups.sort(key=precedence)
    return CycleFindings(
        groups=tuple(groups), garbage=len(garbage) + sum(g.size for g in also), truncated=truncated
    )


def parts(
    garbage: Sequence[object],
    origins: Origins,
    *,
    limit: int = 20_000,
    max_groups: int = 50,
    accept: Sequence[Accepted] = (),
    made_before: Container[int] = frozenset(),
) -> list[tuple[frozenset[int], CycleGroup]]:
    """The cycles in ``garbage``, each with the ids of the objects on it."""
    if not garbage:
        return []
    objects = list(garbage[:limit])
    index = {id(obj): i for i, obj in enumerate(objects)}
    edges = [[index[id(r)] for r in referents(obj) if id(r) in index] for obj in objects]
    tracing = tracemalloc.is_tracing()
    found = []
    for component in _strongly_connected(edges):
        if len(component) == 1 and component[0] not in edges[component[0]]:
            continue
        members = frozenset(id(objects[i]) for i in component)
        group = _describe(component, objects, edges, origins, tracing, made_before)
        if accept:
            accepted = _accepted_by(component, objects, members, accept)
            if accepted:
                group = dataclasses.replace(group, accepted=accepted)
        found.append((members, group))
        if len(found) >= max_groups:
            break
    return found


def _strongly_connected(edges: list[list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative so that long chains do not hit the recursion limit."""
    counter = 0
    indices: dict[int, int] = {}
    lowlink: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    for root in range(len(edges)):
        if root in indices:
            continue
        work = [(root, 0)]
        while work:
            node, child_pos = work.pop()
            if child_pos == 0:
                indices[node] = lowlink[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            children = edges[node]
            for pos in range(child_pos, len(children)):
                child = children[pos]
                if child not in indices:
                    work.append((node, pos + 1))
                    work.append((child, 0))
                    recurse = True
                    break
                if child in on_stack:
                    lowlink[node] = min(lowlink[node], indices[child])
            if recurse:
                continue
            if lowlink[node] == indices[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
    return components


def _describe(
    component: list[int],
    objects: list[object],
    edges: list[list[int]],
    origins: Origins,
    tracing: bool,
    made_before: Container[int] = frozenset(),
) -> CycleGroup:
    members = set(component)
    member_ids = {id(objects[i]) for i in component}
    found: list[Origin] = []
    # Whose the classes on the cycle are: they decide it (see below).
    classes: list[Origin] = []
    sites: dict[str, str] = {}
    shallow = False
    # Open only because an earlier run made them, every member left open.
    late = True
    attribute_dicts = _attribute_dicts(component, objects, edges)
    for n, i in enumerate(component):
        if i in attribute_dicts:
            # Part of its instance, which is on the cycle too and decides for both:
            # Python 3.11 and later keep most instances' attributes inline, and
            # the verdict must not depend on the version.
            continue
        # Where members were allocated is looked up for the first few only: a
        # parse tree with parent pointers makes groups of thousands, and the
        # report names five sites at most.  The others do not count then: by
        # their kind they could outvote what the allocations say.
        if tracing and n >= _SITES_LOOKED_UP and not is_a(objects[i], type):
            # A class is looked up wherever it is: it decides the cycle (below).
            continue
        origin, site, settled = _member_origin(
            objects[i], member_ids, origins, tracing, made_before
        )
        if settled is not True:
            shallow = True
            late = late and settled is _LATE
        if origin is not None:
            found.append(origin)
            if is_a(objects[i], type):
                classes.append(origin)
        if site and origin in (Origin.PROJECT, Origin.TESTS, Origin.THIRD_PARTY):
            sites.setdefault(site, type_name(objects[i]))
    # A class is cyclic garbage by nature (it refers to itself through its
    # ``__mro__`` and its dict's descriptors) once nothing else holds it: a cycle
    # through one would be there whatever else joined it, and is made by whoever
    # made the class.  A test that defines a class per run, with a project
    # descriptor in it that keeps its owner (``__set_name__``), makes cycles of
    # its own (cachetools' suite); a class the project makes per call is the
    # project's.
    decided = classes or found
    origin = min(decided, key=_PRECEDENCE.index) if decided else None
    counts: dict[str, int] = {}
    for i in component:
        name = type_name(objects[i])
        counts[name] = counts.get(name, 0) + 1
    start = _representative(component, objects, origins)
    loop = _loop(start, members, objects, edges)
    return CycleGroup(
        size=len(component),
        types=tuple(sorted(counts.items(), key=lambda kv: -kv[1])),
        origin=origin,
        path=_join_path(loop),
        sites=tuple(sites)[:5],
        site_types=tuple(sites.values())[:5],
        loop=loop,
        shallow=shallow,
        late=shallow and late,
    )


_SITES_LOOKED_UP = 64


#: What :func:`_member_origin` says of a member left open only because an earlier
#: run made it.
_LATE = "late"


def _member_origin(
    obj: object,
    member_ids: set[int],
    origins: Origins,
    tracing: bool,
    made_before: Container[int] = frozenset(),
) -> tuple[Origin | None, str | None, bool | str]:
    """The origin one cycle member counts for, where it came from, if known, and
    whether what decided it showed all that decides it: ``True``, ``False``, or
    :data:`_LATE`.

    A member an earlier run made (a structure each run replaces, freed by the
    next) was traced as that run was: not at all, or with fewer frames than now.
    Such a trace does not settle who made it (:data:`_LATE`): a later traced run,
    tracing on from this one, will have made the next one under tracing (see
    ``protocol.Checker._rerun``)."""
    # Types by type(), never isinstance: that would ask the object for its __class__.
    if type(obj) is types.FrameType:
        if obj.f_back is not None and id(obj.f_back) in member_ids:
            return None, None, True
        frame_code = obj.f_code
        return (
            origins.of_file(frame_code.co_filename),
            f"{frame_code.co_filename}:{obj.f_lineno}",
            True,
        )
    if is_a(obj, (BaseException, types.TracebackType)):
        return None, None, True
    kind = _origin_by_kind(obj, origins)
    earlier = tracing and id(obj) in made_before
    if tracing:
        frames = object_frames(obj)
        if frames:
            origin = _maker(frames, kind, origins)
            if origin is Origin.PROJECT and is_a(obj, list):
                # Who filled a list made the references it holds.
                origin = Origin.TESTS if _filled_by_tests(obj, kind, origins) else origin
            if earlier and _cut_earlier(frames):
                settled: bool | str = _LATE
            else:
                settled = _settled(frames, kind, origins)
            return origin, site_of(frames, origins), settled
    code = _code_of(obj)
    if code is not None:
        return kind, f"{code.co_filename}:{code.co_firstlineno}", _LATE if earlier else True
    if kind is None:
        return None, None, True
    site = None
    if tracing:
        # Python 3.11 cannot always trace instances that keep their attributes
        # inline; where the class's __init__ is written is the next best pointer.
        cls: type = obj if is_a(obj, type) else type(obj)  # type: ignore[assignment]
        init = class_namespace(cls).get("__init__")
        if type(init) is types.FunctionType:
            site = f"{init.__code__.co_filename}:{init.__code__.co_firstlineno}"
    return kind, site, _LATE if earlier else True


def _origin_by_kind(obj: object, origins: Origins) -> Origin | None:
    """Whose an object is by what it is: code by its file, a class or an instance of a
    Python class by the class's module; plain containers are nobody's."""
    code = _code_of(obj)
    if code is not None:
        return origins.of_file(code.co_filename)
    # Read through the class, never the object (docs/hostile-input.md).
    module = (
        class_namespace(obj).get("__module__")  # type: ignore[arg-type]
        if is_a(obj, type)
        else class_module(type(obj))
    )
    if type(module) is str and module != "builtins":
        return origins.of_module(module)
    return None


_IMPORT_SYSTEM = "<frozen importlib._bootstrap"


def _maker(frames: Sequence[tuple[str, int]], kind: Origin | None, origins: Origins) -> Origin:
    """Whose code made an object allocated at ``frames`` (innermost last); ``kind`` is
    whose the object is by what it is."""
    for n, (filename, _) in enumerate(frames):
        if filename.startswith(_IMPORT_SYSTEM):
            # Made by a module body being imported (the outermost import is the one
            # that counts): the code that asked for the import made it.
            for outer, _ in reversed(frames[:n]):
                origin = origins.of_file(outer)
                if origin is not Origin.STDLIB:
                    return origin
            return Origin.STDLIB
    innermost = origins.of_file(frames[-1][0])
    if kind in _OWN and innermost not in _OWN:
        # Library code made it for somebody: the project's or tests' code that called.
        for filename, _ in reversed(frames):
            origin = origins.of_file(filename)
            if origin in _OWN:
                return origin
        return kind
    return innermost


_OWN = (Origin.PROJECT, Origin.TESTS)


def _settled(frames: Sequence[tuple[str, int]], kind: Origin | None, origins: Origins) -> bool:
    """Whether the frames :func:`_maker` decided from can be all that decides it.

    A trace holds only the innermost frames, as many as tracing was started with.
    Frames further out change the answer in two ways only: an import further out
    makes it the importer's, and a library's object made for the project or its
    tests needs the first of their frames.  Only the import system (and ``exec``)
    runs a module body, so an import further out can only be behind the outermost
    frame kept: the trace decides unless that frame is at the top level of a
    module or in a class body, or in code whose source cannot be read to tell.
    A module body that calls helpers more frames deep than were traced, each of
    which makes a cycle, is missed, as it is at any depth: docs/how-it-decides.md.
    """
    if len(frames) < tracemalloc.get_traceback_limit():
        return True
    if (
        kind in _OWN
        and origins.of_file(frames[-1][0]) not in _OWN
        and not any(origins.of_file(filename) in _OWN for filename, _ in frames)
    ):
        # Library code made it, for own code further out than was traced.
        return False
    if any(filename.startswith(_IMPORT_SYSTEM) for filename, _ in frames):
        return False
    return origins.at_top_level(*frames[0]) is False


def _filled_by_tests(items: object, kind: Origin | None, origins: Origins) -> bool:
    """Whether the tests' code last grew a list's item storage: the references it
    holds are then the test's doing, though the project made the list (a project
    node's child list the test appends to).  Only ever toward the tests: a list
    the test made and the project's method filled (a list subclass's own
    ``append``) was filled on the test's request, and stays the test's."""
    stored = storage_frames(items)  # type: ignore[arg-type]
    return bool(stored) and _maker(stored, kind, origins) is Origin.TESTS


def _attribute_dicts(
    component: list[int], objects: list[object], edges: list[list[int]]
) -> set[int]:
    """The members that are another member's attribute dict (its ``__dict__``)."""
    dicts = {i for i in component if type(objects[i]) is dict}
    if not dicts:
        return set()
    owned: set[int] = set()
    for i in component:
        obj = objects[i]
        if type(obj) in _PLAIN_CONTAINERS or not any(j in dicts for j in edges[i]):
            continue
        attributes = attribute_dict(obj)
        if attributes is not None:
            owned.update(j for j in edges[i] if j in dicts and objects[j] is attributes)
    return owned


_PLAIN_CONTAINERS = frozenset({dict, list, tuple, set, frozenset})


def _cut_earlier(frames: Sequence[tuple[str, int]]) -> bool:
    """Whether a trace an earlier window recorded may have been cut at its limit:
    as long as a limit the plugin traces with, and shorter than tracing keeps now
    (any test's allocation lies more frames deep than these, below pytest's)."""
    kept = len(frames)
    return kept in FRAME_LADDER[:-1] and kept < tracemalloc.get_traceback_limit()


def _code_of(obj: object) -> types.CodeType | None:
    if type(obj) is types.FunctionType:
        return obj.__code__
    if type(obj) is types.MethodType and type(obj.__func__) is types.FunctionType:
        return obj.__func__.__code__
    if type(obj) in _CODE_OWNERS:
        code = getattr(obj, "gi_code", None) or getattr(obj, "cr_code", None)
        code = code or getattr(obj, "ag_code", None)
        return code if isinstance(code, types.CodeType) else None
    return None


def _representative(component: list[int], objects: list[object], origins: Origins) -> int:
    """The member a loop is drawn from: an instance of a project class if there is one."""

    def rank(i: int) -> tuple[int, int]:
        obj = objects[i]
        module = class_module(type(obj))
        plain = module == "builtins"
        origin = Origin.UNKNOWN if plain else origins.of_module(module)
        return (_PRECEDENCE.index(origin), 1 if plain else 0)

    return min(component, key=rank)


def _loop(
    start: int, members: set[int], objects: list[object], edges: list[list[int]]
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Shortest way round the cycle from ``start``: its type, then each step as
    (reference, type), as in ``Node.parent → Node.children[0] → Node``."""
    previous: dict[int, int] = {}
    queue = collections.deque([start])
    seen = {start}
    end = None
    while queue and end is None:
        node = queue.popleft()
        for child in edges[node]:
            if child not in members:
                continue
            if child == start:
                end = node
                break
            if child not in seen:
                seen.add(child)
                previous[child] = node
                queue.append(child)
    if end is None:
        return type_name(objects[start]), ()
    chain = [end]
    while chain[-1] != start:
        chain.append(previous[chain[-1]])
    chain.reverse()
    steps = list(zip(chain, [*chain[1:], start], strict=True))
    parts: list[tuple[str, str]] = []
    i = 0
    while i < len(steps):
        a, b = steps[i]
        source, target = objects[a], objects[b]
        if i + 1 < len(steps) and instance_dict(source) is target:
            # Python 3.10 keeps attributes in a separate dict: show `Node.parent`,
            # not `Node.__dict__ → dict['parent']`.
            key = _via_dict(target, objects[steps[i + 1][1]])
            if key and key.startswith("['") and key.endswith("']") and key[2:-2].isidentifier():
                parts.append((f".{key[2:-2]}", type_name(objects[steps[i + 1][1]])))
                i += 2
                continue
        parts.append((_reference_name(source, target), type_name(target)))
        i += 1
    return type_name(objects[start]), tuple(parts)


def _join_path(loop: tuple[str, tuple[tuple[str, str], ...]]) -> str:
    """Glue ``Type`` and ``.attr``/``[key]`` steps: ``Node.parent → Node``."""
    out, steps = loop
    for step, name in steps:
        if not step:
            out += " → " + name
        elif step.startswith((".", "[")):
            out += f"{step} → {name}"
        else:
            out += f" → {step} → {name}"
    return out


def _reference_name(source: object, target: object) -> str:
    finders: tuple[Callable[[object, object], str | None], ...] = (
        _via_dict,
        _via_sequence,
        _via_attributes,
    )
    for finder in finders:
        try:
            found = finder(source, target)
        except Exception:  # noqa: BLE001 - a hostile object must not break the report
            found = None
        if found:
            return found
    return ""


def _via_dict(source: object, target: object) -> str | None:
    if type(source) is not dict:
        return None
    for key, value in source.items():
        if value is target:
            return f"[{safe_repr(key, limit=40)}]"
        if key is target:
            return "(key)"
    return None


def _via_sequence(source: object, target: object) -> str | None:
    if type(source) not in (list, tuple):
        return None
    items: list[object] | tuple[object, ...] = source  # type: ignore[assignment]
    for i, value in enumerate(items):
        if value is target:
            return f"[{i}]"
    return None


_ATTRIBUTES_BY_TYPE: tuple[tuple[type | tuple[type, ...], tuple[str, ...]], ...] = (
    (types.MethodType, ("__self__", "__func__")),
    (types.FunctionType, ("__closure__", "__globals__", "__defaults__", "__kwdefaults__")),
    (types.CellType, ("cell_contents",)),
    (types.TracebackType, ("tb_frame", "tb_next")),
    (BaseException, ("__traceback__", "__context__", "__cause__", "args")),
    (_CODE_OWNERS, ("gi_frame", "cr_frame", "ag_frame")),
)


def _via_attributes(source: object, target: object) -> str | None:
    if type(source) is types.FrameType:
        if source.f_back is target:
            return ".f_back"
        for name, value in source.f_locals.items():
            if value is target:
                return f".f_locals[{name!r}]"
        return None
    for kinds, attrs in _ATTRIBUTES_BY_TYPE:
        if not is_a(source, kinds):
            continue
        for attr in attrs:
            value = _stored(source, attr)
            if value is target:
                return f".{attr}"
            if type(value) is tuple and any(v is target for v in value):
                return f".{attr}"
    attributes = instance_dict(source)
    if attributes is not None:
        if attributes is target:
            return ".__dict__"
        for name, value in attributes.items():
            if value is target:
                return f".{name}"
            if type(value) in (list, tuple, dict):
                inner = _via_dict(value, target) or _via_sequence(value, target)
                if inner:
                    return f".{name}{inner}"
    # Slots of Python classes: read through their member descriptors only.
    for cls in class_mro(type(source)):
        for name, slot in class_namespace(cls).items():
            if type(slot) is types.MemberDescriptorType and type(name) is str:
                try:
                    value = slot.__get__(source, cls)
                except AttributeError:
                    continue
                if value is target:
                    return f".{name}"
    return None


def _stored(obj: object, name: str) -> object:
    """The attribute ``name`` as the interpreter's own type stores it: a subclass's
    property or ``__getattribute__`` of the same name is not run."""
    for cls in class_mro(type(obj)):
        descriptor = class_namespace(cls).get(name)
        if type(descriptor) in (types.GetSetDescriptorType, types.MemberDescriptorType):
            return descriptor.__get__(obj, cls)  # type: ignore[attr-defined]
    return None


# -- cycles a project makes on purpose ---------------------------------------------------

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")


@dataclass(frozen=True)
class Accepted:
    """A cycle shape a project makes on purpose, as ``refleak_accept_cycles`` names it.

    ``module:Name`` accepts the cycles with a member that is an instance of the
    class ``Name`` (or of a subclass), the class itself, or code defined inside
    ``Name`` (its methods, its nested functions and classes): a function's name
    accepts its closures.  ``module:Class.attribute`` accepts the cycles that go
    through that attribute of an instance of ``Class``: the cycle a parse tree's
    parent pointers make, and no other cycle of the same objects.
    """

    text: str
    module: str
    qualname: str
    attribute: str = ""


def parse_accepted(text: str) -> Accepted:
    """``module:Name[.attribute]`` read as written; :class:`ValueError` if it is not
    that.  Whether the last part is an attribute is known once it is imported
    (:func:`resolve_accepted`)."""
    module, colon, qualname = text.strip().partition(":")
    if not colon or not _DOTTED.match(module) or not _DOTTED.match(qualname):
        raise ValueError(
            f"expected module:Name or module:Class.attribute "
            f"(e.g. mypackage.tree:Node.parent), got {text!r}"
        )
    return Accepted(text=text.strip(), module=module, qualname=qualname)


def resolve_accepted(entry: Accepted) -> Accepted:
    """``entry`` with what it names found in its module, which is imported if need be.

    :class:`ValueError` says what cannot be found.  A last part that is not a class
    or a function, under a class, is an attribute of its instances (a slot, a
    property, or nothing the class itself holds).
    """
    try:
        found: object = importlib.import_module(entry.module)
    except Exception as error:  # noqa: BLE001 - any import failure is the name's problem
        raise ValueError(
            f"{entry.text!r}: cannot import {entry.module!r} ({type(error).__name__}: {error})"
        ) from None
    parts = entry.qualname.split(".")
    owner: object = found
    for n, part in enumerate(parts):
        try:
            found = getattr(owner, part)
        except Exception:  # noqa: BLE001 - a missing name, however the lookup fails
            found = _MISSING
        named = isinstance(found, type) or (found is not _MISSING and callable(found))
        if n == len(parts) - 1 and n > 0 and isinstance(owner, type) and not named:
            return dataclasses.replace(entry, qualname=".".join(parts[:-1]), attribute=part)
        if found is _MISSING:
            raise ValueError(f"{entry.text!r}: {entry.module} has no {'.'.join(parts[: n + 1])}")
        owner = found
    if not isinstance(owner, type) and not callable(owner):
        raise ValueError(
            f"{entry.text!r}: {entry.qualname} is a {type(owner).__name__}, "
            "expected a class, a function, or a class's attribute"
        )
    return entry


_MISSING = object()


def _accepted_by(
    component: list[int], objects: list[object], members: frozenset[int], accept: Sequence[Accepted]
) -> str:
    """The name in ``accept`` that accepts the cycle of ``component``, or ``""``."""
    for i in component:
        obj = objects[i]
        names = _defined_names(obj)
        if not names:
            continue
        for entry in accept:
            if entry.attribute:
                if is_a(obj, type) or (entry.module, entry.qualname) not in names:
                    continue
                value = _attribute(obj, entry.attribute)
                if value is not None and id(value) in members:
                    return entry.text
                continue
            for module, qualname in names:
                if module == entry.module and (
                    qualname == entry.qualname or qualname.startswith(entry.qualname + ".")
                ):
                    return entry.text
    return ""


_CLASS_QUALNAME = vars(type)["__qualname__"]


def _defined_names(obj: object) -> list[tuple[str, str]]:
    """Where ``obj``'s definition lives, as (module, qualified name) pairs: its class
    and the class's bases for an instance, for a class also the class itself and
    its bases, the code for a function or a frame.  Read without asking the object."""
    kind = type(obj)
    pair: tuple[object, object] | None = None
    if kind is types.FunctionType:
        pair = (obj.__module__, obj.__qualname__)  # type: ignore[attr-defined]
    elif kind is types.FrameType:
        frame: types.FrameType = obj  # type: ignore[assignment]
        pair = (frame.f_globals.get("__name__"), getattr(frame.f_code, "co_qualname", None))
    if pair is not None:
        module, qualname = pair
        return [(module, qualname)] if type(module) is str and type(qualname) is str else []
    names = []
    # A class is an instance of its metaclass, and defined where its bases are.
    classes = class_mro(kind)
    if is_a(obj, type):
        classes = (*class_mro(obj), *classes)  # type: ignore[arg-type]
    for cls in classes:
        name = class_module(cls)
        defined: object = _CLASS_QUALNAME.__get__(cls)
        if name and name != "builtins" and type(defined) is str:
            names.append((name, defined))
    return names


def _attribute(obj: object, name: str) -> object | None:
    """An instance's attribute as its storage holds it (its dict or a slot)."""
    held = instance_dict(obj)
    if held is not None and name in held:
        return held[name]
    try:
        return _stored(obj, name)
    except AttributeError:  # a slot never set
        return None
