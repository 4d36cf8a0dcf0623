"""Clean code that looks leaky."""

from __future__ import annotations

import functools
import itertools
import logging
import re
import sys
from collections import OrderedDict
from typing import Any

# --- a cache that warms over four calls, then stops growing -------------------------

DIALECT_NAMES = ("excel", "excel-tab", "unix", "semicolon")
_rotation = itertools.count()


class Dialect:
    __slots__ = ("name", "delimiter")

    def __init__(self, name: str, delimiter: str) -> None:
        self.name = name
        self.delimiter = delimiter


_dialects: dict[str, Dialect] = {}


def next_dialect() -> Dialect:
    """Uploads come in four dialects, in turn: the cache holds four entries after the
    fourth call and never more."""
    name = DIALECT_NAMES[next(_rotation) % len(DIALECT_NAMES)]
    dialect = _dialects.get(name)
    if dialect is None:
        dialect = _dialects[name] = Dialect(name, "\t" if "tab" in name else ",")
    return dialect


# --- an LRU bounded at two entries ----------------------------------------------------


class LRU:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get_or_make(self, key: Any, make: Any) -> Any:
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        value = self.data[key] = make()
        if len(self.data) > self.maxsize:
            self.data.popitem(last=False)
        return value


previews = LRU(maxsize=2)


# --- a batch list cleared at the start of each call -------------------------------------

_batch: list[dict[str, Any]] = []


def load_batch(rows: list[dict[str, Any]]) -> int:
    _batch.clear()
    _batch.extend({"id": r["id"], "ok": True} for r in rows)
    return len(_batch)


# --- a module attribute swapped for a new object per call ---------------------------


class Settings:
    def __init__(self, version: int) -> None:
        self.version = version
        self.values = {"timeout": 30, "retries": 3, "hosts": ["a", "b"]}


current = Settings(0)


def reload_settings(version: int) -> Settings:
    setattr(sys.modules[__name__], "current", Settings(version))  # noqa: B010
    return current


# --- interned identifiers -------------------------------------------------------------


def header_fields(header_line: str) -> tuple[str, ...]:
    """Column names are interned: after the first call they are the same objects."""
    return tuple(sys.intern(h.strip()) for h in header_line.split(","))


# --- a stdlib module imported lazily, on first call ---------------------------------


def money(amount: str) -> str:
    import decimal  # noqa: PLC0415 - lazily, as libraries do for rarely used paths

    return str(decimal.Decimal(amount).quantize(decimal.Decimal("0.01")))


# --- a logger of a fixed name, a fixed pattern ----------------------------------------


def audit(event: str, user: str) -> bool:
    log = logging.getLogger("quietkit.audit")
    pattern = re.compile(r"^[a-z]+\.[a-z_]+$")
    log.debug("%s by %s", event, user)
    return bool(pattern.match(event))


# --- format specs built per call --------------------------------------------------------


def format_amount(value: float, width: int) -> str:
    spec = f">{width},.2f"
    return "{:{spec}} {}".format(value, "EUR", spec=spec) + format(value, spec)


# --- functools.cache called with the same arguments -----------------------------------


@functools.cache
def tax_rate(country: str, category: str) -> float:
    return {"DE": 0.19, "FR": 0.2}.get(country, 0.0) * (0.5 if category == "food" else 1)


# --- a table of canonical names filled over the first calls (memory only) -----------

# A str -> str dict made at import: untracked by the collector, so only memory grows
# while it fills, and it stops once every alias in use has been seen.
_canonical: dict[str, str] = {}
ALIASES_5 = ("UTF_8", "Latin_1", "US_ASCII", "Windows_1252", "ISO_8859_15")
ALIASES_3 = ("UTF_16", "UTF_32", "KOI8_R")
_turn5 = itertools.count()
_turn3 = itertools.count()


def canonical_charset(alias: str) -> str:
    name = _canonical.get(alias)
    if name is None:
        name = _canonical[alias] = alias.lower().replace("_", "-")
    return name


def next_charset_of_five() -> str:
    """Uploads name five charsets in turn: the table grows on the first five calls."""
    return canonical_charset(ALIASES_5[next(_turn5) % 5])


def next_charset_of_three() -> str:
    return canonical_charset(ALIASES_3[next(_turn3) % 3])
