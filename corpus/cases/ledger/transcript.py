"""A session transcript and a log forwarder that captures records in a StringIO."""

from __future__ import annotations

import io
import logging

_TRANSCRIPT = ""
_STATUS_LINE = ""
STATUS_WIDTH = 80


def note(line: str) -> int:
    """The transcript is one module-level str concatenated onto for every line: each
    call replaces it with a longer string (no new object, more memory)."""
    global _TRANSCRIPT
    _TRANSCRIPT += line + "\n"
    return len(_TRANSCRIPT)


def note_status(line: str) -> int:
    """The fix: only the last STATUS_WIDTH characters are kept (a status line)."""
    global _STATUS_LINE
    _STATUS_LINE = (_STATUS_LINE + line + "\n")[-STATUS_WIDTH:]
    return len(_STATUS_LINE)


class LogForwarder:
    """hatchet-dev/hatchet#4587 (#4432), jtriley/StarCluster#157: a ``StreamHandler``
    writes every record into an ``io.StringIO``; the forwarder ships what is new but
    never truncates the buffer (``StringIO.flush()`` does nothing), so it keeps every
    line logged for the life of the worker.
    """

    def __init__(self, name: str, truncate: bool) -> None:
        self.stream = io.StringIO()
        self.truncate = truncate
        self.sent: list[str] = []
        self._offset = 0
        self.logger = logging.getLogger(name)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        self.logger.addHandler(handler)

    def forward(self) -> int:
        text = self.stream.getvalue()[self._offset :]
        self.sent[:] = [text]  # handed to the transport; only the last batch is kept
        if self.truncate:  # the fix
            self.stream.seek(0)
            self.stream.truncate()
            self._offset = 0
        else:
            self._offset += len(text)
        return len(text)


worker_logs = LogForwarder("ledger.worker", truncate=False)
fixed_worker_logs = LogForwarder("ledger.worker_fixed", truncate=True)


def run_task(forwarder: LogForwarder, task_id: int) -> int:
    forwarder.logger.info("task %08d started", task_id)
    forwarder.logger.info("task %08d finished in %.3f s", task_id, 0.012)
    return forwarder.forward()
