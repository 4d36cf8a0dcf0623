"""A small inventory library with the kinds of leaks pytest-refleak finds."""

from __future__ import annotations

import re

_audit_log: list[AuditEntry] = []
_label_cache: dict[str, str] = {}
_SKU = re.compile(r"^[A-Z]{3}-\d{4}$")


class AuditEntry:
    def __init__(self, action: str, sku: str) -> None:
        self.action = action
        self.sku = sku

    def __repr__(self) -> str:
        return f"AuditEntry({self.action!r}, {self.sku!r})"


class Shelf:
    def __init__(self, name: str) -> None:
        self.name = name
        self.bins: list[Bin] = []


class Bin:
    def __init__(self, shelf: Shelf, sku: str) -> None:
        self.shelf = shelf  # back-pointer: shelf -> bins -> bin -> shelf is a cycle
        self.sku = sku
        shelf.bins.append(self)


def is_valid(sku: str) -> bool:
    return bool(_SKU.match(sku))


def add_item(sku: str) -> None:
    """Records every call in a module-level log that nothing ever trims."""
    _audit_log.append(AuditEntry("add", sku))


def label(sku: str, quantity: int) -> str:
    """Caches labels by a key that is new on every call."""
    key = f"{sku}:{quantity}:{len(_label_cache)}"
    text = f"{sku} x{quantity}"
    _label_cache[key] = text
    return text


def count_bins(shelf_name: str, skus: list[str]) -> int:
    """Builds a shelf with back-pointers and drops it: garbage only the cyclic GC frees."""
    shelf = Shelf(shelf_name)
    for sku in skus:
        Bin(shelf, sku)
    return len(shelf.bins)
