"""Every setting, resolved in one place: command line, then ini file, then default.

Each option exists twice: ``--refleak-x`` on the command line and ``refleak_x``
in the ini file (``[tool.pytest.ini_options]`` in ``pyproject.toml``).  The
``refleak`` marker can change the per-test limits and switches.  Bad values
raise :class:`SettingsError` with a message that names where they came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pytest_refleak.cycles import Accepted, parse_accepted, resolve_accepted
from pytest_refleak.text import parse_size

CYCLE_MODES = ("project", "all", "off")
#: Re-runs a test may ask for: each costs a run of the test, and a test still
#: settling may take twice as many.  More would not make a verdict surer.
MAX_RUNS = 100

#: The kinds of resources ``--refleak-resources`` can check (see :mod:`pytest_refleak.resources`).
RESOURCE_KINDS = ("threads", "fds", "tasks", "processes", "state")


class SettingsError(ValueError):
    """A setting or marker argument that cannot be used; the message says which."""


@dataclass(frozen=True)
class Option:
    """One setting: its ini name, the matching command-line flag, and its help."""

    name: str
    help: str
    default: object
    metavar: str | None = None
    flag: bool = False
    #: How pytest reads the ini twin, shown in ``--help``; a flag's is always ``bool``.
    ini_type: str = "string"

    @property
    def cli(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def ini_kind(self) -> str:
        return "bool" if self.flag else self.ini_type


OPTIONS: tuple[Option, ...] = (
    Option(
        "refleak",
        "check every test for leaked objects, memory and uncollected reference cycles",
        default=False,
        flag=True,
    ),
    Option(
        "refleak_cycles",
        "which uncollected reference cycles fail a test: 'project' (made by the "
        "project's own code, the default), 'all', or 'off'",
        default="project",
        metavar="MODE",
    ),
    Option(
        "refleak_runs",
        "re-runs that must all grow before a test counts as leaking, 2 to 100 (default 5)",
        default=5,
        metavar="N",
        ini_type="int",
    ),
    Option(
        "refleak_allow_objects",
        "new objects a test may leave alive per run without failing (default 0)",
        default=0,
        metavar="N",
        ini_type="int",
    ),
    Option(
        "refleak_allow_memory",
        "memory a test may leave allocated per run without failing, e.g. 4KiB (default 0)",
        default=0,
        metavar="SIZE",
    ),
    Option(
        "refleak_accept_cycles",
        "reference cycles the project makes on purpose, which fail no test: "
        "module:Class (its instances, the class and code defined in it), "
        "module:function (its closures) or module:Class.attribute (cycles through "
        "that attribute); comma-separated, or one per line in the ini file",
        default=(),
        metavar="NAMES",
        ini_type="linelist",
    ),
    Option(
        "refleak_resources",
        "which resources a test must not leave behind: a comma-separated list of "
        f"{', '.join(RESOURCE_KINDS)}, or 'all' (the default) or 'none'",
        default="all",
        metavar="KINDS",
    ),
    Option(
        "refleak_graphs",
        "write Graphviz pictures of each leak into DIR: what holds its objects, "
        "strings and resources, and its cycles (.dot, and .svg when Graphviz's "
        "dot is installed)",
        default=None,
        metavar="DIR",
    ),
    Option(
        "refleak_report",
        "write a JSON report of every checked test to PATH (see the CI page of the docs)",
        default=None,
        metavar="PATH",
    ),
    Option(
        "refleak_baseline",
        "accept the leaks recorded in the baseline file PATH: those tests pass as known "
        "leaks, new leaks and leaks that grew fail",
        default=None,
        metavar="PATH",
    ),
    Option(
        "refleak_baseline_update",
        "write this run's leaks to the baseline file and let them pass",
        default=False,
        flag=True,
    ),
    Option(
        "refleak_strict",
        "fail the run when a test that passed could not be checked for leaks "
        "(NOT CHECKED in the summary)",
        default=False,
        flag=True,
    ),
)

#: Options whose value is a file: relative paths are taken from where they were given.
PATH_OPTIONS = ("refleak_graphs", "refleak_report", "refleak_baseline")

MARKER_ARGS = (
    "enabled",
    "reason",
    "cycles",
    "runs",
    "allow_objects",
    "allow_memory",
    "accept_cycles",
)

MARKER_HELP = (
    "refleak(enabled=True, reason=None, cycles=None, runs=None, allow_objects=None, "
    "allow_memory=None, accept_cycles=None): check this test for leaks even without "
    "--refleak, or exempt it with enabled=False; the other arguments override the "
    "settings of the same names for this test (accept_cycles adds to them)."
)


@dataclass(frozen=True)
class Limits:
    """What a checked test is held to."""

    cycles: str = "project"
    #: Five: a cache that fills over its first few calls (four keys used in turn)
    #: grows on each of them as a leak does; with three, it was reported as one.
    #: Only tests that grow on every re-run pay for the two more.
    runs: int = 5
    allow_objects: int = 0
    allow_memory: int = 0
    #: Cycle shapes the project makes on purpose (see :class:`~pytest_refleak.cycles.Accepted`).
    accept_cycles: tuple[Accepted, ...] = ()


@dataclass(frozen=True)
class Settings:
    check_all: bool
    limits: Limits
    graphs_dir: str | None = None
    report: str | None = None
    baseline: str | None = None
    baseline_update: bool = False
    #: Whether a test that could not be checked fails the run.
    strict: bool = False
    #: The resource kinds checked, in :data:`RESOURCE_KINDS` order.
    resources: tuple[str, ...] = RESOURCE_KINDS


def _as_bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{where}: expected true or false, got {value!r}")


def _as_cycles(value: object, where: str) -> str:
    if value is True:
        return "project"
    if value is False:
        return "off"
    text = str(value).strip().lower()
    if text not in CYCLE_MODES:
        raise SettingsError(f"{where}: expected one of {', '.join(CYCLE_MODES)}, got {value!r}")
    return text


def _as_count(value: object, where: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{where}: expected a whole number, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise SettingsError(f"{where}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{where}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise SettingsError(f"{where}: must be at most {maximum}, got {number}")
    return number


def _as_directory(value: object, where: str) -> str:
    """A directory to write into: it need not exist yet, but it must be possible to make.

    Checked once, before any test runs: found out at the first leak, it would be
    said again for every leak.
    """
    text = str(value).strip()
    if not text or "\0" in text:
        raise SettingsError(f"{where}: expected a directory, got {value!r}")
    existing = os.path.abspath(text)
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise SettingsError(f"{where}: cannot write into {text!r}: {existing!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingsError(f"{where}: cannot write into {text!r}: {existing!r} is not writable")
    return text


def _as_size(value: object, where: str) -> int:
    try:
        return parse_size(value if isinstance(value, int) else str(value))
    except ValueError as error:
        raise SettingsError(f"{where}: {error}") from None


def _as_resources(value: object, where: str) -> tuple[str, ...]:
    words = [w.strip().lower() for w in str(value).split(",")]
    words = [w for w in words if w]
    expected = f"{', '.join(RESOURCE_KINDS)}, 'all' or 'none'"
    if not words:
        raise SettingsError(f"{where}: expected {expected}, got {value!r}")
    if "all" in words or "none" in words:
        if len(words) > 1:
            raise SettingsError(
                f"{where}: 'all' and 'none' stand alone, got {value!r}; expected {expected}"
            )
        return RESOURCE_KINDS if words[0] == "all" else ()
    unknown = [w for w in words if w not in RESOURCE_KINDS]
    if unknown:
        raise SettingsError(f"{where}: unknown resource kind {unknown[0]!r}; expected {expected}")
    return tuple(kind for kind in RESOURCE_KINDS if kind in words)


def _as_accepted(value: object, where: str) -> tuple[Accepted, ...]:
    """Names of cycle shapes: a list (an ini file's lines) or comma-separated text."""
    if isinstance(value, (list, tuple)):
        words = [w for item in value for w in str(item).split(",")]
    elif isinstance(value, str):
        words = value.replace("\n", ",").split(",")
    else:
        raise SettingsError(f"{where}: expected names like module:Class.attribute, got {value!r}")
    accepted = []
    for word in (w.strip() for w in words):
        if not word:
            continue
        try:
            accepted.append(parse_accepted(word))
        except ValueError as error:
            raise SettingsError(f"{where}: {error}") from None
    return tuple(dict.fromkeys(accepted))


def _as_path(value: object, where: str) -> str:
    text = str(value).strip()
    if os.path.isdir(text):
        raise SettingsError(f"{where}: {text!r} is a directory, expected a file")
    return text


_PARSERS: dict[str, Callable[[object, str], object]] = {
    "refleak": _as_bool,
    "refleak_cycles": _as_cycles,
    "refleak_runs": lambda v, w: _as_count(v, w, 2, MAX_RUNS),
    "refleak_allow_objects": lambda v, w: _as_count(v, w, 0),
    "refleak_allow_memory": _as_size,
    "refleak_accept_cycles": _as_accepted,
    "refleak_resources": _as_resources,
    "refleak_graphs": _as_directory,
    "refleak_report": _as_path,
    "refleak_baseline": _as_path,
    "refleak_baseline_update": _as_bool,
    "refleak_strict": _as_bool,
}


def resolve(
    cli: Mapping[str, object | None],
    ini: Mapping[str, object | None],
    *,
    cli_dir: str = "",
    ini_dir: str = "",
) -> Settings:
    """Resolve every option: a command-line value wins over the ini file's, then the default.

    A relative file path is taken from the directory pytest was started in when it
    came from the command line (``cli_dir``), and from the ini file's directory
    when it came from there (``ini_dir``), as pytest does with its own paths.
    """
    values: dict[str, object] = {}
    for option in OPTIONS:
        given = cli.get(option.name)
        where = option.cli
        base = cli_dir
        if given is None:
            given = ini.get(option.name)
            where = f"ini option {option.name}"
            base = ini_dir
        if given is None or (given in ("", []) and not option.flag):
            values[option.name] = option.default
            continue
        if option.name in PATH_OPTIONS and str(given).strip():
            given = os.path.join(base, str(given).strip())
        values[option.name] = _PARSERS[option.name](given, where)
    if values["refleak_baseline_update"] and values["refleak_baseline"] is None:
        raise SettingsError(
            "--refleak-baseline-update: say which file to write with "
            "--refleak-baseline=PATH (or the refleak_baseline ini option)"
        )
    limits = Limits(
        cycles=str(values["refleak_cycles"]),
        runs=int(values["refleak_runs"]),  # type: ignore[call-overload]
        allow_objects=int(values["refleak_allow_objects"]),  # type: ignore[call-overload]
        allow_memory=int(values["refleak_allow_memory"]),  # type: ignore[call-overload]
        accept_cycles=tuple(values["refleak_accept_cycles"]),  # type: ignore[arg-type]
    )
    return Settings(
        check_all=bool(values["refleak"]),
        limits=limits,
        graphs_dir=_optional_text(values["refleak_graphs"]),
        report=_optional_text(values["refleak_report"]),
        baseline=_optional_text(values["refleak_baseline"]),
        baseline_update=bool(values["refleak_baseline_update"]),
        strict=bool(values["refleak_strict"]),
        resources=_resource_kinds(values["refleak_resources"]),
    )


def _resource_kinds(value: object) -> tuple[str, ...]:
    """The parsed kinds, or the default's (a string, not parsed)."""
    if isinstance(value, tuple):
        return tuple(str(kind) for kind in value)
    return _as_resources(value, "default")


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class MarkerRequest:
    """What a ``refleak`` marker asks for."""

    enabled: bool
    reason: str | None
    limits: Limits


def read_marker(
    args: tuple[object, ...], kwargs: Mapping[str, object], defaults: Limits, test: str
) -> MarkerRequest:
    """Validate a ``refleak`` marker's arguments; errors name the test and the argument."""
    if args:
        raise SettingsError(
            f"{test}: the refleak marker takes keyword arguments only "
            f"({', '.join(MARKER_ARGS)}), got positional {args!r}"
        )
    unknown = sorted(set(kwargs) - set(MARKER_ARGS))
    if unknown:
        raise SettingsError(
            f"{test}: unknown refleak marker argument {unknown[0]!r}; "
            f"expected one of: {', '.join(MARKER_ARGS)}"
        )

    def where(name: str) -> str:
        return f"{test}: refleak marker argument {name}"

    changes: dict[str, Any] = {}
    if kwargs.get("cycles") is not None:
        changes["cycles"] = _as_cycles(kwargs["cycles"], where("cycles"))
    if kwargs.get("runs") is not None:
        changes["runs"] = _as_count(kwargs["runs"], where("runs"), 2, MAX_RUNS)
    if kwargs.get("allow_objects") is not None:
        changes["allow_objects"] = _as_count(kwargs["allow_objects"], where("allow_objects"), 0)
    if kwargs.get("accept_cycles") is not None:
        more = _as_accepted(kwargs["accept_cycles"], where("accept_cycles"))
        changes["accept_cycles"] = tuple(dict.fromkeys((*defaults.accept_cycles, *more)))
    if kwargs.get("allow_memory") is not None:
        changes["allow_memory"] = _as_size(kwargs["allow_memory"], where("allow_memory"))
    enabled = kwargs.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SettingsError(f"{where('enabled')}: expected True or False, got {enabled!r}")
    reason = kwargs.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise SettingsError(f"{where('reason')}: expected a string, got {reason!r}")
    return MarkerRequest(enabled=enabled, reason=reason, limits=replace(defaults, **changes))


class AcceptedNames:
    """Finds what each accepted cycle name names, once per name.

    Done after collection, not with the other settings: the names are the
    project's, importable once the tests have imported the project (its path
    set up by pytest's rootdir and conftest handling).
    """

    def __init__(self) -> None:
        self._found: dict[str, Accepted] = {}

    def resolved(self, limits: Limits, where: str) -> Limits:
        """``limits`` with its accepted names looked up; :class:`SettingsError` names
        the first that names nothing."""
        if not limits.accept_cycles:
            return limits
        found = []
        for entry in limits.accept_cycles:
            if entry.text not in self._found:
                try:
                    self._found[entry.text] = resolve_accepted(entry)
                except ValueError as error:
                    raise SettingsError(f"{where}: {error}") from None
            found.append(self._found[entry.text])
        return replace(limits, accept_cycles=tuple(found))
