"""Settings: parsing, cached reads, overrides, warning registries."""

import itertools

import pytest

from settings import config

_n = itertools.count()


def test_from_env():
    s = config.from_env({"APP_DEBUG": "yes", "APP_WORKERS": "4", "APP_HOSTS": "a, b", "APP_X": "1"})
    assert s.debug and s.workers == 4 and s.hosts == ("a", "b") and s.extra == {"x": "1"}


def test_bad_name_rejected():
    with pytest.raises(ValueError):
        config.from_env({"APP_bad": "1"})


def test_current_read_once():
    assert config.current() is config.current()


def test_deep_merge():
    merged = config.deep_merge({"db": {"host": "a", "port": 1}}, {"db": {"port": 2}})
    assert merged == {"db": {"host": "a", "port": 2}}


def test_override_leaks_on_exception():
    # mvantellingen/python-zeep#1193: the override is never popped when the body raises.
    depth = len(config._overrides)
    with pytest.raises(KeyError), config.override(workers=8):
        raise KeyError("boom")
    assert len(config._overrides) == depth + 1


def test_override_fixed_on_exception():
    depth = len(config._overrides)
    with pytest.raises(KeyError), config.override_fixed(workers=8):
        raise KeyError("boom")
    assert len(config._overrides) == depth


def test_warn_once_by_text():
    # POSYDON-code/POSYDON#364, python/cpython#97557
    assert config.warn_once("UserWarning", f"row {next(_n)} has no price, using 0.00 instead")


def test_warn_once_per_site():
    config.warn_once_per_site("UserWarning", f"row {next(_n)} has no price", "loader.py:10")
