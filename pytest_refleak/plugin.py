"""pytest entry point: options, the ``refleak`` marker, and the hooks that check tests.

How a checked test runs (``docs/how-it-decides.md`` has the long version):

1. Its first run is the real one, reported as usual.  A measuring window opens
   when its setup starts and closes when its function-scoped fixtures are torn
   down, before fixtures of wider scope are.  pytest's own records made in
   between (reports, captured output) are worked out and taken off.
2. If that run left nothing behind, the test is done: the common case costs two
   collections of the objects the test made, and nothing else.
3. Otherwise it is re-run, unreported, up to ``refleak_runs`` times; the last
   re-run traces allocations to tell where things came from.  Only growth on
   every re-run makes a leak.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import pickle
import sys
import time
import tracemalloc
import types
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

# pytest offers no public way to run a test's setup, call and teardown without
# reporting them, which re-running needs; runtestprotocol(log=False) is the
# function pytest's own protocol calls, and what pytest-rerunfailures uses.
from _pytest.runner import runtestprotocol

from pytest_refleak import __version__, hookspecs
from pytest_refleak.alive import Request, atexit_callbacks, explain_alive, search_seconds
from pytest_refleak.baseline import BaselineError
from pytest_refleak.caches import (
    bounded_caches,
    bounded_dict_caches,
    clear_caches,
    library_caches,
    saved_caches,
    tooling_state,
)
from pytest_refleak.gate import Gate
from pytest_refleak.graphs import file_stem
from pytest_refleak.heap import Heap
from pytest_refleak.measure import Exclusions, Reading, Window, calibrate_offset, calibrate_type
from pytest_refleak.origins import Origins
from pytest_refleak.record import (
    CYCLES,
    KNOWN,
    LEAKED,
    Record,
    clean_record,
    junit_properties,
    unchecked_record,
    verdict_record,
)
from pytest_refleak.settings import (
    MARKER_HELP,
    OPTIONS,
    Limits,
    Settings,
    SettingsError,
    read_marker,
    resolve,
)
from pytest_refleak.text import format_size
from pytest_refleak.verdict import (
    Kind,
    Verdict,
    judge,
    looks_leaky,
    settling,
    still_leaky,
)

PLUGIN_NAME = "refleak-checker"

settings_key = pytest.StashKey[Settings]()
gate_key = pytest.StashKey[Gate]()
limits_key = pytest.StashKey[Limits]()

#: Frames kept per allocation while tracing: enough to get past library code.
TRACE_FRAMES = 24


# -- options and marker -------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("refleak", "finding leaked objects, memory and reference cycles")
    for option in OPTIONS:
        if option.flag:
            group.addoption(
                option.cli, action="store_true", default=None, dest=option.name, help=option.help
            )
        else:
            group.addoption(
                option.cli, default=None, dest=option.name, metavar=option.metavar, help=option.help
            )
        parser.addini(option.name, help=option.help, type="string", default=None)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    cli = {option.name: config.getoption(option.name) for option in OPTIONS}
    ini = {option.name: config.getini(option.name) for option in OPTIONS}
    ini_dir = config.inipath.parent if config.inipath is not None else config.rootpath
    cli_dir = config.invocation_params.dir
    try:
        settings = resolve(cli, ini, cli_dir=str(cli_dir), ini_dir=str(ini_dir))
        gate = Gate.open(settings, str(config.rootpath), __version__)
    except (SettingsError, BaselineError) as error:
        raise pytest.UsageError(f"refleak: {error}") from None
    config.stash[settings_key] = settings
    config.stash[gate_key] = gate
    if settings.check_all or _reports_run(config, settings):
        config.pluginmanager.register(RefleakPlugin(config, settings, gate), PLUGIN_NAME)


def _reports_run(config: pytest.Config, settings: Settings) -> bool:
    """Whether the plugin must be there from the start to report on the run.

    A report file or a baseline is written even if no test turns out to be
    checked.  pytest-xdist's controller runs no test, so it never sees the
    markers that turn checking on: it reports whatever its workers send.
    """
    if settings.report is not None or settings.baseline is not None:
        return True
    return getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Decide which tests are checked, and reject malformed markers before anything runs."""
    settings = config.stash.get(settings_key, None)
    if settings is None:
        return
    wanted = False
    for item in items:
        marker = item.get_closest_marker("refleak")
        if marker is None:
            if settings.check_all:
                item.stash[limits_key] = settings.limits
                wanted = True
            continue
        try:
            request = read_marker(marker.args, marker.kwargs, settings.limits, item.nodeid)
        except SettingsError as error:
            raise pytest.UsageError(f"refleak: {error}") from None
        if request.enabled:
            item.stash[limits_key] = request.limits
            wanted = True
    if wanted and not config.pluginmanager.has_plugin(PLUGIN_NAME):
        plugin = RefleakPlugin(config, settings, config.stash[gate_key])
        config.pluginmanager.register(plugin, PLUGIN_NAME)


# -- the first run's measuring window ----------------------------------------------------


class FirstRun:
    """The real run of a checked test, measured around pytest's whole run of it.

    The window opens and closes with nothing of pytest's in flight, so that no
    half-finished hook call is counted at one end and not at the other.
    Everything the window writes while open was allocated before it opened.
    """

    def __init__(self, checker: RefleakPlugin, item: pytest.Item, limits: Limits) -> None:
        self.item = item
        self.first_call = checker.first_call_of(item)
        self.limits = limits
        self.window = checker.window(cycles=limits.cycles != "off")
        self.reading: Reading | None = None
        #: Why measuring failed, if it did (a bug of ours, not the test's).
        self.failure: str | None = None
        self.state = "idle"
        self.containers: list[tuple[object, object, str, int]] = []
        self.request: object = None
        # Made now, not while the window is open: anything created between the
        # window's two readings would count as the test's.
        self.extra_blocks = 0
        self.reports: Sequence[pytest.TestReport] = ()
        self.caches = [*bounded_caches(), *bounded_dict_caches()]
        self.exclusions = self._exclusions

    def open(self) -> None:
        item = self.item
        # pytest drops the item's fixture values and request object after the
        # teardown; holding them keeps their memory from counting as freed.
        self.request = getattr(item, "_request", None)
        self.containers = _item_containers(item)
        _settle_log_handler(item.config)
        # Values pytest computes once per item when it first reports on it.
        item.location  # noqa: B018
        getattr(item, "id", None)
        self.state = "open"
        self.window.open()

    def close(self, reports: list[pytest.TestReport]) -> list[pytest.TestReport]:
        """Read the window and hand back the reports, re-made if they had to be let go.

        pytest's reports are still held here, to be marked and logged later.  To
        keep their memory out of the reading they are pickled into one bytes
        object, dropped, and made again once memory has been read.
        """
        if self.state != "open":
            return reports
        self.state = "closed"
        item = self.item
        packed = _pack_reports(reports)
        extra = 0
        self.reports = reports
        if packed is not None:
            reports.clear()
            extra += 1  # the string itself
        try:
            extra += self._let_go_dropped()
            self.extra_blocks = extra + self.first_call
            self.reading = self.window.close(self.exclusions)
        except Exception as error:  # noqa: BLE001 - a bug of ours must not lose the reports
            self.failure = _failure(error)
            self.reading = None
            # Put the collector's settings back, whatever state the window is in.
            with contextlib.suppress(Exception):
                self.window.close()
        self.containers = []
        self.request = None
        if packed is None:
            return reports
        return _unpack_reports(packed, item)

    def _let_go_dropped(self) -> int:
        """Empty the containers pytest let go of once nothing else holds them; return
        the blocks of those it keeps that grew from empty."""
        extra = 0
        request_dropped = getattr(self.item, "_request", None) is not self.request
        held_more = []
        for entry in self.containers:
            owner, container, name, size = entry
            dropped = (
                request_dropped
                if owner is self.request
                else (getattr(owner, name, None) is not container)
            )
            # Counted right here: passing the container to a helper would add
            # references, and a different number on different Python versions.
            # Ours: the tuple in self.containers, ``container`` and getrefcount's
            # argument; for one owned by the request, held here, the request's.
            others = (
                sys.getrefcount(container) - (3 if owner is self.item else 4) if dropped else -1
            )
            if others == 0:
                # pytest let it go: empty it as pytest meant it to be.
                container.clear()  # type: ignore[attr-defined]
            elif 0 < others <= 3:
                # A few more holders: garbage, perhaps (see below).  A container
                # shared by every item of a function has one holder per item.
                held_more.append(entry)
            elif _grew_from_empty(container, size):
                extra += 1
        if held_more:
            # Garbage not yet collected may be what still holds it: pytest's calling
            # frame, kept in a cycle by a caught exception's traceback, whose closure
            # cell (and locals, once a traceback was rendered) hold the fixture
            # values.  Look again once that is gone.
            gc.collect()
            # With cycles caught, that garbage is kept for the verdict: what it
            # holds is let go all the same.
            garbage = self.window.garbage_ids()
            for entry in held_more:
                owner, container, name, size = entry
                by_garbage = sum(1 for r in gc.get_referrers(container) if id(r) in garbage)
                others = sys.getrefcount(container) - (3 if owner is self.item else 4)
                if others - by_garbage == 0:
                    container.clear()  # type: ignore[attr-defined]
                elif _grew_from_empty(container, size):
                    extra += 1
        return extra

    def _exclusions(self) -> Exclusions:
        item = self.item
        current = [c for owner in (item, self.request) for _, c, _, _ in _containers_of(owner)]
        # The stash's storage: new entries there (tmp_path's results, say) are pytest's.
        current.extend(r for r in gc.get_referents(item.stash) if type(r) is dict)
        return Exclusions(
            bookkeeping=[self.reports, *self.reports, item.stash, *_fixture_finalizers(item)],
            owned=current,
            holders=_tooling_holders(item.config),
            # What bounded caches gained is theirs to drop: no reason to re-run.
            caches=self.caches,
            extra_blocks=self.extra_blocks,
            exact=_node_setup_records(item),
        )

    def abandon(self) -> None:
        if self.state == "open":
            self.state = "closed"
            self.window.close()


_EMPTY_SIZE: dict[type, int] = {dict: sys.getsizeof({}), list: sys.getsizeof([])}


def _grew_from_empty(container: object, size: int) -> bool:
    """Whether a container that was empty has since allocated storage: one block."""
    return size == _EMPTY_SIZE.get(type(container)) and sys.getsizeof(container) > size


def _failure(error: Exception) -> str:
    """The note for a test whose measuring raised: an error of the plugin's."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - an exception that cannot say what it is
        text = "?"
    return (
        f"measuring it failed ({type(error).__name__}: {text[:200]}); "
        "this is a bug in pytest-refleak, please report it"
    )


def _setup_stack(item: pytest.Item) -> dict[Any, Any] | None:
    """pytest's record of the nodes it has set up and not yet torn down (None: not known)."""
    stack = getattr(getattr(item.session, "_setupstate", None), "stack", None)
    return stack if isinstance(stack, dict) else None


def _set_up_nodes(item: pytest.Item) -> set[int] | None:
    """Ids of the nodes pytest has set up and not yet torn down (None: not known)."""
    stack = _setup_stack(item)
    return None if stack is None else {id(node) for node in stack}


def _node_setup_records(item: pytest.Item) -> list[object]:
    """pytest's record of each node it has set up and not yet torn down: a tuple, a
    list of finalizers and the node's own teardown method.

    The first test of a module or class makes them, and they stay until the node is
    torn down.  Only these objects are pytest's: the finalizers fixtures add to the
    list, and what those hold, are not taken with them.
    """
    stack = _setup_stack(item)
    if stack is None:
        return []
    records: list[object] = []
    for node, record in stack.items():
        if type(record) is not tuple or not record or type(record[0]) is not list:
            continue
        records.append(record)
        records.append(record[0])
        records.extend(
            f
            for f in record[0]
            if type(f) is types.MethodType and f.__self__ is node
        )
    return records


def _item_containers(item: pytest.Item) -> list[tuple[object, object, str, int]]:
    """The lists and dicts of an item and its fixture request, with their sizes now.

    pytest fills them during a run (fixture values, captured output sections, user
    properties) and drops some afterwards.
    """
    found = []
    for owner in (item, getattr(item, "_request", None)):
        found.extend(_containers_of(owner))
    return found


def _containers_of(owner: object) -> list[tuple[object, object, str, int]]:
    attributes = getattr(owner, "__dict__", None)
    if not isinstance(attributes, dict):
        return []
    return [
        (owner, value, name, sys.getsizeof(value))
        for name, value in attributes.items()
        if type(value) in (dict, list)
    ]


def _fixture_finalizers(item: pytest.Item) -> list[list[object]]:
    """The finalizer lists of the fixtures an item uses.

    Setting up a fixture registers its teardown with each fixture it depends on;
    when those are of wider scope (``tmp_path`` on the session's
    ``tmp_path_factory``), pytest keeps the registration until that wider fixture
    is torn down.  That growth is pytest's, not the test's.
    """
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", None)
    if not isinstance(definitions, dict):
        return []
    lists: list[list[object]] = []
    for chain in definitions.values():
        for definition in chain:
            finalizers = getattr(definition, "_finalizers", None)
            if isinstance(finalizers, list):
                lists.append(finalizers)
    return lists


def _settle_log_handler(config: pytest.Config) -> None:
    """Let the log handler drop the previous test's records now, not inside the window.

    pytest's logging plugin keeps a test's last records until the next phase
    starts.  Resetting the handler early, and reading it as the end of a phase
    does, leaves it as the test's last phase will leave it.  Done in a function of
    its own so that the bound methods it makes are gone before measuring starts.
    """
    handler = _report_handler(config)
    reset = getattr(handler, "reset", None)
    if callable(reset):
        reset()
        getvalue = getattr(getattr(handler, "stream", None), "getvalue", None)
        if callable(getvalue):
            getvalue()


def _report_handler(config: pytest.Config) -> object:
    return getattr(config.pluginmanager.get_plugin("logging-plugin"), "report_handler", None)


def _tooling_holders(config: pytest.Config) -> list[object]:
    """Objects of pytest's own plugins that swap in fresh buffers for every test phase."""
    holders: list[object] = [config.stash]
    logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
    for name in ("caplog_handler", "report_handler", "log_cli_handler", "log_file_handler"):
        handler = getattr(logging_plugin, name, None)
        if handler is not None:
            holders.append(handler)
    return holders


class HeldReports:
    """Holds back the reports a test logs while it runs (subtests), as ``log=False`` does
    for the test's own.

    Subtests, pytest's and unittest's, log a report per subtest from inside the
    test's call, through the item's hook proxy.  The real run's are logged with the
    test's own reports once it is measured, in the order pytest would have logged
    them, so that their memory is pytest's and not the test's; a re-run's are
    dropped, so that re-running does not report its subtests again.
    """

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.keep = True
        self.held: list[pytest.TestReport] = []
        self._session = item.session

    def install(self) -> None:
        # Node.ihook asks the session for the proxy each time: an attribute of the
        # session shadows its method for as long as the test is in our hands.
        real = self._session.gethookproxy

        def relay(fspath: Any) -> Any:
            return _Relay(real(fspath), self)

        self._session.gethookproxy = relay  # type: ignore[method-assign]

    def uninstall(self) -> None:
        self._session.__dict__.pop("gethookproxy", None)

    def take(self, report: pytest.TestReport) -> bool:
        """Hold back ``report`` if it is the test's own; say whether it was."""
        if getattr(report, "nodeid", None) != self.item.nodeid:
            return False
        if self.keep:
            self.held.append(report)
        return True

    def merge(self, reports: list[pytest.TestReport]) -> list[pytest.TestReport]:
        """The test's reports with those held back, where pytest would have logged them."""
        if not self.held:
            return reports
        merged: list[pytest.TestReport] = []
        for report in reports:
            if report.when in ("call", "teardown") and self.held:
                merged.extend(self.held)
                self.held.clear()
            merged.append(report)
        merged.extend(self.held)
        self.held.clear()
        reports.clear()
        return merged


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


# -- the plugin ------------------------------------------------------------------------


class RefleakPlugin:
    """Checks the tests chosen by flag, ini setting or marker."""

    def __init__(self, config: pytest.Config, settings: Settings, gate: Gate) -> None:
        self.config = config
        self.settings = settings
        self.gate = gate
        # pytest-xdist's workers check tests; the controller reports on them.
        self.worker = hasattr(config, "workerinput")
        self._heap: Heap | None = None
        self._origins: Origins | None = None
        self._calibration: dict[type, int] = {}
        self._offsets: dict[bool, int] = {}
        self._codes_seen: set[int] = set()
        self.checked = 0
        self.rerun = 0
        self.seconds = 0.0
        self.explain_seconds = 0.0
        self.started = time.perf_counter()

    # -- lazily made measuring tools -----------------------------------------------

    @property
    def heap(self) -> Heap:
        if self._heap is None:
            self._heap = Heap()
        return self._heap

    @property
    def origins(self) -> Origins:
        if self._origins is None:
            patterns = self.config.getini("python_files") or ["test_*.py", "*_test.py"]
            self._origins = Origins([str(self.config.rootpath)], list(patterns))
        return self._origins

    def window(
        self,
        *,
        cycles: bool,
        trace: bool = False,
        freeze: bool = True,
        since: tracemalloc.Snapshot | None = None,
        previous: tuple[tuple[int, int], ...] = (),
    ) -> Window:
        if cycles not in self._offsets:
            self._offsets[cycles] = calibrate_offset(self.heap, self.origins, cycles=cycles)
        if not self._calibration:
            self._calibration = {pytest.TestReport: calibrate_type(self.heap, _sample_report)}
        return Window(
            self.heap,
            self.origins,
            cycles=cycles,
            trace=trace,
            nframes=TRACE_FRAMES,
            detailed=trace and since is None,
            calibration=self._calibration,
            offset=self._offsets[cycles],
            freeze=freeze,
            since=since,
            previous=previous,
        )

    def first_call_of(self, item: pytest.Item) -> int:
        """Blocks Python 3.10 keeps after a test function's first call: one frame.

        Before 3.11 each code object keeps the frame of its last call for reuse, so
        the first call of a test function leaves one block behind that later calls
        do not.
        """
        if sys.version_info >= (3, 11):
            return 0
        code = getattr(getattr(item, "function", None), "__code__", None)
        if code is None or id(code) in self._codes_seen:
            return 0
        self._codes_seen.add(id(code))
        return 1

    # -- reporting hooks -------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        limits = self.settings.limits
        if self.settings.check_all:
            parts = [f"cycles: {limits.cycles}", f"re-runs: {limits.runs}"]
            if limits.allow_objects:
                parts.append(f"allowed objects: {limits.allow_objects}")
            if limits.allow_memory:
                parts.append(f"allowed memory: {format_size(limits.allow_memory)}")
            lines.append(f"refleak: checking every test ({', '.join(parts)})")
        lines.extend(self.gate.header())
        return lines

    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        kind = getattr(report, "refleak_verdict", None)
        if report.when != "call" or kind not in (LEAKED, CYCLES, KNOWN):
            return None
        if kind == LEAKED:
            return "failed", "L", ("LEAKED", {"red": True})
        if kind == KNOWN:
            return "passed", "K", ("KNOWN LEAK", {"yellow": True})
        return "failed", "C", ("CYCLES", {"red": True})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "refleak_record", None)
        if record is not None and not self.worker:
            self.gate.add(record)

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        if self.settings.baseline is not None:
            self.gate.add_collected(item.nodeid for item in items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Note which tests exist, to tell baseline entries of removed tests."""
        if self.settings.baseline is None:
            return
        self.gate.add_collected(item.nodeid for item in session.items)
        if self.worker:
            workeroutput: dict[str, object] = self.config.workeroutput  # type: ignore[attr-defined]
            workeroutput["refleak_collected"] = sorted(self.gate.collected)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist's controller: what a worker collected, for the baseline."""
        collected = getattr(node, "workeroutput", {}).get("refleak_collected")
        if isinstance(collected, list):
            self.gate.add_collected(str(nodeid) for nodeid in collected)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.worker:
            return
        self.gate.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
        if self.gate.write_failed:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        elif self.gate.strict_failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.gate.summary()
        annotations = []
        if os.environ.get("GITHUB_ACTIONS") == "true":
            annotations = self.gate.annotations(self._classify)
        verbose = self.config.get_verbosity() > 0 and not self.worker
        if not lines and not annotations and not verbose:
            return
        terminalreporter.section("refleak")
        for line, colour in lines:
            terminalreporter.line(line, **({colour: True} if colour else {}))
        for annotation in annotations:
            terminalreporter.line(annotation)
        if verbose:
            # Measured in this process: under xdist the workers' share is not in it.
            terminalreporter.line(
                f"refleak: checked {self.checked} test{'s' if self.checked != 1 else ''}, "
                f"re-ran {self.rerun} ({self.seconds:.2f}s), "
                f"explaining leaks took {self.explain_seconds:.2f}s"
            )

    def _classify(self, path: str) -> str:
        return self.origins.of_file(os.path.join(str(self.config.rootpath), path)).value

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._heap is not None:
            self._heap.restore()
            self._heap = None

    # -- running a checked test ------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        limits = item.stash.get(limits_key, None)
        if limits is None:
            return None
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        first = FirstRun(self, item, limits)
        set_up_before = _set_up_nodes(item)
        held = HeldReports(item)
        held.install()
        try:
            first.open()
            try:
                made = runtestprotocol(item, log=False, nextitem=nextitem)
                reports = first.close(held.merge(made))
            finally:
                first.abandon()
            self.checked += 1
            # Fixtures of wider scope torn down after this test free memory inside the
            # first run's window, which could hide a leak: such a test is always
            # re-run.  Not when this very run set the node up (a class's only test):
            # then what its teardown frees was allocated inside the window too.
            chain = item.listchain()
            torn_down = chain[_shared(chain, nextitem) : -1]
            tore_down = any(
                set_up_before is None or id(node) in set_up_before for node in torn_down
            )
            del chain, torn_down
            held.keep = False
            verdict: Verdict | None
            try:
                verdict = self._second_look(
                    item, nextitem, limits, first.reading, reports, tore_down
                )
            except pytest.exit.Exception:
                raise
            except Exception as error:  # noqa: BLE001 - a bug of ours must not lose the reports
                verdict = Verdict(Kind.INCONCLUSIVE, runs=0, note=_failure(error))
            if first.failure is not None:
                verdict = Verdict(Kind.INCONCLUSIVE, runs=0, note=first.failure)
        finally:
            held.uninstall()
        self._conclude(item, reports, verdict, limits)
        for report in reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    # -- re-runs ------------------------------------------------------------------

    def _second_look(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        limits: Limits,
        reading: Reading | None,
        reports: list[pytest.TestReport],
        tore_down: bool,
    ) -> Verdict | None:
        if reading is None or not _all_passed(reports):
            return None
        if not tore_down and not looks_leaky(reading, limits):
            return None
        started = time.perf_counter()
        self.rerun += 1
        try:
            return self._rerun(item, nextitem, limits)
        finally:
            self.seconds += time.perf_counter() - started

    def _rerun(self, item: pytest.Item, nextitem: pytest.Item | None, limits: Limits) -> Verdict:
        """Re-run the test unreported; the last planned re-run traces allocations.

        The first re-runs are cheap and clear most tests, those warming up over a
        few calls included.  The last traces, so that a leaking test gets its
        allocation sites and the memory held by strings and numbers is counted;
        any after it are cheap again.  A test leaks only if every re-run grew.

        Re-runs tear down what the real next test would not need, as the real run
        did: after the last test of a module, its module fixtures are set up and
        torn down again by each re-run.
        """
        ignored, ignored_types = self._ignored(item)
        traced: Reading | None = None
        failure = None
        # Python 3.10 keeps a frame per function for reuse, which makes single
        # readings noisier: one more re-run must grow before a test counts as leaking.
        runs = limits.runs + (1 if sys.version_info < (3, 11) else 0)
        readings: list[Reading] = []
        # What the last re-run left alive: the next tells replaced from kept by it.
        # Not the first run's, which holds what is made once and freed later.
        kept: tuple[tuple[int, int], ...] = ()
        count_callbacks = atexit_callbacks()
        callbacks_before = count_callbacks() if count_callbacks else 0
        try:
            with saved_caches():
                caches = [*bounded_caches(), *tooling_state(self.origins)]
                library_caches()  # looked for now, outside the measured windows
                number = 0
                # Memory the traced re-run kept in strings and numbers is counted
                # again by the next re-run, from the traces where the traced one
                # ended: what the first allocated and the second freed (a buffer
                # swapped for a fresh one) is taken off.  Set only while that net
                # re-run is due.
                since: tracemalloc.Snapshot | None = None
                net: Reading | None = None
                # Growth still shrinking after the planned re-runs is something warming
                # up, not yet a leak: re-run until it settles, at most as often again.
                while (
                    number < runs
                    or since is not None
                    or (number < 2 * runs and settling(readings))
                ):
                    number += 1
                    # Tracing makes a run several times slower: only a test that grew
                    # on every cheap re-run gets one.
                    tracing = number == runs
                    if tracing:
                        # Explaining a leak later needs what this re-run allocated.
                        self.heap.hold_tracing()
                    reading, end_snapshot = self._measure_rerun(
                        item,
                        nextitem,
                        limits,
                        tracing or since is not None,
                        ignored,
                        ignored_types,
                        caches,
                        since=since,
                        previous=kept,
                    )
                    if reading is None:
                        failure = "it did not pass when re-run"
                        break
                    readings.append(reading)
                    kept = reading.kept
                    if tracing:
                        traced = reading
                        if reading.untracked:
                            since = end_snapshot
                        else:
                            # Only memory held by strings and numbers needs the
                            # traces to be explained; the rest run faster without.
                            self.heap.release_tracing()
                    elif since is not None:
                        net = reading
                        since = None
                    if not still_leaky(reading, limits):
                        return Verdict(Kind.CLEAN, runs=number)
            if failure is not None:
                return Verdict(Kind.INCONCLUSIVE, runs=len(readings), note=failure)
            assert traced is not None  # the last planned re-run traces
            verdict = judge(readings, traced, limits, net=net)
            if verdict.kind is Kind.LEAKED:
                grew = count_callbacks is not None and (
                    count_callbacks() - callbacks_before >= len(readings)
                )
                verdict = self._explain(item, verdict, atexit_grew=grew)
            return verdict
        finally:
            self.heap.release_tracing()

    def _explain(self, item: pytest.Item, verdict: Verdict, *, atexit_grew: bool) -> Verdict:
        """Fill in what keeps the leak alive while it still is."""
        verbose = item.config.get_verbosity()
        graphs_dir = None
        if self.settings.graphs_dir is not None:
            graphs_dir = Path(self.settings.graphs_dir)
        request = Request(
            types=6 if verbose > 0 else 3,
            sites=5 if verbose > 0 else 3,
            atexit_grew=atexit_grew,
            graphs_dir=graphs_dir,
            stem=file_stem(item.nodeid),
            budget_seconds=search_seconds(
                self.explain_seconds, time.perf_counter() - self.started
            ),
        )
        explained = explain_alive(verdict, request, unfreeze=self.heap.frozen)
        self.explain_seconds += explained.seconds
        verdict = explained.verdict
        if explained.graphs:
            verdict = dataclasses.replace(verdict, graphs=tuple(map(str, explained.graphs)))
        if explained.problem:
            verdict = dataclasses.replace(verdict, note=explained.problem)
        return verdict

    def _measure_rerun(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        limits: Limits,
        traced: bool,
        ignored: list[object],
        ignored_types: tuple[type, ...],
        caches: list[object],
        since: tracemalloc.Snapshot | None = None,
        previous: tuple[tuple[int, int], ...] = (),
    ) -> tuple[Reading | None, tracemalloc.Snapshot | None]:
        """The re-run's reading (``None`` if it did not pass), and the traces where it
        ended when it traced."""
        config = item.config
        sections = _report_sections(item)
        sections_before = len(sections) if sections is not None else 0
        properties_before = len(item.user_properties)
        registrations = [(lst, len(lst)) for lst in _fixture_finalizers(item)]
        # Re-runs do not freeze the heap again: what earlier runs of this test made
        # stays collectable, so a structure rebuilt on every run and dropped by
        # the next one is freed, as it would be without the plugin.
        window = self.window(
            cycles=limits.cycles != "off",
            trace=traced,
            freeze=False,
            since=since,
            previous=previous,
        )

        def exclusions() -> Exclusions:
            # What bounded caches gained is theirs to drop later.
            return Exclusions(
                holders=[item.stash, *_tooling_holders(config), *_fixture_finalizers(item)],
                ignored=ignored,
                ignored_types=ignored_types,
                caches=caches,
            )

        self._clear_caches(config)
        window.open()
        passed = False
        try:
            with warnings.catch_warnings(record=True):
                reports = runtestprotocol(item, log=False, nextitem=nextitem)
            passed = _all_passed(reports)
            del reports
        finally:
            # Re-runs are not reported: what they added to the item goes, and so do
            # the teardown registrations their fixtures left with wider-scoped ones.
            if sections is not None:
                del sections[sections_before:]
            del item.user_properties[properties_before:]
            for finalizers, length in registrations:
                del finalizers[length:]
            self._clear_caches(config)
            reading = window.close(exclusions)
        return (reading if passed else None), window.end_snapshot

    def _clear_caches(self, config: pytest.Config) -> None:
        clear_caches()
        config.hook.pytest_refleak_clear_caches(config=config)

    def _ignored(self, item: pytest.Item) -> tuple[list[object], tuple[type, ...]]:
        objects: list[object] = []
        types_: list[type] = []
        for result in item.ihook.pytest_refleak_ignore(item=item):
            for declared in result or ():
                (types_ if isinstance(declared, type) else objects).append(declared)
        return objects, tuple(types_)

    def _conclude(
        self,
        item: pytest.Item,
        reports: list[pytest.TestReport],
        verdict: Verdict | None,
        limits: Limits,
    ) -> None:
        """Put the test's record on its reports, and fail it for a leak the baseline does not
        accept.  The record travels with the last report: pytest-xdist sends it to the
        controller, which writes the report file and the summary."""
        if any(r.skipped for r in reports):
            return
        path, line, _ = item.location
        location = (path, (line or 0) + 1)
        record: Record
        if not _all_passed(reports):
            record = unchecked_record(item.nodeid, "the test did not pass", location)
        elif verdict is None:
            record = clean_record(item.nodeid)
        else:
            root = str(item.config.rootpath)
            record = verdict_record(
                item.nodeid,
                verdict,
                limits,
                root=root,
                location=location,
                verbosity=item.config.get_verbosity(),
            )
        self.gate.judge(record)
        if record["verdict"] in (LEAKED, CYCLES, KNOWN):
            # The test's own call report comes after those of its subtests.
            call = [r for r in reports if r.when == "call"][-1]
            call.refleak_verdict = record["verdict"]  # type: ignore[attr-defined]
            if record["verdict"] != KNOWN:
                self._fail(call, record)
        reports[-1].refleak_record = record  # type: ignore[attr-defined]
        reports[-1].user_properties.extend(junit_properties(record))

    def _fail(self, call: pytest.TestReport, record: Record) -> None:
        call.outcome = "failed"
        call.longrepr = str(record["text"])


def _pack_reports(reports: list[pytest.TestReport]) -> bytes | None:
    """The reports as one bytes object, or ``None`` if they cannot make the round trip.

    Only passing runs are measured exactly, so only their reports are packed, and
    only if every attribute holds plain data or pytest's own objects.  Anything
    else (user properties, an object another plugin attached) is someone else's:
    pickling it may run their code, and it may not load again.
    """
    if not _all_passed(reports) or any(r.user_properties for r in reports):
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


def _unpack_reports(packed: bytes, item: pytest.Item) -> list[pytest.TestReport]:
    """Re-make the reports :func:`_pack_reports` packed, costing what pytest's own did.

    pytest keeps every report until the session ends.  Unpickled as they are, each
    would hold a dict of its own for its attributes and copies of strings the item
    already has: some 20 blocks a test.  Attributes are set one by one, as
    ``__init__`` set them, and take the item's own node id, location and keyword
    names where they are equal.
    """
    same = dict(_WORDS)
    for name in ("_id", "_nodeid", "nodeid", "location"):
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


def _all_passed(reports: Iterable[pytest.TestReport]) -> bool:
    return all(r.passed and not hasattr(r, "wasxfail") for r in reports)


def _report_sections(item: pytest.Item) -> list[Any] | None:
    sections = getattr(item, "_report_sections", None)
    return sections if isinstance(sections, list) else None


def _shared(chain: list[Any], other: pytest.Item | None) -> int:
    if other is None:
        return 0
    count = 0
    for a, b in zip(chain[:-1], other.listchain(), strict=False):
        if a is not b:
            break
        count += 1
    return count


def _sample_report() -> object:
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
