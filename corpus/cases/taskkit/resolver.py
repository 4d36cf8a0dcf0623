"""An async resolver that shares in-flight lookups."""

from __future__ import annotations

import asyncio


class Query:
    """A query object: compared by identity, as a request object usually is."""

    def __init__(self, name: str, kind: str = "A") -> None:
        self.name = name
        self.kind = kind


class Resolver:
    """graphql-python/graphql-core-legacy#104, aio-libs/async-lru#82: the futures of the
    lookups are kept in a dict so that concurrent callers share one; nothing removes
    a future once it is done, and each is keyed by a fresh query object, so the dict
    keeps every future (and, through it, its event loop) for ever.
    """

    def __init__(self, forget_done: bool) -> None:
        self._inflight: dict[Query, asyncio.Future[str]] = {}
        self.forget_done = forget_done

    async def _lookup(self, query: Query) -> str:
        await asyncio.sleep(0)
        return f"10.0.{len(query.name) % 250}.1"

    async def resolve(self, query: Query) -> str:
        fut = self._inflight.get(query)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._inflight[query] = fut
            try:
                fut.set_result(await self._lookup(query))
            finally:
                if self.forget_done:  # the fix: only in-flight lookups are shared
                    del self._inflight[query]
        return await fut


resolver = Resolver(forget_done=False)
fixed_resolver = Resolver(forget_done=True)
