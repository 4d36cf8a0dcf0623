"""An audit trail of postings, and a request log."""

from __future__ import annotations

from collections import deque

# Made at import: lives as long as the process.
_TRAIL: list[tuple[int, float, str]] = []
_TOTALS: dict[str, float] = {"refund": 0.0, "charge": 0.0}


def post(account: int, amount: float, kind: str) -> int:
    """Every posting is kept, as a tuple of an int, a float and a str: once the
    collector has looked at them such tuples are untracked, so only memory grows."""
    _TRAIL.append((account, amount, kind))
    return len(_TRAIL)


def post_to_totals(account: int, amount: float, kind: str) -> float:
    """The fix: keep the running total per kind, not every posting."""
    _TOTALS[kind] = _TOTALS[kind] + amount
    return _TOTALS[kind]


class RequestLog:
    """roeimichael/ContextAnalyzerTerminal#5: a ``deque`` made without ``maxlen`` grows
    for as long as requests come; only ``maxlen`` makes it a ring."""

    def __init__(self, maxlen: int | None = None) -> None:
        self.entries: deque[tuple[str, bytes, int]] = deque(maxlen=maxlen)

    def record(self, method: str, path: bytes, status: int) -> None:
        self.entries.append((method, path, status))

    def last(self) -> tuple[str, bytes, int]:
        return self.entries[-1]


access_log = RequestLog()  # no maxlen
status_page_log = RequestLog(maxlen=2)  # the last two requests, for the status page
