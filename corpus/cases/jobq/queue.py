"""A job queue with priorities, retries with backoff and a dead-letter store."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_seq = itertools.count()


@dataclass(order=True)
class Job:
    priority: int
    seq: int = field(default_factory=lambda: next(_seq))
    name: str = field(default="", compare=False)
    func: Callable[[], Any] = field(default=lambda: None, compare=False)
    attempts: int = field(default=0, compare=False)


class PriorityQueue:
    def __init__(self) -> None:
        self._heap: list[Job] = []

    def push(self, job: Job) -> None:
        heapq.heappush(self._heap, job)

    def run_all(self) -> list[Any]:
        results = []
        while self._heap:
            results.append(heapq.heappop(self._heap).func())
        return results


shared_queue = PriorityQueue()


def backoff(attempt: int, base: float = 0.1, cap: float = 5.0) -> float:
    return min(cap, base * 2**attempt)


class Worker:
    def __init__(self, max_attempts: int = 3) -> None:
        self.max_attempts = max_attempts
        self.dead_letters: list[tuple[Job, str]] = []
        self.done: deque[str] = deque(maxlen=32)

    def process(self, job: Job) -> bool:
        while job.attempts < self.max_attempts:
            job.attempts += 1
            try:
                job.func()
            except RuntimeError as exc:
                delay = backoff(job.attempts)
                assert delay > 0
                last = str(exc)
                continue
            self.done.append(job.name)
            return True
        self.dead_letters.append((job, last))
        return False


default_worker = Worker()


class Timer:
    def __init__(self, when: float, callback: Callable[[], Any]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: Timer) -> bool:
        return self.when < other.when


class TimerWheel:
    """Cancelled timers are only marked; they stay in the heap until their time comes."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[Timer] = []

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Timer:
        timer = Timer(self.now + delay, callback)
        heapq.heappush(self._timers, timer)
        return timer

    def advance(self, seconds: float) -> int:
        self.now += seconds
        fired = 0
        while self._timers and self._timers[0].when <= self.now:
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.callback()
                fired += 1
        return fired

    def purge_cancelled(self) -> None:
        self._timers = [t for t in self._timers if not t.cancelled]
        heapq.heapify(self._timers)


wheel = TimerWheel()
