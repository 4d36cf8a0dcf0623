"""Hooks a project's ``conftest.py`` or another plugin can implement.

Register nothing: pytest finds implementations by name in conftest files and
plugins, as for its own hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import pytest

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_refleak_clear_caches(config: pytest.Config) -> None:
    """Empty the caches your code fills lazily.

    Called before and after each measured re-run of a test that looked as if it
    leaked, together with the interpreter's own caches, so that a cache which
    fills up over a few calls is not taken for a leak.  It is not called during a
    test's first run, so a cache cleared here costs only the re-runs.

    :param config: the pytest config object.
    """


@hookspec
def pytest_refleak_ignore(item: pytest.Item) -> Iterable[object] | None:
    """Declare what is not a leak for ``item``.

    Return an iterable of objects and types (or ``None``).  For an object, it and
    every new object reachable from it are not counted, nor is memory allocated
    where they were.  For a type, new instances of it are not counted.  Results
    from all implementations are combined.

    :param item: the test about to be checked.
    """
