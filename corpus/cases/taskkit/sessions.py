"""Sessions with idle timers on the sync bridge's private, long-lived event loop."""

from __future__ import annotations

import asyncio
import atexit
import itertools
from collections.abc import Coroutine
from typing import Any

_ids = itertools.count()

IDLE_TIMEOUT = 900.0


class SyncBridge:
    """Runs the sync API's coroutines on a private loop made at import (as sync bridges
    do); the loop, and what is scheduled on it, lives as long as the process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        atexit.register(self.loop.close)

    def run_sync(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)


class Session:
    def __init__(self, user: str) -> None:
        self.id = next(_ids)
        self.user = user
        self.data: dict[str, Any] = {"user": user, "cart": []}
        self.expired = False

    def expire(self) -> None:
        self.expired = True


class SessionStore:
    """ArchiveTeam/wpull#166, sbidy/pywizlight#107: every session schedules its idle
    timeout with ``loop.call_later`` and closing it does not cancel the timer, so the
    loop's ``_scheduled`` heap keeps a ``TimerHandle`` (and through its bound method,
    the session) for 15 minutes, which in a test run is for ever.
    """

    def __init__(self, cancel_on_close: bool) -> None:
        # Each store has its own bridge: a cancelled timer leaves the heap only when
        # it reaches the top, which it never would behind another store's live ones.
        self.bridge = SyncBridge()
        self.cancel_on_close = cancel_on_close
        self._timers: dict[int, asyncio.TimerHandle] = {}

    async def _open(self, user: str) -> Session:
        session = Session(user)
        handle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, session.expire)
        if self.cancel_on_close:
            self._timers[session.id] = handle
        return session

    def open(self, user: str) -> Session:
        return self.bridge.run_sync(self._open(user))

    def close(self, session: Session) -> None:
        handle = self._timers.pop(session.id, None)
        if handle is not None:  # the fix; run_sync's next turn drops it from the heap
            handle.cancel()


store = SessionStore(cancel_on_close=False)
fixed_store = SessionStore(cancel_on_close=True)
