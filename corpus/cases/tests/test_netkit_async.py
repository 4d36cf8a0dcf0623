"""Async clients (pytest-asyncio): background tasks, waiters, failed connections."""

import pytest

from netkit import client


@pytest.mark.asyncio
async def test_background_tasks_never_discarded():
    # python/cpython#91887: a strong set of tasks with no done callback.
    await client.fire_and_forget("saved")


@pytest.mark.asyncio
async def test_background_tasks_discarded():
    await client.fire_and_forget_fixed("saved")


@pytest.mark.asyncio
async def test_waiters_kept_on_shared_connection():
    # python/cpython#155143: the long-lived connection keeps every caller's future.
    assert await client.shared_connection.request(b"ping") == b"PING"


@pytest.mark.asyncio
async def test_waiters_removed():
    assert await client.shared_connection.request_fixed(b"ping") == b"PING"


@pytest.mark.asyncio
async def test_failed_connection_keeps_exception_in_frame():
    # python/cpython#88863, aio-libs/aiohttp#6408: exception ↔ frame cycle per failure.
    assert await client.open_connection("db.internal") is None


@pytest.mark.asyncio
async def test_failed_connection_fixed():
    assert await client.open_connection_fixed("db.internal") is None


@pytest.mark.asyncio
async def test_async_client_context():
    async with client.AsyncClient() as c:
        assert (await c.get("/health")).status == 200
