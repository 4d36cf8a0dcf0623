"""Rows whose columns read as attributes."""

from __future__ import annotations

from typing import Any


class Row(dict):
    """fritzy/SleekXMPP#18 (``self.attrib = self``), mewwts/addict#86: the attribute
    view is the row itself, ``self.__dict__ = self``, so every row refers to itself and
    is freed only by the cyclic collector.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.__dict__ = self


class AttrRow(dict):
    """The fix: attribute access looked up on demand, no reference to itself."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def parse(lines: list[str], row_class: type = Row) -> list[Any]:
    header, *body = (line.split(",") for line in lines)
    return [row_class(zip(header, values, strict=True)) for values in body]


def total(lines: list[str], row_class: type = Row) -> int:
    return sum(int(row.qty) for row in parse(lines, row_class))
