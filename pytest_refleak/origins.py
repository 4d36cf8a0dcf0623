"""Whose code is at a file path: the project's, its tests', the standard library's, ...

Cycle checking in ``project`` mode fails a test only for garbage cycles that the
project's own code made; this module draws that line.
"""

from __future__ import annotations

import enum
import fnmatch
import os
import re
import sys
import sysconfig
import time
import types
import warnings
from collections.abc import Iterable, Sequence

from pytest_refleak.heap import _MODULE_DICT


class Origin(enum.Enum):
    PROJECT = "project"
    TESTS = "tests"
    STDLIB = "stdlib"
    THIRD_PARTY = "third-party"
    TOOLING = "tooling"
    UNKNOWN = "unknown"


#: Directory names whose contents count as test code, whatever the file names.
TEST_DIR_NAMES = frozenset({"test", "tests", "testing"})


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _package_dir(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    return _norm(os.path.dirname(path)) if path else None


def _tooling_dirs(monitoring: Sequence[object]) -> list[str]:
    """Directories (and files) of the test tooling itself: pytest, pluggy, this
    plugin, pytest-xdist with its messaging library, the pytest plugins loaded,
    and the code tracing or profiling the interpreter (``monitoring``: the
    callbacks of the tools registered with ``sys.monitoring``)."""
    tooling = ("_pytest", "pluggy", "pytest_refleak", "xdist", "execnet")
    dirs = {_package_dir(name) for name in tooling}
    pytest_module = sys.modules.get("pytest")
    pytest_file = getattr(pytest_module, "__file__", None)
    if pytest_file:
        dirs.add(_norm(os.path.dirname(pytest_file)))
    dirs.update(_plugin_paths())
    dirs.update(_tracer_paths(monitoring))
    return sorted(d for d in dirs if d)


def plugin_package_paths() -> list[str]:
    """Paths of the packages and modules installed by distributions that plug into
    pytest (a ``pytest11`` entry point): hypothesis, pytest-asyncio, ...

    Taken from each distribution's list of files, not from imported modules: a
    plugin may import its package only once a test needs it.
    """
    from importlib import metadata

    try:
        entry_points = metadata.entry_points(group="pytest11")
    except Exception:  # noqa: BLE001 - broken metadata: no plugin packages known
        return []
    paths: set[str] = set()
    for entry_point in entry_points:
        dist = getattr(entry_point, "dist", None)
        try:
            files = (dist.files or []) if dist is not None else []
            tops = {
                f.parts[0]
                for f in files
                if f.parts
                and (len(f.parts) > 1 or f.parts[0].endswith(".py"))
                and f.parts[0].removesuffix(".py").isidentifier()
            }
            paths.update(_norm(str(dist.locate_file(top))) for top in tops)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - one odd distribution does not stop the rest
            continue
    return sorted(paths)


def _code_path(module_name: str, *, whole_package: bool) -> str | None:
    """Where a loaded module's code is: its top-level package's directory, or its file."""
    if whole_package:
        top = sys.modules.get(module_name.partition(".")[0])
        top_file = getattr(top, "__file__", None)
        if getattr(top, "__path__", None) is not None and isinstance(top_file, str):
            return _norm(os.path.dirname(top_file))
    path = getattr(sys.modules.get(module_name), "__file__", None)
    return _norm(path) if isinstance(path, str) else None


def _plugin_paths() -> set[str]:
    """The code of the pytest plugins installed and loaded.

    A plugin keeps records of its own for every test (pytest-rerunfailures' per
    run state, pytest-benchmark's results): memory its code allocates is the
    tooling's.  A project whose whole package is a plugin (named ``pytest_*``, by
    pytest's convention) is tooling whole; a library that ships a plugin module
    (anyio, hypothesis) has only that module counted, its library code being what
    tests call.
    """
    from importlib.metadata import entry_points

    paths = set()
    try:
        plugins = list(entry_points(group="pytest11"))
    except Exception:  # noqa: BLE001 - broken metadata of some distribution: no plugins
        return set()
    for plugin in plugins:
        name = plugin.module
        if name not in sys.modules:
            continue
        path = _code_path(name, whole_package=name.startswith("pytest_"))
        if path:
            paths.add(path)
    return paths


def _tracer_paths(monitoring: Sequence[object]) -> set[str]:
    """The code tracing or profiling the interpreter (coverage's Python tracer, or
    its ``sys.monitoring`` core): it runs on every line, on no one's behalf, and
    what it allocates and keeps is its own."""
    paths = set()
    for hook in (sys.gettrace(), sys.getprofile(), *monitoring):
        if hook is None:
            continue
        module = getattr(hook, "__module__", None) or type(hook).__module__
        if isinstance(module, str) and module not in ("builtins", "sys"):
            path = _code_path(module, whole_package=True)
            if path:
                paths.add(path)
    return paths


def _monitoring_callbacks() -> list[object]:
    """The functions the tools registered with ``sys.monitoring`` (Python 3.12+)
    have called on code events.  ``sys.monitoring`` hands a tool's callback out
    only when another is registered in its place: each is put straight back."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return []
    events = monitoring.events
    found: list[object] = []
    for tool in range(6):
        if monitoring.get_tool(tool) is None:
            continue
        for name in ("PY_START", "PY_RESUME", "LINE", "BRANCH", "JUMP", "CALL", "PY_RETURN"):
            event = getattr(events, name, None)
            if event is None:
                continue
            callback = monitoring.register_callback(tool, event, None)
            if callback is not None:
                monitoring.register_callback(tool, event, callback)
                found.append(callback)
    return found


#: Code flags of functions, lambdas and comprehensions: code that runs in a call.
_CALLED = 0x0002  # CO_NEWLOCALS


def _top_level_lines(filename: str) -> bytes | None:
    """The bitmap of :meth:`Origins.at_top_level`."""
    if filename.startswith("<frozen ") and not filename.startswith("<frozen importlib"):
        # A frozen standard module (3.11+): its lines are those of its source file.
        module = sys.modules.get(filename[len("<frozen ") : -1])
        source = module.__dict__.get("__file__") if type(module) is types.ModuleType else None
        if type(source) is not str:
            return None
        filename = source
    elif filename.startswith("<"):
        return None
    try:
        with open(filename, "rb") as file:
            text = file.read()
        # catch_warnings marks the filters changed, which empties every module's
        # registry of warnings shown at its next warning (heap.unshown_warnings);
        # a file is read once.  Leaving the filters alone, on 3.10 a clean
        # hypothesis test read +16 B on every re-run, not yet explained.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = compile(text, filename, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return None
    bits = bytearray()
    pending = [code]
    while pending:
        body = pending.pop()
        for _, _, line in body.co_lines():
            if line is None:
                continue
            if line >> 3 >= len(bits):
                bits.extend(bytes((line >> 3) + 1 - len(bits)))
            bits[line >> 3] |= 1 << (line & 7)
        pending.extend(
            c for c in body.co_consts if type(c) is types.CodeType and not c.co_flags & _CALLED
        )
    return bytes(bits)


def _stdlib_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return sorted({_norm(paths[key]) for key in ("stdlib", "platstdlib") if key in paths})


def _is_under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


class Origins:
    """Classifies file paths, caching the answers.

    ``project_dirs`` are the directories holding the project (by default pytest's
    rootdir); ``test_patterns`` are pytest's ``python_files`` globs.
    """

    def __init__(self, project_dirs: Iterable[str], test_patterns: Sequence[str]) -> None:
        self._project = [_norm(d) for d in project_dirs]
        # Compiled here: fnmatch's own cache must not fill up inside a measured window.
        self._test_names = re.compile(
            "|".join(fnmatch.translate(p) for p in (*test_patterns, "conftest.py"))
        )
        #: The callbacks of the tools registered with ``sys.monitoring``, as found
        #: when the tooling was looked for: they live as long as the tool, the session.
        self._monitoring = _monitoring_callbacks()
        self._tooling = _tooling_dirs(self._monitoring)
        self._transport = [d for d in map(_package_dir, ("xdist", "execnet")) if d]
        self._stdlib = _stdlib_dirs()
        self._cache: dict[str, Origin] = {}
        #: Files written after this are not cached (see ``_classify``).
        self._started = time.time()
        # Installed with a pytest plugin, and not the project's own (a plugin
        # project tests itself with its package installed in editable mode).
        self._plugins = [
            p for p in plugin_package_paths() if not any(_is_under(p, d) for d in self._project)
        ]
        self._plugin_cache: dict[str, bool] = {}
        self._top_lines: dict[str, bytes | None] = {}
        #: Whether a module of the project's own was loaded when last looked for
        #: (see :meth:`look_for_project`), and how many modules were loaded then.
        self.project_loaded = False
        self._modules_looked_at: tuple[int, int] = (0, 0)
        # The cache's table exists from the start, so that filling it during a
        # measured window replaces tables rather than adding one.
        self.of_file(__file__)

    def of_file(self, filename: str | None) -> Origin:
        # Only real strings are looked at and kept: a key that is some other object
        # (a mock's child standing in for a code object's filename) would be kept
        # alive by the cache, and everything it refers to with it.
        if type(filename) is not str or not filename:
            return Origin.UNKNOWN
        cached = self._cache.get(filename)
        if cached is None:
            cached, known = self._classify(filename)
            if known:
                self._cache[filename] = cached
        return cached

    def at_top_level(self, filename: str, line: int) -> bool | None:
        """Whether ``line`` of ``filename`` runs when its module body runs (the top
        level and class bodies); ``None`` if its source cannot be read to tell.

        Cached like :meth:`of_file`, only for files in places the plugin knows
        that were not written since the session began.  As a bitmap in ``bytes``:
        looked up inside measured windows, and an object the collector tracks (a
        set of line numbers) would be counted as the test's new object.
        """
        if type(filename) is not str:
            return None
        if filename in self._top_lines:
            lines = self._top_lines[filename]
        else:
            lines = _top_level_lines(filename)
            if self._classify(filename)[1]:
                self._top_lines[filename] = lines
        if lines is None:
            return None
        return line >> 3 < len(lines) and bool(lines[line >> 3] & 1 << (line & 7))

    def tracers(self) -> list[object]:
        """The objects now tracing the interpreter: ``sys.gettrace()``'s and
        ``sys.getprofile()``'s, and what ``sys.monitoring``'s callbacks are bound
        to (coverage's collector, under its ``sysmon`` core).  What they keep
        (coverage's record of each code object it sees run) is theirs: they run on
        every line of a test, on no one's behalf."""
        found: list[object] = [h for h in (sys.gettrace(), sys.getprofile()) if h is not None]
        for callback in self._monitoring:
            bound = getattr(callback, "__self__", None)
            found.append(callback if bound is None else bound)
        return found

    def handed(self, filename: str) -> bool:
        """Whether code in ``filename`` is the project's or its tests': what a test
        hands another thread to run (see :mod:`pytest_refleak.threads`)."""
        return self.of_file(filename) in (Origin.PROJECT, Origin.TESTS)

    def of_plugin(self, filename: str | None) -> bool:
        """Whether the file is installed by a pytest plugin's distribution, or is
        part of the test tooling itself."""
        if type(filename) is not str or not filename:
            return False
        cached = self._plugin_cache.get(filename)
        if cached is None:
            path = _norm(filename)
            cached = self.of_file(filename) is Origin.TOOLING or any(
                _is_under(path, p) for p in self._plugins
            )
            if filename in self._cache:
                self._plugin_cache[filename] = cached
        return cached

    @property
    def has_transport(self) -> bool:
        """Whether pytest-xdist's messaging may be running in this process.

        Its threads run only where its messaging library is loaded (a worker, or a
        controller with ``-n``); pytest-xdist merely installed loads the plugin
        alone, and then no new object needs asking who made it.
        """
        return bool(self._transport) and "execnet" in sys.modules

    def is_transport(self, filename: str) -> bool:
        """Whether the file is pytest-xdist's or its messaging library's, whose threads
        allocate while a test runs, never on the test's behalf."""
        # Theirs is tooling: the cached answer spares resolving the path of every
        # object's allocating file, which for a leak of many objects took seconds.
        if self.of_file(filename) is not Origin.TOOLING:
            return False
        path = _norm(filename)
        return any(_is_under(path, d) for d in self._transport)

    def look_for_project(self) -> bool:
        """Whether any loaded module is the project's own, noted in
        :attr:`project_loaded`.  Looked for again only when more modules are
        loaded; once one was, the project's code may run for good.

        Only code the project wrote can make a cycle count in the default mode:
        with none of it loaded (a project installed into ``site-packages`` and
        tested from its sdist, whose code is then a third party's by where it
        lives), no cycle can be the project's, and none is traced to ask.
        """
        modules = sys.modules
        # The newest entry too: a test may drop one module and import another.
        try:
            seen = (len(modules), id(next(reversed(modules.values()), None)))
        except RuntimeError:  # changed by another thread meanwhile
            seen = (-1, 0)
        if self.project_loaded or seen == self._modules_looked_at:
            return self.project_loaded
        self._modules_looked_at = seen
        for module in list(modules.values()):
            # Read without asking the module: a lazily loaded one would load.
            if not issubclass(type(module), types.ModuleType):
                continue
            namespace = _MODULE_DICT.__get__(module)
            filename = namespace.get("__file__") if type(namespace) is dict else None
            if type(filename) is str and self.of_file(filename) is Origin.PROJECT:
                self.project_loaded = True
                break
        return self.project_loaded

    def of_module(self, module_name: str | None) -> Origin:
        if not module_name:
            return Origin.UNKNOWN
        if module_name in sys.builtin_module_names:
            return Origin.STDLIB
        module = sys.modules.get(module_name)
        return self.of_file(getattr(module, "__file__", None))

    def _classify(self, filename: str) -> tuple[Origin, bool]:
        """The file's origin, and whether it lies in a place the plugin knows (the
        tooling, installed packages, the standard library, the project) and so may
        be cached.

        Names of generated code (``<...>``, a relative name that is no file),
        files elsewhere and files written since the session began are classified
        afresh each time: code a test generates on every run, under a fresh
        temporary path (jinja2's templates compiled to modules, a module written
        under ``tmp_path``) or a fresh name (attrs' generated methods), would
        otherwise leave its name in this cache on every run, memory the plugin
        held in the test's windows (two blocks a run, read as the test's).
        """
        if filename.startswith("<"):
            frozen = filename.startswith("<frozen ")
            return (Origin.STDLIB if frozen else Origin.UNKNOWN), frozen
        if not os.path.isabs(filename) and not os.path.exists(filename):
            # A name given to generated code, not a file: attrs compiles the
            # ``__init__`` it writes for a class under the name ``__init__``, which
            # would otherwise resolve to a file of the rootdir, the project's.
            return Origin.UNKNOWN, False
        path = _norm(filename)
        if any(_is_under(path, d) for d in self._tooling):
            return Origin.TOOLING, True
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return Origin.THIRD_PARTY, True
        if any(_is_under(path, d) for d in self._stdlib):
            return Origin.STDLIB, True
        for directory in self._project:
            if _is_under(path, directory):
                return self._within_project(path, directory), not self._written_since(path)
        return Origin.THIRD_PARTY, False

    def _written_since(self, path: str) -> bool:
        """Whether the file was written after the session began (or is gone)."""
        try:
            return os.stat(path).st_mtime >= self._started
        except OSError:
            return True

    def _within_project(self, path: str, directory: str) -> Origin:
        name = os.path.basename(path)
        if self._test_names.match(os.path.normcase(name)):
            return Origin.TESTS
        relative_dirs = os.path.relpath(os.path.dirname(path), directory).split(os.sep)
        if TEST_DIR_NAMES.intersection(part.lower() for part in relative_dirs):
            return Origin.TESTS
        return Origin.PROJECT
