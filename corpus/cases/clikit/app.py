"""Applications: a logger per run, and a reload hook on SIGHUP.

Per-run loggers: ``logging.getLogger(name)`` keeps every logger it ever made in
``logging.root.manager.loggerDict`` (tarasko/picows#72, DIRACGrid/DIRAC#5280,
github/annotated-logger#83: "every decorated function left a logger in the root
manager's loggerDict"); a name with the run's id in it keeps one logger per run. The
fix of kestra-io/kestra#8163 and wazuh/wazuh#4463: a stable logger name, and the run's
id carried beside it (here a ``LoggerAdapter``).

Log records tagged with the application's name: ``App.tag_log_records`` runs the
logging cookbook's ``setLogRecordFactory`` recipe (wrap the current factory, set the
wrapper) once per application, so every application made wraps the previous wrapper
and is kept by it (hand-made). ``tag_log_records_once`` installs one factory, once,
that reads the name of the application last tagged.

Reload on SIGHUP: radixark/miles#1472 (review): "The signal handlers are chained by
capturing ``prev`` in a closure ... the signal handler chain keeps growing and holding
references to old, shut-down ... instances (especially in test environments where
supervisors are repeatedly started and stopped)". The twin installs one dispatcher
once and finds the live applications in a ``WeakSet``.
"""

from __future__ import annotations

import itertools
import logging
import signal
import weakref
from typing import Any

_run_ids = itertools.count(1)


class RunRecorder(logging.Handler):
    """Keeps the last few records of the run, for the run's summary."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.last_app: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.lines = [*self.lines[-3:], record.getMessage()]
        self.last_app = getattr(record, "app", None)


_recorder = RunRecorder()
_base = logging.getLogger("clikit.run")
_base.addHandler(_recorder)
_base.setLevel(logging.INFO)
_base.propagate = False


def run_with_logger_per_run(task: str, steps: int) -> list[str]:
    run_id = f"{next(_run_ids):06d}"
    log = logging.getLogger(f"clikit.run.{task}-{run_id}")
    for step in range(steps):
        log.info("%s step %d/%d", task, step + 1, steps)
    return list(_recorder.lines)


def run_with_adapter(task: str, steps: int) -> list[str]:
    run_id = f"{next(_run_ids):06d}"
    log = logging.LoggerAdapter(_base, {"run_id": run_id, "task": task})
    for step in range(steps):
        log.info("%s step %d/%d", task, step + 1, steps)
    return list(_recorder.lines)


class App:
    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = dict(config)
        self.generation = 0
        self.history: list[dict[str, Any]] = []

    def reload(self) -> None:
        self.history.append(dict(self.config))
        self.generation += 1

    # The logging cookbook's recipe, run per application: a chain of factories.
    def tag_log_records(self) -> None:
        old = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = old(*args, **kwargs)
            record.app = self.name
            return record

        logging.setLogRecordFactory(factory)

    # radixark/miles#1472: chain to the previous handler, never restored.
    def install_reload_handler(self) -> None:
        prev = signal.getsignal(signal.SIGHUP)

        def _handler(signum: int, frame: Any) -> None:
            self.reload()
            if callable(prev):
                prev(signum, frame)

        signal.signal(signal.SIGHUP, _handler)


_live_apps: weakref.WeakSet[App] = weakref.WeakSet()
_dispatcher_installed = False


def _dispatch(signum: int, frame: Any) -> None:
    for app in list(_live_apps):
        app.reload()


def register_for_reload(app: App) -> None:
    global _dispatcher_installed
    _live_apps.add(app)
    if not _dispatcher_installed:
        signal.signal(signal.SIGHUP, _dispatch)
        _dispatcher_installed = True


_tagging = {"app": "-"}
_base_factory: list[Any] = []


def _tagging_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory[0](*args, **kwargs)
    record.app = _tagging["app"]
    return record


def tag_log_records_once(app: App) -> None:
    _tagging["app"] = app.name
    if logging.getLogRecordFactory() is not _tagging_factory:
        if not _base_factory:
            _base_factory.append(logging.getLogRecordFactory())
        logging.setLogRecordFactory(_tagging_factory)
