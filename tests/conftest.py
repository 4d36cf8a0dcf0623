"""Shared helpers: a small leaky library for the suites that pytester writes."""

from __future__ import annotations

import textwrap

import pytest

#: Code under test for the generated suites.  Everything a test may leak lives
#: here, outside the test files, as it would in a real project.
#: Subtests with reports of their own (the ``subtests`` fixture, unittest's
#: ``subTest``) are pytest 9's.
needs_subtests = pytest.mark.skipif(
    int(pytest.__version__.split(".")[0]) < 9, reason="subtest reports are pytest 9's"
)

LEAKYLIB = textwrap.dedent(
    '''
    import atexit
    import ctypes
    import functools
    import logging
    import sys
    import types

    _registry = []
    _cache = {}
    _numbers = []
    _callbacks = []


    class Thing:
        def __init__(self, n=0):
            self.n = n


    class Model:
        _instances = {}

        def __init__(self):
            Model._instances[id(self)] = self


    def append_thing():
        _registry.append(Thing())


    def add_module():
        name = f"leaky_module_{len(sys.modules)}"
        sys.modules[name] = types.ModuleType(name)


    def cache_bytes(size):
        _cache[f"key-{len(_cache)}"] = bytes(bytearray(size))


    def append_big_int():
        _numbers.append(10**50 + len(_numbers))


    class Calculator:
        @functools.lru_cache(maxsize=None)
        def compute(self, x):
            return x * 2


    def compute():
        return Calculator().compute(2)


    def add_log_handler():
        logging.getLogger("leakylib.audit").addHandler(logging.NullHandler())


    class Listener:
        def on_event(self):
            pass


    def subscribe():
        _callbacks.append(Listener().on_event)


    def register_exit_hook():
        data = [1, 2, 3]
        atexit.register(lambda: data)


    def lose_list():
        lost = [1, 2]
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(lost))


    def lose_bytes():
        lost = bytes(bytearray(100))
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(lost))


    class Node:
        def __init__(self, parent=None):
            self.parent = parent
            self.children = []
            if parent is not None:
                parent.children.append(self)


    def make_tree():
        root = Node()
        Node(root)
        return len(root.children)


    def make_many_trees(n):
        for _ in range(n):
            make_tree()


    class Button:
        def __init__(self):
            self.on_click = self.click

        def click(self):
            pass


    def make_button():
        Button()


    def keep_exception():
        try:
            raise ValueError("boom")
        except ValueError as error:
            kept = error
        return kept is not None


    class Resource:
        def __init__(self):
            self.me = self

        def __del__(self):
            pass


    def make_resource():
        Resource()


    def factorial(n):
        def step(k):
            return 1 if k <= 1 else k * step(k - 1)
        return step(n)


    def self_list():
        items = []
        items.append(items)
    '''
)


@pytest.fixture
def leaky(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding the leaky library."""
    pytester.makepyfile(leakylib=LEAKYLIB)
    return pytester


def run(pytester: pytest.Pytester, *args: str, randomly: bool = False) -> pytest.RunResult:
    """Run pytest in a fresh process: measuring shares the heap with nothing else.

    pytest-randomly, installed with the test extras, would shuffle every generated
    suite; only the tests that say ``randomly=True`` get it, so that the others
    see their tests in the order they wrote them.
    """
    order = () if randomly else ("-p", "no:randomly")
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *order, *args)


def run_in_orders(
    pytester: pytest.Pytester, *args: str, seeds: tuple[str, ...] = ("1",)
) -> list[pytest.RunResult]:
    """The same run in file order, then under pytest-randomly with each of ``seeds``:
    a verdict must not depend on the order."""
    results = [run(pytester, *args)]
    results.extend(
        run(pytester, *args, f"--randomly-seed={seed}", randomly=True) for seed in seeds
    )
    return results


#: A module whose body grows a tree through its own helpers, three calls in, when it
#: runs: a test that runs it again (a reload) makes those cycles on its behalf.
PLANTING = """
class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def _pair():
    root = Node()
    Node(root)
    return root


def _grow():
    return _pair()


def plant():
    return _grow()


plant()
"""
