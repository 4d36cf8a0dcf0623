"""Other plugins and libraries a checked test runs beside, and what re-runs owe them.

The first run of a checked test is the real one: every plugin that wraps or runs
pytest's protocol does so as it would without ``--refleak``.  Re-runs come after
it, run by this plugin alone; what another tool does for a run of the test, and
what a re-run must do in its stead, is here:

- pytest-timeout limits each run of a test: a re-run gets the limit the real run
  had (its settings, as pytest-timeout's public ``pytest_timeout_set_timer`` hook
  was given them), started and stopped around it, so that the limit applies to
  each run and never to the plugin's work between them.
- hypothesis searches for examples afresh on each run, and checks its health on
  the way.  The real run did that; a re-run replays a small fixed set of examples
  (``derandomize``, no database, no shrinking, no health checks), so that every
  re-run does the same work and costs a tenth of a search.
- pytest-benchmark times the benchmarked function over many rounds.  The real run
  did that; in a re-run the ``benchmark`` fixture calls the function once, as
  with ``--benchmark-disable``, and records nothing: a leak in the function
  still grows on every re-run, and a benchmark test no longer costs two or three
  benchmarks.

Each read of another project's insides is here, with the versions it was checked on.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import pytest

#: The pytest-timeout settings the real run of a test was timed with.
timer_key = pytest.StashKey[object]()

#: Examples a re-run of a hypothesis test replays.
REPLAYED_EXAMPLES = 10


def note_timer(item: pytest.Item, settings: object) -> None:
    """Keep the settings pytest-timeout starts a test's timer with, for its re-runs.

    With ``timeout_func_only`` the timer covers the test function alone, and
    pytest-timeout starts it inside every run, re-runs included.
    """
    # pytest-timeout's ``Settings`` named tuple (timeout, method, func_only, ...):
    # checked on pytest-timeout 2.3.1 and 2.4.0.
    if not getattr(settings, "func_only", False):
        item.stash[timer_key] = settings


@contextlib.contextmanager
def timed(item: pytest.Item) -> Iterator[None]:
    """Run a re-run under the time limit the test's real run had, if it had one."""
    settings = item.stash.get(timer_key, None)
    if settings is None:
        yield
        return
    hook = item.config.hook
    attributes = vars(item)
    before = dict(attributes)
    hook.pytest_timeout_set_timer(item=item, settings=settings)
    # What starting the timer put on the item (pytest-timeout's handle to cancel
    # it) is put back as it was once it is cancelled: the real run's handle, and
    # the thread it refers to, are let go with the item, never inside a re-run's
    # window, where their memory would pass for the test's.
    changed = [name for name, value in attributes.items() if before.get(name, before) is not value]
    try:
        yield
    finally:
        hook.pytest_timeout_cancel_timer(item=item)
        for name in changed:
            if name in before:
                attributes[name] = before[name]
            else:
                attributes.pop(name, None)
        before.clear()


@contextlib.contextmanager
def replaying(item: pytest.Item) -> Iterator[Callable[[], None]]:
    """Make a hypothesis test's re-runs replay a few fixed examples.

    Gives a function that each re-run calls first, inside its window, to start
    from the replay settings again.  hypothesis's own pytest plugin wraps the
    settings of a parametrized ``@given`` test in one more layer on every run of
    an item (its ``differing_executors`` health check is lifted so): in plain
    pytest one settings object per item, for the session; over the plugin's
    re-runs one per re-run, which looked like the test's leak.  Put back inside
    the window, the layer the previous re-run added is replaced, not kept.
    """
    holder, name = _hypothesis_settings(item)
    if holder is None:
        yield no_replay
        return
    real = getattr(holder, name)
    # A subclass of a machine's TestCase only inherits ``settings``: what the
    # re-runs set on it goes again, rather than stay as a copy of the inherited one.
    own = name in vars(holder)
    replay = _replay_settings(real)

    def start_again() -> None:
        setattr(holder, name, replay)

    start_again()
    try:
        yield start_again
    finally:
        if own:
            setattr(holder, name, real)
        else:
            delattr(holder, name)


@contextlib.contextmanager
def measuring_once(config: pytest.Config) -> Iterator[None]:
    """Make pytest-benchmark's ``benchmark`` fixture call its function once, for
    the re-runs of a test."""
    # ``config._benchmarksession`` is pytest-benchmark's ``BenchmarkSession``; the
    # function-scoped ``benchmark`` fixture reads its ``disabled`` when a run sets
    # it up.  Checked on pytest-benchmark 5.3.1.
    session = getattr(config, "_benchmarksession", None)
    if session is None or getattr(session, "disabled", True) is not False:
        yield
        return
    session.disabled = True
    try:
        yield
    finally:
        session.disabled = False


def no_replay() -> None:
    """What a test that replays nothing does before each re-run."""


def _hypothesis_settings(item: pytest.Item) -> tuple[object | None, str]:
    """Where the settings a hypothesis test runs with are read on each run: the
    object and the attribute's name, or ``None`` for a test that is not one."""
    if "hypothesis" not in sys.modules:
        return None, ""
    function = getattr(item, "obj", None)
    function = getattr(function, "__func__", function)
    if not getattr(function, "is_hypothesis_test", False):
        return None, ""
    # ``_hypothesis_internal_use_settings`` is the settings object ``@given``'s
    # wrapper reads on every call (``@settings`` sets it, and cannot be applied
    # twice).  Checked on hypothesis 6.100, 6.168 and 6.170.
    if hasattr(function, "_hypothesis_internal_use_settings"):
        return function, "_hypothesis_internal_use_settings"
    # A rule-based state machine's ``TestCase``: its ``runTest`` runs the machine
    # with the class's ``settings`` (``@settings`` on the machine sets them there),
    # a full search of 100 programs of 50 steps on every re-run, 3 s each for
    # pyrsistent's vector machine.  Checked on hypothesis 6.170.
    cls = getattr(item, "cls", None)
    if (
        getattr(function, "_hypothesis_state_machine_class", None) is not None
        and cls is not None
        and hasattr(cls, "settings")
    ):
        return cls, "settings"
    return None, ""


def _replay_settings(real: object) -> object:
    from hypothesis import HealthCheck, Phase, settings

    examples = min(REPLAYED_EXAMPLES, getattr(real, "max_examples", REPLAYED_EXAMPLES))
    return settings(
        real,  # type: ignore[arg-type]
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        # The real run checked the test's health; a re-run runs the same test
        # again, from a new ``TestCase`` instance for a unittest method.
        suppress_health_check=list(HealthCheck),
    )
