"""An invoicing service that talks to a payment gateway and a notifier."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any


class Gateway:
    def charge(self, customer: str, cents: int) -> str:
        raise NotImplementedError("network")

    def refund(self, charge_id: str) -> bool:
        raise NotImplementedError("network")


@dataclass
class Invoice:
    customer: str
    lines: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(cents for _, cents in self.lines)


class InvoiceService:
    def __init__(self, gateway: Gateway, notifier: Any) -> None:
        self.gateway = gateway
        self.notifier = notifier

    def settle(self, invoice: Invoice) -> str:
        charge_id = self.gateway.charge(invoice.customer, invoice.total)
        self.notifier.send(invoice.customer, f"charged {invoice.total}")
        return charge_id


def estimate_size(objects: list[Any]) -> int:
    """Sums ``sys.getsizeof`` over the objects, as a memory dashboard does."""
    return sum(sys.getsizeof(obj) for obj in objects)
