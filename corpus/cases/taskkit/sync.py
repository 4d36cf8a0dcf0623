"""A sync client whose journal is called by every sync test."""

from __future__ import annotations

import json
from typing import Any

_JOURNAL: list[str] = []
_EXPORTS: dict[str, bytes] = {}  # str -> bytes: never tracked by the collector
_SHIPPED: list[str] = []


def push(kind: str, record_id: int, payload: dict[str, Any]) -> int:
    """Every pushed record is journalled as a line of text, and the journal is never
    shipped or trimmed: one str per push, for the life of the process."""
    line = f"{kind}:{record_id}:{json.dumps(payload, sort_keys=True)}"
    _JOURNAL.append(line)
    return len(line)


def push_shipped(kind: str, record_id: int, payload: dict[str, Any]) -> int:
    """The fix: the journal is shipped (and emptied) after each push."""
    line = f"{kind}:{record_id}:{json.dumps(payload, sort_keys=True)}"
    _SHIPPED.append(line)
    sent = sum(len(x) for x in _SHIPPED)
    _SHIPPED.clear()
    return sent


def journal_size() -> int:
    return len(_JOURNAL)


def export(fmt: str, record_id: int, rows: list[dict[str, Any]]) -> int:
    """Every export is kept by its name, as bytes, "for the download page"."""
    body = json.dumps({"format": fmt, "rows": rows}).encode()
    _EXPORTS[f"{fmt}-{record_id}"] = body
    return len(body)
