"""A checked test's reports, held back until its re-runs have judged it.

The verdict goes on the test's last report, and a leak fails its call report: so
no report of the test may reach other plugins (which keep them, print them, send
them to the controller under xdist) before the re-runs are over.
:class:`HeldReports` holds back every report logged for the test (each attempt's,
its subtests').
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pytest

from pytest_refleak.pytest_internals import (
    shadow_hook_proxy,
    unshadow_hook_proxy,
)


class HeldReports:
    """Holds back the reports of a checked test while it is in our hands.

    Whoever runs the test's protocol (pytest's runner, or pytest-rerunfailures'
    loop of attempts) logs its reports through the item's hook proxy, as do
    subtests, pytest's and unittest's, from inside the test's call.  The real
    run's reports are held and logged once the test is measured, in the order
    they came, with the verdict on them, so that their memory is pytest's and not
    the test's; a re-run's are dropped, so that re-running reports nothing.

    The checker logs the test's start itself, before measuring, and its finish
    after the reports: the start and finish an attempt logs are dropped.
    """

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.keep = True
        # Made on the first report, inside the measured window, as pytest's own list
        # of a run's reports is: a list made before it and filled inside would be
        # storage the window cannot account for.
        self.held: list[pytest.TestReport] | None = None
        self._session = item.session

    def install(self) -> None:
        # The session's proxy is shadowed for as long as the test is in our hands.
        real = self._session.gethookproxy

        def relay(fspath: Any) -> Any:
            return _Relay(real(fspath), self)

        shadow_hook_proxy(self._session, relay)

    def uninstall(self) -> None:
        unshadow_hook_proxy(self._session)

    def own(self, nodeid: object) -> bool:
        return nodeid == self.item.nodeid

    def take(self, report: pytest.TestReport) -> bool:
        """Hold back ``report`` if it is the test's own; say whether it was."""
        if not self.own(getattr(report, "nodeid", None)):
            return False
        if self.keep:
            if self.held is None:
                self.held = []
            self.held.append(report)
        return True

    def reports(self) -> list[pytest.TestReport]:
        """The reports held so far, in the order they were logged, no longer held."""
        held = self.held if self.held is not None else []
        self.held = None
        return held


def last_attempt(reports: list[pytest.TestReport]) -> int:
    """Where the test's last attempt starts among its reports: its last setup report.

    A plugin that runs a failing test again (pytest-rerunfailures) logs each
    attempt's reports; the attempt that counts is the last.
    """
    starts = [i for i, report in enumerate(reports) if report.when == "setup"]
    return starts[-1] if starts else 0


class _Relay:
    """A hook proxy that gives an item's own reports to :class:`HeldReports`."""

    def __init__(self, hooks: Any, held: HeldReports) -> None:
        self._hooks = hooks
        self._held = held

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hooks, name)

    def pytest_runtest_logreport(self, *, report: pytest.TestReport) -> None:
        if not self._held.take(report):
            self._hooks.pytest_runtest_logreport(report=report)

    def pytest_runtest_logstart(self, *, nodeid: str, location: Any) -> None:
        if not self._held.own(nodeid):
            self._hooks.pytest_runtest_logstart(nodeid=nodeid, location=location)

    def pytest_runtest_logfinish(self, *, nodeid: str, location: Any) -> None:
        if not self._held.own(nodeid):
            self._hooks.pytest_runtest_logfinish(nodeid=nodeid, location=location)


_ATOMS = (str, int, float, bool, bytes, type(None))


def _plain(value: object, depth: int = 0) -> bool:
    """Whether ``value`` is built of atoms, tuples, lists and dicts, or is pytest's own."""
    if type(value) in _ATOMS:
        return True
    if depth > 4:
        return False
    if type(value) is tuple or type(value) is list:
        return all(_plain(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    # A node id, say: made by pytest, and pickled by pytest-xdist too.
    return type(value).__module__.startswith("_pytest.")


#: Words reports are made of; these literals are the interned strings pytest's own are.
_WORDS: dict[object, object] = {
    word: word for word in ("passed", "failed", "skipped", "setup", "call", "teardown")
}


def all_passed(reports: Iterable[pytest.TestReport]) -> bool:
    return all(r.passed and not hasattr(r, "wasxfail") for r in reports)


def failure_of(reports: Iterable[pytest.TestReport]) -> str:
    """What went wrong in the first phase that did not pass, in one short line:
    ``call: AssertionError: assert 2 == 1``.  Read only from the report's text."""
    for report in reports:
        if report.passed and not hasattr(report, "wasxfail"):
            continue
        if hasattr(report, "wasxfail"):
            message = "it failed as expected (xfail)"
        elif report.skipped and isinstance(report.longrepr, tuple):
            message = f"skipped: {report.longrepr[-1]}"
        else:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", None) or report.outcome
        lines = str(message).strip().splitlines() or [report.outcome]
        line = lines[0]
        if len(line) > _FAILURE_WIDTH:
            line = line[: _FAILURE_WIDTH - 1] + "…"
        return f"{report.when}: {line}"
    return ""


#: How much of a re-run's failure the reason of a test not checked quotes.
_FAILURE_WIDTH = 120


def sample_report() -> object:
    """A report shaped like the ones pytest makes for a passing phase."""
    now = time.time()
    return pytest.TestReport(
        nodeid="sample.py::test_sample",
        location=("sample.py", 0, "test_sample"),
        keywords=dict.fromkeys(("test_sample", "sample.py"), 1),
        outcome="passed",
        longrepr=None,
        when="call",
        sections=[],
        duration=now - 1.0,
        start=now + 0.0,
        stop=now + 1.0,
        user_properties=[],
    )
