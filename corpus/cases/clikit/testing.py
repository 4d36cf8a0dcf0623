"""A test runner in the style of click's ``CliRunner``: it swaps ``sys.stdout`` for a
new ``io.TextIOWrapper`` over a ``BytesIO`` while a command runs, puts the old stream
back, detaches the wrapper and keeps the ``BytesIO`` on the result (for
``result.stdout_bytes``).
"""

from __future__ import annotations

import io
import sys
from typing import Any

from clikit.core import Group, UsageError


class Result:
    def __init__(self, runner: Runner, raw: io.BytesIO, return_value: Any,
                 exit_code: int, exception: BaseException | None) -> None:
        self.runner = runner
        self._raw = raw
        self.return_value = return_value
        self.exit_code = exit_code
        self.exception_text = None if exception is None else str(exception)

    @property
    def stdout_bytes(self) -> bytes:
        return self._raw.getvalue()

    @property
    def output(self) -> str:
        return self.stdout_bytes.decode(self.runner.charset).replace("\r\n", "\n")


class Runner:
    def __init__(self, charset: str = "utf-8") -> None:
        self.charset = charset

    def isolation(self) -> tuple[io.TextIOWrapper, Any]:
        stream = io.TextIOWrapper(io.BytesIO(), encoding=self.charset, write_through=True)
        old, sys.stdout = sys.stdout, stream
        return stream, old

    def invoke(self, group: Group, argv: str) -> Result:
        stream, old = self.isolation()
        value, code, error = None, 0, None
        try:
            value = group.main(argv, scoped=True)
            print(f"ok: {value}")
        except UsageError as exc:
            print(f"Error: {exc}")
            code, error = 2, exc
        finally:
            sys.stdout = old
        raw = stream.detach()
        return Result(self, raw, value, code, error)  # type: ignore[arg-type]
