"""An HTTP-ish client with connection pools, retries and an asyncio flavour."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

_POOLS: list[ConnectionPool] = []
_ids = itertools.count()


class ConnectionPool:
    def __init__(self, host: str) -> None:
        self.host = host
        self.id = next(_ids)
        self.buffers = [bytearray(256) for _ in range(4)]
        _POOLS.append(self)

    def close(self) -> None:
        self.buffers.clear()
        if self in _POOLS:
            _POOLS.remove(self)


class Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> dict[str, Any]:
        return {"status": self.status, "length": len(self.body)}


class Client:
    """psf/requests#4601, minio/minio-py#1133: each client registers a pool."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.pool = ConnectionPool(base_url)

    def get(self, path: str) -> Response:
        return Response(200, f"{self.base_url}{path}".encode())

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TransientError(Exception):
    pass


class Retry:
    """urllib3/urllib3#3082: the retry history keeps each error with its traceback."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.history: list[tuple[str, BaseException]] = []

    def increment(self, url: str, error: BaseException) -> Retry:
        self.history.append((url, error))
        self.total -= 1
        return self


def fetch_with_retries(url: str, failures: int) -> Response:
    retry = Retry(total=failures + 1)
    attempts = 0
    while True:
        try:
            attempts += 1
            if attempts <= failures:
                raise TransientError(url)
            return Response(200, b"ok")
        except TransientError as exc:
            retry = retry.increment(url, exc)


def fetch_with_retries_fixed(url: str, failures: int) -> Response:
    history: list[str] = []
    for attempt in range(failures + 1):
        try:
            if attempt < failures:
                raise TransientError(url)
            return Response(200, b"ok")
        except TransientError as exc:
            history.append(repr(exc))
    raise AssertionError("unreachable")


# ---- asyncio ----

_BACKGROUND: set[asyncio.Task[Any]] = set()


async def _audit(event: str) -> str:
    await asyncio.sleep(0)
    return event


async def fire_and_forget(event: str) -> None:
    """python/cpython#91887: a strong set of background tasks that is never pruned."""
    task = asyncio.get_running_loop().create_task(_audit(event))
    _BACKGROUND.add(task)
    await task


async def fire_and_forget_fixed(event: str) -> None:
    task = asyncio.get_running_loop().create_task(_audit(event))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    await task


class AsyncConnection:
    """python/cpython#155143: a long-lived object keeps a reference from every caller."""

    def __init__(self) -> None:
        self.waiters: list[asyncio.Future[bytes]] = []

    async def request(self, payload: bytes) -> bytes:
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        waiter.set_result(payload.upper())
        return await waiter

    async def request_fixed(self, payload: bytes) -> bytes:
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            waiter.set_result(payload.upper())
            return await waiter
        finally:
            self.waiters.remove(waiter)


shared_connection = AsyncConnection()


async def open_connection(host: str) -> str | None:
    """python/cpython#88863, aio-libs/aiohttp#6408: the failed future's exception is kept
    in a local of the frame it traces back to: a cycle on every failure."""
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_exception(ConnectionRefusedError(host))
    error = None
    try:
        return await fut
    except ConnectionRefusedError as exc:
        error = exc
    return None if error else host


async def open_connection_fixed(host: str) -> str | None:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_exception(ConnectionRefusedError(host))
    try:
        return await fut
    except ConnectionRefusedError:
        return None
    finally:
        del fut


class AsyncClient:
    async def __aenter__(self) -> AsyncClient:
        self.pool = ConnectionPool("async")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.pool.close()

    async def get(self, path: str) -> Response:
        await asyncio.sleep(0)
        return Response(200, path.encode())
