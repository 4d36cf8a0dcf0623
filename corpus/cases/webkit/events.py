"""An ORM-style event registry (after SQLAlchemy's ``event.listen``) and an app factory
that hooks an audit trail into the session class."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

_ids = itertools.count()


class _EventKey:
    """One registration: what listens, to what, on which target (as SQLAlchemy keeps)."""

    __slots__ = ("target", "identifier", "fn", "propagate", "id")

    def __init__(self, target: Any, identifier: str, fn: Callable[..., Any], propagate: bool) -> None:
        self.target = target
        self.identifier = identifier
        self.fn = fn
        self.propagate = propagate
        self.id = next(_ids)


# (target, identifier) -> the registrations, in order: lives as long as the process.
_registry: dict[tuple[int, str], list[_EventKey]] = {}


def listen(target: Any, identifier: str, fn: Callable[..., Any], propagate: bool = False) -> None:
    _registry.setdefault((id(target), identifier), []).append(_EventKey(target, identifier, fn, propagate))


def contains(target: Any, identifier: str, fn: Callable[..., Any]) -> bool:
    return any(key.fn is fn for key in _registry.get((id(target), identifier), ()))


def dispatch(target: Any, identifier: str, *args: Any) -> int:
    keys = _registry.get((id(type(target)), identifier), ())
    for key in keys:
        key.fn(*args)
    return len(keys)


class Session:
    """The global session class the listeners are attached to."""

    def __init__(self) -> None:
        self.pending: list[Any] = []
        self.audited = 0

    def add(self, obj: Any) -> None:
        self.pending.append(obj)

    def flush(self) -> int:
        fired = dispatch(self, "before_flush", self)
        self.pending.clear()
        return fired


def receive_before_flush(session: Session) -> None:
    session.audited += len(session.pending)


class App:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)

    def session(self) -> Session:
        return Session()


def create_app(config: dict[str, Any]) -> App:
    """DRYTRIX/TimeTracker#655 (and DataDog/dd-trace-py#18361): the audit listener is
    attached to the *global* session class in the app factory, so every app made in
    the process (one per test) stacks another registration that is never removed.
    """
    app = App(config)
    listen(Session, "before_flush", receive_before_flush)
    return app


def create_app_fixed(config: dict[str, Any]) -> App:
    """The fix (TimeTracker#655): register once per process, guarded by ``contains``."""
    app = FixedApp(config)
    if not contains(FixedSession, "before_flush", receive_before_flush):
        listen(FixedSession, "before_flush", receive_before_flush)
    return app


class FixedSession(Session):
    pass


class FixedApp(App):
    def session(self) -> Session:
        return FixedSession()
