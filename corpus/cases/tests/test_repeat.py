"""The same leak in many tests, and a string leak (held-out shapes of issue 12)."""

import os

import pytest

_RECEIVED: list[bytes] = []
_TOKENS: set[str] = set()


@pytest.mark.parametrize("n", range(8))
def test_each_case_appends_to_module_list(n):
    _RECEIVED.append(os.urandom(1024))
    assert len(_RECEIVED[-1]) == 1024


def test_new_string_in_module_set():
    _TOKENS.add(os.urandom(1000).hex())
    assert _TOKENS


@pytest.mark.parametrize("n", range(3))
def test_each_case_reads_module_list(n):
    assert all(len(b) == 1024 for b in _RECEIVED[:4])
