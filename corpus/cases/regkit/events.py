"""A topic registry whose subscribers are ``functools.partial`` objects."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

_subscribers: dict[str, list[Callable[[Any], None]]] = {}


def subscribe(topic: str, fn: Callable[[Any], None]) -> None:
    _subscribers.setdefault(topic, []).append(fn)


def unsubscribe_owner(topic: str, owner: object) -> None:
    subs = _subscribers.get(topic, [])
    subs[:] = [
        fn for fn in subs
        if getattr(getattr(fn, "func", None), "__self__", None) is not owner
    ]  # fmt: skip


def publish(topic: str, payload: Any) -> int:
    subs = list(_subscribers.get(topic, ()))
    for fn in subs:
        fn(payload)
    return len(subs)


class Panel:
    """napari/napari#3238, aiidateam/aiida-core#4603: a ``partial`` of a bound method
    is connected strongly (a weak reference to the partial would die at once), so the
    registry keeps the partial, the bound method and the panel for ever unless the
    panel disconnects it.
    """

    def __init__(self, name: str, topic: str = "theme") -> None:
        self.name = name
        self.topic = topic
        self.seen: list[Any] = []
        subscribe(topic, partial(self.on_event, topic))

    def on_event(self, topic: str, payload: Any) -> None:
        self.seen.append((topic, payload))

    def close(self) -> None:
        """The fix: the panel's partials are removed when it closes."""
        unsubscribe_owner(self.topic, self)
