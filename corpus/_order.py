"""A pytest plugin for score.py: runs the corpus in file order, reversed or shuffled.

Loaded with ``-p _order``; reads ``CORPUS_ORDER`` (``file``, ``reversed``,
``shuffled``) and ``CORPUS_SEED``. Every pytest-xdist worker gets the same order, as
xdist requires, since the shuffle is seeded.
"""

from __future__ import annotations

import os
import random

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order = os.environ.get("CORPUS_ORDER", "file")
    if order == "reversed":
        items.reverse()
    elif order == "shuffled":
        random.Random(int(os.environ.get("CORPUS_SEED", "0"))).shuffle(items)
