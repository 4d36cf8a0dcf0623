"""False alarms from outside the test, and the bound on what checking a test costs.

Measuring looks at objects a test made; it never runs their code (a mock makes a
new child for every attribute it is asked for) and never keeps them.  What the
test tooling's module-level containers gain is the tooling's (hypothesis's tags of
the strategy labels it saw).  Whatever a test leaves, the plugin's own work on it
is bounded, and the report says when the bound cut something short.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
import types
from unittest import mock

import pytest
from conftest import run

SERVICE = '''
class Service:
    """A class with methods, a property and a nested call, as an autospec target."""

    def __init__(self, url):
        self.url = url

    def fetch(self, key):
        return key

    def store(self, key, value):
        pass

    @property
    def name(self):
        return "service"


KEPT = []
'''


def test_autospec_mocks_made_in_a_test_pass_and_kept_ones_leak(pytester: pytest.Pytester) -> None:
    """``create_autospec`` gives every mock a class of its own, in cycles the collector
    frees: a test that makes them and drops them is clean, and cheap to check.  A test
    that keeps them in a module list leaks them."""
    pytester.makepyfile(service=SERVICE)
    pytester.makepyfile(
        test_it="""
        from unittest import mock
        import service

        def test_autospec_instance():
            m = mock.create_autospec(service.Service, instance=True)
            m.fetch.return_value = "x"
            assert m.fetch("a") == "x"
            m.store("a", "b")
            m.store.assert_called_once_with("a", "b")

        def test_autospec_function():
            f = mock.create_autospec(service.Service.fetch)
            f(None, "k")
            f.assert_called_once_with(None, "k")

        def test_keeps_its_mocks():
            service.KEPT.append(mock.create_autospec(service.Service, instance=True))
        """
    )
    result = run(pytester, "--refleak", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*kept alive by service.KEPT*", "LEAKED test_it.py::test_keeps_its_mocks - *"]
    )


def test_describing_cycles_runs_no_code_of_their_members() -> None:
    """A spec'd mock claims to be a function through ``__class__``; reading it as one
    would make child mocks (``__code__``, ``co_filename``) and keep them in the origin
    cache.  Cycles are described from what objects are, not what they say."""
    from pytest_refleak.cycles import analyse
    from pytest_refleak.origins import Origins

    def target(a: int) -> int:
        return a

    function_mock = mock.create_autospec(target)
    instance_mock = mock.MagicMock(spec=types.FunctionType)
    origins = Origins([], ["test_*.py"])
    children_before = [dict(m._mock_children) for m in (function_mock.mock, instance_mock)]
    box: list[object] = [function_mock, instance_mock]
    # Each mock in a cycle with the list: the mocks are members, to be described.
    function_mock.box = box
    instance_mock.box = box
    gc.collect()
    members = [box, function_mock, instance_mock]
    members += [object.__getattribute__(m, "__dict__") for m in (function_mock, instance_mock)]
    findings = analyse(members, origins)
    # Five members, or four where an instance keeps its attributes inline (3.13).
    assert [group.size >= 4 for group in findings.groups] == [True]
    children_after = [dict(m._mock_children) for m in (function_mock.mock, instance_mock)]
    assert children_after == children_before
    assert all(type(key) is str for key in origins._cache)


def test_hypothesis_labels_of_fresh_strategies_pass_and_kept_draws_leak(
    leaky: pytest.Pytester,
) -> None:
    """hypothesis tags every strategy label it sees, in a module-level dict that no
    list of caches names; ``sampled_from`` labels itself by its elements' hashes, so
    sampling from objects made per example adds tags on every run, with the same
    examples too.  What the test tooling's module-level containers gain is theirs.
    A test that keeps what it drew, or leaks through the project, still leaks."""
    pytest.importorskip("hypothesis")
    if sys.version_info >= (3, 13):
        # Not yet explained: +186 B/run, at hypothesis's junkdrawer.py:386 (its
        # running total of gc time, a module-level float) and in a
        # WeakKeyDictionary's table (weakref.py:428) when the test makes a class.
        pytest.skip("on 3.13 the clean property test still keeps ~190 B per run")
    leaky.makepyfile(
        test_it="""
        from hypothesis import given, settings, strategies as st
        import leakylib

        KEPT = []

        @st.composite
        def factories(draw):
            cls = type("C", (), {"n": draw(st.integers(0, 3))})
            return draw(st.sampled_from([cls, lambda: [cls()], lambda: {"cls": cls()}]))

        @settings(max_examples=10, database=None, deadline=None)
        @given(factories())
        def test_recurse_property(factory):
            assert factory()

        @settings(max_examples=10, database=None, deadline=None)
        @given(factories())
        def test_keeps_what_it_drew(factory):
            KEPT.append(factory)

        @settings(max_examples=10, database=None, deadline=None)
        @given(factories())
        def test_leaks_through_the_project(factory):
            factory()
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_it.py::test_keeps_what_it_drew - *via test_it.KEPT*",
            "LEAKED test_it.py::test_leaks_through_the_project - *Thing*",
        ],
        consecutive=False,
    )
    assert "STRUCTURAL_COVERAGE_CACHE" not in result.stdout.str()


def test_what_a_test_puts_in_the_builtins_is_the_test_s(pytester: pytest.Pytester) -> None:
    """Every module of the tooling holds the builtins' namespace (``__builtins__``),
    but it is not the tooling's container: objects and strings a test keeps there
    leak.  A test that only reads builtins passes."""
    pytester.makepyfile(
        test_it="""
        import builtins
        import itertools

        builtins.refleak_kept = []
        COUNTER = itertools.count()

        class Thing:
            pass

        def test_keeps_objects_in_a_builtin_list():
            builtins.refleak_kept.append(Thing())

        def test_binds_new_builtin_names():
            setattr(builtins, f"refleak_name_{next(COUNTER)}", "x" * 2000 + str(next(COUNTER)))

        def test_reads_builtins():
            assert len(vars(builtins)) > 10 and builtins.len is len
        """
    )
    result = run(pytester, "--refleak", "--refleak-cycles=off", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        ["LEAKED test_it.py::test_keeps_objects_in_a_builtin_list - *Thing ×1 via builtins.*"]
    )
    result.stdout.fnmatch_lines(
        ["LEAKED test_it.py::test_binds_new_builtin_names - *KiB/run: held by builtins*"]
    )


def test_packages_installed_with_pytest_plugins_are_the_tooling_s() -> None:
    """hypothesis is installed with a pytest plugin: its modules' state is the test
    tooling's.  The project's own files are not, plugin project or not."""
    hypothesis = pytest.importorskip("hypothesis")
    from pytest_refleak.origins import Origins

    origins = Origins([], ["test_*.py"])
    assert origins.of_plugin(hypothesis.__file__)
    assert origins.of_plugin(pytest.__file__)
    assert not origins.of_plugin(re.__file__)
    assert not origins.of_plugin(mock.__file__)
    # A plugin's own project, its package installed in editable mode, is the project.
    package_dir = os.path.dirname(hypothesis.__file__)
    assert not Origins([package_dir], ["test_*.py"]).of_plugin(hypothesis.__file__)


#: Makes the bound's allowance nothing, so that every step it can cut is cut.
NO_ALLOWANCE = "import pytest_refleak.bound\npytest_refleak.bound.ALLOWANCE_SECONDS = 0.0\n"

BOUND_SUITE = """
import leakylib

def test_leaks_bytes():
    leakylib.cache_bytes(100)

def test_leaks_objects():
    leakylib.append_thing()

def test_clean():
    pass
"""


@pytest.mark.xfail(
    sys.version_info < (3, 11),
    reason="Python 3.10, in about one run of four inside the suite (never in twenty "
    "runs of the same files outside it): the 100-byte leak's untraced re-run reads no "
    "block growth and it is judged clean; the net block count hides a small untracked "
    "leak when something older is freed in the same run (docs/how-it-decides.md, limits)",
    strict=False,
)
def test_a_bound_reached_is_said_and_an_object_leak_still_fails(leaky: pytest.Pytester) -> None:
    """With the allowance spent, two re-runs are still made: a test that left more
    objects on both leaks, without allocation sites or holders, and its report says
    what the bound cut short.  A memory leak the untraced re-runs cannot decide is
    not checked, with the reason; a clean test is clean."""
    leaky.makeconftest(NO_ALLOWANCE)
    leaky.makepyfile(test_it=BOUND_SUITE)
    result = run(leaky, "--refleak", "--refleak-report=report.json", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "refleak: 1 new object left alive per run, on every one of 2 re-runs",
            "*Thing*",
            "  (checking stopped at its bound, 0 s of the plugin's own CPU time beyond the"
            " test's runs: stopped after 2 of * planned re-runs, before the traced one;"
            " what keeps it alive was not looked for)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= refleak =*",
            "LEAKED test_it.py::test_leaks_objects - 1 object/run*",
            "NOT CHECKED test_it.py::test_leaks_bytes - it left something behind on each"
            " of 2 re-runs, but checking stopped at its bound*",
            "1 test leaked, 1 not checked",
        ]
    )
    document = json.loads((leaky.path / "report.json").read_text())
    notes = {r["nodeid"].split("::")[1]: r["note"] for r in document["tests"]}
    assert "checking stopped at its bound" in notes["test_leaks_objects"]
    assert "checking stopped at its bound" in notes["test_leaks_bytes"]
    assert notes["test_clean"] is None


def test_within_the_bound_nothing_is_cut(leaky: pytest.Pytester) -> None:
    """The other side: with the allowance as shipped the same suite is checked in
    full, the memory leak included, and no report mentions the bound."""
    leaky.makepyfile(test_it=BOUND_SUITE)
    result = run(leaky, "--refleak", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*allocated at leakylib.py:*", "*= refleak =*", "2 tests leaked"])
    assert "checking stopped at its bound" not in result.stdout.str()


def test_the_bound_counts_the_plugin_s_time_not_the_test_s() -> None:
    """Time inside the test's own runs is not the plugin's; the note lists what was cut."""
    from pytest_refleak.bound import Bound

    now = [0.0]
    bound = Bound(allowance=1.0, clock=lambda: now[0])
    bound.test_starts()
    now[0] += 5.0
    bound.test_ends()
    assert not bound.reached()
    assert bound.note() is None
    now[0] += 1.0
    assert bound.reached()
    assert bound.left() == 0.0
    bound.cut.append("what keeps it alive was not looked for")
    assert bound.note() == (
        "checking stopped at its bound, 1 s of the plugin's own CPU time beyond the "
        "test's runs: what keeps it alive was not looked for"
    )
