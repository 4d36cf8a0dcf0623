"""Price conversion with the caches a pricing service grows over time."""

from __future__ import annotations

import functools
import itertools
import weakref
from collections import OrderedDict
from typing import Any

_RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86, "CHF": 0.95}


class PriceBook:
    """Converts amounts; ``convert`` is memoised on the method itself."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.history: list[float] = []

    # pytest-dev/pytest#9148 (and PyCQA/flake8#1573): functools.cache on a method keys
    # the cache on ``self``, so every PriceBook ever used stays alive with its history.
    @functools.cache
    def convert(self, amount: float) -> float:
        return round(amount * _RATES[self.currency], 2)


class SafePriceBook:
    """The fix: a cache that lives and dies with the instance."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self._cache: dict[float, float] = {}

    def convert(self, amount: float) -> float:
        try:
            return self._cache[amount]
        except KeyError:
            value = self._cache[amount] = round(amount * _RATES[self.currency], 2)
            return value


def weak_method_cache(func: Any) -> Any:
    """python/cpython#102618: a per-instance cache that does not keep instances alive."""
    caches: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any) -> Any:
        cache = caches.setdefault(self, {})
        if args not in cache:
            cache[args] = func(self, *args)
        return cache[args]

    return wrapper


class WeakPriceBook:
    def __init__(self, currency: str) -> None:
        self.currency = currency

    @weak_method_cache
    def convert(self, amount: float) -> float:
        return round(amount * _RATES[self.currency], 2)


# tkem/cachetools#106: a hand-rolled memo keyed on (instance, argument) keeps both.
_QUOTE_MEMO: dict[tuple[Any, str], str] = {}


class Quoter:
    def __init__(self, customer: str) -> None:
        self.customer = customer

    def quote(self, sku: str) -> str:
        key = (self, sku)
        if key not in _QUOTE_MEMO:
            _QUOTE_MEMO[key] = f"{self.customer}:{sku}:{len(sku) * 3}"
        return _QUOTE_MEMO[key]


class LRU:
    """A bounded least-recently-used map."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, compute: Any) -> Any:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = self._data[key] = compute(key)
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value


# sqlalchemy/sqlalchemy#4560: a per-mapper compiled cache that prunes itself is not a leak.
COMPILED = LRU(maxsize=2)
_ids = itertools.count()


def compile_query(table: str) -> str:
    key = (table, next(_ids))
    return COMPILED.get(key, lambda k: f"SELECT * FROM {k[0]} /* {k[1]} */")


@functools.lru_cache(maxsize=2)
def _rate_for(code: str) -> float:
    return _RATES.get(code[:3], 1.0) * 1.0001


def rate_for(code: str) -> float:
    return _rate_for(code)


@functools.lru_cache(maxsize=None)
def _unbounded_rate(code: str) -> float:
    return _RATES.get(code[:3], 1.0) * 1.0002


def unbounded_rate(code: str) -> float:
    return _unbounded_rate(code)


_client: dict[str, Any] | None = None


def get_client() -> dict[str, Any]:
    """A lazily created singleton, filled on the first call only."""
    global _client
    if _client is None:
        _client = {"rates": dict(_RATES), "session": [object() for _ in range(16)]}
    return _client


_TABLE: list[float] = []


def table_lookup(index: int) -> float:
    """Builds its lookup table in two steps over the first two calls (a warm-up)."""
    if len(_TABLE) < 512:
        _TABLE.extend(float(i) * 1.5 for i in range(len(_TABLE), len(_TABLE) + 256))
    return _TABLE[index % len(_TABLE)]


_last_report: list[str] | None = None


def report(lines: int) -> int:
    """Keeps the previous report until the next call replaces it."""
    global _last_report
    _last_report = [f"line {i}" for i in range(lines)]
    return len(_last_report)
