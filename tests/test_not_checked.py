"""No test passes silently: a test that could not be checked is counted, and
``--refleak-strict`` makes it fail the run."""

from __future__ import annotations

import json

import pytest
from conftest import run

#: One test that leaks, two whose re-runs fail (so they cannot be checked), and a
#: clean one.
SUITE = """
import pytest
import leakylib

CALLS = {}

def test_leaks():
    leakylib.append_thing()

@pytest.mark.parametrize("n", [1, 2])
def test_passes_only_once(n):
    CALLS.setdefault(n, []).append(object())
    assert len(CALLS[n]) == 1

def test_clean():
    pass
"""


def test_not_checked_tests_are_counted_and_pass_by_default(leaky: pytest.Pytester) -> None:
    """Without strict, a test that could not be checked passes, with its reason on a
    line of its own and a count beside the leaks'."""
    leaky.makepyfile(test_it=SUITE)
    result = run(leaky, "--refleak", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= refleak =*",
            "LEAKED test_it.py::test_leaks - *",
            "NOT CHECKED test_it.py::test_passes_only_once[[]1[]] - it did not pass when re-run"
            " (call: assert 2 == 1)",
            "NOT CHECKED test_it.py::test_passes_only_once[[]2[]] - it did not pass when re-run"
            " (call: assert 2 == 1)",
            "1 test leaked, 2 not checked",
        ]
    )
    assert "refleak-strict" not in result.stdout.str()


def test_not_checked_alone_is_counted(leaky: pytest.Pytester) -> None:
    """With nothing else to report the count still shows, and the run passes."""
    leaky.makepyfile(test_it=SUITE)
    result = run(leaky, "--refleak", "-k", "only_once and 1 or clean")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*= refleak =*", "NOT CHECKED *", "1 test not checked"])


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_strict_fails_the_run_for_a_test_not_checked(leaky: pytest.Pytester, where: str) -> None:
    """``--refleak-strict`` (or ``refleak_strict = true``) fails the run, exit code 1,
    and says why; the test's own outcome stays what it was."""
    leaky.makepyfile(test_it=SUITE)
    args = ["--refleak", "-k", "only_once and 1 or clean"]
    if where == "cli":
        args.append("--refleak-strict")
    else:
        leaky.makeini("[pytest]\nrefleak_strict = true\n")
    result = run(leaky, *args)
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "refleak: strict: a test that cannot be checked fails the run",
            "*= refleak =*",
            "NOT CHECKED test_it.py::test_passes_only_once[[]1[]] - it did not pass when re-run (*)",
            "1 test not checked",
            "refleak: --refleak-strict: 1 test not checked fails the run",
        ]
    )


def test_strict_passes_when_every_test_was_checked(leaky: pytest.Pytester) -> None:
    """Strict changes nothing for a run whose tests were all checked."""
    leaky.makepyfile(test_it=SUITE)
    result = run(leaky, "--refleak", "--refleak-strict", "-k", "clean")
    assert result.ret == pytest.ExitCode.OK
    assert "not checked" not in result.stdout.str()


def test_strict_under_xdist(leaky: pytest.Pytester) -> None:
    """The controller counts what its workers could not check, and fails the run."""
    pytest.importorskip("xdist")
    leaky.makepyfile(test_it=SUITE)
    result = run(leaky, "--refleak", "--refleak-strict", "-n", "2", "-k", "only_once or clean")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "NOT CHECKED test_it.py::test_passes_only_once[[]1[]] - *",
            "NOT CHECKED test_it.py::test_passes_only_once[[]2[]] - *",
            "2 tests not checked",
            "refleak: --refleak-strict: 2 tests not checked fail the run",
        ]
    )


def test_report_carries_why_a_test_was_not_checked(leaky: pytest.Pytester) -> None:
    """The JSON report counts the tests not checked, says whether the run was strict,
    and gives each one's reason in its record."""
    leaky.makepyfile(test_it=SUITE)
    run(leaky, "--refleak", "--refleak-strict", "--refleak-report=report.json", "-p", "no:randomly")
    document = json.loads((leaky.path / "report.json").read_text())
    assert document["settings"]["strict"] is True
    assert document["totals"]["not_checked"] == 2
    records = {r["nodeid"].split("::")[1]: r for r in document["tests"]}
    unchecked = records["test_passes_only_once[1]"]
    assert (unchecked["verdict"], unchecked["kind"]) == ("error", "inconclusive")
    # Which phase failed, and how, so that a reader knows what to make re-runnable.
    assert unchecked["note"] == "it did not pass when re-run (call: assert 2 == 1)"
    assert records["test_leaks"]["verdict"] == "leaked"
    assert records["test_clean"]["note"] is None


def test_strict_setting_reads_as_a_boolean() -> None:
    """``refleak_strict`` takes the ini file's words for true and false, and rejects others."""
    from pytest_refleak.settings import SettingsError, resolve

    assert resolve({}, {}).strict is False
    assert resolve({}, {"refleak_strict": "true"}).strict is True
    assert resolve({"refleak_strict": True}, {"refleak_strict": "false"}).strict is True
    with pytest.raises(SettingsError, match="ini option refleak_strict: expected true or false"):
        resolve({}, {"refleak_strict": "sometimes"})
