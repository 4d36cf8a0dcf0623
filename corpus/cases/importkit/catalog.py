"""A product catalogue kept as a tree with parent pointers, built when the module is
imported, through three levels of helpers.

Reloading a module replaces what its body made; the old tree dies in its cycles
(IronLanguages/main#1051, renpy/renpy#291: "reloading leaks memory" reports about the
previous module's objects). A project function that builds the same tree on every
call leaves the same cycles behind, and those are the project's.
"""

from __future__ import annotations

from typing import Any


class Node:
    def __init__(self, name: str, parent: Node | None = None) -> None:
        self.name = name
        self.parent = parent
        self.children: list[Node] = []
        if parent is not None:
            parent.children.append(self)

    def path(self) -> str:
        parts = []
        node: Node | None = self
        while node is not None:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))


DEFAULT_SPEC: dict[str, dict[str, tuple[str, ...]]] = {
    "garden": {"tools": ("rake", "spade", "shears"), "seeds": ("basil", "thyme")},
    "kitchen": {"knives": ("chef", "paring"), "pans": ("wok", "skillet")},
}


def _add_item(section: Node, name: str) -> Node:
    return Node(name, section)


def _add_section(department: Node, name: str, items: Any) -> Node:
    section = Node(name, department)
    for item in items:
        _add_item(section, item)
    return section


def _add_department(root: Node, name: str, sections: dict[str, Any]) -> Node:
    department = Node(name, root)
    for section, items in sections.items():
        _add_section(department, section, items)
    return department


def build_catalog(spec: dict[str, dict[str, Any]]) -> Node:
    root = Node("catalog")
    for name, sections in spec.items():
        _add_department(root, name, sections)
    return root


def count(node: Node) -> int:
    return 1 + sum(count(child) for child in node.children)


# Built while the module is imported: the tree is the module body's.
CATALOG = build_catalog(DEFAULT_SPEC)
