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
from collections.abc import Iterable, Sequence


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


def _tooling_dirs() -> list[str]:
    """Directories of the test tooling itself: pytest, pluggy, this plugin, and
    pytest-xdist with its messaging library when tests run in its workers."""
    tooling = ("_pytest", "pluggy", "pytest_refleak", "xdist", "execnet")
    dirs = {_package_dir(name) for name in tooling}
    pytest_module = sys.modules.get("pytest")
    pytest_file = getattr(pytest_module, "__file__", None)
    if pytest_file:
        dirs.add(_norm(os.path.dirname(pytest_file)))
    return sorted(d for d in dirs if d)


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
        self._tooling = _tooling_dirs()
        self._transport = [d for d in map(_package_dir, ("xdist", "execnet")) if d]
        self._stdlib = _stdlib_dirs()
        self._cache: dict[str, Origin] = {}
        # The cache's table exists from the start, so that filling it during a
        # measured window replaces tables rather than adding one.
        self.of_file(__file__)

    def of_file(self, filename: str | None) -> Origin:
        if not filename:
            return Origin.UNKNOWN
        cached = self._cache.get(filename)
        if cached is None:
            cached = self._cache[filename] = self._classify(filename)
        return cached

    @property
    def has_transport(self) -> bool:
        """Whether pytest-xdist is loaded at all."""
        return bool(self._transport)

    def is_transport(self, filename: str) -> bool:
        """Whether the file is pytest-xdist's or its messaging library's, whose threads
        allocate while a test runs, never on the test's behalf."""
        # Theirs is tooling: the cached answer spares resolving the path of every
        # object's allocating file, which for a leak of many objects took seconds.
        if self.of_file(filename) is not Origin.TOOLING:
            return False
        path = _norm(filename)
        return any(_is_under(path, d) for d in self._transport)

    def of_module(self, module_name: str | None) -> Origin:
        if not module_name:
            return Origin.UNKNOWN
        if module_name in sys.builtin_module_names:
            return Origin.STDLIB
        module = sys.modules.get(module_name)
        return self.of_file(getattr(module, "__file__", None))

    def _classify(self, filename: str) -> Origin:
        if filename.startswith("<"):
            return Origin.STDLIB if filename.startswith("<frozen ") else Origin.UNKNOWN
        path = _norm(filename)
        if any(_is_under(path, d) for d in self._tooling):
            return Origin.TOOLING
        parts = path.split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            return Origin.THIRD_PARTY
        if any(_is_under(path, d) for d in self._stdlib):
            return Origin.STDLIB
        for directory in self._project:
            if _is_under(path, directory):
                return self._within_project(path, directory)
        return Origin.THIRD_PARTY

    def _within_project(self, path: str, directory: str) -> Origin:
        name = os.path.basename(path)
        if self._test_names.match(os.path.normcase(name)):
            return Origin.TESTS
        relative_dirs = os.path.relpath(os.path.dirname(path), directory).split(os.sep)
        if TEST_DIR_NAMES.intersection(part.lower() for part in relative_dirs):
            return Origin.TESTS
        return Origin.PROJECT
