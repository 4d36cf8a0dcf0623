"""Order schema types: an Enum, dataclasses and a namedtuple, made by the module body.

Tests that reload it (to pick up a changed setting) re-create every class; the old
classes die in the cycles every class is part of (IronLanguages/main#1051).
"""

from __future__ import annotations

import enum
from collections import namedtuple
from dataclasses import dataclass, field


class Status(enum.Enum):
    DRAFT = "draft"
    PLACED = "placed"
    SHIPPED = "shipped"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True)
class Price:
    amount: int
    currency: str = "EUR"


@dataclass
class LineItem:
    sku: str
    quantity: int
    price: Price
    status: Status = Status.DRAFT
    tags: list[str] = field(default_factory=list)

    def total(self) -> int:
        return self.quantity * self.price.amount


Dimensions = namedtuple("Dimensions", "width height depth")

DEFAULT_ITEM = LineItem("SKU-0", 1, Price(100), tags=["default"])
PARCEL = Dimensions(30, 20, 10)
