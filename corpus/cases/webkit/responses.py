"""Responses and the app that makes them, with an error page."""

from __future__ import annotations

import traceback
from collections.abc import Callable


class Response:
    """python/cpython#89020 (bpo-44857) and pyro-ppl/pyro#1938: a bound method of the
    response stored on the response itself (``self._on_close = self.release``) is a
    reference cycle, response -> bound method -> response, so every response the app
    makes is left for the cyclic collector.
    """

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        self.headers = {"content-type": "text/plain", "content-length": str(len(body))}
        self.closed = False
        self._on_close: Callable[[], None] = self.release

    def release(self) -> None:
        self.closed = True

    def close(self) -> None:
        self._on_close()


class PlainResponse:
    """The fix: ``close`` calls the method; nothing on the response refers back to it."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        self.headers = {"content-type": "text/plain", "content-length": str(len(body))}
        self.closed = False

    def release(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.release()


class MiniApp:
    def __init__(self, response_class: type = Response) -> None:
        self.response_class = response_class
        self.views: dict[str, Callable[[], str]] = {"/health": lambda: "ok", "/boom": _boom}

    def handle(self, path: str):  # noqa: ANN201
        view = self.views.get(path)
        if view is None:
            return self.response_class(404, "not found")
        try:
            body = view()
        except Exception as exc:  # noqa: BLE001 - the app's error page
            return self.response_class(500, render_error(exc))
        return self.response_class(200, body)


def _boom() -> str:
    raise ValueError("the view failed")


def render_error(exc: BaseException) -> str:
    """The debug error page: the frames of the traceback with their source lines
    (``traceback.extract_tb``: linecache reads the files on first use and keeps them)."""
    lines = ["Traceback (most recent call last):"]
    for frame in traceback.extract_tb(exc.__traceback__):
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(f"{type(exc).__name__}: {exc}")
    return "\n".join(lines)


app = MiniApp(Response)
plain_app = MiniApp(PlainResponse)
