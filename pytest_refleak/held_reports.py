"""A checked test's reports while it is measured: held back, packed, re-made.

pytest's reports are bookkeeping, not the test's: while the first run is measured
they must neither reach other plugins (which keep them) nor count as memory the
test left behind.  :class:`HeldReports` holds back every report logged for the
test (each attempt's, its subtests'); :func:`pack_reports` turns the test's own reports into
one bytes object for the closing reading, and :func:`unpack_reports` makes them
again, costing what pytest's own did.
"""

from __future__ import annotations

import contextlib
import pickle
import time
from collections.abc import Iterable
from typing import Any

import pytest

from pytest_refleak.pytest_internals import (
    REPORT_SHARED_ATTRIBUTES,
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


def pack_reports(reports: list[pytest.TestReport]) -> bytes | None:
    """The reports as one bytes object, or ``None`` if they cannot make the round trip.

    Only passing runs are measured exactly, so only their reports are packed, and
    only if every attribute holds plain data or pytest's own objects.  Anything
    else (user properties, an object another plugin attached) is someone else's:
    pickling it may run their code, and it may not load again.
    """
    if not all_passed(reports) or any(r.user_properties for r in reports):
        return None
    try:
        states = [(type(r), dict(vars(r))) for r in reports]
        if not all(_plain(state) for _, state in states):
            return None
        return pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an attribute that cannot be pickled: keep them
        return None


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


def unpack_reports(packed: bytes, item: pytest.Item) -> list[pytest.TestReport]:
    """Re-make the reports :func:`pack_reports` packed, costing what pytest's own did.

    pytest keeps every report until the session ends.  Unpickled as they are, each
    would hold a dict of its own for its attributes and copies of strings the item
    already has: some 20 blocks a test.  Attributes are set one by one, as
    ``__init__`` set them, and take the item's own node id, location and keyword
    names where they are equal.
    """
    same = dict(_WORDS)
    for name in REPORT_SHARED_ATTRIBUTES:
        value = getattr(item, name, None)
        if value is not None:
            same[value] = value
    keywords = {name: name for name in item.keywords}
    reports: list[pytest.TestReport] = []
    for cls, state in pickle.loads(packed):
        report = cls.__new__(cls)
        for name, value in state.items():
            if name == "keywords" and type(value) is dict:
                value = {keywords.get(k) or k: v for k, v in value.items()}
            else:
                with contextlib.suppress(TypeError):  # unhashable: a list, say
                    value = same.get(value, value)
            setattr(report, name, value)
        reports.append(report)
    return reports


def all_passed(reports: Iterable[pytest.TestReport]) -> bool:
    return all(r.passed and not hasattr(r, "wasxfail") for r in reports)


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
