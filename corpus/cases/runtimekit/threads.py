"""Per-thread scratch buffers for an encoder that runs work on worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

SCRATCH_SIZE = 2048


class _Scratch:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.buffer = bytearray(SCRATCH_SIZE)
        self.used = 0


# paramiko/paramiko#2002, mixcloud/django-speedbar#2: a module-level table keyed by the
# thread, only ever added to. Threads come and go; their entries stay.
_scratch_by_thread: dict[str, _Scratch] = {}
_scratch_lock = threading.Lock()


def _scratch_table() -> _Scratch:
    name = threading.current_thread().name
    with _scratch_lock:
        scratch = _scratch_by_thread.get(name)
        if scratch is None:
            scratch = _scratch_by_thread[name] = _Scratch(name)
    return scratch


# The fix (paramiko/paramiko#2003): thread-local storage, freed with its thread.
_local = threading.local()


def _scratch_local() -> _Scratch:
    scratch = getattr(_local, "scratch", None)
    if scratch is None:
        scratch = _local.scratch = _Scratch(threading.current_thread().name)
    return scratch


def _encode(records: Iterable[str], scratch: Callable[[], _Scratch]) -> bytes:
    buf = scratch()
    buf.used = 0
    for record in records:
        data = record.encode() + b"\n"
        buf.buffer[buf.used : buf.used + len(data)] = data
        buf.used += len(data)
    return bytes(buf.buffer[: buf.used])


def _on_worker(records: list[str], scratch: Callable[[], _Scratch]) -> bytes:
    result: list[bytes] = []
    worker = threading.Thread(
        target=lambda: result.append(_encode(records, scratch)), name=None, daemon=True
    )
    worker.start()
    worker.join()
    return result[0]


def encode_batch(records: list[str]) -> bytes:
    """Encodes a batch on a fresh worker thread, with a scratch buffer from the table."""
    return _on_worker(records, _scratch_table)


def encode_batch_local(records: list[str]) -> bytes:
    """The same, with a thread-local scratch buffer."""
    return _on_worker(records, _scratch_local)
