"""A call tracer for debugging a pipeline: ``sys.settrace`` while the pipeline runs,
the previous trace function put back afterwards.

``EventLog`` appends one tuple per call event to a module-level list that nothing
empties (a debug aid left switched on in production); ``CallCounter`` counts calls per
function in a dict keyed by the function's qualified name, which stops growing once
every function of the pipeline has run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_events: list[tuple[str, str, int]] = []
_calls: dict[str, int] = {}


class EventLog:
    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            _events.append((frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno))
        return None


class CallCounter:
    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = frame.f_code.co_qualname if hasattr(frame.f_code, "co_qualname") else frame.f_code.co_name
            _calls[name] = _calls.get(name, 0) + 1
        return None


def traced(tracer: Callable[..., Any], func: Callable[..., Any], *args: Any) -> Any:
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return func(*args)
    finally:
        sys.settrace(previous)


def _parse(line: str) -> list[str]:
    return [field.strip() for field in line.split(",")]


def _convert(fields: list[str]) -> dict[str, Any]:
    return {"id": int(fields[0]), "name": fields[1], "score": float(fields[2])}


def pipeline(lines: list[str]) -> float:
    rows = [_convert(_parse(line)) for line in lines]
    return sum(r["score"] for r in rows) / len(rows)
