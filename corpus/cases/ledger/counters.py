"""Hit counters and latency samples."""

from __future__ import annotations

import re
from array import array

# A dict made by a literal at import and holding only str keys and int values is not
# tracked by the cyclic collector: gc.get_objects() never lists it.
_HITS: dict[str, int] = {}
_ROUTE_HITS: dict[str, int] = {}
_ID = re.compile(r"/\d+")


def hit(path: str) -> int:
    """Counts hits by raw path: every new id in a path is a new key for ever."""
    _HITS[path] = _HITS.get(path, 0) + 1
    return _HITS[path]


def hit_route(path: str) -> int:
    """The fix: counts by route template, so the keys are the routes."""
    route = _ID.sub("/{id}", path)
    _ROUTE_HITS[route] = _ROUTE_HITS.get(route, 0) + 1
    return _ROUTE_HITS[route]


_SAMPLES = array("d")
_FLUSHED = array("d")
summary: tuple[int, float, float] = (0, 0.0, 0.0)


def record_latencies(values: list[float]) -> int:
    """Every sample is kept in one ``array('d')`` grown in place by ``realloc``."""
    _SAMPLES.extend(values)
    return len(_SAMPLES)


def record_and_flush(values: list[float]) -> tuple[int, float, float]:
    """The fix: the batch is summarised and the array emptied after each flush."""
    global summary
    _FLUSHED.extend(values)
    summary = (len(_FLUSHED), sum(_FLUSHED), max(_FLUSHED))
    del _FLUSHED[:]
    return summary
