"""A log endpoint that serves the most recent log records of the server."""

from __future__ import annotations

import logging
import logging.handlers
from collections import deque


class LogEndpoint:
    """Tribler/tribler#8530 (#8485): the endpoint buffers records in a
    ``logging.handlers.MemoryHandler`` with no target. Its ``flush()`` only empties the
    buffer after handing the records to the target, so once the capacity is reached
    every record asks for a flush that does nothing: the buffer keeps every record.
    """

    def __init__(self, logger_name: str, capacity: int) -> None:
        self.handler: logging.Handler = logging.handlers.MemoryHandler(capacity=capacity)
        self.logger = logging.getLogger(logger_name)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.logger.addHandler(self.handler)

    def records(self) -> list[logging.LogRecord]:
        return list(self.handler.buffer)  # type: ignore[attr-defined]

    def recent(self, n: int) -> list[str]:
        return [r.getMessage() for r in self.records()[-n:]]


class RingHandler(logging.Handler):
    """The fix (Tribler#8530): a fixed number of records, the oldest rotating out."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.buffer: deque[logging.LogRecord] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        self.buffer.append(record)


class RingLogEndpoint(LogEndpoint):
    def __init__(self, logger_name: str, capacity: int) -> None:
        self.handler = RingHandler(capacity)
        self.logger = logging.getLogger(logger_name)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.logger.addHandler(self.handler)


class Server:
    def __init__(self, endpoint: LogEndpoint) -> None:
        self.endpoint = endpoint
        self.log = endpoint.logger

    def handle(self, method: str, path: str) -> int:
        self.log.info("%s %s", method, path)
        self.log.info("%s %s -> %d", method, path, 200)
        return 200


# One server per process, each with its endpoint (capacity 3: full after two requests).
server = Server(LogEndpoint("webkit.access", capacity=3))
ring_server = Server(RingLogEndpoint("webkit.access_ring", capacity=3))
