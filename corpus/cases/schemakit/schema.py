"""Schemas, and validators compiled from them and cached per schema object.

A ``Schema`` is a mutable description (fields can be added), so it hashes by
identity; the compiled validator is cached per schema object:

- ``compile_cached``: a plain dict keyed by the schema, which keeps every schema ever
  compiled (the callers make a fresh schema per request);
- ``compile_weak``: a ``WeakKeyDictionary``, but the compiled validator is a closure
  over the schema itself, so the value keeps its own key alive and the entry never
  goes (python/cpython#88846, bpo-44680: "Reference cycles from a WeakKeyDictionary
  value to its key aren't collected");
- ``compile_weak_detached``: the same cache, with a validator that copies what it
  needs out of the schema and does not refer to it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

Validator = Callable[[dict[str, Any]], list[str]]

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "number": (int, float), "bool": (bool,),
    "list": (list,), "object": (dict,),
}


class Field:
    def __init__(self, name: str, kind: str, *, required: bool = True,
                 minimum: float | None = None, schema: Schema | None = None) -> None:
        self.name = name
        self.kind = kind
        self.required = required
        self.minimum = minimum
        self.schema = schema


class Schema:
    def __init__(self, title: str, fields: list[Field] | None = None) -> None:
        self.title = title
        self.fields: list[Field] = list(fields or [])

    def add(self, field: Field) -> Schema:
        self.fields.append(field)
        return self


def _check(field: Field, value: Any) -> str | None:
    if not isinstance(value, _TYPES[field.kind]) or (
        field.kind in ("int", "number") and isinstance(value, bool)
    ):
        return f"{field.name}: expected {field.kind}, got {type(value).__name__}"
    if field.minimum is not None and value < field.minimum:
        return f"{field.name}: {value} is below {field.minimum}"
    return None


def _compile_referring(schema: Schema) -> Validator:
    def validate(data: dict[str, Any]) -> list[str]:
        errors = []
        for field in schema.fields:
            if field.name not in data:
                if field.required:
                    errors.append(f"{schema.title}.{field.name}: missing")
                continue
            problem = _check(field, data[field.name])
            if problem:
                errors.append(f"{schema.title}.{problem}")
        return errors

    return validate


def _compile_detached(schema: Schema) -> Validator:
    title = schema.title
    fields = tuple(Field(f.name, f.kind, required=f.required, minimum=f.minimum)
                   for f in schema.fields)

    def validate(data: dict[str, Any]) -> list[str]:
        errors = []
        for field in fields:
            if field.name not in data:
                if field.required:
                    errors.append(f"{title}.{field.name}: missing")
                continue
            problem = _check(field, data[field.name])
            if problem:
                errors.append(f"{title}.{problem}")
        return errors

    return validate


_compiled: dict[Schema, Validator] = {}
_compiled_weak: weakref.WeakKeyDictionary[Schema, Validator] = weakref.WeakKeyDictionary()
_compiled_detached: weakref.WeakKeyDictionary[Schema, Validator] = weakref.WeakKeyDictionary()


def compile_cached(schema: Schema) -> Validator:
    found = _compiled.get(schema)
    if found is None:
        found = _compiled[schema] = _compile_referring(schema)
    return found


def compile_weak(schema: Schema) -> Validator:
    found = _compiled_weak.get(schema)
    if found is None:
        found = _compiled_weak[schema] = _compile_referring(schema)
    return found


def compile_weak_detached(schema: Schema) -> Validator:
    found = _compiled_detached.get(schema)
    if found is None:
        found = _compiled_detached[schema] = _compile_detached(schema)
    return found


def order_schema(currency: str) -> Schema:
    """A schema built per request (the currency decides the minimum)."""
    return Schema(f"order[{currency}]", [
        Field("id", "int"),
        Field("amount", "number", minimum=0.5 if currency == "EUR" else 1),
        Field("note", "str", required=False),
    ])


def validate_recursive(schema: dict[str, Any], data: Any, path: str = "$") -> list[str]:
    """Validates against a JSON-Schema-like dict that may refer to itself; the dict is
    only read, and the walk follows the data, which is finite."""
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(data, dict):
            return [f"{path}: expected object"]
        errors = []
        for name, sub in schema.get("properties", {}).items():
            if name in data:
                errors += validate_recursive(sub, data[name], f"{path}.{name}")
            elif name in schema.get("required", ()):
                errors.append(f"{path}.{name}: missing")
        return errors
    if kind == "array":
        if not isinstance(data, list):
            return [f"{path}: expected array"]
        errors = []
        for i, item in enumerate(data):
            errors += validate_recursive(schema.get("items", {}), item, f"{path}[{i}]")
        return errors
    if kind is not None and not isinstance(data, _TYPES.get(kind, (object,))):
        return [f"{path}: expected {kind}"]
    return []
