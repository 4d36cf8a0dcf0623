"""Thumbnails made on a thread pool."""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor

# Made at import and shared by every caller.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="taskkit-thumbs")
_submitted: list[Future[bytes]] = []


def _thumbnail(data: bytes) -> bytes:
    return hashlib.sha256(data).digest() * 8  # a 256-byte "thumbnail"


def submit(data: bytes) -> Future[bytes]:
    """celery/celery#486: the pool keeps every task it ran; the future of every
    thumbnail, with its result, stays in ``_submitted``."""
    fut = _pool.submit(_thumbnail, data)
    _submitted.append(fut)
    return fut


def wait_all() -> list[bytes]:
    return [f.result() for f in _submitted]


def make_batch_drained(items: list[bytes]) -> list[bytes]:
    """The fix on the shared pool: the futures are taken off the list as they are read."""
    for data in items:
        _submitted_fixed.append(_pool.submit(_thumbnail, data))
    out = []
    while _submitted_fixed:
        out.append(_submitted_fixed.pop(0).result())
    return out


_submitted_fixed: list[Future[bytes]] = []


def make_batch_own_pool(items: list[bytes]) -> list[bytes]:
    """mem0ai/mem0#4586's shape, done right: a pool per batch, shut down by ``with``."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="taskkit-batch") as pool:
        return list(pool.map(_thumbnail, items))
