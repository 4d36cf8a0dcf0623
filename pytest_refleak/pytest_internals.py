"""Every read of pytest's private structures, in one place.

pytest offers no public way to re-run a test unreported, nor to tell its own
records (the setup stack, fixture finalizers, log buffers) from what a test left
behind.  What the plugin needs of pytest's insides is read here and nowhere else,
each access with the pytest versions it was checked on, so that a pytest upgrade
breaks in one module.  Each read is defensive: an attribute that is gone gives
"not known" (``None`` or an empty list), never an error.

One read lives elsewhere, for a reason: :mod:`pytest_refleak.exclusions` finds the
assertion rewriting hook's cache of module names by its type's name, because the
measuring modules never import pytest.
"""

from __future__ import annotations

import gc
import types
from collections.abc import Callable
from typing import Any

import pytest

# pytest offers no public way to run a test's setup, call and teardown without
# reporting them, which re-running needs; runtestprotocol(log=False) is the
# function pytest's own protocol calls, and what pytest-rerunfailures uses.
# Signature (item, log, nextitem) checked on pytest 8.0.0, 8.3.5 and 9.2.0.
from _pytest.runner import runtestprotocol

__all__ = [
    "REPORT_SHARED_ATTRIBUTES",
    "doctest_globals",
    "explanation_longrepr",
    "fixture_finalizers",
    "keeping_wider_scopes",
    "report_sections",
    "runtestprotocol",
    "set_up_nodes",
    "shadow_hook_proxy",
    "tear_down_for",
    "tooling_holders",
    "unshadow_hook_proxy",
]

#: An item's attributes whose values its reports can share: its node id as pytest
#: keeps it (``_id``, a ``NodeId``, on pytest 9.2; ``_nodeid``, a string, on 8.x),
#: ``nodeid`` and ``location``.  Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
REPORT_SHARED_ATTRIBUTES = ("_id", "_nodeid", "nodeid", "location")


def _setup_stack(item: pytest.Item) -> dict[Any, Any] | None:
    """pytest's record of the nodes it has set up and not yet torn down (None: not known)."""
    # ``Session._setupstate`` is a ``SetupState``; its ``stack`` maps each node to a
    # tuple of (list of finalizers, exception or None), the list starting with the
    # node's own ``teardown``.  Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
    stack = getattr(getattr(item.session, "_setupstate", None), "stack", None)
    return stack if isinstance(stack, dict) else None


def set_up_nodes(item: pytest.Item) -> set[int] | None:
    """Ids of the nodes pytest has set up and not yet torn down (None: not known)."""
    stack = _setup_stack(item)
    return None if stack is None else {id(node) for node in stack}


def keeping_wider_scopes(item: pytest.Item) -> pytest.Item | None:
    """What to give ``runtestprotocol`` as the next item so that its teardown ends
    with the test's own fixtures, keeping those of wider scope set up."""
    # ``SetupState.teardown_exact`` only reads the next item's ``listchain()``,
    # and the item's parent has the chain of every item beside it; the item
    # itself would keep its own fixtures too.  The ``pytest_runtest_teardown``
    # hooks of plugins get it as ``nextitem``: pytest-rerunfailures keeps it for
    # its own attempts only.  Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
    return item.parent  # type: ignore[return-value]


def tear_down_for(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Tear down what ``nextitem`` does not need, as pytest's runner does after a test.

    Re-runs keep fixtures of wider scope set up from one re-run to the next (see
    :func:`keeping_wider_scopes`); this puts pytest's setup state back where the
    real run left it.
    """
    # ``SetupState.teardown_exact(nextitem)`` is what ``pytest_runtest_teardown``
    # calls.  Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
    setupstate = getattr(item.session, "_setupstate", None)
    if setupstate is not None:
        setupstate.teardown_exact(nextitem)


def fixture_finalizers(item: pytest.Item, *, set_up_only: bool = False) -> list[list[object]]:
    """The finalizer lists of the session's fixture definitions (``set_up_only``: of
    those that hold a value now).

    Setting up a fixture registers its teardown with each fixture it depends on;
    when those are of wider scope (``tmp_path`` on the session's
    ``tmp_path_factory``), pytest keeps the registration until that wider fixture
    is torn down.  That growth is pytest's, not the test's, whichever fixtures the
    test named and whichever it or a plugin asked for while running
    (``request.getfixturevalue``, as pytest-asyncio does for its runner).
    """
    lists: list[list[object]] = []
    seen: set[int] = set()
    for definition in _fixture_definitions(item):
        # ``FixtureDef._finalizers``.  Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
        finalizers = getattr(definition, "_finalizers", None)
        # ``FixtureDef.cached_result`` is None until set up and again after teardown.
        # Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
        if set_up_only and getattr(definition, "cached_result", None) is None:
            continue
        if isinstance(finalizers, list) and id(finalizers) not in seen:
            seen.add(id(finalizers))
            lists.append(finalizers)
    return lists


def _fixture_definitions(item: pytest.Item) -> list[object]:
    """Every ``FixtureDef`` the item names, and every one the session knows of."""
    found: list[object] = []
    # ``Function._fixtureinfo.name2fixturedefs`` maps names to ``FixtureDef``s.
    # Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", None)
    if isinstance(definitions, dict):
        for chain in definitions.values():
            found.extend(chain)
    manager = getattr(item.session, "_fixturemanager", None)
    # ``FixtureManager._get_all_fixture_defs()`` on pytest 9.2.0; before it, the
    # ``_arg2fixturedefs`` dict of name to list (pytest 8.0.0 and 8.3.5).
    every = getattr(manager, "_get_all_fixture_defs", None)
    if callable(every):
        found.extend(every())
    else:
        by_name = getattr(manager, "_arg2fixturedefs", None)
        if isinstance(by_name, dict):
            for chain in by_name.values():
                found.extend(chain)
    return found


def tooling_holders(config: pytest.Config) -> list[object]:
    """Objects of the test tooling that keep records of each test.

    pytest's own plugins swap in fresh buffers for every test phase; other
    plugins keep what they report on at the end (pytest-benchmark's results).
    Every plugin *object* registered with pytest is tooling, and what it holds is
    its records; plugin *modules* are code, the project's conftest files among
    them, and what a module holds is whoever's code put it there.
    """
    holders: list[object] = [config.stash]
    holders.extend(
        plugin
        for plugin in config.pluginmanager.get_plugins()
        if not isinstance(plugin, (types.ModuleType, type))
    )
    # The logging plugin's handler attributes.  Checked on pytest 8.0.0, 8.3.5, 9.2.0.
    logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
    for name in ("caplog_handler", "report_handler", "log_cli_handler", "log_file_handler"):
        handler = getattr(logging_plugin, name, None)
        if handler is not None:
            holders.append(handler)
    return holders


def doctest_globals(item: pytest.Item) -> dict[str, Any] | None:
    """The globals a doctest item runs its examples in (None: not a doctest).

    ``DoctestItem.dtest`` is the example's ``doctest.DocTest``; doctest's runner
    empties its ``globs`` after every run (``clear_globs``), so a re-run must
    start from a copy.  Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
    """
    globs = getattr(getattr(item, "dtest", None), "globs", None)
    return globs if type(globs) is dict else None


def explanation_longrepr(text: str, crash: tuple[str, int, str] | None) -> Any:
    """A failed report's ``longrepr``: ``text`` as its explanation, and ``crash``
    (path, line, message) as the one line pytest shows for it, if any.

    A plain string would also be that one line, printed whole in the short test
    summary where pytest prints messages in full (on CI, or under ``-vv``) and as
    a cut first line elsewhere.  Without a crash location the short test summary
    names the test and nothing more.  A native-style traceback entry is what
    pytest-xdist carries from its workers as it is.  ``ReprExceptionInfo(
    reprtraceback=, reprcrash=)``, ``ReprTraceback(reprentries, extraline,
    style)``, ``ReprEntryNative(lines)`` and ``ReprFileLocation(path, lineno,
    message)`` from ``_pytest._code.code``, checked on pytest 8.0.0, 8.3.5 and
    9.2.0; if they are gone, the text itself.
    """
    try:
        from _pytest._code.code import (
            ReprEntryNative,
            ReprExceptionInfo,
            ReprFileLocation,
            ReprTraceback,
        )

        entry = ReprEntryNative([text if text.endswith("\n") else text + "\n"])
        return ReprExceptionInfo(
            reprtraceback=ReprTraceback([entry], None, "native"),
            reprcrash=ReprFileLocation(*crash) if crash is not None else None,
        )
    except Exception:  # noqa: BLE001 - a pytest without them: the text is still right
        return text


def report_sections(item: pytest.Item) -> list[Any] | None:
    """The item's captured output sections, which pytest adds to its reports."""
    # ``Item._report_sections``, a list of (when, key, content).  Checked on pytest
    # 8.0.0, 8.3.5 and 9.2.0.
    sections = getattr(item, "_report_sections", None)
    return sections if isinstance(sections, list) else None


def shadow_hook_proxy(session: pytest.Session, proxy: Callable[[Any], Any]) -> None:
    """Make ``proxy`` the session's ``gethookproxy`` until :func:`unshadow_hook_proxy`.

    ``Node.ihook`` asks ``session.gethookproxy(path)`` for the hooks on every
    access, so an attribute of the session shadows its method for every node.
    Checked on pytest 8.0.0, 8.3.5 and 9.2.0.
    """
    session.gethookproxy = proxy  # type: ignore[method-assign,assignment]


def unshadow_hook_proxy(session: pytest.Session) -> None:
    session.__dict__.pop("gethookproxy", None)


# -- pluggy's running hook call ---------------------------------------------------------

#: The local names of pluggy's ``_multicall`` (checked on pluggy 1.5.0, 1.6.0 and
#: 1.7.0) that hold what the call makes while running its implementations: the
#: started wrappers, the results, the arguments and the generator of the last one.
_CALL_LISTS = ("teardowns", "results")
_CALL_LOCALS = ("args", "kwargs", "function_gen")


def _multicall_code() -> types.CodeType | None:
    try:
        from pluggy import _callers
    except ImportError:  # pragma: no cover - pluggy comes with pytest
        return None
    function = getattr(_callers, "_multicall", None)
    return getattr(function, "__code__", None)


_LIST_ITERATORS: tuple[type, ...] = (type(iter([])), type(reversed([])))


def _iterators_over(lists: list[list[object]]) -> list[object]:
    """The iterators over any of ``lists`` that are alive now."""
    if not lists:
        return []
    return [r for r in gc.get_referrers(*lists) if type(r) in _LIST_ITERATORS]
