"""Commands, groups and the context stack (click-style).

A command runs inside a ``Context`` pushed on a module-level stack, so that helpers
can find the current context without having it passed down. Two ways to scope it:
``Context.scope()`` (a generator context manager with no ``try``: when the command
raises, the exception is thrown in at the ``yield`` and the pop never runs) and
``Context.__enter__``/``__exit__`` (the pop in ``__exit__``, which runs either way).
"""

from __future__ import annotations

import contextlib
import shlex
import warnings
from collections.abc import Callable, Iterator
from typing import Any


class UsageError(Exception):
    def __init__(self, message: str, ctx: Context | None = None) -> None:
        super().__init__(message)
        self.command_name = ctx.command.name if ctx is not None else None


_stack: list[Context] = []


def push_context(ctx: Context) -> None:
    _stack.append(ctx)


def pop_context() -> None:
    _stack.pop()


def current_context(silent: bool = False) -> Context | None:
    if _stack:
        return _stack[-1]
    if silent:
        return None
    raise RuntimeError("no active clikit context")


class Context:
    def __init__(self, command: Command, args: list[str]) -> None:
        self.command = command
        self.args = args
        self.params: dict[str, Any] = {}
        self.meta: dict[str, Any] = {"depth": len(_stack)}
        self.obj: Any = None

    # The pop is skipped when the command raises (no try/finally around the yield).
    @contextlib.contextmanager
    def scope(self) -> Iterator[Context]:
        push_context(self)
        yield self
        pop_context()

    def __enter__(self) -> Context:
        push_context(self)
        return self

    def __exit__(self, *exc: object) -> None:
        pop_context()

    def fail(self, message: str) -> None:
        raise UsageError(message, self)


class Option:
    def __init__(self, name: str, default: Any = None, *, deprecated: str | None = None,
                 quote_value: bool = False, type: Callable[[str], Any] = str) -> None:
        self.name = name
        self.default = default
        self.deprecated = deprecated
        # Whether the deprecation warning quotes the value passed (more helpful, and
        # one registry key per distinct value).
        self.quote_value = quote_value
        self.type = type


class Command:
    def __init__(self, name: str, callback: Callable[..., Any], options: list[Option]) -> None:
        self.name = name
        self.callback = callback
        self.options = {o.name: o for o in options}

    def parse_args(self, ctx: Context, args: list[str]) -> dict[str, Any]:
        params = {name: o.default for name, o in self.options.items()}
        it = iter(args)
        for token in it:
            if not token.startswith("--"):
                ctx.fail(f"unexpected argument {token!r}")
            name = token[2:].replace("-", "_")
            option = self.options.get(name)
            if option is None:
                ctx.fail(f"no such option: {token}")
            value = next(it, None)
            if value is None:
                ctx.fail(f"option {token} needs a value")
            if option.deprecated is not None:
                _warn_deprecated(option, value)
            params[name] = option.type(value)
        return params

    def make_context(self, args: list[str]) -> Context:
        return Context(self, list(args))

    def invoke(self, args: list[str]) -> Any:
        """Runs the command in ``ctx.scope()`` (no pop when it raises)."""
        ctx = self.make_context(args)
        with ctx.scope():
            ctx.params = self.parse_args(ctx, args)
            return self.callback(**ctx.params)

    def invoke_scoped(self, args: list[str]) -> Any:
        """Runs the command with ``with ctx:`` (the pop runs either way)."""
        with self.make_context(args) as ctx:
            ctx.params = self.parse_args(ctx, args)
            return self.callback(**ctx.params)


# --- deprecated options --------------------------------------------------------------
# POSYDON-code/POSYDON#364 and python/cpython#97557: the warnings registry keeps a key
# (text, category, lineno) for every distinct message shown under the "default"
# action, so a message that carries the value passed grows it on every new value.


def _warn_deprecated(option: Option, value: str) -> None:
    if option.quote_value:
        text = f"--{option.name}={value!r} is deprecated: {option.deprecated}"
    else:
        text = f"--{option.name} is deprecated: {option.deprecated}"
    warnings.warn(text, UserWarning, stacklevel=1)


class Group:
    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, Command] = {}

    def command(self, name: str | None = None, options: list[Option] | None = None
                ) -> Callable[[Callable[..., Any]], Command]:
        def decorator(func: Callable[..., Any]) -> Command:
            cmd = Command(name or func.__name__.replace("_", "-"), func, options or [])
            self.commands[cmd.name] = cmd
            return cmd

        return decorator

    def main(self, argv: str | list[str], *, scoped: bool = False) -> Any:
        args = shlex.split(argv) if isinstance(argv, str) else list(argv)
        if not args or args[0] not in self.commands:
            raise UsageError(f"no such command: {args[:1]}")
        cmd = self.commands[args[0]]
        return cmd.invoke_scoped(args[1:]) if scoped else cmd.invoke(args[1:])


cli = Group("clikit")


@cli.command("sync", options=[
    Option("batch", 100, type=int),
    # POSYDON-code/POSYDON#364: the value in the warning text, one registry key per value.
    Option("chunk", None, deprecated="use --batch", quote_value=True, type=int),
    # The fix: the same warning with a fixed text, one registry key in all.
    Option("page_size", None, deprecated="use --batch", type=int),
])
def sync(batch: int, chunk: int | None, page_size: int | None) -> dict[str, int]:
    size = next((v for v in (chunk, page_size) if v is not None), batch)
    if size <= 0:
        current_context().fail(f"batch size must be positive, got {size}")  # type: ignore[union-attr]
    return {"batches": (1000 + size - 1) // size, "size": size}
