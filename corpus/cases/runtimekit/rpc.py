"""A JSON-RPC-style client over a message transport, correlating replies by id."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any


class RpcUnavailable(ConnectionError):
    pass


class LoopbackTransport:
    """Answers ``echo``; refuses to send anything while ``down`` lists the method."""

    def __init__(self) -> None:
        self.down: set[str] = {"publish"}
        self.client: RpcClient | None = None

    def send(self, message: dict[str, Any]) -> None:
        if message["method"] in self.down:
            raise RpcUnavailable(f"transport refused {message['method']!r}")
        assert self.client is not None
        loop = asyncio.get_running_loop()
        loop.call_soon(self.client.on_reply, {"id": message["id"], "result": message["params"]})


class RpcClient:
    """openlawlibrary/pygls#608, tradeparadex/paradex-py#172: the pending entry is made
    before sending and removed only when a reply comes back. A send that fails (or a
    caller that is cancelled or times out) leaves its future in the table for good.
    """

    def __init__(self, transport: LoopbackTransport) -> None:
        self.transport = transport
        transport.client = self
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}

    def on_reply(self, reply: dict[str, Any]) -> None:
        future = self._pending.pop(reply["id"], None)
        if future is not None and not future.done():
            future.set_result(reply["result"])

    async def call(self, method: str, params: Any, timeout: float = 1.0) -> Any:
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self.transport.send({"id": msg_id, "method": method, "params": params})
        return await asyncio.wait_for(future, timeout)

    async def call_fixed(self, method: str, params: Any, timeout: float = 1.0) -> Any:
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            self.transport.send({"id": msg_id, "method": method, "params": params})
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(msg_id, None)


# The process-wide client, as an application keeps one per upstream.
shared_client = RpcClient(LoopbackTransport())
