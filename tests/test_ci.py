"""The CI gate as CI uses it: report file, baseline, JUnit XML, GitHub annotations, xdist."""

from __future__ import annotations

import fnmatch
import json
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import run

SUITE = """
import leakylib
def test_leak():
    leakylib.append_thing()
def test_cycle():
    leakylib.make_tree()
def test_clean():
    pass
def test_fails():
    assert False
"""

LEAK = "test_it.py::test_leak"
CYCLE = "test_it.py::test_cycle"
CLEAN = "test_it.py::test_clean"
FAILS = "test_it.py::test_fails"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {test["nodeid"]: test for test in report["tests"]}


def write_baseline(pytester: pytest.Pytester, leaks: dict[str, Any]) -> None:
    document = {"version": 1, "leaks": leaks}
    (pytester.path / "leaks.json").write_text(json.dumps(document), encoding="utf-8")


def entry(objects: int = 1, nbytes: int = 1000, kind: str = "leaked") -> dict[str, Any]:
    return {"kind": kind, "objects": objects, "bytes": nbytes, "cycles": 0, "types": {}}


def no_traceback(result: pytest.RunResult) -> None:
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


# -- the report file -------------------------------------------------------------------


def test_report_has_a_record_for_every_checked_test(leaky: pytest.Pytester) -> None:
    """--refleak-report writes one versioned JSON document with every checked test's record."""
    leaky.makepyfile(test_it=SUITE)
    result = run(leaky, "--refleak", "--refleak-report=out/refleak.json")
    result.assert_outcomes(failed=3, passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["refleak: report written to out/refleak.json"])
    # Written in one step: no temporary file is left beside it.
    assert [p.name for p in (leaky.path / "out").iterdir()] == ["refleak.json"]
    report = read_json(leaky.path / "out" / "refleak.json")
    assert report["version"] == 1
    assert report["interrupted"] is False
    assert report["totals"] == {
        "checked": 4, "clean": 1, "leaked": 1, "cycles": 1, "known leak": 0, "error": 1,
        "not_checked": 0,
    }
    tests = by_id(report)
    assert list(tests) == sorted(tests)
    assert {nodeid: t["verdict"] for nodeid, t in tests.items()} == {
        LEAK: "leaked", CYCLE: "cycles", CLEAN: "clean", FAILS: "error"
    }
    # Every record has the same fields, clean ones included.
    assert all(set(t) == set(tests[LEAK]) for t in tests.values())

    leak = tests[LEAK]
    assert min(leak["objects_per_run"]) == 1
    assert leak["leaked_objects"] is True
    assert leak["bytes_per_run"] > 0
    assert fnmatch.fnmatchcase(
        leak["summary"], "LEAKED test_it.py::test_leak - 1 object/run, +* B/run: Thing ×1 via leakylib._registry"
    )
    thing_chains = next(t for t in leak["types"] if t["name"] == "Thing")["chains"]
    assert thing_chains and thing_chains[0].startswith("kept alive by leakylib._registry[")
    assert leak["text"].startswith("refleak: 1 new object left alive per run")
    assert leak["location"] == ["test_it.py", 2]
    thing = next(t for t in leak["types"] if t["name"] == "Thing")
    assert thing["count"] == 1
    assert isinstance(thing["chains"], list)
    innermost = thing["sites"][0][-1]
    assert innermost[0] == "leakylib.py"
    assert "_registry.append(Thing())" in (leaky.path / "leakylib.py").read_text().splitlines()[
        innermost[1] - 1
    ]

    cycle = tests[CYCLE]["cycles"][0]
    assert cycle["origin"] == "project"
    assert cycle["path"] == "Node.parent → Node.children → list[0] → Node"
    assert all(site[0] == "leakylib.py" for site in cycle["sites"])
    assert tests[FAILS]["note"] == "the test did not pass"
    assert tests[CLEAN]["types"] == [] and tests[CLEAN]["summary"] is None


def test_report_written_when_a_test_raises_keyboard_interrupt(leaky: pytest.Pytester) -> None:
    """An interrupted run still writes the report, with the tests that finished."""
    leaky.makepyfile(
        test_it="""
        import leakylib
        def test_leak():
            leakylib.append_thing()
        def test_clean():
            pass
        def test_stop():
            raise KeyboardInterrupt
        def test_never():
            pass
        """
    )
    result = run(leaky, "--refleak", "--refleak-report=refleak.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = read_json(leaky.path / "refleak.json")
    assert report["interrupted"] is True
    assert list(by_id(report)) == [CLEAN, LEAK]
    assert by_id(report)[LEAK]["verdict"] == "leaked"


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT as Ctrl-C does on POSIX")
def test_report_written_on_ctrl_c(leaky: pytest.Pytester) -> None:
    """SIGINT in the middle of a test: the report holds the tests finished before it."""
    leaky.makepyfile(
        test_it="""
        import pathlib, time, leakylib
        def test_leak():
            leakylib.append_thing()
        def test_waits():
            pathlib.Path("waiting").touch()
            time.sleep(120)
        """
    )
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
               "--refleak", "--refleak-report=refleak.json"]
    # A shell without job control starts background jobs with SIGINT ignored, and
    # Python keeps it ignored: give the child the default so that Ctrl-C reaches it.
    process = leaky.popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not (leaky.path / "waiting").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the test never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == pytest.ExitCode.INTERRUPTED
    assert b"refleak: report written to refleak.json" in stdout
    report = read_json(leaky.path / "refleak.json")
    assert report["interrupted"] is True
    assert [(t["nodeid"], t["verdict"]) for t in report["tests"]] == [(LEAK, "leaked")]


def test_report_that_cannot_be_written(leaky: pytest.Pytester) -> None:
    """A report path that cannot be written: one message, exit code 4, the summary intact."""
    leaky.makepyfile(test_it="import leakylib\ndef test_leak():\n    leakylib.append_thing()\n")
    (leaky.path / "taken").write_text("a file where a directory should be")
    result = run(leaky, "--refleak", "--refleak-report=taken/refleak.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_it.py::test_leak - 1 object/run, +* B/run: Thing ×1 via leakylib._registry",
            "refleak: could not write the report to taken/refleak.json: *",
        ]
    )
    no_traceback(result)


def test_report_is_written_even_when_no_test_is_checked(pytester: pytest.Pytester) -> None:
    """A CI step that expects the file finds it, with no records, when nothing was checked."""
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(pytester, "--refleak-report=refleak.json")
    result.assert_outcomes(passed=1)
    report = read_json(pytester.path / "refleak.json")
    assert report["tests"] == [] and report["totals"]["checked"] == 0


def test_paths_from_ini_are_relative_to_the_ini_file(pytester: pytest.Pytester) -> None:
    """refleak_report in the ini file is relative to its directory; on the command line, to
    the directory pytest runs in."""
    pytester.makeini("[pytest]\nrefleak_report = reports/refleak.json\n")
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    sub = pytester.mkdir("sub")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sub)
        result = run(pytester, "--refleak", str(pytester.path))
        result.assert_outcomes(passed=1)
        assert (pytester.path / "reports" / "refleak.json").exists()
        result = run(pytester, "--refleak", "--refleak-report=here.json", str(pytester.path))
        result.assert_outcomes(passed=1)
        assert (sub / "here.json").exists()


# -- the baseline ----------------------------------------------------------------------


def test_baseline_update_adopts_the_current_leaks(leaky: pytest.Pytester) -> None:
    """--refleak-baseline-update records this run's leaks, sorted, and lets them pass."""
    leaky.makepyfile(test_it=SUITE)
    args = ("--refleak", "--refleak-baseline=leaks.json", "--refleak-baseline-update")
    result = run(leaky, *args, "-v")
    result.assert_outcomes(failed=1, passed=3)
    result.stdout.fnmatch_lines(["*::test_leak KNOWN LEAK*"])
    result.stdout.fnmatch_lines(["*::test_cycle KNOWN LEAK*"])
    result.stdout.fnmatch_lines(
        ["refleak: baseline leaks.json updated: 2 known leaks (2 added, 0 removed, 0 changed)"]
    )
    text = (leaky.path / "leaks.json").read_text()
    baseline = json.loads(text)
    assert baseline["version"] == 1
    assert list(baseline["leaks"]) == [CYCLE, LEAK]
    leak = baseline["leaks"][LEAK]
    assert (leak["kind"], leak["objects"], leak["cycles"], leak["types"]) == (
        "leaked", 1, 0, {"Thing": 1}
    )
    assert (baseline["leaks"][CYCLE]["kind"], baseline["leaks"][CYCLE]["cycles"]) == ("cycles", 1)
    assert text == json.dumps(baseline, indent=2, ensure_ascii=False) + "\n"
    # Updating again with nothing changed leaves the file as it was.
    result = run(leaky, *args)
    result.stdout.fnmatch_lines(["*updated: 2 known leaks (0 added, 0 removed, 0 changed)"])
    assert (leaky.path / "leaks.json").read_text() == text
    # And the gate passes on it: known leaks do not fail the run.
    leaky.makepyfile(test_it=SUITE.replace("assert False", "pass"))
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK


def test_known_leak_passes_and_new_leak_fails(leaky: pytest.Pytester) -> None:
    """A leak the baseline records passes as a known leak; a leak it does not, fails."""
    write_baseline(leaky, {"test_it.py::test_known": entry(objects=1)})
    leaky.makepyfile(
        test_it="""
        import leakylib
        def test_known():
            leakylib.append_thing()
        def test_new():
            leakylib.subscribe()
        """
    )
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json")
    result.assert_outcomes(failed=1, passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["test_it.py KL*"])
    result.stdout.fnmatch_lines(
        [
            "*= refleak =*",
            "LEAKED test_it.py::test_new - *",
            "KNOWN LEAK test_it.py::test_known - 1 object/run, +* B/run: Thing ×1 via leakylib._registry",
            "1 test leaked",
            "1 known leak accepted by baseline leaks.json",
        ]
    )


@pytest.mark.parametrize(("per_run", "grew"), [(2, False), (3, True)])
def test_known_leak_that_grew_fails(leaky: pytest.Pytester, per_run: int, grew: bool) -> None:
    """A known leak may grow by one object; more than that fails, and says how it grew."""
    write_baseline(leaky, {"test_it.py::test_it": entry(objects=1, nbytes=100_000)})
    leaky.makepyfile(
        test_it=f"import leakylib\ndef test_it():\n    for _ in range({per_run}):\n"
        "        leakylib.append_thing()\n"
    )
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json")
    if not grew:
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["KNOWN LEAK test_it.py::test_it - 2 objects/run*"])
        return
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "  a known leak in the baseline, but it grew:",
            "    3 objects/run, recorded 1",
            "LEAKED test_it.py::test_it - 3 objects/run, +* B/run: Thing ×3 via leakylib._registry "
            "(grew past the baseline: 3 objects/run, recorded 1)",
        ]
    )


def test_stale_entries_are_reported_and_removed_on_update(leaky: pytest.Pytester) -> None:
    """Entries of tests that no longer leak or no longer exist are stale; updating drops
    them, and keeps the entries of tests that were not run."""
    leaky.makepyfile(
        test_it="""
        import leakylib
        def test_leak():
            leakylib.append_thing()
        def test_fixed():
            pass
        """,
        test_other="def test_other():\n    pass\n",
    )
    write_baseline(
        leaky,
        {
            LEAK: entry(),
            "test_it.py::test_fixed": entry(),
            "test_it.py::test_removed": entry(),
            "test_gone.py::test_x": entry(),
            "test_other.py::test_other": entry(),
        },
    )
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json", "test_it.py")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "STALE test_gone.py::test_x - no longer exists",
            "STALE test_it.py::test_fixed - no longer leaks",
            "STALE test_it.py::test_removed - no longer exists",
            "3 stale baseline entries: remove with --refleak-baseline-update",
        ]
    )
    result.stdout.no_fnmatch_line("STALE test_other.py*")
    # A deselected test still exists: its entry stays.
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json", "test_it.py",
                 "--deselect", "test_it.py::test_fixed")
    result.stdout.no_fnmatch_line("STALE test_it.py::test_fixed*")
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json", "test_it.py",
                 "--refleak-baseline-update")
    result.stdout.fnmatch_lines(["*updated: 2 known leaks (0 added, 3 removed, 1 changed)"])
    result.stdout.no_fnmatch_line("STALE *")
    assert list(read_json(leaky.path / "leaks.json")["leaks"]) == [LEAK, "test_other.py::test_other"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "baseline leaks.json does not exist; write it with --refleak-baseline-update"),
        ("", "baseline leaks.json is empty; write it with --refleak-baseline-update"),
        ('{"version": 1, "leaks": {', "baseline leaks.json is not valid JSON (*line 1, column 26*"),
        ('{"version": 7, "leaks": {}}', "baseline leaks.json has version 7, but this pytest-refleak reads version 1*"),
        ("[1, 2]", "baseline leaks.json has no version field: it is not a pytest-refleak baseline"),
        ('{"version": 1, "leaks": {"t.py::t": {"kind": "leaked", "objects": -1}}}',
         "baseline leaks.json, entry 't.py::t': 'objects' must be a whole number, 0 or more, got -1"),
        ('{"version": 1, "leaks": {"t.py::t": {"kind": "lost"}}}',
         "baseline leaks.json, entry 't.py::t': 'kind' must be one of leaked, cycles, got 'lost'"),
    ],
    ids=["missing", "empty", "corrupt", "wrong-version", "not-a-baseline", "bad-figure", "bad-kind"],
)
def test_unusable_baseline(pytester: pytest.Pytester, content: str | None, message: str) -> None:
    """A baseline that cannot be used stops the run before any test: one line, exit code 4."""
    if content is not None:
        (pytester.path / "leaks.json").write_text(content)
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(pytester, "--refleak", "--refleak-baseline=leaks.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: refleak: {message}"])
    assert len([line for line in result.stderr.lines if "refleak:" in line]) == 1
    no_traceback(result)


def test_corrupt_baseline_is_not_overwritten_by_update(pytester: pytest.Pytester) -> None:
    """Updating refuses a file it cannot read rather than replace it, under xdist too."""
    (pytester.path / "leaks.json").write_text("{not json")
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(pytester, "--refleak", "--refleak-baseline=leaks.json",
                 "--refleak-baseline-update", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: refleak: baseline leaks.json is not valid JSON*"])
    no_traceback(result)
    assert (pytester.path / "leaks.json").read_text() == "{not json"


def test_update_needs_a_baseline_path(pytester: pytest.Pytester) -> None:
    """--refleak-baseline-update without a file to write is a usage error."""
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(pytester, "--refleak", "--refleak-baseline-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: refleak: --refleak-baseline-update: say which file*"])


# -- JUnit XML and GitHub Actions ------------------------------------------------------


def junit_properties(path: Path) -> dict[str, dict[str, str]]:
    cases = ET.parse(path).getroot().iter("testcase")
    return {
        case.attrib["name"]: {p.attrib["name"]: p.attrib["value"] for p in case.iter("property")}
        for case in cases
    }


def test_junit_xml_carries_the_figures(leaky: pytest.Pytester) -> None:
    """Each checked test's verdict, objects and bytes per run are JUnit properties."""
    leaky.makepyfile(test_it=SUITE)
    run(leaky, "--refleak", "--junitxml=junit.xml")
    properties = junit_properties(leaky.path / "junit.xml")
    leak = properties["test_leak"]
    assert (leak["refleak_verdict"], leak["refleak_objects_per_run"]) == ("leaked", "1")
    assert int(leak["refleak_bytes_per_run"]) > 0
    assert properties["test_cycle"]["refleak_verdict"] == "cycles"
    assert properties["test_clean"] == {
        "refleak_verdict": "clean", "refleak_objects_per_run": "0", "refleak_bytes_per_run": "0"
    }
    assert properties["test_fails"]["refleak_verdict"] == "error"


def test_github_annotations_point_at_the_projects_code(
    leaky: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under GitHub Actions each leak is an ::error at its allocation site in the project's
    code (not the test's), and each known leak a ::warning."""
    write_baseline(leaky, {"test_it.py::test_known": entry(objects=1)})
    leaky.makepyfile(
        test_it="""
        import leakylib
        def test_known():
            leakylib.append_thing()
        def test_new():
            leakylib.subscribe()
        """
    )
    source = (leaky.path / "leakylib.py").read_text().splitlines()
    append = source.index("    _registry.append(Thing())") + 1
    subscribe = source.index("    _callbacks.append(Listener().on_event)") + 1
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json")
    result.stdout.fnmatch_lines(
        [
            f"::error file=leakylib.py,line={subscribe},title=refleak%3A LEAKED "
            "test_it.py%3A%3Atest_new::LEAKED test_it.py::test_new - *%0Arefleak: *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"::warning file=leakylib.py,line={append},title=refleak%3A KNOWN LEAK "
            "test_it.py%3A%3Atest_known::*%0A(a known leak, accepted by the baseline)%0A*",
        ]
    )
    monkeypatch.delenv("GITHUB_ACTIONS")
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json")
    result.stdout.no_fnmatch_line("::*")


# -- pytest-xdist ----------------------------------------------------------------------

XDIST_SUITE = """
import pytest, leakylib
def test_leak():
    leakylib.append_thing()
def test_cycle():
    leakylib.make_tree()
def test_clean():
    pass
def test_fails():
    assert False
def test_memory():
    leakylib.cache_bytes(100)
def test_listener():
    leakylib.subscribe()
@pytest.mark.parametrize("n", range(4))
def test_many_clean(n):
    pass
"""


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {
        t["nodeid"]: (t["verdict"], min(t["objects_per_run"] or [0])) for t in report["tests"]
    }


def refleak_lines(result: pytest.RunResult) -> list[str]:
    """The summary lines, with the bytes per run left out: a worker's traced re-run
    may count a few bytes of execnet's messaging that a serial run does not."""
    return [
        re.sub(r"\+[\d.]+ (B|KiB|MiB)/run", "+N/run", line) for line in result.stdout.lines
        if line.startswith(("LEAKED ", "CYCLES ", "KNOWN LEAK ", "STALE ", "NOT CHECKED "))
        and " - refleak: " not in line  # pytest's own short summary
    ]


def test_xdist_gives_the_same_verdicts_and_one_report(leaky: pytest.Pytester) -> None:
    """-n 2 judges every test as a serial run does; the controller writes the report and the
    summary once, from what both workers measured."""
    leaky.makepyfile(test_it=XDIST_SUITE)
    serial = run(leaky, "--refleak", "--refleak-report=serial.json", "--junitxml=serial.xml")
    parallel = run(leaky, "--refleak", "-n", "2", "-v", "--refleak-report=parallel.json",
                   "--junitxml=parallel.xml")
    parallel.stdout.fnmatch_lines(["created: 2/2 workers"])
    parallel.stdout.fnmatch_lines(["[[]gw0[]]*"])
    parallel.stdout.fnmatch_lines(["[[]gw1[]]*"])
    serial.assert_outcomes(failed=5, passed=5)
    parallel.assert_outcomes(failed=5, passed=5)
    expected = verdicts(read_json(leaky.path / "serial.json"))
    assert len(expected) == 10
    assert verdicts(read_json(leaky.path / "parallel.json")) == expected
    assert sorted(refleak_lines(parallel)) == sorted(refleak_lines(serial))
    assert parallel.stdout.str().count("refleak: report written to parallel.json") == 1
    assert parallel.stdout.str().count("= refleak =") == 1
    serial_junit = junit_properties(leaky.path / "serial.xml")
    parallel_junit = junit_properties(leaky.path / "parallel.xml")
    assert {name: p["refleak_verdict"] for name, p in parallel_junit.items()} == {
        name: p["refleak_verdict"] for name, p in serial_junit.items()
    }


def test_xdist_baseline(leaky: pytest.Pytester) -> None:
    """Under -n 2 known leaks pass, stale entries are found from what the workers collected,
    and updating writes the same entries as a serial run."""
    leaky.makepyfile(test_it=XDIST_SUITE)
    args = ("--refleak", "--refleak-baseline-update")
    run(leaky, *args, "--refleak-baseline=serial.json")
    result = run(leaky, *args, "--refleak-baseline=parallel.json", "-n", "2")
    result.stdout.fnmatch_lines(["*parallel.json updated: 4 known leaks (4 added, 0 removed, 0 changed)"])

    def figures(name: str) -> dict[str, tuple[str, int, int]]:
        leaks = read_json(leaky.path / name)["leaks"]
        return {k: (v["kind"], v["objects"], v["cycles"]) for k, v in leaks.items()}

    assert figures("parallel.json") == figures("serial.json")
    baseline = read_json(leaky.path / "parallel.json")
    baseline["leaks"]["test_it.py::test_removed"] = entry()
    (leaky.path / "leaks.json").write_text(json.dumps(baseline))
    result = run(leaky, "--refleak", "--refleak-baseline=leaks.json", "-n", "2")
    result.assert_outcomes(failed=1, passed=9)
    result.stdout.fnmatch_lines(
        ["KNOWN LEAK test_it.py::test_leak - 1 object/run, +* B/run: Thing ×1 via leakylib._registry"]
    )
    result.stdout.fnmatch_lines(["STALE test_it.py::test_removed - no longer exists"])
    result.stdout.fnmatch_lines(["4 known leaks accepted by baseline leaks.json"])


def test_xdist_with_markers_only(leaky: pytest.Pytester) -> None:
    """Checking turned on by markers alone: the controller still reports leaks and tests
    that could not be checked."""
    leaky.makepyfile(
        test_it="""
        import pytest, leakylib
        calls = []
        @pytest.mark.refleak
        def test_marked():
            leakylib.append_thing()
        def test_unmarked():
            leakylib.append_thing()
        @pytest.mark.refleak
        def test_passes_once():
            calls.append(1)
            leakylib.append_thing()
            assert len(calls) == 1
        """
    )
    result = run(leaky, "-n", "2")
    result.assert_outcomes(failed=1, passed=2)
    result.stdout.fnmatch_lines(
        [
            "*= refleak =*",
            "LEAKED test_it.py::test_marked - 1 object/run, +* B/run: Thing ×1 via leakylib._registry",
            "NOT CHECKED test_it.py::test_passes_once - it did not pass when re-run (call: *)",
            "1 test leaked, 1 not checked",
        ]
    )


def test_help_lists_the_ci_options(pytester: pytest.Pytester) -> None:
    """--help shows the CI options and their ini twins."""
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(["*--refleak-report=PATH*"])
    result.stdout.fnmatch_lines(["*--refleak-baseline=PATH*"])
    result.stdout.fnmatch_lines(["*--refleak-baseline-update*"])
    for name in ("refleak_report", "refleak_baseline", "refleak_baseline_update"):
        result.stdout.fnmatch_lines([f"  {name} *"])
