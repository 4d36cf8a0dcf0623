"""Syntax tree nodes and a parser for s-expression-like text: ``a (b c) d``.

The parser walks the tokens with ``functools.reduce`` and attaches each run of words
with ``map``: the parent pointers are set inside those library calls' callbacks, and
make every parsed tree a cycle (lark-parser/lark#1217: parent pointers on tree
nodes "readily create reference cycles"). ``weak_parents=True`` keeps a weak
reference to the parent instead.
"""

from __future__ import annotations

import functools
import re
import weakref
from typing import Any

_TOKEN = re.compile(r"[()]|[^\s()]+")


class Node:
    def __init__(self, kind: str, value: str = "") -> None:
        self.kind = kind
        self.value = value
        self.children: list[Node] = []
        self.parent: Any = None

    def parent_node(self) -> Node | None:
        parent = self.parent
        return parent() if isinstance(parent, weakref.ref) else parent

    def depth(self) -> int:
        parent = self.parent_node()
        return 0 if parent is None else 1 + parent.depth()


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _attach(parent: Node, child: Node, weak: bool) -> Node:
    child.parent = weakref.ref(parent) if weak else parent
    parent.children.append(child)
    return child


def parse(text: str, *, weak_parents: bool = False, link: bool = True) -> Node:
    """Parses ``text``; ``link=False`` builds the children lists only (for a visitor to
    link later)."""
    root = Node("block")

    def attach(parent: Node, child: Node) -> Node:
        if link:
            return _attach(parent, child, weak_parents)
        parent.children.append(child)
        return child

    def flush(state: tuple[list[Node], list[str]]) -> None:
        stack, words = state
        list(map(functools.partial(attach, stack[-1]), map(lambda w: Node("word", w), words)))
        words.clear()

    def step(state: tuple[list[Node], list[str]], token: str) -> tuple[list[Node], list[str]]:
        stack, words = state
        if token == "(":
            flush(state)
            stack.append(attach(stack[-1], Node("block")))
        elif token == ")":
            flush(state)
            stack.pop()
        else:
            words.append(token)
        return state

    flush(functools.reduce(step, tokenize(text), ([root], [])))
    return root


def count(node: Node) -> int:
    return 1 + sum(map(count, node.children))
