"""pytest entry point: options, the ``refleak`` marker, and the hooks.

The hooks delegate: :mod:`pytest_refleak.protocol` runs a checked test (first run,
re-runs, verdict), :mod:`pytest_refleak.gate` collects the records, compares them
with the baseline and writes the report.  ``docs/architecture.md`` maps the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_refleak import __version__, hookspecs
from pytest_refleak.baseline import BaselineError
from pytest_refleak.gate import Gate
from pytest_refleak.protocol import Checker
from pytest_refleak.record import CYCLES, KNOWN, LEAKED
from pytest_refleak.resources import unavailable
from pytest_refleak.settings import (
    MARKER_HELP,
    OPTIONS,
    RESOURCE_KINDS,
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

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        limits = item.stash.get(limits_key, None)
        if limits is None:
            return None
        return self.checker.run(item, nextitem, limits)

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
