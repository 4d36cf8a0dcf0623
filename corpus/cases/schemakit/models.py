"""Model classes made from schemas with ``dataclasses.make_dataclass``, and errors
collected per field.

``load_rows`` makes a new class for every call and drops it when done: a class is
always in reference cycles (its ``__mro__`` and its methods' ``__dict__`` entries
refer back to it), so each call leaves cyclic garbage. ``load_rows_cached`` makes the
class once per set of fields.

``collect_errors`` keeps the exceptions themselves in a list local to the frame they
were raised in: each exception's traceback refers to that frame, whose locals refer to
the list (the classic exception/traceback/frame cycle). ``collect_messages`` keeps
their text only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from schemakit.schema import Schema, _check


def _model(schema: Schema) -> type:
    spec = [(f.name, Any, dataclasses.field(default=None)) for f in schema.fields]
    return dataclasses.make_dataclass(
        schema.title.replace("[", "_").replace("]", "").title().replace("_", ""),
        spec, frozen=True, namespace={"__module__": __name__, "schema_title": schema.title},
    )


def load_rows(schema: Schema, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    model = _model(schema)
    objs = [model(**{k: v for k, v in row.items() if k in model.__dataclass_fields__})
            for row in rows]
    return [dataclasses.asdict(o) for o in objs]


_models: dict[tuple[str, ...], type] = {}


def load_rows_cached(schema: Schema, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key = (schema.title, *(f.name for f in schema.fields))
    model = _models.get(key)
    if model is None:
        model = _models[key] = _model(schema)
    objs = [model(**{k: v for k, v in row.items() if k in model.__dataclass_fields__})
            for row in rows]
    return [dataclasses.asdict(o) for o in objs]


class FieldError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


def _raise_if_invalid(schema: Schema, data: dict[str, Any], name: str) -> None:
    field = next(f for f in schema.fields if f.name == name)
    if name not in data:
        if field.required:
            raise FieldError(name, f"{name}: missing")
        return
    problem = _check(field, data[name])
    if problem:
        raise FieldError(name, problem)


def collect_errors(schema: Schema, data: dict[str, Any]) -> dict[str, str]:
    errors: list[FieldError] = []
    for field in schema.fields:
        try:
            _raise_if_invalid(schema, data, field.name)
        except FieldError as exc:
            errors.append(exc)
    return {e.field: str(e) for e in errors}


def collect_messages(schema: Schema, data: dict[str, Any]) -> dict[str, str]:
    messages: dict[str, str] = {}
    for field in schema.fields:
        try:
            _raise_if_invalid(schema, data, field.name)
        except FieldError as exc:
            messages[exc.field] = str(exc)
    return messages
