"""Request-scoped state on top of contextvars."""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ids = itertools.count()


class Local:
    """Attribute storage that follows the current context.

    pallets/werkzeug#2436, encode/databases#546: each instance makes its own
    ``ContextVar`` and sets it without a token to reset. The current context keeps a
    strong reference to every variable set in it, and to its value, for as long as the
    context lives: in a thread's base context, for good.
    """

    __slots__ = ("_var",)

    def __init__(self) -> None:
        object.__setattr__(self, "_var", contextvars.ContextVar(f"runtimekit.local.{next(_ids)}"))

    def __getattr__(self, name: str) -> Any:
        values = self._var.get({})
        try:
            return values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        values = dict(self._var.get({}))
        values[name] = value
        self._var.set(values)

    def __delattr__(self, name: str) -> None:
        values = dict(self._var.get({}))
        values.pop(name, None)
        self._var.set(values)


# The fix: one variable, made at import, and every scope resets what it set.
_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "runtimekit.request", default=None
)


@contextmanager
def request_scope(**values: Any) -> Iterator[dict[str, Any]]:
    state = {"request_id": next(_ids), **values}
    token = _request.set(state)
    try:
        yield state
    finally:
        _request.reset(token)


def current(name: str, default: Any = None) -> Any:
    state = _request.get()
    return default if state is None else state.get(name, default)
