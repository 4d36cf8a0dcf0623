"""``--refleak`` beside the plugins real suites use: each keeps working, and verdicts stay true.

Every test writes a small suite with one leaking test and clean tests beside the
plugin, runs it in a fresh process and checks both sides: the leak is caught, the
clean tests pass, and nothing is left unchecked.  The plugins come with the test
extras; nothing is installed at test time.
"""

from __future__ import annotations

import sys

import pytest
from conftest import needs_subtests, run, run_in_orders

#: The verdict line of a caught leak whose headline names the leaked object first.
LEAK_HEADLINE = "LEAKED {nodeid} - */run*: Thing ×*"


def assert_checked(result: pytest.RunResult, *, passed: int, leaked: list[str]) -> None:
    """``leaked`` failed as LEAKED naming the leaked object, the rest passed, none unchecked."""
    result.assert_outcomes(passed=passed, failed=len(leaked))
    for nodeid in leaked:
        result.stdout.fnmatch_lines([LEAK_HEADLINE.format(nodeid=nodeid)])
    result.stdout.no_fnmatch_line("NOT CHECKED *")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


# -- pytest-asyncio ------------------------------------------------------------------

ASYNC_SUITE = """
import asyncio
import pytest
import pytest_asyncio
import leakylib

pytestmark = pytest.mark.asyncio

@pytest_asyncio.fixture
async def connection():
    await asyncio.sleep(0)
    yield {"open": True}
    await asyncio.sleep(0)

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool():
    await asyncio.sleep(0)
    return [object() for _ in range(10)]

@pytest.fixture
def plain():
    return [1, 2, 3]

async def test_sleep():
    await asyncio.sleep(0)

async def test_gather():
    assert await asyncio.gather(asyncio.sleep(0, 1), asyncio.sleep(0, 2)) == [1, 2]

async def test_fixture(connection):
    assert connection["open"]

async def test_both(connection, plain):
    assert plain and connection

@pytest.mark.asyncio(loop_scope="module")
async def test_pool(pool):
    assert len(pool) == 10

async def test_task():
    task = asyncio.ensure_future(asyncio.sleep(0))
    await task

async def test_leak(connection):
    await asyncio.sleep(0)
    leakylib.append_thing()
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_pytest_asyncio(leaky: pytest.Pytester, mode: str) -> None:
    """Async tests and async fixtures under pytest-asyncio 1.x, strict and auto mode.

    Clean async tests pass; the async leak fails, with the leaked object named
    first rather than pytest-asyncio's fixture bookkeeping.
    """
    leaky.makeini(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )
    leaky.makepyfile(test_it=ASYNC_SUITE)
    result = run(leaky, "--refleak")
    assert_checked(result, passed=6, leaked=["test_it.py::test_leak"])


def test_anyio(leaky: pytest.Pytester) -> None:
    """anyio's pytest plugin: async tests on the asyncio backend are checked."""
    leaky.makepyfile(
        test_it="""
        import anyio
        import pytest
        import leakylib

        pytestmark = pytest.mark.anyio

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        async def test_sleep():
            await anyio.sleep(0)

        async def test_task_group():
            async with anyio.create_task_group() as group:
                group.start_soon(anyio.sleep, 0)

        async def test_leak():
            await anyio.sleep(0)
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "-p", "no:asyncio")
    assert_checked(result, passed=2, leaked=["test_it.py::test_leak"])


# -- hypothesis ----------------------------------------------------------------------

HYPOTHESIS_PLAIN = """
from hypothesis import given, strategies as st
import leakylib

@given(st.integers())
def test_integers(x):
    assert x + 0 == x

@given(st.lists(st.integers()))
def test_lists(xs):
    assert sorted(sorted(xs)) == sorted(xs)

@given(st.text())
def test_text(s):
    assert s.encode("utf-8").decode("utf-8") == s

@given(st.integers())
def test_leak(x):
    leakylib.append_thing()
"""

HYPOTHESIS_TESTCASE = """
import unittest
from hypothesis import given, strategies as st
import leakylib

class TestProperties(unittest.TestCase):
    @given(st.integers())
    def test_integers(self, x):
        self.assertEqual(x + 0, x)

    @given(st.lists(st.integers()))
    def test_lists(self, xs):
        self.assertEqual(sorted(sorted(xs)), sorted(xs))

    @given(st.integers())
    def test_leak(self, x):
        leakylib.append_thing()
"""

HYPOTHESIS_PARAMETRIZED = """
import pytest
from hypothesis import given, strategies as st
import leakylib

@pytest.mark.parametrize("offset", [0, 1, 2])
@given(st.integers())
def test_integers(offset, x):
    assert x + offset - offset == x

@pytest.mark.parametrize("offset", [0])
@given(st.integers())
def test_leak(offset, x):
    leakylib.append_thing()
"""


#: Rule-based state machines, run as their ``TestCase``: one clean, one keeping a
#: record per step in the project's list.  ``MACHINES`` counts the programs run.
HYPOTHESIS_STATEFUL = """
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule
import leakylib

MACHINES = []

@settings(max_examples=100, stateful_step_count=5)
class Counter(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        MACHINES.append(None)
        self.total = 0

    @rule(n=st.integers())
    def add(self, n):
        self.total += n

@settings(max_examples=100, stateful_step_count=5)
class Recorder(RuleBasedStateMachine):
    @rule(n=st.integers())
    def record(self, n):
        leakylib.append_thing()

RUNS = []

class TestCounter(Counter.TestCase):
    # A subclass: it inherits the machine's settings, as suites often do.
    def tearDown(self):
        RUNS.append(len(MACHINES))

TestRecorder = Recorder.TestCase

def test_programs_run():
    # Last: the real run searched 100 programs; each re-run of TestCounter
    # replays a few, not another 100.
    added = [b - a for a, b in zip([0, *RUNS], RUNS)]
    assert len(added) > 1 and added[0] > 10 and max(added[1:]) <= 10, added
    assert "settings" not in vars(TestCounter)
"""


@pytest.mark.parametrize(
    ("suite", "passed", "leak"),
    [
        pytest.param(HYPOTHESIS_PLAIN, 3, "test_it.py::test_leak", id="plain"),
        pytest.param(
            HYPOTHESIS_STATEFUL, 2, "test_it.py::TestRecorder::runTest", id="stateful"
        ),
        pytest.param(
            HYPOTHESIS_TESTCASE, 2, "test_it.py::TestProperties::test_leak", id="unittest"
        ),
        # hypothesis's pytest plugin wraps a parametrized test's settings in one more
        # layer on every run of an item: not the test's leak.
        pytest.param(
            HYPOTHESIS_PARAMETRIZED, 3, "test_it.py::test_leak[[]0[]]", id="parametrized"
        ),
    ],
)
def test_hypothesis(leaky: pytest.Pytester, suite: str, passed: int, leak: str) -> None:
    """``@given`` tests, plain and on ``unittest.TestCase``, and rule-based state
    machines: clean ones pass, the leak fails.

    Re-runs replay examples rather than searching afresh, so no health check
    (``differing_executors``, ``too_slow``) leaves a test unchecked, and a state
    machine's re-run runs a few programs, not a search of a hundred (pyrsistent's
    suite: 3 s a re-run, 240 s for one test file).
    """
    leaky.makepyfile(test_it=suite)
    result = run(leaky, "--refleak")
    assert_checked(result, passed=passed, leaked=[leak])


# -- pytest-rerunfailures ------------------------------------------------------------

RERUN_SUITE = """
import pytest
import leakylib

attempts = {{}}

def first_attempt(name):
    attempts[name] = attempts.get(name, 0) + 1
    return attempts[name] == 1

{mark}
def test_flaky():
    assert not first_attempt("flaky"), "fails on its first attempt only"

{mark}
def test_flaky_leak():
    assert not first_attempt("flaky_leak"), "fails on its first attempt only"
    leakylib.append_thing()

{mark}
def test_leak_on_failing_attempt_only():
    if first_attempt("failing_attempt"):
        leakylib.append_thing()
        raise AssertionError("fails on its first attempt only")

def test_ok():
    pass

def test_leak():
    leakylib.append_thing()
"""


@pytest.mark.parametrize("how", ["option", "marker"])
def test_pytest_rerunfailures(leaky: pytest.Pytester, how: str) -> None:
    """``--reruns`` and ``@pytest.mark.flaky`` work as they do without ``--refleak``.

    A flaky test that passes on its second attempt passes, and the leak check
    applies to the attempt that passed; pytest-rerunfailures' own records are
    not the test's.
    """
    mark = "@pytest.mark.flaky(reruns=2)" if how == "marker" else ""
    leaky.makepyfile(test_it=RERUN_SUITE.format(mark=mark))
    args = ["--reruns", "2"] if how == "option" else []
    result = run(leaky, "--refleak", *args)
    assert_checked(
        result,
        passed=3,
        leaked=["test_it.py::test_flaky_leak", "test_it.py::test_leak"],
    )
    assert result.parseoutcomes().get("rerun") == 3
    result.stdout.no_fnmatch_line("*pytest_rerunfailures.py*")


def test_rerunfailures_installed_adds_nothing_to_reports(leaky: pytest.Pytester) -> None:
    """With pytest-rerunfailures merely installed, a leak's report holds only the leak."""
    leaky.makepyfile(test_it="import leakylib\ndef test_leak():\n    leakylib.append_thing()\n")
    result = run(leaky, "--refleak")
    assert_checked(result, passed=0, leaked=["test_it.py::test_leak"])
    result.stdout.no_fnmatch_line("*pytest_rerunfailures.py*")


# -- pytest-timeout ------------------------------------------------------------------

TIMEOUT_SUITE = """
import time
import leakylib

def test_before():
    pass

def test_slow_leak():
    time.sleep(1.5)
    leakylib.append_thing()

def test_after():
    pass
"""


@pytest.mark.parametrize("method", ["signal", "thread"])
def test_pytest_timeout(leaky: pytest.Pytester, method: str) -> None:
    """``--timeout`` limits each run of a test, not the plugin's re-runs together.

    A 1.5 s leaking test under ``--timeout=4`` is LEAKED, not left unchecked, and
    the run goes on to the next test.
    """
    leaky.makepyfile(test_it=TIMEOUT_SUITE)
    result = run(leaky, "--refleak", "--timeout=4", f"--timeout-method={method}")
    assert_checked(result, passed=2, leaked=["test_it.py::test_slow_leak"])


def test_pytest_timeout_still_stops_a_hanging_test(leaky: pytest.Pytester) -> None:
    """A test that overruns its limit on its real run still fails as a timeout."""
    leaky.makepyfile(
        test_it="import time\ndef test_hangs():\n    time.sleep(30)\n"
        "def test_after():\n    pass\n"
    )
    result = run(leaky, "--refleak", "--timeout=1")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Timeout*"])


# -- pytest-benchmark ----------------------------------------------------------------


def _benchmarks_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-benchmark turns itself off in what looks like an xdist worker: this
    suite's own workers would pass that on to a run through the environment."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


def test_pytest_benchmark(leaky: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """What pytest-benchmark records for its own report is not the benchmarked test's."""
    _benchmarks_on(monkeypatch)
    leaky.makepyfile(
        test_it="""
        import leakylib

        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

        def test_fib(benchmark):
            assert benchmark(fib, 10) == 55

        def test_pedantic(benchmark):
            benchmark.pedantic(fib, args=(8,), rounds=3, iterations=2)

        def test_plain():
            assert fib(5) == 5

        def test_leak(benchmark):
            benchmark.pedantic(leakylib.append_thing, rounds=2)
        """
    )
    result = run(leaky, "--refleak", "--benchmark-max-time=0.01")
    assert_checked(result, passed=3, leaked=["test_it.py::test_leak"])


def test_pytest_benchmark_re_runs_call_the_function_once(
    leaky: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real run benchmarks; a re-run calls the benchmarked function once and
    records nothing, so that a benchmark test costs one benchmark.  A leak in the
    benchmarked function still grows on every re-run, and the benchmark table
    still shows every test's real run."""
    _benchmarks_on(monkeypatch)
    leaky.makeconftest(
        """
        import test_it

        def pytest_sessionfinish(session):
            print("calls of the clean function:", test_it.CALLS[0])
        """
    )
    leaky.makepyfile(
        test_it="""
        import leakylib

        CALLS = [0]

        def work():
            CALLS[0] += 1
            return sum(range(100))

        def test_clean(benchmark):
            benchmark.pedantic(work, rounds=50, iterations=1)

        def test_leak(benchmark):
            benchmark.pedantic(leakylib.append_thing, rounds=50, iterations=1)
        """
    )
    result = run(leaky, "--refleak", "-s")
    assert_checked(result, passed=1, leaked=["test_it.py::test_leak"])
    result.stdout.fnmatch_lines(["*test_leak - 1 object/run*Thing*"])
    # 50 in the real run, then one per re-run: at most a few re-runs for a clean test.
    calls = int(result.stdout.str().split("calls of the clean function: ")[1].split()[0])
    assert 51 <= calls <= 54, result.stdout.str()
    result.stdout.fnmatch_lines(["*benchmark: 2 tests*", "*test_clean*", "*test_leak*"])


# -- coverage ------------------------------------------------------------------------

COVERAGE_SUITE = """
import leakylib

def test_ok():
    assert 1

def test_thing():
    assert leakylib.Thing(3).n == 3

def test_compute():
    assert sorted({n % 7 for n in range(100)}) == list(range(7))

def test_leak():
    leakylib.append_thing()
"""


@pytest.mark.parametrize(
    "core",
    [
        "ctrace",
        pytest.param(
            "sysmon",
            marks=pytest.mark.skipif(
                sys.version_info < (3, 12), reason="sys.monitoring is Python 3.12's"
            ),
        ),
        "pytrace",
    ],
)
def test_coverage(leaky: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, core: str) -> None:
    """Under pytest-cov, with each of coverage's measuring cores, verdicts are as without
    it, and so is the report: what coverage's tracer keeps (under ``sysmon`` a record
    per code object it sees run, the plugin's own code in a traced re-run among them)
    is the tracer's, not the test's."""
    monkeypatch.setenv("COVERAGE_CORE", core)
    leaky.makepyfile(test_it=COVERAGE_SUITE)
    result = run(leaky, "--refleak", "--cov=leakylib", "--cov-report=")
    assert_checked(result, passed=3, leaked=["test_it.py::test_leak"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_leak - 1 object/run*: Thing ×1 via*"])
    assert "coverage/" not in result.stdout.str()
    assert "coverage.collector" not in result.stdout.str()


# -- doctests ------------------------------------------------------------------------


def test_doctest_modules(leaky: pytest.Pytester) -> None:
    """Doctests are checked: a leaking one fails, clean ones pass, none is left unchecked."""
    leaky.makepyfile(
        shapes='''
        import leakylib

        def area(width, height):
            """
            >>> area(2, 3)
            6
            >>> sizes = [area(n, n) for n in range(3)]
            >>> sizes
            [0, 1, 4]
            """
            return width * height

        def register():
            """
            >>> register()
            >>> len(leakylib._registry) > 0
            True
            """
            leakylib.append_thing()
        '''
    )
    result = run(leaky, "--refleak", "--doctest-modules", "shapes.py")
    assert_checked(result, passed=1, leaked=["shapes.py::shapes.register"])


def test_doctest_keeping_a_string_below_a_displayed_result(pytester: pytest.Pytester) -> None:
    """A doctest example ``audited(text)[:9]`` displays a slice made at the example's
    line, which the doctest machinery keeps; the audit line that ``audited`` keeps
    is made in a call from that same line, but it is not the slice's memory: the
    doctest leaks, in file order and shuffled.  The same function keeping nothing
    passes."""
    pytester.makepyfile(
        docs='''
        _AUDIT = []

        def normalize(text):
            """
            >>> normalize("A  b")
            'a b'
            """
            return " ".join(text.split()).lower()

        def audited(text):
            """
            >>> audited("Fish " * 300)[:9]
            'fish fish'
            """
            result = normalize(text)
            _AUDIT.append(f"normalize({text!r}) -> {result!r}")
            return result

        def unaudited(text):
            """
            >>> unaudited("Fish " * 300)[:9]
            'fish fish'
            """
            result = normalize(text)
            line = f"normalize({text!r}) -> {result!r}"
            return result
        '''
    )
    for result in run_in_orders(
        pytester, "--refleak", "--doctest-modules", "docs.py", seeds=("1", "2")
    ):
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines(["LEAKED docs.py::docs.audited - *KiB/run*docs._AUDIT*"])


# -- plugins that already work, and must keep working ----------------------------------

PLAIN_SUITE = """
import leakylib

def test_first():
    pass

def test_leak():
    leakylib.append_thing()

def test_thing():
    assert leakylib.Thing(3).n == 3

def test_last():
    assert [n * 2 for n in range(10)]
"""


def test_pytest_xdist(leaky: pytest.Pytester) -> None:
    """Under pytest-xdist the workers check, and the controller reports."""
    leaky.makepyfile(test_it=PLAIN_SUITE)
    result = run(leaky, "--refleak", "-n", "2")
    assert_checked(result, passed=3, leaked=["test_it.py::test_leak"])


@pytest.mark.parametrize("seed", ["1", "2"])
def test_pytest_randomly(leaky: pytest.Pytester, seed: str) -> None:
    """pytest-randomly's shuffled order and reseeding change no verdict."""
    leaky.makepyfile(test_it=PLAIN_SUITE)
    result = run(leaky, "--refleak", f"--randomly-seed={seed}", randomly=True)
    assert_checked(result, passed=3, leaked=["test_it.py::test_leak"])
    result.stdout.fnmatch_lines([f"Using --randomly-seed={seed}"])


def test_unittest(leaky: pytest.Pytester) -> None:
    """unittest.TestCase methods, with setUp and tearDown, are checked."""
    leaky.makepyfile(
        test_it="""
        import unittest
        import leakylib

        class TestThings(unittest.TestCase):
            def setUp(self):
                self.items = [1, 2, 3]

            def tearDown(self):
                del self.items

            def test_ok(self):
                self.assertEqual(len(self.items), 3)

            def test_leak(self):
                leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak")
    assert_checked(result, passed=1, leaked=["test_it.py::TestThings::test_leak"])


@needs_subtests
def test_subtests(leaky: pytest.Pytester) -> None:
    """pytest 9's subtests: a test with subtests is checked once, as one test."""
    leaky.makepyfile(
        test_it="""
        import leakylib

        def test_ok(subtests):
            for n in range(3):
                with subtests.test(n=n):
                    assert n < 3

        def test_leak(subtests):
            with subtests.test(msg="leaks"):
                leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak")
    result.stdout.fnmatch_lines([LEAK_HEADLINE.format(nodeid="test_it.py::test_leak")])
    result.stdout.no_fnmatch_line("NOT CHECKED *")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_plugin_objects_are_tooling_plugin_modules_are_code(leaky: pytest.Pytester) -> None:
    """What a plugin object registered with pytest keeps is the tooling's records; what a
    conftest module keeps is the project's, like any module's."""
    leaky.makeconftest(
        """
        import pytest
        import leakylib

        kept_by_conftest = []

        class Recorder:
            def __init__(self):
                self.records = []

        def pytest_configure(config):
            config.pluginmanager.register(Recorder(), "recorder")

        @pytest.fixture
        def recorded(pytestconfig):
            pytestconfig.pluginmanager.get_plugin("recorder").records.append(leakylib.Thing())

        @pytest.fixture
        def remembered():
            kept_by_conftest.append(leakylib.Thing())
        """
    )
    leaky.makepyfile(
        test_it="def test_recorded(recorded):\n    pass\n"
        "def test_leak(remembered):\n    pass\n"
    )
    result = run(leaky, "--refleak")
    assert_checked(result, passed=1, leaked=["test_it.py::test_leak"])
