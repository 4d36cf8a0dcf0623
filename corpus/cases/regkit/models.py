"""Generated accessors and schemas: class attributes set per call, an
``__init_subclass__`` registry, ``copyreg`` reducers for generated row types."""

from __future__ import annotations

import copyreg
from collections import namedtuple
from collections.abc import Callable
from typing import Any


class Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values


def _getter(field: str) -> Callable[[Row], Any]:
    def get(self: Row) -> Any:
        return self.values[field]

    return get


def bind_columns(cls: type, columns: list[str]) -> type:
    """An accessor ``get_<column>`` is set on the class for every column a result set
    has: when the column names come from the data (a pivot on dates, user ids), every
    new name is a new class attribute for the life of the class."""
    for column in columns:
        setattr(cls, f"get_{column}", _getter(column))
    return cls


class PivotRow(Row):
    pass


class FixedRow(Row):
    pass


class Schema:
    """marshmallow-code/marshmallow#732: every subclass is appended to a class registry
    by name in ``__init_subclass__``; a schema class made per call with ``type(...)``
    under the same name adds one more entry each time and is never freed."""

    registry: dict[str, list[type]] = {}
    fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Schema.registry.setdefault(cls.__name__, []).append(cls)

    def dump(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {f: obj[f] for f in self.fields}


def schema_for(fields: list[str]) -> type[Schema]:
    return type("MsgSchema", (Schema,), {"fields": tuple(fields)})


_schemas: dict[tuple[str, ...], type[Schema]] = {}


def schema_for_cached(fields: list[str]) -> type[Schema]:
    """The fix: one generated class per field set."""
    key = tuple(fields)
    cls = _schemas.get(key)
    if cls is None:
        cls = _schemas[key] = type("CachedMsgSchema", (Schema,), {"fields": key})
    return cls


def _reduce_record(record: tuple) -> tuple[Callable[..., Any], tuple]:
    return _rebuild_record, (type(record).__name__, type(record)._fields, tuple(record))


def _rebuild_record(name: str, fields: tuple[str, ...], values: tuple) -> tuple:
    return record_type(name, fields)(*values)


def record_type_registered(name: str, fields: tuple[str, ...]) -> type:
    """A CSV reader makes a row type per file and registers a reducer for it with
    ``copyreg`` so its rows pickle across processes: ``copyreg.dispatch_table`` keeps
    every generated class (and so every class's cycle) for the life of the process."""
    cls = namedtuple(name, fields)  # noqa: PYI024
    copyreg.pickle(cls, _reduce_record)
    return cls


_record_types: dict[tuple[str, tuple[str, ...]], type] = {}


def record_type(name: str, fields: tuple[str, ...]) -> type:
    """The fix: one row type per header, made and registered once."""
    key = (name, fields)
    cls = _record_types.get(key)
    if cls is None:
        cls = _record_types[key] = namedtuple(name, fields)  # noqa: PYI024
        copyreg.pickle(cls, _reduce_record)
    return cls
