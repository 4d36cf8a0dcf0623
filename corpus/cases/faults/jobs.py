"""Jobs, retries and results: the ways a caught exception ends up in a cycle."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


class JobFailed(Exception):
    pass


class Job:
    """python/cpython#75188: a caught exception stored on the object whose method raised."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: BaseException | None = None

    def run(self) -> bool:
        try:
            raise JobFailed(self.name)
        except JobFailed as exc:
            self.error = exc
        return False


class TextJob:
    """The fix: keep the message, not the exception."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.error: str | None = None

    def run(self) -> bool:
        try:
            raise JobFailed(self.name)
        except JobFailed as exc:
            self.error = str(exc)
        return False


def handle(payload: dict[str, Any]) -> str:
    """celery/billiard#311: a local that refers to the exception, in the raising frame."""
    failure = None
    try:
        payload["missing"]
    except KeyError as exc:
        failure = exc
    return "failed" if failure is not None else "ok"


def handle_fixed(payload: dict[str, Any]) -> str:
    try:
        payload["missing"]
    except KeyError:
        return "failed"
    return "ok"


def call_with_retry(func: Callable[[], Any], attempts: int = 2) -> Any:
    """Lightning-AI/lightning-thunder#1193: ``raise last`` keeps ``last`` in the frame."""
    last: BaseException | None = None
    for _ in range(attempts):
        try:
            return func()
        except ValueError as exc:
            last = exc
    assert last is not None
    raise last


def call_with_retry_fixed(func: Callable[[], Any], attempts: int = 2) -> Any:
    last: BaseException | None = None
    for _ in range(attempts):
        try:
            return func()
        except ValueError as exc:
            last = exc
    assert last is not None
    try:
        raise last
    finally:
        last = None


def caller_name() -> str:
    """stb-tester/stb-tester#587: a frame kept in a local of that same frame."""
    frame = inspect.currentframe()
    outer = frame.f_back if frame is not None else None
    return outer.f_code.co_name if outer is not None else "?"


def caller_name_fixed() -> str:
    frame = inspect.currentframe()
    try:
        outer = frame.f_back if frame is not None else None
        return outer.f_code.co_name if outer is not None else "?"
    finally:
        del frame


class Result:
    """python/cpython#80111: re-raising the stored exception from a method of its holder."""

    def __init__(self) -> None:
        self._exception: BaseException | None = None

    def set_exception(self, exc: BaseException) -> None:
        self._exception = exc

    @classmethod
    def failed(cls, exc: BaseException) -> Result:
        result = cls()
        result.set_exception(exc)
        return result

    def get(self) -> Any:
        if self._exception is not None:
            raise self._exception
        return None


class FixedResult(Result):
    """The fix from python/cpython#24995: drop ``self`` from the raising frame."""

    def get(self) -> Any:
        if self._exception is not None:
            try:
                raise self._exception
            finally:
                self = None  # noqa: PLW0642
        return None


class ValidationError(ValueError):
    pass


def validate_country(value: str) -> str:
    """dapper91/pydantic-xml#222: the error is re-raised from a local outside ``except``."""
    err = None
    try:
        if len(value) > 2:
            raise ValueError("country must be of 2 characters")
        return value
    except ValueError as e:
        err = ValidationError(str(e))
    raise err


class Strategy:
    """cannatag/ldap3#529: an exception history kept on a long-lived strategy."""

    def __init__(self) -> None:
        self.exception_history: list[BaseException] = []

    def open(self, address: str) -> bool:
        try:
            raise ConnectionError(address)
        except ConnectionError as exc:
            self.exception_history.append(exc)
        return False


default_strategy = Strategy()
