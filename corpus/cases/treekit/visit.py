"""Visitors over treekit trees.

``ParentLinker`` is the "keeping track of parents when visiting" recipe
(lark-parser/lark#1217; nikic/PHP-Parser#1055: NodeConnectingVisitor's parent
attribute "introduces a cycle"): the parent pointer is set seven frames below
``visit``, inside a ``map`` callback. ``ParentTable`` records the same relation in a
table of its own, keyed by ``id``, and makes no cycle.
"""

from __future__ import annotations

from typing import Any

from treekit.nodes import Node


# The method names, made once: a name built per call ("visit_" + kind, as
# ast.NodeVisitor does) is a new str each time, and CPython's type attribute cache
# keeps the names it missed on by address, up to its 4096 entries: memory that grows
# on every call for a few thousand calls before it stops.
_METHODS = {"block": "visit_block", "word": "visit_word"}


class Visitor:
    def visit(self, node: Node) -> Any:
        method = getattr(self, _METHODS[node.kind], self.generic_visit)
        return method(node)

    def generic_visit(self, node: Node) -> Any:
        for child in node.children:
            self.visit(child)
        return node


class _Linking(Visitor):
    def visit_block(self, node: Node) -> Node:
        self._enter(node)
        return node

    def _enter(self, node: Node) -> None:
        self._link_children(node, node.children)

    def _link_children(self, parent: Node, children: list[Node]) -> None:
        list(map(lambda child: self._link_one(parent, child), children))

    def _link_one(self, parent: Node, child: Node) -> None:
        self._record(child, parent)
        self.visit(child)

    def _record(self, child: Node, parent: Node) -> None:
        raise NotImplementedError


class ParentLinker(_Linking):
    # visit -> visit_block -> _enter -> _link_children -> <lambda> -> _link_one -> _record
    def _record(self, child: Node, parent: Node) -> None:
        child.parent = parent


class ParentTable(_Linking):
    def __init__(self) -> None:
        self.parents: dict[int, Node] = {}

    def _record(self, child: Node, parent: Node) -> None:
        self.parents[id(child)] = parent
