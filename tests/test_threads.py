"""Other threads: what a thread already running holds is that thread's, not the test's.

Both sides, as for every rule of :mod:`pytest_refleak.exclusions`: clean tests
stay clean while a session fixture's thread churns or grows a container, and a
test that leaks, or starts a thread that leaks, is still caught while one does.
The generated suites run in subprocesses; the thread timing varies from run to
run, so the clean side is run several times.
"""

from __future__ import annotations

import collections
import gc
import threading
import time

import pytest
from conftest import run

from pytest_refleak.exclusions import other_threads_holdings, running_threads

#: A session fixture whose thread appends a new object and a new string about every
#: millisecond to ``{container}`` while every test runs.
CHURNING_CONFTEST = """
import collections
import threading
import time

import pytest


@pytest.fixture(scope="session", autouse=True)
def churn():
    kept = {container}
    stop = threading.Event()

    def fill():
        i = 0
        while not stop.is_set():
            kept.append({item})
            kept.append(str(i) * 3)
            i += 1
            time.sleep(0.001)

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    yield kept
    stop.set()
    thread.join()
"""

CLEAN_TESTS = """
import pytest


@pytest.mark.parametrize("n", range(8))
def test_clean(n):
    assert sum(range(100)) == 4950
"""


def churning(pytester: pytest.Pytester, container: str, item: str = "object()") -> None:
    pytester.makeconftest(CHURNING_CONFTEST.format(container=container, item=item))


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize(
    "item", ["object()", "[i]"], ids=["untracked objects", "tracked lists"]
)
def test_thread_churning_a_bounded_deque_leaves_clean_tests_clean(
    pytester: pytest.Pytester, item: str, attempt: int
) -> None:
    """A session fixture's thread filling a ``deque(maxlen=200)`` during the tests
    leaves new objects alive after each one; they are the thread's, and no clean
    test is reported (before, 2 to 4 of the 8, different ones on every run)."""
    del attempt
    churning(pytester, "collections.deque(maxlen=200)", item)
    pytester.makepyfile(test_clean=CLEAN_TESTS)
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=8)
    result.stdout.no_fnmatch_line("*LEAKED*")


@pytest.mark.parametrize("attempt", range(2))
def test_thread_growing_a_list_leaves_clean_tests_clean(
    pytester: pytest.Pytester, attempt: int
) -> None:
    """A session fixture's thread that appends to a list forever does leak, but
    it is the fixture's thread that leaks, not each test that happens to run
    meanwhile (before, every test was reported)."""
    del attempt
    churning(pytester, "[]")
    pytester.makepyfile(test_clean=CLEAN_TESTS)
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=8)
    result.stdout.no_fnmatch_line("*LEAKED*")


@pytest.mark.parametrize("container", ["collections.deque(maxlen=200)", "[]"])
def test_leak_made_while_a_thread_churns_is_caught(
    pytester: pytest.Pytester, container: str
) -> None:
    """What the test itself keeps in a module's list is the test's, whatever another
    thread does meanwhile: 1 KiB of bytes per call, and a new object per call."""
    churning(pytester, container)
    pytester.makepyfile(
        keeper="KEPT = []\n\nclass Thing:\n    pass\n",
        test_leaks="""
        import keeper

        def test_bytes():
            keeper.KEPT.append(bytes(1024))

        def test_object():
            keeper.KEPT.append(keeper.Thing())

        def test_clean():
            assert sum(range(10)) == 45
        """,
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_leaks.py::test_bytes - *held by keeper.KEPT*",
            "LEAKED test_leaks.py::test_object - *Thing*keeper.KEPT*",
        ],
        consecutive=False,
    )


@pytest.mark.parametrize(
    "start",
    [
        "threading.Thread(target=keeper.fill, daemon=True).start()",
        "threading.Thread(target=keeper.fill, args=(keeper.KEPT,), daemon=True).start()",
    ],
    ids=["list in globals", "list passed to the thread"],
)
def test_thread_the_test_starts_is_the_tests(pytester: pytest.Pytester, start: str) -> None:
    """A thread the test starts is not "another thread": it is still running when
    the test ends, appending to a module's list forever, and the test leaks.  The
    threads earlier runs left hold the list too, but the one each run starts is
    that run's."""
    pytester.makepyfile(
        keeper="""
        import time

        KEPT = []

        def fill(into=None):
            while True:
                (KEPT if into is None else into).append(object())
                time.sleep(0.001)
        """,
        test_own=f"""
        import threading

        import keeper

        def test_starts_a_thread():
            {start}
        """,
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["LEAKED test_own.py::test_starts_a_thread - *1 thread left running per run*"]
    )


# -- the rule itself, in this process -------------------------------------------------


def _new_ids(before: set[int]) -> set[int]:
    return {id(o) for o in gc.get_objects()} - before


MODULE_LEVEL: list[object] = []


def test_holdings_are_those_of_threads_running_before() -> None:
    """New objects a thread's running frame holds (through a closure's deque) are
    that thread's when it ran before the window, and not when it did not; a
    module-level list the thread reaches only through its globals is not looked
    at."""
    kept: collections.deque[object] = collections.deque(maxlen=50)
    stop = threading.Event()
    ready = threading.Event()

    def fill() -> None:
        while not stop.is_set():
            kept.append([])
            MODULE_LEVEL.append([])
            ready.set()
            time.sleep(0.001)

    thread = threading.Thread(target=fill, daemon=True)
    gc.collect()
    before = {id(o) for o in gc.get_objects()}
    thread.start()
    try:
        ready.wait(5)
        theirs = running_threads()
        assert thread.ident in theirs
        mine: list[object] = []
        young = _new_ids(before)
        assert id(mine) in young
        found, _ = other_threads_holdings(theirs, young)
        assert any(id(item) in found for item in list(kept))
        assert id(mine) not in found
        assert not any(id(item) in found for item in list(MODULE_LEVEL))
        found, _ = other_threads_holdings(frozenset(), young)
        assert not found
    finally:
        stop.set()
        thread.join()
        MODULE_LEVEL.clear()
