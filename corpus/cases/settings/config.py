"""Application settings: parsing, overrides and warnings."""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

_BOOL = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Settings:
    debug: bool = False
    workers: int = 2
    hosts: tuple[str, ...] = ("localhost",)
    extra: Mapping[str, str] = field(default_factory=dict)


def from_env(env: Mapping[str, str], prefix: str = "APP_") -> Settings:
    values: dict[str, Any] = {}
    extra = {}
    for key, raw in env.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if not _NAME.match(name):
            raise ValueError(f"bad setting name {key!r}")
        if name == "DEBUG":
            values["debug"] = _BOOL[raw.lower()]
        elif name == "WORKERS":
            values["workers"] = int(raw)
        elif name == "HOSTS":
            values["hosts"] = tuple(h.strip() for h in raw.split(",") if h.strip())
        else:
            extra[name.lower()] = raw
    return Settings(**values, extra=extra)


@functools.cache
def current() -> Settings:
    """Read once from the process environment."""
    return from_env(os.environ)


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_overrides: list[Settings] = [Settings()]


def active() -> Settings:
    return _overrides[-1]


@contextlib.contextmanager
def override(**changes: Any) -> Iterator[Settings]:
    """mvantellingen/python-zeep#1193: without ``finally`` an exception leaves the
    override on the stack for good."""
    _overrides.append(replace(active(), **changes))
    yield active()
    _overrides.pop()


@contextlib.contextmanager
def override_fixed(**changes: Any) -> Iterator[Settings]:
    _overrides.append(replace(active(), **changes))
    try:
        yield active()
    finally:
        _overrides.pop()


_warned: set[str] = set()
_warned_sites: set[tuple[str, str]] = set()


def warn_once(category: str, message: str) -> bool:
    """POSYDON-code/POSYDON#364, python/cpython#97557: a "seen" registry keyed by the
    message text grows with every distinct message."""
    if message in _warned:
        return False
    _warned.add(message)
    return True


def warn_once_per_site(category: str, message: str, site: str) -> bool:
    """The fix: keyed by where the warning comes from, not by its text."""
    key = (category, site)
    if key in _warned_sites:
        return False
    _warned_sites.add(key)
    return True
