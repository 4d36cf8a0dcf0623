"""Signals, event buses and shutdown hooks of a small application framework."""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from typing import Any


class Signal:
    """Holds its receivers strongly (``weak=False`` in Django terms)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> None:
        self.receivers.append(receiver)

    def disconnect(self, receiver: Callable[..., Any]) -> None:
        self.receivers.remove(receiver)

    def send(self, **kwargs: Any) -> list[Any]:
        return [r(**kwargs) for r in self.receivers]


class WeakSignal:
    """Holds receivers weakly and forgets dead ones as they die."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: dict[int, weakref.ref[Any]] = {}

    def connect(self, receiver: Callable[..., Any]) -> None:
        key = id(receiver)
        ref_type = weakref.WeakMethod if hasattr(receiver, "__self__") else weakref.ref

        def forget(_ref: Any, key: int = key, receivers: dict[int, Any] = self._receivers) -> None:
            receivers.pop(key, None)

        self._receivers[key] = ref_type(receiver, forget)  # type: ignore[operator]

    def send(self, **kwargs: Any) -> list[Any]:
        results = []
        for ref in list(self._receivers.values()):
            receiver = ref()
            if receiver is not None:
                results.append(receiver(**kwargs))
        return results


class CallbackRegistry:
    """matplotlib/matplotlib#19474: dead weak references are never cleaned out."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[weakref.ref[Any]]] = {}

    def connect(self, signal: str, func: Any) -> None:
        self._callbacks.setdefault(signal, []).append(weakref.WeakMethod(func))

    def process(self, signal: str, *args: Any) -> None:
        for ref in self._callbacks.get(signal, []):
            func = ref()
            if func is not None:
                func(*args)


class PrunedCallbackRegistry(CallbackRegistry):
    """The fix: connecting prunes the dead references first."""

    def connect(self, signal: str, func: Any) -> None:
        alive = [r for r in self._callbacks.get(signal, []) if r() is not None]
        alive.append(weakref.WeakMethod(func))
        self._callbacks[signal] = alive


class SenderIndex:
    """pallets-eco/blinker#12: per-sender receiver sets never dropped when senders die."""

    def __init__(self) -> None:
        self.by_sender: dict[int, set[str]] = {}

    def connect(self, sender: Any, receiver_name: str) -> None:
        # Keyed by what identifies the sender (blinker used id(); ids are reused).
        self.by_sender.setdefault(hash((type(sender).__name__, sender.pk)), set()).add(
            receiver_name
        )


post_save = Signal("post_save")
model_changed = WeakSignal("model_changed")
units = CallbackRegistry()
units_pruned = PrunedCallbackRegistry()
senders = SenderIndex()

_shutdown_handlers: list[Callable[[], None]] = []
_weak_shutdown: list[weakref.WeakMethod[Any]] = []


def on_shutdown(handler: Callable[[], None]) -> None:
    """zauberzeug/rosys#443: handlers held strongly pin their objects for the process."""
    _shutdown_handlers.append(handler)


def on_shutdown_weak(handler: Any) -> None:
    """The fix from the same pull request: a bound method is held weakly."""
    _weak_shutdown[:] = [r for r in _weak_shutdown if r() is not None]
    _weak_shutdown.append(weakref.WeakMethod(handler))


class EventHistory:
    """Keeps the last events only."""

    def __init__(self, size: int) -> None:
        self.events: deque[tuple[str, dict[str, Any]]] = deque(maxlen=size)

    def record(self, name: str, **payload: Any) -> None:
        self.events.append((name, payload))


history = EventHistory(size=2)


class Widget:
    """commaai/openpilot#36763: a callback closure that refers to its own widget."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.clicks = 0

        def on_click() -> None:
            self.clicks += 1

        self.on_click = on_click

    def click(self) -> int:
        self.on_click()
        return self.clicks


class WeakWidget:
    """The fix: the callback reaches the widget through a weak reference."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.clicks = 0
        ref = weakref.ref(self)

        def on_click() -> None:
            widget = ref()
            if widget is not None:
                widget.clicks += 1

        self.on_click = on_click

    def click(self) -> int:
        self.on_click()
        return self.clicks


class Model:
    def __init__(self, pk: int) -> None:
        self.pk = pk
        self.audit: list[str] = []

    def handle_saved(self, **kwargs: Any) -> str:
        return f"{self.pk} saved"

    def close(self) -> None:
        self.audit.clear()


def user_edit_view(user_id: int, weak: bool) -> list[Any]:
    """e-valuation/EvaP#1361: a receiver defined inside a view, connected per request."""
    request = {"user": user_id, "messages": [f"message {i}" for i in range(5)]}

    def notify_reward_points(**kwargs: Any) -> int:
        return len(request["messages"])

    if weak:
        model_changed.connect(notify_reward_points)
        return model_changed.send(granted=True)
    post_save.connect(notify_reward_points)
    results = post_save.send(granted=True)
    return results[-1:]
