"""A synchronous writer that flushes its batches with fire-and-forget asyncio tasks on
a private event loop.

The tasks are kept in a module-level set so that the loop, which holds tasks only
weakly, cannot lose them mid-flight (the asyncio documentation's advice). Without the
second half of that advice (``task.add_done_callback(_background.discard)``) the set
keeps every finished task, and with it its result and its loop
(ETS-Next-Gen/writing_observer#192: "When tasks finish, ideally, they'd be removed
from the set() so it doesn't keep growing forever"; letta-ai/letta#2823, "Remove task
from set when done to prevent memory leaks").
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

_background: set[asyncio.Task[Any]] = set()


class Sink:
    def __init__(self) -> None:
        self.batches = 0
        self.rows = 0

    async def write(self, batch: list[dict[str, Any]]) -> int:
        await asyncio.sleep(0)
        self.batches += 1
        self.rows += len(batch)
        return len(batch)


def _spawn(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any],
           discard: bool) -> asyncio.Task[Any]:
    task = loop.create_task(coro)
    _background.add(task)
    if discard:
        task.add_done_callback(_background.discard)
    return task


class BatchWriter:
    def __init__(self, sink: Sink, batch_size: int = 4, *, discard: bool) -> None:
        self.sink = sink
        self.batch_size = batch_size
        self.discard = discard
        self._pending: list[dict[str, Any]] = []

    def write_all(self, rows: list[dict[str, Any]]) -> int:
        loop = asyncio.new_event_loop()
        try:
            for row in rows:
                self._pending.append(row)
                if len(self._pending) >= self.batch_size:
                    _spawn(loop, self.sink.write(self._pending), self.discard)
                    self._pending = []
            if self._pending:
                _spawn(loop, self.sink.write(self._pending), self.discard)
                self._pending = []
            # Let the fire-and-forget flushes finish before the loop goes.
            while any(t.get_loop() is loop and not t.done() for t in _background):
                loop.run_until_complete(asyncio.sleep(0))
            # One more turn, for the tasks' done callbacks.
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            loop.close()
        return self.sink.rows
