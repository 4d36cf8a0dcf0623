"""Small domain classes: instances made, compared, sorted and summed, then dropped."""

from __future__ import annotations

import dataclasses
import enum
from decimal import Decimal

import pytest


class Status(enum.Enum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


@dataclasses.dataclass(frozen=True, order=True)
class Money:
    cents: int
    currency: str = "EUR"

    def __add__(self, other):
        assert self.currency == other.currency
        return Money(self.cents + other.cents, self.currency)

    def __str__(self):
        return f"{self.cents / 100:.2f} {self.currency}"


@dataclasses.dataclass
class Line:
    sku: str
    quantity: int
    price: Money

    @property
    def total(self):
        return Money(self.price.cents * self.quantity, self.price.currency)


class Invoice:
    def __init__(self, number, lines, status=Status.OPEN):
        self.number = number
        self.lines = list(lines)
        self.status = status

    @property
    def total(self):
        total = Money(0)
        for line in self.lines:
            total = total + line.total
        return total

    def __eq__(self, other):
        return isinstance(other, Invoice) and self.number == other.number

    def __hash__(self):
        return hash(self.number)

    def __repr__(self):
        return f"Invoice({self.number!r}, {len(self.lines)} lines, {self.status.value})"


def make_invoices(seed, count):
    return [
        Invoice(
            f"INV-{seed:03d}-{k:04d}",
            [Line(f"SKU{(k * j) % 97:03d}", 1 + j % 4, Money(100 + (k * 31 + j) % 900))
             for j in range(1 + k % 6)],
            Status.PAID if k % 3 else Status.OPEN,
        )
        for k in range(count)
    ]


@pytest.mark.parametrize("seed", range(25))
def test_totals(seed):
    invoices = make_invoices(seed, 150)
    totals = [inv.total for inv in invoices]
    grand = Money(0)
    for total in totals:
        grand = grand + total
    assert grand.cents == sum(t.cents for t in totals)
    assert str(max(totals)).endswith("EUR")
    assert len({inv for inv in invoices + invoices[:10]}) == 150


@pytest.mark.parametrize("seed", range(15))
def test_sort_and_group(seed):
    invoices = make_invoices(seed, 140)
    ranked = sorted(invoices, key=lambda inv: (inv.total, inv.number), reverse=True)
    assert ranked[0].total >= ranked[-1].total
    by_status = {status: [inv for inv in invoices if inv.status is status] for status in Status}
    assert sum(len(v) for v in by_status.values()) == 140
    assert repr(ranked[0]).startswith("Invoice('INV-")


@pytest.mark.parametrize("seed", range(10))
def test_replace_and_decimal(seed):
    lines = [Line(f"S{i}", i % 5 + 1, Money(i * 10 + seed)) for i in range(300)]
    doubled = [dataclasses.replace(line, quantity=line.quantity * 2) for line in lines]
    assert sum(d.total.cents for d in doubled) == 2 * sum(line.total.cents for line in lines)
    exact = sum((Decimal(line.total.cents) / 100 for line in lines), Decimal(0))
    assert exact * 100 == sum(line.total.cents for line in lines)
    assert dataclasses.asdict(lines[1])["price"]["currency"] == "EUR"
