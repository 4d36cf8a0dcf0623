"""Referrer chains and holders on their own, without a pytest run around them."""

from __future__ import annotations

import ctypes
import tracemalloc
from collections.abc import Iterator
from typing import ClassVar

import pytest

from pytest_refleak.chains import NO_REFERRERS, Budget, chains_to, describe_holding, holders_of
from pytest_refleak.graphs import file_stem

REGISTRY: list[object] = []
BY_NAME: dict[str, object] = {}


class Widget:
    instances: ClassVar[dict[int, Widget]] = {}

    def __init__(self) -> None:
        Widget.instances[id(self)] = self


class Holder:
    def __init__(self, held: object) -> None:
        self.held = held


@pytest.fixture
def clean() -> Iterator[None]:
    yield
    REGISTRY.clear()
    BY_NAME.clear()
    Widget.instances.clear()


def test_chain_from_a_module_list(clean: None) -> None:
    thing = Holder(None)
    REGISTRY.append(thing)
    [chain] = chains_to([thing])
    assert chain.kind == "root"
    assert chain.text == f"{__name__}.REGISTRY[0]"
    assert chain.sentence == f"kept alive by {__name__}.REGISTRY[0]"


def test_chain_through_attributes_and_dict_keys(clean: None) -> None:
    inner = Holder(None)
    BY_NAME["odd key"] = Holder(inner)
    [chain] = chains_to([inner])
    assert chain.text == f"{__name__}.BY_NAME['odd key'].held"


def test_chain_from_a_class_registry(clean: None) -> None:
    widget = Widget()
    [chain] = chains_to([widget])
    assert chain.text == f"{__name__}.Widget.instances[{id(widget)}]"


def test_several_targets_share_one_search(clean: None) -> None:
    first, second = Holder(None), Holder(None)
    REGISTRY.append(first)
    BY_NAME["b"] = second
    chains = chains_to([first, second])
    assert [c.text for c in chains] == [f"{__name__}.REGISTRY[0]", f"{__name__}.BY_NAME['b']"]


def test_nothing_refers_to_it() -> None:
    # A deliberate missing Py_DECREF: the list outlives this test, held by nothing.
    lost = [1, 2, 3]
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(lost))
    [chain] = chains_to([lost])
    assert chain.kind == "none" and chain.text == NO_REFERRERS


def test_native_root_is_named() -> None:
    holder = Holder(None)

    def closure() -> object:
        return holder

    # Held the way atexit holds its callbacks: by a reference no object makes.
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(closure))
    del closure
    [chain] = chains_to([holder], native_root=lambda o: "atexit callbacks" if callable(o) else None)
    # The test's own frame refers to the holder, but running frames never count.
    assert chain.text.startswith("atexit callbacks → ")
    assert chain.text.endswith("(closure variable 'holder')")


def test_budget_exhausted_says_so(clean: None) -> None:
    deep: object = Holder(None)
    target = deep
    for _ in range(5):
        deep = Holder(deep)
    REGISTRY.append(deep)
    del deep
    [chain] = chains_to([target], budget=Budget(depth=2))
    assert chain.kind == "unknown"
    assert chain.text.startswith("no root found within the depth budget")


def test_budget_searches_its_least_whatever_the_clock() -> None:
    """Time runs out only after the first ``at_least`` containers: on a loaded machine,
    a small search still finishes; without that floor, time alone decides."""
    floor = Budget(seconds=0.0, at_least=100, started=-1e9)
    assert not any(floor.spent(now=True) for _ in range(100))
    assert floor.spent(now=True)
    assert Budget(seconds=0.0, started=-1e9).spent(now=True)


def test_objects_passed_over_count_toward_the_floor() -> None:
    """The heap search sorts its containers out in chunks; the objects it passes
    over were looked at too, and count toward ``at_least`` as the containers do."""
    floor = Budget(seconds=0.0, at_least=100, started=-1e9)
    floor.passed_over(60)
    assert not any(floor.spent(now=True) for _ in range(40))
    assert floor.spent(now=True)


def test_holders_of_finds_a_holder_outside_the_modules(clean: None) -> None:
    """Past the modules' containers, the heap's containers are searched: a list
    that only this frame holds is found, among many objects of other kinds."""
    tracemalloc.start(4)
    try:
        filler = [object() for _ in range(20_000)]
        kept = ["".join(["y"] * 70)]
        traceback = tracemalloc.get_object_traceback(kept[0])
        assert traceback is not None
        site = (traceback[-1].filename, traceback[-1].lineno)
        pairs, _complete = holders_of([site], ignore={id(filler)})
        assert pairs, "the string's holder was not found"
        container, item = pairs[0]
        assert container is kept and item == "y" * 70
        del container, item, pairs, filler
    finally:
        tracemalloc.stop()


def test_holders_of_untracked_memory(clean: None) -> None:
    tracemalloc.start(4)
    try:
        BY_NAME["text"] = "".join(["x"] * 50)  # allocated here, line below
        site = _line_of_previous_allocation()
        pairs, _complete = holders_of([site])
        assert pairs, "the string's holder was not found"
        container, item = pairs[0]
        assert container is BY_NAME and item == "x" * 50
        [chain] = chains_to([container])
        assert describe_holding(container, item, chain) == f"{__name__}.BY_NAME['text']"
        del container, item, pairs
    finally:
        tracemalloc.stop()


def _line_of_previous_allocation() -> tuple[str, int]:
    value = BY_NAME["text"]
    traceback = tracemalloc.get_object_traceback(value)
    assert traceback is not None
    return traceback[-1].filename, traceback[-1].lineno


def test_file_stem_is_safe() -> None:
    """Graph file names: the id made safe, and a digest wherever that lost something."""
    assert file_stem("tests/test_x.py::test_y[a/b c]").startswith("tests_test_x.py_test_y_a_b_c-")
    assert file_stem("::").startswith("test-")
    assert file_stem("plain") == "plain"
    assert file_stem("t.py::t[a b]") != file_stem("t.py::t[a/b]")


def test_search_time_per_leak_shrinks_once_the_sessions_allowance_is_spent() -> None:
    from pytest_refleak.alive import (
        FREE_SECONDS,
        FULL_SEARCH,
        SESSION_SHARE,
        SHORT_SEARCH,
        search_seconds,
    )

    assert search_seconds(spent=0.0, elapsed=0.0) == FULL_SEARCH
    # Spent: later leaks still get a short search, never none.
    assert search_seconds(spent=FREE_SECONDS, elapsed=0.0) == SHORT_SEARCH
    assert search_seconds(spent=10 * FREE_SECONDS, elapsed=0.0) == SHORT_SEARCH
    # The allowance grows with the session: a long suite's leaks get searched again.
    later = (FREE_SECONDS + FULL_SEARCH) / SESSION_SHARE
    assert search_seconds(spent=FREE_SECONDS, elapsed=later) == FULL_SEARCH
    between = search_seconds(spent=FREE_SECONDS + 1.0, elapsed=1.5 / SESSION_SHARE)
    assert SHORT_SEARCH < between < FULL_SEARCH
