"""Typed loading of records: dataclasses from dicts, dates, type-checked rows, charsets."""

from __future__ import annotations

import codecs
import dataclasses
import typing
from datetime import datetime
from typing import Any, Optional

_MISSING = dataclasses.MISSING


class Loader:
    """konradhalas/dacite#215 (dacite 1.8.0): the loader calls each field's
    ``default_factory`` once and caches the value, so every instance built from a dict
    that lacks the field shares one list, and what one batch appends to it stays
    there for the next.
    """

    def __init__(self) -> None:
        self._defaults: dict[tuple[type, str], Any] = {}

    def _default(self, cls: type, f: dataclasses.Field) -> Any:  # type: ignore[type-arg]
        if f.default is not _MISSING:
            return f.default
        key = (cls, f.name)
        if key not in self._defaults:
            self._defaults[key] = f.default_factory()  # type: ignore[misc]
        return self._defaults[key]

    def from_dict(self, cls: type, data: dict[str, Any]) -> Any:
        kwargs = {}
        for f in dataclasses.fields(cls):
            kwargs[f.name] = data[f.name] if f.name in data else self._default(cls, f)
        return cls(**kwargs)


class FreshLoader(Loader):
    """The fix (dacite 1.8.1): a new default from the factory for every instance."""

    def _default(self, cls: type, f: dataclasses.Field) -> Any:  # type: ignore[type-arg]
        if f.default is not _MISSING:
            return f.default
        return f.default_factory()  # type: ignore[misc]


@dataclasses.dataclass
class Batch:
    name: str
    rows: list[dict[str, Any]]
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    source: Optional[str] = None


def check(batch: Batch) -> Batch:
    for i, row in enumerate(batch.rows):
        if row.get("qty", 0) < 0:
            batch.errors.append((i, f"{batch.name}: negative quantity {row['qty']}"))
    return batch


loader = Loader()
fresh_loader = FreshLoader()


def parse_dates(values: list[str], fmt: str = "%Y-%m-%d") -> list[datetime]:
    """``datetime.strptime``: imports ``_strptime`` and builds its regex cache on first use."""
    return [datetime.strptime(v, fmt) for v in values]


@dataclasses.dataclass
class Reading:
    sensor: str
    value: float
    unit: Optional[str] = None
    tags: list[str] = dataclasses.field(default_factory=list)


def validate(row: dict[str, Any], cls: type = Reading) -> Any:
    """Checks a row against the dataclass's resolved type hints, on every call (the
    annotations are strings here: ``from __future__ import annotations``)."""
    hints = typing.get_type_hints(cls)
    for name, tp in hints.items():
        if name not in row:
            continue
        origin = typing.get_origin(tp) or tp
        if origin is typing.Union:
            allowed = tuple(typing.get_origin(a) or a for a in typing.get_args(tp))
        else:
            allowed = (origin,)
        if not isinstance(row[name], allowed):
            raise TypeError(f"{name}: expected {tp}, got {type(row[name]).__name__}")
    return cls(**row)


def decode_payload(raw: bytes, charset: str) -> str:
    """Decodes with the declared charset; the codec module is imported on first use."""
    return codecs.lookup(charset).decode(raw)[0]
