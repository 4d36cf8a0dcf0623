"""Counters and histograms that ship every measurement through a background thread."""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
from collections.abc import Iterator


class Shipper:
    """Drains measurements into ``recent`` and beats into ``beats``: the last two of each."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, tuple[tuple[str, str], ...], float]] = queue.Queue()
        self.recent: collections.deque[dict[str, object]] = collections.deque(maxlen=2)
        self.beats: collections.deque[dict[str, object]] = collections.deque(maxlen=2)
        self.shipped = 0
        self._thread = threading.Thread(target=self._run, name="telemetry-shipper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            name, labels, value = self.queue.get()
            self.recent.append(
                {"metric": name, "labels": dict(labels), "value": value, "at": time.monotonic()}
            )
            self.beats.append({"at": time.monotonic(), "shipped": self.shipped})
            self.shipped += 1
            self.queue.task_done()

    def send(self, name: str, labels: tuple[tuple[str, str], ...], value: float) -> None:
        self.queue.put((name, labels, value))
        # Tests and short-lived scripts want what they measured shipped before they go on.
        self.queue.join()


_lock = threading.Lock()
_shipper: Shipper | None = None


def shipper() -> Shipper:
    global _shipper
    with _lock:
        if _shipper is None:
            _shipper = Shipper()
        return _shipper


class Counter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.values: dict[tuple[tuple[str, str], ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0.0) + amount
        shipper().send(self.name, key, self.values[key])


class Histogram:
    BUCKETS = (0.001, 0.01, 0.1, 1.0, float("inf"))

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts = dict.fromkeys(self.BUCKETS, 0)
        self.last: list[float] = []

    def observe(self, value: float) -> None:
        for bound in self.BUCKETS:
            if value <= bound:
                self.counts[bound] += 1
                break
        # The last few observations, for a quick look: bounded.
        self.last.append(value)
        del self.last[:-2]
        shipper().send(self.name, (), value)


@contextlib.contextmanager
def timed(histogram: Histogram) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - start)
