"""An API client that logs through a shared "null" logger unless given one."""

from __future__ import annotations

import logging
from typing import Any


class ApiClient:
    """PaddleHQ/paddle-python-sdk#144: ``null_logger()`` calls
    ``addHandler(NullHandler())`` on the shared ``webkit.null`` logger every time a
    client is made without a logger. The handlers pile up in ``logger.handlers`` (and
    in logging's weak handler list), each with its own lock, for the life of the
    process.
    """

    def __init__(self, api_key: str, logger: logging.Logger | None = None) -> None:
        self.api_key = api_key
        self.log = logger or self.null_logger()

    @staticmethod
    def null_logger() -> logging.Logger:
        log = logging.getLogger("webkit.null")
        log.propagate = False
        log.addHandler(logging.NullHandler())
        return log

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        self.log.debug("GET %s %r", path, params)
        return {"path": path, "params": params, "status": 200}


class SafeApiClient(ApiClient):
    """The fix: the null handler is added once, when the logger has none."""

    @staticmethod
    def null_logger() -> logging.Logger:
        log = logging.getLogger("webkit.null_safe")
        log.propagate = False
        if not log.handlers:
            log.addHandler(logging.NullHandler())
        return log
