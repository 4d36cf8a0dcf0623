"""Harmless growth and pytest's own records must not fail a test."""

from __future__ import annotations

import sys

import pytest
from conftest import needs_subtests, run, run_in_orders

HARMLESS = {
    "first-import": "import colorsys\n    colorsys.rgb_to_hsv(1, 0, 0)",
    "regex-cache": "import re\n    re.compile(r'ab+c\\d{2,}').match('abbc12')",
    "bounded-lru-cache": "import functools\n    @functools.lru_cache(maxsize=8)\n"
    "    def f(x):\n        return [x]\n    f(1)\n    f(2)",
    "typing-and-abc-caches": "import typing, collections.abc\n    typing.List[int]\n"
    "    isinstance({}, collections.abc.Mapping)",
    "getlogger-fixed-name": "import logging\n    logging.getLogger('app.fixed').info('x')",
    "first-strptime": "import datetime\n    datetime.datetime.strptime('2024-02-03', '%Y-%m-%d')",
    "pytest-warns": "import pytest, warnings\n    with pytest.warns(UserWarning):\n"
    "        warnings.warn('careful', UserWarning)",
    "warning-emitted": "import warnings\n    warnings.warn('careful', DeprecationWarning)",
    "asyncio-run": "import asyncio\n    async def main():\n        await asyncio.sleep(0)\n"
    "        return 1\n    assert asyncio.run(main()) == 1",
    "thread-started-and-joined": "import threading\n    t = threading.Thread(target=lambda: None)\n"
    "    t.start()\n    t.join()",
    "decimal-localcontext": "import decimal\n    with decimal.localcontext() as ctx:\n"
    "        ctx.prec = 5\n        decimal.Decimal(1) / 3",
    "big-temporary": "data = [0] * 2_000_000\n    del data",
    "gc-disable-enable": "import gc\n    gc.disable()\n    gc.enable()",
    "print-output": "print('hello ' * 200)",
}


@pytest.mark.parametrize("body", list(HARMLESS.values()), ids=list(HARMLESS))
def test_harmless_growth_passes(pytester: pytest.Pytester, body: str) -> None:
    """Caches that fill once, first imports and freed temporaries are not leaks."""
    pytester.makepyfile(
        test_it=f"def test_before():\n    pass\ndef test_it():\n    {body}\n"
        "def test_after():\n    pass\n"
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize(
    "test",
    [
        "def test_it(tmp_path):\n    (tmp_path / 'f').write_text('x')",
        "def test_it(capsys):\n    print('x')\n    assert capsys.readouterr().out == 'x\\n'",
        "import logging\ndef test_it(caplog):\n    logging.getLogger('y').warning('w')\n"
        "    assert caplog.records",
        "def test_it(monkeypatch):\n    monkeypatch.setattr('os.sep', '/')\n"
        "    monkeypatch.setenv('REFLEAK_X', '1')",
        "def test_it(record_property):\n    record_property('answer', 42)",
    ],
    ids=["tmp_path", "capsys", "caplog", "monkeypatch", "record_property"],
)
def test_builtin_fixtures_pass(pytester: pytest.Pytester, test: str) -> None:
    """pytest's builtin fixtures keep what they keep for pytest, not for the test."""
    pytester.makepyfile(test_it=f"{test}\ndef test_after():\n    pass\n")
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=2)


def test_wider_scoped_fixtures_made_by_first_test_pass(pytester: pytest.Pytester) -> None:
    """Module and session fixtures are created by the first test that asks for them."""
    pytester.makepyfile(
        test_it="""
        import pytest
        @pytest.fixture(scope="session")
        def database():
            return {"rows": [object() for _ in range(100)]}
        @pytest.fixture(scope="module")
        def client(database):
            yield [database, bytes(bytearray(5000))]
        def test_first(client):
            pass
        def test_second(client):
            pass
        def test_last(client):
            pass
        """
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=3)


def test_fixture_whose_teardown_clears_passes(pytester: pytest.Pytester) -> None:
    """What a test puts into a fixture that its teardown clears is not a leak."""
    pytester.makepyfile(
        test_it="""
        import pytest
        _shared = []
        @pytest.fixture
        def bucket():
            yield _shared
            _shared.clear()
        def test_it(bucket):
            bucket.append(object())
            bucket.append(bytes(bytearray(1000)))
        """
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=1)


def test_skipped_xfailed_and_failed_tests_are_not_checked(pytester: pytest.Pytester) -> None:
    """Only passing tests are leak-checked; a failure is reported as itself."""
    pytester.makepyfile(
        test_it="""
        import pytest
        _kept = []
        @pytest.mark.skip(reason="not today")
        def test_skipped():
            _kept.append(object())
        @pytest.mark.xfail(reason="known")
        def test_xfailed():
            _kept.append(object())
            assert False
        def test_failed():
            _kept.append(object())
            assert False
        def test_after_failure():
            pass
        """
    )
    result = run(pytester, "--refleak", "-rA")
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["FAILED test_it.py::test_failed - assert False"])
    result.stdout.no_fnmatch_line("*LEAKED*")


def test_pytest_records_are_not_leaks(pytester: pytest.Pytester) -> None:
    """Reports, captured output, logs and JUnit XML data are pytest's, not the test's."""
    pytester.makepyfile(
        test_it="""
        import logging, sys, pytest
        @pytest.mark.parametrize("n", range(5))
        def test_it(n, record_property):
            print("out " * 100)
            sys.stderr.write("err " * 100)
            logging.getLogger("noisy").warning("message %s", n)
            record_property("n", n)
        """
    )
    result = run(pytester, "--refleak", f"--junitxml={pytester.path / 'junit.xml'}")
    result.assert_outcomes(passed=5)


def test_many_tests_pass_without_reruns_piling_up(pytester: pytest.Pytester) -> None:
    """A long run of clean tests stays clean (no drift from one test to the next)."""
    pytester.makepyfile(
        test_it="""
        import pytest, json
        @pytest.mark.parametrize("n", range(60))
        def test_it(n):
            assert json.loads(json.dumps({"n": n}))["n"] == n
        """
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=60)


def test_cache_warming_over_several_calls_passes(pytester: pytest.Pytester) -> None:
    """Growth that shrinks call after call and then stops is warming up, not leaking.

    Each call keeps fewer new objects than the one before, until none: more
    calls than the planned re-runs are needed to see it stop.
    """
    pytester.makepyfile(
        test_it="""
        WARM = []
        def test_it():
            calls = len(WARM)
            WARM.append([object() for _ in range(max(0, 24 - 6 * calls))])
            if calls > 5:
                WARM.pop()
        """
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=1)


def test_a_cache_filled_over_its_first_calls_passes(pytester: pytest.Pytester) -> None:
    """A cache keyed by four names used in turn gains one entry on each of its first
    four calls, as much each time as a leak would, and then none: it passes, in any
    order, as does a table of five strings; their twins that key by a new name on
    every call leak."""
    pytester.makepyfile(
        test_it="""
        import itertools
        class Dialect:
            def __init__(self, name):
                self.name = name
        _dialect_turn = itertools.count()
        _charset_turn = itertools.count()
        _fresh = itertools.count()
        DIALECTS = {}
        CHARSETS = {}
        def dialect(name):
            found = DIALECTS.get(name)
            if found is None:
                found = DIALECTS[name] = Dialect(name)
            return found
        def charset(alias):
            return CHARSETS.setdefault(alias, alias.lower().replace("_", "-"))
        def test_four_dialects_in_turn():
            dialect(("excel", "tab", "unix", "pipe")[next(_dialect_turn) % 4])
        def test_five_charsets_in_turn():
            charset(("UTF_8", "Latin_1", "ASCII", "UTF_16", "CP_1252")[next(_charset_turn) % 5])
        def test_a_new_dialect_every_call():
            dialect(f"dialect-{next(_fresh)}")
        def test_a_new_charset_every_call():
            charset(f"CHARSET_{next(_fresh)}")
        """
    )
    for result in run_in_orders(pytester, "--refleak", seeds=("1", "2")):
        result.assert_outcomes(passed=2, failed=2)
        result.stdout.fnmatch_lines_random(
            [
                "LEAKED test_it.py::test_a_new_dialect_every_call - *Dialect*",
                "LEAKED test_it.py::test_a_new_charset_every_call - *",
            ]
        )


def test_paths_never_seen_before_pass(pytester: pytest.Pytester) -> None:
    """Making paths with new names on every call is not a leak.

    On Python 3.12 pathlib interns every part, and interned strings live forever:
    the interpreter's growth, not the test's.
    """
    pytester.makepyfile(
        test_it="""
        import itertools, pathlib
        counter = itertools.count()
        def test_it(tmp_path):
            target = tmp_path / f"part-{next(counter)}" / "file.txt"
            target.parent.mkdir()
            target.write_text("x")
        def test_after():
            pass
        """
    )
    run(pytester, "--refleak").assert_outcomes(passed=2)


@needs_subtests
def test_subtests_pass_and_are_reported_once(pytester: pytest.Pytester) -> None:
    """Subtest reports are pytest's records, and re-runs do not report them again."""
    pytester.makepyfile(
        test_it="""
        import unittest
        def test_with_subtests(subtests):
            for i in range(50):
                with subtests.test(i=i):
                    print("output " * 20)
                    assert i >= 0
        class TestCase(unittest.TestCase):
            def test_with_subtest(self):
                for i in range(50):
                    with self.subTest(i=i):
                        self.assertGreaterEqual(i, 0)
        """
    )
    # Leaky enough to be re-run, and then cleared: the harmless case goes the long way.
    result = run(pytester, "--refleak", "--refleak-runs=3", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*= 2 passed, 100 subtests passed in *"])
    result.stdout.no_fnmatch_line("*LEAKED*")


@needs_subtests
def test_failing_subtest_is_a_failure_not_a_leak(pytester: pytest.Pytester) -> None:
    """A failed subtest fails its test as usual, which is then not leak-checked."""
    pytester.makepyfile(
        test_it="""
        _kept = []
        def test_with_subtests(subtests):
            for i in range(3):
                with subtests.test(i=i):
                    _kept.append(object())
                    assert i != 1
        """
    )
    result = run(pytester, "--refleak")
    result.stdout.fnmatch_lines(
        [
            "SUBFAILED(i=1) test_it.py::test_with_subtests - assert 1 != 1",
            "FAILED test_it.py::test_with_subtests - contains 1 failed subtest",
        ]
    )
    result.stdout.no_fnmatch_line("*LEAKED*")


#: Put at the top of a test module: imports module ``name`` with ``source`` from a
#: new directory or zip archive ``where``, and forgets it again.
IMPORT_FRESH = """
        import importlib, sys, zipfile

        def import_fresh(where, source, archive=False, name="fresh_module"):
            if archive:
                where = where.with_suffix(".zip")
                with zipfile.ZipFile(where, "w") as zipped:
                    zipped.writestr(name + ".py", source)
            else:
                where.mkdir(exist_ok=True)
                (where / (name + ".py")).write_text(source)
            sys.path.insert(0, str(where))
            try:
                return importlib.import_module(name).VALUE
            finally:
                sys.path.remove(str(where))
                sys.modules.pop(name, None)
"""


def test_imports_from_fresh_paths_pass(leaky: pytest.Pytester) -> None:
    """Importing from a new directory or zip archive on every run fills the import
    system's caches of finders, one entry per path, as CPython's own leak hunting
    allows for; a leak in the same test is still found."""
    leaky.makepyfile(
        test_it=IMPORT_FRESH
        + """
        import pytest, leakylib

        def import_fresh_module(tmp_path, archive):
            assert import_fresh(tmp_path / "modules", "VALUE = 1\\n", archive) == 1

        @pytest.mark.parametrize("archive", [False, True], ids=["directory", "zip"])
        def test_imports(tmp_path, archive):
            import_fresh_module(tmp_path, archive)

        def test_imports_and_leaks(tmp_path):
            import_fresh_module(tmp_path, True)
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_it.py::test_imports_and_leaks - 1 object/run, * Thing ×1 via leakylib._registry"
        ]
    )


def test_importing_fresh_module_names_passes(leaky: pytest.Pytester) -> None:
    """pytest's assertion rewriting hook remembers every module name it was asked
    about; code that generates modules under fresh names (a template compiler, say)
    adds one on every run.  That is pytest's memory; a leak in the same test is
    still found."""
    leaky.makepyfile(
        test_it=IMPORT_FRESH
        + """
        import itertools
        import leakylib

        numbers = itertools.count()

        def import_fresh_name(tmp_path):
            name = "generated_%d_%s" % (next(numbers), "x" * 200)
            assert import_fresh(tmp_path, "VALUE = 1\\n", name=name) == 1

        def test_imports(tmp_path):
            import_fresh_name(tmp_path)

        def test_imports_and_leaks(tmp_path):
            import_fresh_name(tmp_path)
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_it.py::test_imports_and_leaks - 1 object/run, * Thing ×1 via leakylib._registry"
        ]
    )


def test_running_code_imported_from_fresh_files_passes(leaky: pytest.Pytester) -> None:
    """Code imported from a new file on every run (templates compiled to a temporary
    directory or archive) leaves its file name with tracemalloc while a re-run traces:
    that is the tracing's memory.  A leak in the same test is still found."""
    leaky.makepyfile(
        test_it=IMPORT_FRESH
        + """
        import itertools
        import pytest, leakylib

        numbers = itertools.count()
        warming = {}  # fills over a test's first two calls, so that it is re-run

        def run_fresh_code(tmp_path, archive):
            calls = warming.setdefault(archive, [])
            if len(calls) < 2:
                calls.append(object())
            where = tmp_path / ("fresh_%d" % next(numbers))
            source = "VALUE = [str(i) for i in range(3)]\\n"
            assert import_fresh(where, source, bool(archive)) == ["0", "1", "2"]

        @pytest.mark.parametrize("archive", [False, True], ids=["directory", "zip"])
        def test_runs_fresh_code(tmp_path, archive):
            run_fresh_code(tmp_path, archive)

        def test_runs_fresh_code_and_leaks(tmp_path):
            run_fresh_code(tmp_path, None)
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["LEAKED test_it.py::test_runs_fresh_code_and_leaks - 1 object/run, * Thing ×1 via *"]
    )


def test_bounded_lru_caches_of_the_project_pass(leaky: pytest.Pytester) -> None:
    """A project's ``lru_cache(maxsize=...)``, on a function or on a method, fills up to
    its size and no further: what it keeps is no leak, even when every run adds an
    entry (a method called on a fresh instance).  The same cache unbounded keeps
    every instance, and leaks."""
    leaky.makepyfile(
        cachedlib="""
        import functools

        class Shape:
            def __init__(self, n):
                self.n = n

            @functools.lru_cache(maxsize=512)
            def area(self):
                return [self.n] * 3

        @functools.lru_cache(maxsize=512)
        def build(n):
            return Shape(n)

        _registry = {"x": []}

        class Holder:
            def __init__(self, items):
                self.items = items

        @functools.lru_cache(maxsize=512)
        def holder(name):
            return Holder(_registry[name])

        def registered(name):
            return holder(name).items

        class Unbounded:
            @functools.lru_cache(maxsize=None)
            def area(self):
                return [1] * 3
        """,
        test_it="""
        import pytest, cachedlib, leakylib

        def test_cached_and_leaks_through_it():
            # What the cached object refers to is not the cache's: a list it shares
            # with the module, grown on every call, still leaks.
            cachedlib.registered("x").append(object())

        @pytest.mark.parametrize("n", range(20))
        def test_build(n):
            assert cachedlib.build(n).n == n

        @pytest.mark.parametrize("n", range(20))
        def test_method(n):
            assert cachedlib.Shape(n).area() == [n] * 3

        def test_unbounded():
            assert cachedlib.Unbounded().area() == [1] * 3

        def test_cached_and_leaks_memory():
            assert cachedlib.build(100).n == 100
            leakylib.append_big_int()
        """,
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-v")
    result.assert_outcomes(passed=40, failed=3)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_unbounded - *Unbounded*"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_cached_and_leaks_memory - *"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_cached_and_leaks_through_it - *"])


def test_a_big_structure_swapped_for_a_fresh_one_passes(pytester: pytest.Pytester) -> None:
    """A test that makes the project load a fresh copy of a big structure (a zone
    database) swaps thousands of objects on every run: its first re-run's new
    objects took no block and say nothing either way.  It passes; a test that
    swaps it and also keeps an object leaks, and the report names what it kept,
    not what it swapped."""
    pytester.makepyfile(
        zonedb="""
        class Zone:
            def __init__(self, n):
                self.n = n
                self.rules = [n, str(n)]

        _db = None
        KEPT = []

        def database(fresh=False):
            global _db
            if fresh or _db is None:
                _db = {n: Zone(n) for n in range(3000)}
            return _db
        """,
        test_it="""
        import zonedb

        def test_fresh_instance():
            first = zonedb.database()
            assert zonedb.database(fresh=True) is not first

        def test_fresh_instance_and_a_kept_zone():
            zonedb.database(fresh=True)
            zonedb.KEPT.append(zonedb.Zone(-1))
        """,
    )
    result = run(pytester, "--refleak", "--refleak-report=report.json")
    result.assert_outcomes(passed=1, failed=1)
    # The kept object and its memory, net of the 6,001 swapped ones and theirs.
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_it.py::test_fresh_instance_and_a_kept_zone - * objects/run, +* B/run: Zone ×1*"
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "    Zone  ×1 * e.g. <zonedb.Zone object at *>",
            "*allocated at test_it.py:9",
            "    (and * new objects in place of as many the run before left: swapped, not kept)",
        ]
    )


def test_instances_of_a_reloaded_modules_classes_replace_the_old_ones(
    pytester: pytest.Pytester,
) -> None:
    """A reload makes the module's classes anew: the instances its body makes are of
    a class that did not exist before, and take the place of the old class's, which
    died with the old module's namespace.  Replaced, not kept: the test passes.  A
    test that reloads it and keeps an instance elsewhere still leaks, named by it."""
    pytester.makepyfile(
        schema="""
        import dataclasses, enum

        class Status(enum.Enum):
            PLACED = 1
            SHIPPED = 2

        @dataclasses.dataclass
        class Line:
            sku: str
            status: Status

        DEFAULT = Line("SKU-0", Status.PLACED)
        """,
        keep="KEPT = []\n",
        test_it="""
        import importlib
        import keep, schema

        def test_reload():
            module = importlib.reload(schema)
            assert module.DEFAULT.status is module.Status.PLACED

        def test_reload_and_keep_a_line():
            module = importlib.reload(schema)
            keep.KEPT.append(module.Line("SKU-1", module.Status.SHIPPED))
        """,
    )
    for result in run_in_orders(pytester, "--refleak", seeds=("2",)):
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            ["LEAKED test_it.py::test_reload_and_keep_a_line - * objects/run*: Line ×1*"]
        )


def test_keeping_only_the_latest_passes(leaky: pytest.Pytester) -> None:
    """Code that keeps only its latest object leaves a new object alive on every run, but
    the previous one is let go and the heap does not grow; keeping them all leaks."""
    leaky.makepyfile(
        test_it="""
        import leakylib

        class Session:
            latest = None

        def test_keeps_latest():
            Session.latest = leakylib.Thing()

        def test_keeps_all():
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_all - *"])


def test_tracebacks_kept_in_a_local_pass(leaky: pytest.Pytester) -> None:
    """A caught exception kept in a local holds the test's frame in a cycle until the
    collector frees it; meanwhile Python 3.11+ makes frame objects for every caller
    up the stack, the measuring code's own included.  Those are not the test's: such
    tests pass.  A test that also leaks is still caught."""
    leaky.makepyfile(
        test_it="""
        import pytest
        import sys
        import leakylib

        def fail(n):
            local = [n]
            raise KeyError(n)

        @pytest.mark.parametrize("n", range(20))
        def test_keeps_traceback(n):
            try:
                fail(n)
            except KeyError:
                tb = sys.exc_info()[2]
            assert tb.tb_next.tb_frame.f_locals["local"] == [n]

        def test_keeps_traceback_and_leaks():
            try:
                fail(0)
            except KeyError:
                tb = sys.exc_info()[2]
            assert tb is not None
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-v")
    result.assert_outcomes(passed=20, failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_traceback_and_leaks - *"])


def test_fixture_values_held_by_a_caught_exception_pass(leaky: pytest.Pytester) -> None:
    """pytest drops a test's fixture values after teardown, but a traceback kept in the
    test's frame keeps pytest's calling frame, and with it the values, until the
    collector frees that cycle.  They are still pytest's to drop.  A test that also
    leaks is still caught."""
    leaky.makepyfile(
        test_it="""
        import pytest
        import leakylib

        class Client:
            def __init__(self, n):
                self.n = [n]

        @pytest.fixture
        def client(request):
            return Client(request.param)

        def fail():
            raise KeyError("no")

        @pytest.mark.parametrize("client", range(20), indirect=True)
        def test_raises(client):
            with pytest.raises(KeyError) as excinfo:
                fail()
            assert excinfo.value.args == ("no",)

        @pytest.mark.parametrize("client", [0], indirect=True)
        def test_raises_and_leaks(client):
            with pytest.raises(KeyError) as excinfo:
                fail()
            assert excinfo.value.args == ("no",)
            leakylib.append_thing()

        kept = []

        @pytest.mark.parametrize("client", [0], indirect=True)
        def test_keeps_its_fixture_values(client, request):
            with pytest.raises(KeyError) as excinfo:
                fail()
            assert excinfo.value.args == ("no",)
            kept.append(request.node.funcargs)

        @pytest.mark.refleak(enabled=False)
        def test_what_it_kept_is_intact():
            assert kept and all("client" in values for values in kept)
        """
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-v")
    result.assert_outcomes(passed=21, failed=2)
    # With cycles caught (the default), the garbage frame is kept for the cycle
    # verdict: the values are let go all the same.
    caught = run(leaky, "--refleak", "-v")
    caught.assert_outcomes(passed=21, failed=2)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_raises_and_leaks*"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_its_fixture_values*Client*"])


def test_what_first_runs_fill_in_interpreter_records_is_not_the_tests(
    leaky: pytest.Pytester,
) -> None:
    """What pytest keeps for a class it sets up, a newly compiled regular expression in
    ``re``'s bounded cache, and ``abc``'s answer for a class not asked about before are
    kept by the interpreter and the tooling, not by the test: tests that add only
    those pass.  Tests that add them and also leak are caught."""
    classes = "\n".join(f"class Test{n}:\n    def test_it(self):\n        pass\n" for n in range(8))
    regexes = "\n".join(
        f"def test_regex_{n}():\n    assert re.match(r'a{{{n + 1}}}x', 'a' * {n + 1} + 'x')\n"
        for n in range(8)
    )
    abcs = "\n".join(
        f"class Sized{n}:\n    pass\n\n"
        f"def test_abc_{n}():\n    assert not isinstance(Sized{n}(), collections.abc.Sized)\n"
        for n in range(8)
    )
    leaky.makepyfile(
        test_it=f"""
import collections.abc
import re
import leakylib

{classes}
{regexes}
{abcs}
class TestLeaksInItsOnlyTest:
    def test_it(self):
        leakylib.append_thing()

def test_regex_and_leak():
    assert re.match(r'b{{99}}y', 'b' * 99 + 'y')
    leakylib.append_thing()

class SizedLeaky:
    pass

def test_abc_and_leak():
    assert not isinstance(SizedLeaky(), collections.abc.Sized)
    leakylib.append_thing()
"""
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-v")
    result.assert_outcomes(passed=24, failed=3)
    for name in ("TestLeaksInItsOnlyTest::test_it", "test_regex_and_leak", "test_abc_and_leak"):
        result.stdout.fnmatch_lines([f"LEAKED test_it.py::{name} - *Thing*"])


@pytest.mark.parametrize("cache", ["room", "full"])
def test_fresh_regular_expressions_pass_and_hide_no_leak(
    leaky: pytest.Pytester, cache: str
) -> None:
    """``re``'s cache is put back around each re-run, not emptied: a test compiling
    a new pattern on every run passes.  With the cache full, each new pattern
    evicts an old one, freeing memory inside the window; the evicted pattern stays
    held until the cache is put back, so a small leak beside it is still caught."""
    if cache == "full":
        leaky.makeconftest("import re\nfor n in range(1000):\n    re.compile('filler-%d' % n)\n")
    leaky.makepyfile(
        test_it="""
        import itertools
        import re
        import leakylib

        NUMBERS = itertools.count()
        KEYS = set()

        def fresh_pattern():
            n = next(NUMBERS)
            assert re.match('fresh-%d-[a-z]+$' % n, 'fresh-%d-abc' % n)
            return n

        def test_fresh_pattern():
            fresh_pattern()

        def test_fresh_pattern_and_thing():
            fresh_pattern()
            leakylib.append_thing()

        def test_fresh_pattern_and_short_key():
            KEYS.add("k%d" % fresh_pattern())
        """
    )
    result = run(leaky, "--refleak", "-v")
    result.stdout.fnmatch_lines(["*test_it.py::test_fresh_pattern PASSED*"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_fresh_pattern_and_thing - *Thing*"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_fresh_pattern_and_short_key - *KEYS*"])
    result.assert_outcomes(passed=1, failed=2)


def test_typing_caching_generics_of_new_classes_passes(leaky: pytest.Pytester) -> None:
    """typing keeps ``List[Point]`` in size-limited caches that no module attribute
    names, and the class kept there is listed, by a weak reference, among its base's
    subclasses: bounded, not the test's.  A leak next to it is still caught, and so
    are weak references kept to objects that are not cached."""
    leaky.makepyfile(
        test_it="""
        import typing
        import weakref
        import leakylib

        def test_generic_of_a_new_class():
            class Point:
                pass
            assert typing.List[Point].__args__ == (Point,)

        def test_generic_of_a_new_class_and_leak():
            class Point:
                pass
            assert typing.Optional[Point].__args__[0] is Point
            leakylib.append_thing()

        class Anchor:
            pass

        ANCHOR = Anchor()
        REFS = []

        def forget(ref):
            pass

        def test_keeps_weak_references():
            # With a callback: a plain one would be the same object every time.
            REFS.append(weakref.ref(ANCHOR, forget))
        """
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-v")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        ["LEAKED test_it.py::test_generic_of_a_new_class_and_leak - *Thing*"]
    )
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_weak_references - *ReferenceType*"])


def test_hypothesis_strategy_cache_filling_passes(leaky: pytest.Pytester) -> None:
    """hypothesis keeps up to 1,024 strategies in a cache of its own, and a test that
    draws from strategies built from drawn values adds new ones on every run: bounded,
    not the test's.  A leak in such a test is still caught."""
    pytest.importorskip("hypothesis")
    leaky.makepyfile(
        test_it="""
        from hypothesis import given, settings, strategies as st
        import leakylib

        @settings(max_examples=10, database=None, deadline=None)
        @given(st.data())
        def test_draws_from_fresh_strategies(data):
            n = data.draw(st.integers(0, 10**9))
            assert n <= data.draw(st.integers(min_value=n, max_value=n + 1))

        @settings(max_examples=10, database=None, deadline=None)
        @given(st.data())
        def test_draws_and_leaks(data):
            n = data.draw(st.integers(0, 10**9))
            assert n <= data.draw(st.integers(min_value=n, max_value=n + 1))
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_draws_and_leaks - *Thing*"])


def test_other_plugins_wrappers_and_item_records_are_not_the_tests(leaky: pytest.Pytester) -> None:
    """Other plugins wrap the test's protocol (an old-style hookwrapper and a new-style
    one here), and a plugin may put fresh dicts of outcomes on every item (as
    pytest-rerunfailures does): both are the tooling's, so clean tests pass.  A test that keeps such a dict in its own module list, and one
    that keeps a Thing, are still caught."""
    leaky.makeconftest(
        """
        import pytest

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(item, nextitem):
            yield

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_protocol(item, nextitem):
            return (yield)

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_makereport(item, call):
            report = yield
            if report.when == "setup":
                item._outcomes = {}
                item._errors = {}
            item._outcomes[report.when] = report.failed
            item._errors[report.when] = False
            return report
        """
    )
    clean = "\n".join(f"def test_clean_{n}():\n    assert [{n}]\n" for n in range(12))
    leaky.makepyfile(
        test_it=f"""
import leakylib

KEPT = []

{clean}
def test_keeps_the_dict_it_puts_on_its_item(request):
    record = {{"run": "once"}}
    request.node.record = record
    KEPT.append(record)

def test_keeps_a_thing():
    leakylib.append_thing()

def test_last():
    pass
"""
    )
    result = run(leaky, "--refleak", "--refleak-cycles=off", "-v")
    result.assert_outcomes(passed=13, failed=2)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_the_dict_it_puts_on_its_item - *"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_a_thing - *Thing*"])


@pytest.mark.xfail(
    sys.version_info < (3, 11),
    strict=False,
    reason="flaky on 3.10 under load: in .ci/run on 10d1b4c (full suite, -n auto) the bounded "
    "map's evicted entries read as growth (+589 B/run, 8 re-runs); passed 11 of 11 by hand, "
    "alone and beside another run (stop 23)",
)
def test_a_small_hand_written_lru_that_evicts_as_it_stores_passes(
    pytester: pytest.Pytester,
) -> None:
    """A project's own least-recently-used map of size 2, fed a fresh key of strings
    and numbers on every call, frees the entry of two runs before as it stores this
    run's: the traced re-runs see new strings, the block count sees nothing grow.
    The same map without its bound keeps every entry, and leaks."""
    pytester.makepyfile(
        compiled="""
        import itertools
        from collections import OrderedDict

        class LRU:
            def __init__(self, maxsize):
                self.maxsize = maxsize
                self.data = OrderedDict()

            def get(self, key, compute):
                if key in self.data:
                    self.data.move_to_end(key)
                    return self.data[key]
                value = self.data[key] = compute(key)
                if self.maxsize is not None and len(self.data) > self.maxsize:
                    self.data.popitem(last=False)
                return value

        BOUNDED = LRU(maxsize=2)
        UNBOUNDED = LRU(maxsize=None)
        _ids = itertools.count()

        def compile_query(cache, table):
            key = (table, next(_ids))
            return cache.get(key, lambda k: f"SELECT * FROM {k[0]} /* {k[1]} */")
        """,
        test_it="""
        import compiled
        def test_bounded():
            assert compiled.compile_query(compiled.BOUNDED, "orders").startswith("SELECT")
        def test_unbounded():
            assert compiled.compile_query(compiled.UNBOUNDED, "orders").startswith("SELECT")
        """,
    )
    for result in run_in_orders(pytester, "--refleak"):
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["LEAKED test_it.py::test_unbounded - *"])


def test_a_short_deque_of_fresh_containers_passes(pytester: pytest.Pytester) -> None:
    """A ``deque(maxlen=2)`` keeps each run's entry (a tuple, a dict and a list) for
    two runs: every re-run leaves new objects and the block count stays level, but
    what it lets go of is the entry of two runs before.  The same history without
    its bound keeps everything, and leaks."""
    pytester.makepyfile(
        history="""
        from collections import deque

        class History:
            def __init__(self, size):
                self.events = deque(maxlen=size)

            def record(self, name, **payload):
                self.events.append((name, payload))

        SHORT = History(size=2)
        LONG = History(size=None)
        """,
        test_it="""
        import history
        def test_short():
            history.SHORT.record("saved", pk=1, fields=["name", "price"])
        def test_long():
            history.LONG.record("saved", pk=1, fields=["name", "price"])
        """,
    )
    for result in run_in_orders(pytester, "--refleak"):
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["LEAKED test_it.py::test_long - *"])


def test_what_a_gc_callback_keeps_per_collection_is_not_the_tests(
    pytester: pytest.Pytester,
) -> None:
    """A library's ``gc.callbacks`` function runs on every collection, the
    plugin's own included: what it keeps (here a history of collection times,
    one string per collection; hypothesis swaps a module-level float) grows with
    collections, not with what a test does, and the clean tests pass, also one
    that collects itself.  A test that keeps a string per run beside it still
    leaks."""
    pytester.makepyfile(
        gctimer="""
        import gc
        import time

        started = 0.0
        HISTORY = []

        def on_collect(phase, info):
            global started
            if phase == "start":
                started = time.perf_counter()
            else:
                HISTORY.append("collected in %.9f s" % (time.perf_counter() - started))

        gc.callbacks.append(on_collect)
        """,
        test_it="""
        import gc
        import gctimer

        KEPT = []

        def test_clean():
            assert sum(range(100)) == 4950

        def test_clean_that_collects():
            box = []
            box.append(box)
            del box
            gc.collect()

        def test_keeps_a_string():
            KEPT.append("x" * 100 + str(len(KEPT)))
        """,
    )
    for result in run_in_orders(pytester, "--refleak", "-rA", seeds=("1", "2")):
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_a_string - *"])


GENERATED_CODE = """
import importlib.util

_kept = []

def load_fresh(tmp_path):
    path = tmp_path / "generated.py"
    path.write_text("VALUE = 1\\ndef make():\\n    return [VALUE]\\n")
    spec = importlib.util.spec_from_file_location("generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make()

def test_generated_module_clean(tmp_path):
    assert load_fresh(tmp_path) == [1]

def test_generated_module_kept(tmp_path):
    _kept.append(load_fresh(tmp_path))
"""


def test_code_generated_to_a_fresh_path_each_run_passes(leaky: pytest.Pytester) -> None:
    """A test that writes a module under its fresh ``tmp_path`` and runs it leaves
    the module's name nowhere of its own: the plugin must not keep it either (its
    table of file origins kept each run's path, two blocks a run read as the
    test's).  Its twin that keeps what the module made still leaks."""
    leaky.makepyfile(test_it=GENERATED_CODE)
    for result in run_in_orders(leaky, "--refleak", seeds=("1", "2")):
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["LEAKED test_it.py::test_generated_module_kept - *"])
