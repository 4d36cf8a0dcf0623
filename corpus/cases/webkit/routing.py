"""A router that keeps per-path latency samples for a "hot path" check."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

Handler = Callable[[str], tuple[int, str]]

HOT_SAMPLES = 50


class Router:
    """nltk/nltk#2047 and opensteno/plover#1188: a read of a ``defaultdict(list)`` on a
    missing key inserts it. ``dispatch`` asks whether a path is hot before looking the
    route up, so every unknown path a scanner probes stays in ``latencies`` with an
    empty list, for as long as the app runs.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)

    def add(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def is_hot(self, path: str) -> bool:
        return len(self.latencies[path]) >= HOT_SAMPLES

    def dispatch(self, path: str) -> tuple[int, str]:
        if self.is_hot(path):
            return 200, "cached"
        handler = self.routes.get(path)
        if handler is None:
            return 404, "not found"
        status, body = handler(path)
        samples = self.latencies[path]
        samples.append(0.001)
        del samples[:-HOT_SAMPLES]
        return status, body


class SafeRouter(Router):
    """The fix (nltk#2047): look without inserting."""

    def is_hot(self, path: str) -> bool:
        samples = self.latencies.get(path)
        return samples is not None and len(samples) >= HOT_SAMPLES


def _health(path: str) -> tuple[int, str]:
    return 200, "ok"


# The long-lived routers of the default app (one per process).
router = Router()
router.add("/health", _health)
safe_router = SafeRouter()
safe_router.add("/health", _health)
