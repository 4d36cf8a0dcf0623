"""pytest entry point: options, the ``refleak`` marker, and the hooks.

The hooks delegate: :mod:`pytest_refleak.protocol` runs a checked test (first run,
re-runs, verdict), :mod:`pytest_refleak.gate` collects the records, compares them
with the baseline and writes the report.  ``docs/architecture.md`` maps the rest.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator, Sequence
from typing import Any

import pytest

from pytest_refleak import __version__, hookspecs
from pytest_refleak.baseline import BaselineError
from pytest_refleak.companions import note_timer
from pytest_refleak.gate import Gate
from pytest_refleak.protocol import Checker
from pytest_refleak.record import CYCLES, KNOWN, LEAKED, USAGE_ERROR, unchecked_record
from pytest_refleak.resources import unavailable
from pytest_refleak.settings import (
    MARKER_HELP,
    OPTIONS,
    RESOURCE_KINDS,
    AcceptedNames,
    Limits,
    Settings,
    SettingsError,
    read_marker,
    resolve,
)
from pytest_refleak.text import format_size

PLUGIN_NAME = "refleak-checker"

settings_key = pytest.StashKey[Settings]()
gate_key = pytest.StashKey[Gate]()
limits_key = pytest.StashKey[Limits]()
#: A malformed marker found by a pytest-xdist worker: said when the test would run.
marker_error_key = pytest.StashKey[str]()


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
        _add_ini(parser, option.name, option.help, option.ini_kind)


def _add_ini(parser: pytest.Parser, name: str, help: str, kind: str) -> None:
    """Declare an ini setting with its type, so that ``--help`` shows it.

    pytest before 8.4 knows no ``int`` ini type and refuses it: such a setting is
    read as a string there, and ``settings.resolve`` parses it either way.
    """
    try:
        parser.addini(name, help=help, type=kind, default=None)  # type: ignore[arg-type]
    except (AssertionError, ValueError, TypeError):
        parser.addini(name, help=help, type="string", default=None)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    cli = {option.name: config.getoption(option.name) for option in OPTIONS}
    try:
        ini = {option.name: _read_ini(config, option.name) for option in OPTIONS}
    except SettingsError as error:
        raise pytest.UsageError(f"refleak: {error}") from None
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


def _read_ini(config: pytest.Config, name: str) -> object:
    """An ini value as pytest parses it for its declared type; a value pytest cannot
    parse (``refleak = maybe``) is the user's mistake, said in one line."""
    try:
        return config.getini(name)
    except (ValueError, TypeError, pytest.UsageError) as error:
        # pytest 9 raises UsageError here, older versions ValueError: either way
        # without the setting's name.
        raise SettingsError(f"ini option {name}: {error}") from None


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
    # Cycle shapes are looked up now that the tests have imported the project.
    accepted = AcceptedNames()
    try:
        limits = accepted.resolved(settings.limits, "refleak_accept_cycles")
    except SettingsError as error:
        limits = dataclasses.replace(settings.limits, accept_cycles=())
        for item in items[:1]:
            _reject(config, item, error)
            wanted = True
    for item in items:
        if marker_error_key in item.stash:
            continue
        marker = item.get_closest_marker("refleak")
        if marker is None:
            if settings.check_all:
                item.stash[limits_key] = limits
                wanted = True
            continue
        try:
            request = read_marker(marker.args, marker.kwargs, limits, item.nodeid)
            request = dataclasses.replace(
                request,
                limits=accepted.resolved(
                    request.limits, f"{item.nodeid}: refleak marker argument accept_cycles"
                ),
            )
        except SettingsError as error:
            _reject(config, item, error)
            wanted = True
            continue
        if request.enabled:
            item.stash[limits_key] = request.limits
            wanted = True
    if wanted and not config.pluginmanager.has_plugin(PLUGIN_NAME):
        plugin = RefleakPlugin(config, settings, config.stash[gate_key])
        config.pluginmanager.register(plugin, PLUGIN_NAME)


def _reject(config: pytest.Config, item: pytest.Item, error: SettingsError) -> None:
    """A usage error found at collection: said at once, or by ``item``'s setup."""
    if not hasattr(config, "workerinput"):
        raise pytest.UsageError(f"refleak: {error}") from None
    # A worker's usage error ends it without the message reaching anyone
    # (pytest-xdist reports an internal error): the test's setup fails with
    # it instead, and its record makes the controller exit with code 4.
    item.stash[marker_error_key] = f"refleak: {error}"


# -- the plugin ------------------------------------------------------------------------


class RefleakPlugin:
    """Checks the tests chosen by flag, ini setting or marker, and reports on them."""

    def __init__(self, config: pytest.Config, settings: Settings, gate: Gate) -> None:
        self.config = config
        self.settings = settings
        self.gate = gate
        # pytest-xdist's workers check tests; the controller reports on them.
        self.worker = hasattr(config, "workerinput")
        self.checker = Checker(config, settings, gate)
        #: The session was stopped early: Ctrl-C, KeyboardInterrupt or pytest.exit,
        #: whatever return code pytest.exit chose.
        self.interrupted = False

    # A wrapper, not a protocol of our own: whoever runs the test's protocol
    # (pytest's runner, pytest-rerunfailures) runs its real run, and the plugins
    # wrapping it (pytest-timeout) see it as without us.  The outermost wrapper:
    # re-runs come after all of them.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        limits = item.stash.get(limits_key, None)
        if limits is None:
            return (yield)
        return (yield from self.checker.run(item, nextitem, limits))

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: object) -> None:
        """pytest-timeout's timer for a test: noted, for the test's re-runs."""
        if limits_key in item.stash:
            note_timer(item, settings)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        error = item.stash.get(marker_error_key, None)
        if error is not None:
            pytest.fail(error, pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        error = item.stash.get(marker_error_key, None)
        if error is not None and call.when == "setup":
            record = unchecked_record(item.nodeid, error, kind=USAGE_ERROR)
            report.refleak_record = record  # type: ignore[attr-defined]
        return report

    # -- reporting hooks -------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        limits = self.settings.limits
        if self.settings.check_all:
            parts = [
                f"cycles: {limits.cycles}",
                f"at least {limits.runs} re-runs of a suspect test",
            ]
            if limits.allow_objects:
                parts.append(f"allowed objects: {limits.allow_objects}")
            if limits.allow_memory:
                parts.append(f"allowed memory: {format_size(limits.allow_memory)}")
            if self.settings.resources != RESOURCE_KINDS:
                parts.append(f"resources: {', '.join(self.settings.resources) or 'none'}")
            lines.append(f"refleak: checking every test ({', '.join(parts)})")
        for kind, why in unavailable(self.settings.resources).items():
            lines.append(f"refleak: {kind} not checked: {why}")
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

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # pytest calls this for pytest.exit() too, which may give any exit code.
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.worker:
            return
        interrupted = self.interrupted or exitstatus == pytest.ExitCode.INTERRUPTED
        self.gate.finish(interrupted=interrupted)
        if self.gate.write_failed or self.gate.usage_error:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        elif self.gate.strict_failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.gate.summary(verbose=self.config.get_verbosity() > 0)
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
            checker = self.checker
            terminalreporter.line(
                f"refleak: checked {checker.checked} test{'s' if checker.checked != 1 else ''}, "
                f"re-ran {checker.rerun} ({checker.seconds:.2f}s), "
                f"explaining leaks took {checker.explain_seconds:.2f}s"
            )

    def _classify(self, path: str) -> str:
        return self.checker.origins.of_file(os.path.join(str(self.config.rootpath), path)).value

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.checker.restore()

    # -- running a checked test ------------------------------------------------------
