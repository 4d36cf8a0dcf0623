"""Turning checking on and off: flag, marker, ini settings, and bad input."""

from __future__ import annotations

import pytest
from conftest import run

LEAKY_TEST = "import leakylib\ndef test_it():\n    leakylib.append_thing()\n"


def test_without_flag_nothing_is_checked(leaky: pytest.Pytester) -> None:
    """Without --refleak, a marker or the ini switch, a leaking test passes."""
    leaky.makepyfile(test_it=LEAKY_TEST)
    result = run(leaky)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("refleak: *")
    result.stdout.no_fnmatch_line("*LEAKED*")


def test_off_does_nothing_at_all(leaky: pytest.Pytester) -> None:
    """When off, the plugin calls no gc function, starts no tracing and writes no file."""
    leaky.makeconftest(
        """
        import gc, tracemalloc, os
        calls = []
        def spy(name, real):
            def wrapper(*args, **kwargs):
                calls.append(name)
                return real(*args, **kwargs)
            return wrapper
        for name in ("collect", "freeze", "unfreeze", "get_objects", "set_debug", "get_freeze_count"):
            setattr(gc, name, spy(name, getattr(gc, name)))
        tracemalloc.start = spy("tracemalloc.start", tracemalloc.start)
        before = set(os.listdir("."))
        def pytest_unconfigure(config):
            print("GC CALLS:", sorted(set(calls)))
            print("NEW FILES:", sorted(set(os.listdir(".")) - before))
        """
    )
    leaky.makepyfile(test_it=LEAKY_TEST)
    # pytest-benchmark (in the test extras) makes its storage directory in the
    # rootdir: another plugin's doing, so it is not loaded here.
    result = run(leaky, "-s", "-p", "no:benchmark")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["GC CALLS: []", "NEW FILES: []"])


def test_marker_checks_only_marked_tests(leaky: pytest.Pytester) -> None:
    """@pytest.mark.refleak checks a test without the flag; unmarked tests are not checked."""
    leaky.makepyfile(
        test_it="""
        import pytest, leakylib
        @pytest.mark.refleak
        def test_marked():
            leakylib.append_thing()
        def test_unmarked():
            leakylib.append_thing()
        """
    )
    result = run(leaky)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_marked - *"])


def test_marker_on_class_and_module(leaky: pytest.Pytester) -> None:
    """The marker works on a class and on a module through pytestmark."""
    leaky.makepyfile(
        test_mod="""
        import pytest, leakylib
        pytestmark = pytest.mark.refleak
        def test_it():
            leakylib.append_thing()
        """,
        test_cls="""
        import pytest, leakylib
        @pytest.mark.refleak
        class TestThings:
            def test_it(self):
                leakylib.append_thing()
        """,
    )
    result = run(leaky)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["LEAKED test_cls.py::TestThings::test_it - *"])
    result.stdout.fnmatch_lines(["LEAKED test_mod.py::test_it - *"])


def test_marker_exempts_test_under_flag(leaky: pytest.Pytester) -> None:
    """refleak(enabled=False) exempts a test even under --refleak."""
    leaky.makepyfile(
        test_it="""
        import pytest, leakylib
        @pytest.mark.refleak(enabled=False, reason="caches by design")
        def test_exempt():
            leakylib.append_thing()
        def test_checked():
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_checked - *"])


def test_marker_tolerance(leaky: pytest.Pytester) -> None:
    """allow_objects and allow_memory let a test keep a little per run."""
    leaky.makepyfile(
        test_it="""
        import pytest, leakylib
        @pytest.mark.refleak(allow_objects=1, allow_memory="1KiB")
        def test_it():
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(passed=1)


def test_marker_cycles_switch(leaky: pytest.Pytester) -> None:
    """refleak(cycles="off") turns cycle checking off for one test."""
    leaky.makepyfile(
        test_it="""
        import pytest, leakylib
        @pytest.mark.refleak(cycles="off")
        def test_off():
            leakylib.make_tree()
        def test_on():
            leakylib.make_tree()
        """
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["CYCLES test_it.py::test_on - *"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("refleak(tolerance=3)", "*test_it.py::test_it: unknown refleak marker argument 'tolerance'*"),
        ("refleak(3)", "*test_it.py::test_it: the refleak marker takes keyword arguments only*"),
        ("refleak(cycles='some')", "*refleak marker argument cycles: expected one of project, all, off*"),
        ("refleak(allow_memory='lots')", "*refleak marker argument allow_memory: *"),
        ("refleak(runs=1)", "*refleak marker argument runs: must be at least 2, got 1*"),
        ("refleak(enabled='no')", "*refleak marker argument enabled: expected True or False*"),
    ],
    ids=["unknown-argument", "positional", "bad-cycles", "bad-size", "too-few-runs", "bad-enabled"],
)
def test_bad_marker_arguments(pytester: pytest.Pytester, marker: str, message: str) -> None:
    """A malformed marker is a usage error naming the test and the argument, no traceback."""
    pytester.makepyfile(test_it=f"import pytest\n@pytest.mark.{marker}\ndef test_it():\n    pass\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_ini_switch_turns_checking_on(leaky: pytest.Pytester) -> None:
    """refleak = true in pyproject.toml checks every test without the flag."""
    leaky.makepyprojecttoml("[tool.pytest.ini_options]\nrefleak = true\n")
    leaky.makepyfile(test_it=LEAKY_TEST)
    result = run(leaky)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["refleak: checking every test (cycles: project, at least 5 re-runs of a suspect test)"])


def test_command_line_wins_over_ini(leaky: pytest.Pytester) -> None:
    """Each --refleak-* option wins over its refleak_* ini twin."""
    leaky.makepyprojecttoml(
        "[tool.pytest.ini_options]\nrefleak = true\nrefleak_cycles = \"off\"\nrefleak_runs = 4\n"
    )
    leaky.makepyfile(test_it="import leakylib\ndef test_it():\n    leakylib.make_tree()\n")
    result = run(leaky)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["refleak: checking every test (cycles: off, at least 4 re-runs of a suspect test)"])
    result = run(leaky, "--refleak-cycles=project", "--refleak-runs=2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["refleak: checking every test (cycles: project, at least 2 re-runs of a suspect test)"])


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--refleak", "--refleak-cycles=sometimes"], "",
         "*--refleak-cycles: expected one of project, all, off, got 'sometimes'*"),
        (["--refleak", "--refleak-runs=zero"], "", "*--refleak-runs: expected a whole number*"),
        (["--refleak", "--refleak-allow-memory=-4"], "", "*--refleak-allow-memory: *"),
        ([], "refleak = maybe\n", "*ini option refleak: *'maybe'*"),
        (["--refleak"], "refleak_allow_objects = -1\n",
         "*ini option refleak_allow_objects: must be at least 0, got -1*"),
        (["--refleak", "--refleak-resources=sockets"], "",
         "*--refleak-resources: unknown resource kind 'sockets'; expected threads, fds, *"),
        (["--refleak"], "refleak_resources = all,none\n",
         "*ini option refleak_resources: 'all' and 'none' stand alone*"),
    ],
    ids=["cycles", "runs", "memory", "ini-bool", "ini-negative", "resources", "ini-resources"],
)
def test_nonsense_option_values(
    pytester: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    """A nonsense setting is one clear line and exit code 4, whichever way it came."""
    if ini:
        pytester.makeini(f"[pytest]\n{ini}")
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: refleak: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    """--help shows the options and ini settings with their help."""
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(
        [
            "*--refleak *check every test for leaked objects*",
            "*--refleak-cycles=MODE*",
            "*--refleak-runs=N*",
            "*--refleak-allow-objects=N*",
            "*--refleak-allow-memory=SIZE*",
            "*--refleak-resources=KINDS*",
        ]
    )
    for name in ("refleak ", "refleak_cycles", "refleak_runs", "refleak_allow_objects",
                 "refleak_allow_memory", "refleak_resources"):
        result.stdout.fnmatch_lines([f"  {name}*"])
    # Each ini setting shows its type: a switch is a bool, a count an int (pytest
    # 8.4 and newer know int ini settings; older ones show it as a string).
    result.stdout.fnmatch_lines(["  refleak (bool):*", "  refleak_baseline_update (bool):*"])
    int_type = "int" if tuple(map(int, pytest.__version__.split(".")[:2])) >= (8, 4) else "string"
    result.stdout.fnmatch_lines([f"  refleak_runs ({int_type}):*"])


def test_ini_types_are_read(leaky: pytest.Pytester) -> None:
    """Typed ini settings are read from pyproject.toml's native values and from ini
    strings alike, and a value of the wrong kind is one usage error."""
    leaky.makepyfile(test_it=LEAKY_TEST)
    leaky.makepyprojecttoml("[tool.pytest.ini_options]\nrefleak = true\nrefleak_runs = 4\n")
    result = run(leaky)
    result.stdout.fnmatch_lines(["refleak: checking every test (cycles: project, at least 4 re-runs*"])
    (leaky.path / "pyproject.toml").unlink()
    leaky.makeini("[pytest]\nrefleak = yes\nrefleak_runs = lots\n")
    result = run(leaky)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: refleak: *refleak_runs*lots*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_disabled_with_p_no(leaky: pytest.Pytester) -> None:
    """-p no:refleak unloads the plugin: its option is then unknown."""
    leaky.makepyfile(test_it=LEAKY_TEST)
    result = run(leaky, "-p", "no:refleak")
    result.assert_outcomes(passed=1)
    result = run(leaky, "-p", "no:refleak", "--refleak")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_marker_registered_when_off(pytester: pytest.Pytester) -> None:
    """The marker is known to --strict-markers and --markers even when nothing is checked."""
    pytester.makepyfile(test_it="import pytest\n@pytest.mark.refleak(enabled=False)\ndef test_it():\n    pass\n")
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=1)
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.refleak(enabled=True*"])


def test_leaked_status_word_and_exit_code(leaky: pytest.Pytester) -> None:
    """A leak shows as LEAKED in -v and in the summary, and fails the run."""
    leaky.makepyfile(
        test_it="import leakylib\ndef test_it():\n    leakylib.append_thing()\ndef test_clean():\n    pass\n"
    )
    result = run(leaky, "--refleak", "-v")
    result.stdout.fnmatch_lines(["test_it.py::test_it LEAKED*", "test_it.py::test_clean PASSED*"])
    result.stdout.fnmatch_lines(["*= refleak =*", "LEAKED test_it.py::test_it - 1 object/run, +* B/run: Thing ×1 via leakylib._registry",
                                 "1 test leaked"])
    result.stdout.fnmatch_lines(["*1 failed, 1 passed*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
