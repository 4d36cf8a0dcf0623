"""An incremental JSON encoder, in two shapes.

``iterencode`` is built like the standard library's pure-Python
``json.encoder._make_iterencode``: three nested generator functions for values, lists
and dicts that call one another through their closures, so each call to the factory
makes a cycle (python/cpython#141686: "`json.JSONEncoder.iterencode` creates reference
cycles ... on every call ... because it defines three mutually-recursive nested
functions, which keep each other alive through their closures"). ``ChunkEncoder``
does the same with methods of one object, which refers to nothing of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

_escape = json.encoder.py_encode_basestring_ascii  # type: ignore[attr-defined]


def _make_iterencode(default: Callable[[Any], Any], indent: str | None,
                     item_separator: str, key_separator: str,
                     sort_keys: bool) -> Callable[[Any, int], Iterator[str]]:
    def _encode_list(lst: list[Any], level: int) -> Iterator[str]:
        if not lst:
            yield "[]"
            return
        yield "["
        level += 1
        newline = "\n" + indent * level if indent is not None else ""
        separator = item_separator + newline
        first = True
        for value in lst:
            yield newline if first else separator
            first = False
            yield from _encode(value, level)
        if indent is not None:
            yield "\n" + indent * (level - 1)
        yield "]"

    def _encode_dict(dct: dict[str, Any], level: int) -> Iterator[str]:
        if not dct:
            yield "{}"
            return
        yield "{"
        level += 1
        newline = "\n" + indent * level if indent is not None else ""
        separator = item_separator + newline
        items = sorted(dct.items()) if sort_keys else dct.items()
        first = True
        for key, value in items:
            yield newline if first else separator
            first = False
            yield _escape(str(key))
            yield key_separator
            yield from _encode(value, level)
        if indent is not None:
            yield "\n" + indent * (level - 1)
        yield "}"

    def _encode(o: Any, level: int) -> Iterator[str]:
        if isinstance(o, str):
            yield _escape(o)
        elif o is None:
            yield "null"
        elif o is True:
            yield "true"
        elif o is False:
            yield "false"
        elif isinstance(o, (int, float)):
            yield repr(o)
        elif isinstance(o, (list, tuple)):
            yield from _encode_list(list(o), level)
        elif isinstance(o, dict):
            yield from _encode_dict(o, level)
        else:
            yield from _encode(default(o), level)

    return _encode


def _default(o: Any) -> Any:
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"cannot encode {type(o).__name__}")


def iterencode(obj: Any, *, indent: int | None = None, sort_keys: bool = False) -> Iterator[str]:
    encode = _make_iterencode(_default, None if indent is None else " " * indent,
                              "," if indent else ", ", ": ", sort_keys)
    return encode(obj, 0)


class ChunkEncoder:
    """The same output, written as methods: nothing refers back to the encoder."""

    def __init__(self, *, indent: int | None = None, sort_keys: bool = False) -> None:
        self.indent = None if indent is None else " " * indent
        self.item_separator = "," if indent else ", "
        self.sort_keys = sort_keys

    def _newline(self, level: int) -> str:
        return "\n" + self.indent * level if self.indent is not None else ""

    def encode_chunks(self, o: Any, level: int = 0) -> Iterator[str]:
        if isinstance(o, str):
            yield _escape(o)
        elif o is None or isinstance(o, bool):
            yield {None: "null", True: "true", False: "false"}[o]
        elif isinstance(o, (int, float)):
            yield repr(o)
        elif isinstance(o, (list, tuple, dict)):
            yield from self._container(o, level)
        else:
            yield from self.encode_chunks(_default(o), level)

    def _container(self, o: Any, level: int) -> Iterator[str]:
        is_dict = isinstance(o, dict)
        opener, closer = ("{", "}") if is_dict else ("[", "]")
        if not o:
            yield opener + closer
            return
        items = (sorted(o.items()) if self.sort_keys else list(o.items())) if is_dict else o
        yield opener
        for i, item in enumerate(items):
            yield self._newline(level + 1) if i == 0 else self.item_separator + self._newline(level + 1)
            if is_dict:
                yield _escape(str(item[0]))
                yield ": "
                yield from self.encode_chunks(item[1], level + 1)
            else:
                yield from self.encode_chunks(item, level + 1)
        if self.indent is not None:
            yield self._newline(level)
        yield closer


def dump_records(records: list[dict[str, Any]], *, methods: bool = False) -> str:
    """Encodes each record on its own line (JSON Lines), chunk by chunk."""
    out: list[str] = []
    for record in records:
        chunks = (ChunkEncoder(sort_keys=True).encode_chunks(record) if methods
                  else iterencode(record, sort_keys=True))
        out.append("".join(chunks))
    return "\n".join(out)
