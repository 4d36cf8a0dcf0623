"""Plain leaks of different shapes, each beside clean background work (a JSON round
trip, a sorted temporary list, a bounded history), and their clean twins."""

from __future__ import annotations

import json
import weakref
from collections import deque
from typing import Any


def churn(seed: int) -> int:
    """Background work that allocates plenty and keeps nothing."""
    rows = [{"id": seed + i, "name": f"row-{seed + i}", "tags": ["a", "b"]} for i in range(50)]
    text = json.dumps(rows)
    back = json.loads(text)
    back.sort(key=lambda r: -r["id"])
    return len(text) + back[0]["id"]


class AuditRecord:
    def __init__(self, action: str, payload: dict[str, Any]) -> None:
        self.action = action
        self.payload = payload


# --- a module-level list that keeps one record per call --------------------------------
# Alexey-T/CudaText#5535: "otherwise, Python will never garbage collect the objects
# in the list, leading to a memory leak"; Eshajha19/agri#1594 (a history list with no
# cap, one assessment per image).

_audit_log: list[AuditRecord] = []


def audit(action: str, payload: dict[str, Any]) -> int:
    _audit_log.append(AuditRecord(action, payload))
    return len(_audit_log)


# --- the same records in a deque(maxlen=3) (the fix of Eshajha19/agri#1594) -----------

_recent: deque[AuditRecord] = deque(maxlen=3)


def audit_recent(action: str, payload: dict[str, Any]) -> int:
    _recent.append(AuditRecord(action, payload))
    return len(_recent)


# --- a weakref.WeakValueDictionary registry of open handles ----------------------------
# icatproject/python-icat#121, confident-ai/deepeval#2551: a plain dict registry kept
# every instance; a WeakValueDictionary drops each entry with its object.

class Handle:
    def __init__(self, name: str) -> None:
        self.name = name
        self.buffer = bytearray(64)
        _handles[name] = self


_handles: weakref.WeakValueDictionary[str, Handle] = weakref.WeakValueDictionary()


def open_handle(name: str) -> Handle:
    return Handle(name)


# --- a dict keyed by id(obj) that never removes its entries -----------------------------
# cisco/mindmeld#296 (``Processor.instance_map[id(self)] = self``);
# Dicklesworthstone/mcp_agent_mail#244 (``dict[int, AsyncFileLock]``, id(lock) -> lock,
# "entries accumulate unboundedly").

class Connection:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.params = dict(p.split("=") for p in dsn.split(";"))
        _by_id[id(self)] = self

    def close(self) -> None:
        _by_id.pop(id(self), None)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_by_id: dict[int, Connection] = {}


def connect(dsn: str) -> Connection:
    return Connection(dsn)
