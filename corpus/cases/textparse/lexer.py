"""A tokenizer and a tiny expression parser, with the trees parsers like to build."""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*)|(\w+)|(.))")


class Tokenizer:
    """Keeps its token generator on itself, to peek one token ahead."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._gen = self._tokens()
        self.lookahead = next(self._gen, None)

    def _tokens(self) -> Iterator[tuple[str, str]]:
        for number, name, op in _TOKEN.findall(self.text):
            if number:
                yield ("num", number)
            elif name:
                yield ("name", name)
            elif op.strip():
                yield ("op", op)


class ListTokenizer:
    """The same, reading all tokens at once: no generator held."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [
            ("num", n) if n else ("name", w) if w else ("op", o)
            for n, w, o in _TOKEN.findall(text)
            if n or w or o.strip()
        ]
        self.lookahead = self.tokens[0] if self.tokens else None


class Node:
    """A parse-tree node that points to its parent (addict#86, numpy/numpy#1601)."""

    def __init__(self, kind: str, value: str = "", parent: Node | None = None) -> None:
        self.kind = kind
        self.value = value
        self.parent = parent
        self.children: list[Node] = []
        if parent is not None:
            parent.children.append(self)


class WeakNode:
    """The same tree with weak parent pointers."""

    def __init__(self, kind: str, value: str = "", parent: WeakNode | None = None) -> None:
        self.kind = kind
        self.value = value
        self._parent = weakref.ref(parent) if parent is not None else None
        self.children: list[WeakNode] = []
        if parent is not None:
            parent.children.append(self)

    @property
    def parent(self) -> WeakNode | None:
        return self._parent() if self._parent is not None else None


def parse(text: str, node_type: type = Node) -> Any:
    root = node_type("expr")
    for kind, value in ListTokenizer(text).tokens:
        node_type(kind, value, root)
    return root


def depth_first(root: Node) -> list[str]:
    """radiocosmology/caput#134: a recursive inner function refers to itself via its cell."""
    seen: list[str] = []

    def walk(node: Node) -> None:
        seen.append(node.kind)
        for child in node.children:
            walk(child)

    walk(root)
    return seen


def depth_first_iterative(root: WeakNode) -> list[str]:
    seen: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        seen.append(node.kind)
        stack.extend(reversed(node.children))
    return seen


def make_encoder(indent: int) -> Any:
    """Nested closures that call each other, as a JSON encoder's _make_iterencode does."""

    def encode_value(value: Any) -> str:
        if isinstance(value, dict):
            return encode_dict(value)
        if isinstance(value, list):
            return encode_list(value)
        return repr(value)

    def encode_list(items: list[Any]) -> str:
        return "[" + ", ".join(encode_value(v) for v in items) + "]"

    def encode_dict(mapping: dict[str, Any]) -> str:
        pad = " " * indent
        return "{" + ", ".join(f"{pad}{k}: {encode_value(v)}" for k, v in mapping.items()) + "}"

    return encode_value


def encode(value: Any) -> str:
    return make_encoder(0)(value)


_SEEN_KEYS: set[str] = set()


def intern_key(prefix: str) -> str:
    """Remembers every cache key it made: a short new string per call."""
    key = f"{prefix}:{uuid.uuid4().hex}"
    _SEEN_KEYS.add(key)
    return key


_SYMBOLS: dict[str, str] = {}


def intern_symbol(name: str) -> str:
    """Interns symbol names: the same names each time, so it stops growing."""
    return _SYMBOLS.setdefault(name, name)
