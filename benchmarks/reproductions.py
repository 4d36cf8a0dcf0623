#!/usr/bin/env python3
"""Outside pytest: the leaks and cycles that real suites' tests fail for with the plugin.

Each case repeats one call of the project's own code and, with ``gc.collect()``
between calls, prints what grows (a leak) or how many unreachable objects the
cycle collector finds after every call (cyclic garbage the call made).  Run it
with the interpreter of the venv ``real_suites.py`` made for that project, from
the unpacked sdist for ``toolz-test`` (it imports toolz's tests)::

    /tmp/refleak-suites/click-8.5.1/venv/bin/python benchmarks/reproductions.py click
    python benchmarks/reproductions.py --list

``benchmarks/README.md`` says which test each case explains.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

CASES: dict[str, Callable[[], None]] = {}


def case(func: Callable[[], None]) -> Callable[[], None]:
    CASES[func.__name__.replace("_", "-")] = func
    return func


def garbage_per_call(name: str, call: Callable[[], object], calls: int = 4) -> None:
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()  # else a collection in the middle of a call would take some of it
    try:
        for i in range(calls):
            call()
            print(f"{name}: call {i}: gc.collect() found {gc.collect()} unreachable objects")
    finally:
        if enabled:
            gc.enable()


@case
def click() -> None:
    """A leak: ``click._compat._default_text_stdout`` caches, in a WeakKeyDictionary
    keyed by the stream, the text stream to write to.  For a stream that needs no
    wrapping (CliRunner's) the value is the key itself, so the entry never goes and
    every ``CliRunner.invoke`` that echoes keeps its output stream alive."""
    import click as click_
    from click import _compat
    from click.testing import CliRunner

    @click_.command()
    def hello() -> None:
        click_.echo("hello")

    cache = next(c.cell_contents for c in _compat._default_text_stdout.__closure__  # type: ignore[attr-defined]
                 if hasattr(c.cell_contents, "keyrefs"))
    runner = CliRunner()
    for i in range(4):
        runner.invoke(hello)
        gc.collect()
        print(f"click: invoke {i}: {len(cache)} entries in _default_text_stdout's cache, "
              f"{len(gc.get_objects())} objects tracked by gc")


@case
def pyparsing() -> None:
    """A leak: ``reset_pyparsing_context.restore()`` sets
    ``__compat__.collect_all_And_tokens`` to the saved dict
    ``{"collect_all_And_tokens": old}`` instead of ``old``, so every save and restore
    nests one more dict."""
    import pyparsing as pp
    from pyparsing.testing import pyparsing_test

    def depth(value: object) -> int:
        n = 0
        while isinstance(value, dict):
            value, n = value["collect_all_And_tokens"], n + 1
        return n

    for i in range(4):
        with pyparsing_test.reset_pyparsing_context():
            pass
        gc.collect()
        print(f"pyparsing: save/restore {i}: __compat__.collect_all_And_tokens nested "
              f"{depth(pp.__compat__.collect_all_And_tokens)} dicts deep")


@case
def toolz_test() -> None:
    """A leak of toolz's test (Python <= 3.11.8, <= 3.12.2): it registers the class it
    defines in ``toolz._signatures.signatures`` and never removes it."""
    import toolz._signatures as sigs
    from toolz.tests.test_inspect_args import test_inspect_wrapped_property

    print(f"Python {sys.version.split()[0]}")
    for i in range(4):
        test_inspect_wrapped_property()
        gc.collect()
        print(f"toolz: call {i}: {len(sigs.signatures)} entries in toolz._signatures.signatures")


@case
def toolz() -> None:
    """A cycle: ``toolz.functoolz._check_sigspec`` keeps the exception it caught in a
    local, ``sigspec``, of the frame that the exception's traceback holds."""
    from toolz.functoolz import num_required_args

    garbage_per_call("toolz", lambda: num_required_args(map))


@case
def six() -> None:
    """Cycles every class makes (with its own ``__mro__`` and its ``__dict__``'s
    descriptors): ``six.with_metaclass`` makes two throwaway classes per call."""
    import six as six_

    class Meta(type):
        pass

    def call() -> None:
        class X(six_.with_metaclass(Meta, object)):  # type: ignore[misc]
            pass

    garbage_per_call("six", call)

    def plain_class() -> None:
        class Y:
            pass

    garbage_per_call("any class", plain_class, calls=2)


@case
def sqlparse() -> None:
    """Cycles by design: a parsed statement's tokens point to their parent."""
    import sqlparse as sqlparse_

    garbage_per_call("sqlparse", lambda: sqlparse_.parse("select a from b where c = 1"))


@case
def parso() -> None:
    """Cycles by design: parso's tree nodes point to their parent (the first call
    also frees the grammar's set-up garbage)."""
    import parso as parso_

    garbage_per_call("parso", lambda: parso_.parse("def f(x):\n    return x\n"))


@case
def tomlkit() -> None:
    """Cycles by design: a ``SingleKey`` keeps ``self._keys = [self]``; a parser's
    ``Source`` and its ``_StateHandler`` point to each other."""
    import tomlkit as tomlkit_

    garbage_per_call("tomlkit", lambda: tomlkit_.parse("a = 1\n[t]\nb = 2\n"))


@case
def attrs() -> None:
    """Cycles of every class attrs makes, and of the methods it generates, whose
    globals dict holds them."""
    import attr

    def call() -> None:
        @attr.s
        class C:
            x = attr.ib()

    garbage_per_call("attrs", call)


@case
def more_itertools() -> None:
    """A cycle: ``set_partitions`` defines a recursive inner generator function,
    ``set_partitions_helper``, that reaches itself through its own closure cell."""
    from more_itertools import set_partitions

    garbage_per_call("more-itertools", lambda: list(set_partitions("abc", 2)))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print(__doc__)
        for name, func in CASES.items():
            print(f"  {name}: {(func.__doc__ or '').splitlines()[0]}")
        return 0
    unknown = [a for a in argv if a not in CASES]
    if unknown:
        print(f"unknown cases {unknown}; known: {sorted(CASES)}", file=sys.stderr)
        return 2
    for name in argv:
        CASES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
