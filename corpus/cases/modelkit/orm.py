"""A miniature ORM: sessions with identity maps, dynamic models, typed containers."""

from __future__ import annotations

import copy
import itertools
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

_ids = itertools.count(1)


class Row:
    def __init__(self, pk: int, **fields: Any) -> None:
        self.pk = pk
        self.fields = fields


class Session:
    """Keeps every loaded row in its identity map until ``expunge_all``."""

    def __init__(self) -> None:
        self.identity_map: dict[int, Row] = {}

    def load(self, pk: int, **fields: Any) -> Row:
        row = self.identity_map.get(pk)
        if row is None:
            row = self.identity_map[pk] = Row(pk, **fields)
        return row

    def commit(self) -> None:
        pass

    def expunge_all(self) -> None:
        self.identity_map.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.expunge_all()


class WeakSession(Session):
    """sqlalchemy's choice: the identity map holds rows weakly."""

    def __init__(self) -> None:
        self.identity_map = weakref.WeakValueDictionary()  # type: ignore[assignment]


# The scoped, process-wide session of a worker.
default_session = Session()
weak_session = WeakSession()


def process_episode(session: Session, segments: int) -> int:
    """podly#199 (podly-pure-podcasts): commit without clearing the identity map."""
    for _ in range(segments):
        session.load(next(_ids), text="segment " * 8)
    session.commit()
    return len(session.identity_map)


def process_episode_fixed(session: Session, segments: int) -> int:
    for _ in range(segments):
        session.load(next(_ids), text="segment " * 8)
    session.commit()
    session.expunge_all()
    return len(session.identity_map)


_MODELS: dict[str, type] = {}
_MODELS_BY_SHAPE: dict[tuple[str, ...], type] = {}


def create_model(model_name: str, /, **fields: Any) -> type:
    """pydantic/pydantic#11958: every generated model is registered and never purged."""
    model = type(model_name, (Row,), {"__annotations__": dict(fields), "defaults": fields})
    _MODELS[model_name] = model
    return model


def model_for_shape(*fields: str) -> type:
    """The same shape gives the same cached model."""
    key = tuple(sorted(fields))
    if key not in _MODELS_BY_SHAPE:
        _MODELS_BY_SHAPE[key] = type("Shape_" + "_".join(key), (Row,), {})
    return _MODELS_BY_SHAPE[key]


def throwaway_model(name: str) -> Row:
    """pydantic/pydantic#6727, python-attrs/attrs#1047: a class made per call and dropped;
    a class is always in a cycle with its own ``__dict__`` descriptors and ``__mro__``."""
    model = type(name, (Row,), {"validate": lambda self: bool(self.fields)})
    return model(1, a=1)


_pending: list[Iterator[Any]] = []


def validate_iterable(values: Iterable[int]) -> bool:
    """pydantic/pydantic#9243: each validation keeps an iterator for later."""
    it = iter(values)
    _pending.append(it)
    return all(isinstance(v, int) for v in list(values))


class TypedList(list):  # type: ignore[type-arg]
    """A list that checks the type of what goes in."""

    def __init__(self, item_type: type, items: Iterable[Any] = ()) -> None:
        super().__init__()
        self.item_type = item_type
        for item in items:
            self.append(item)

    def append(self, item: Any) -> None:
        if not isinstance(item, (self.item_type, TypedList)):
            raise TypeError(item)
        super().append(item)


class Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, list[str | Graph]] = {}

    def with_self_loop(self, name: str) -> Graph:
        """The project's own code puts the graph inside itself (a sub-graph of itself)."""
        self.nodes[name] = [name, self]
        return self


def build_graph(name: str) -> int:
    return len(Graph().with_self_loop(name).nodes)


def snapshot(rows: list[Row]) -> list[Row]:
    return copy.deepcopy(rows)
