"""An identity map of catalogue items: a WeakValueDictionary, and beside it a history."""

from __future__ import annotations

import weakref


class Item:
    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.attributes = {"sku": sku, "price": 100, "currency": "EUR"}


class Catalog:
    """h5py/h5py#2783 made its object registry a ``WeakValueDictionary`` to stop a leak;
    here the identity map is weak, but a "recently viewed" list beside it keeps every
    item strongly, so the weak map's entries never die either.
    """

    def __init__(self, keep_history: bool) -> None:
        self._by_sku: weakref.WeakValueDictionary[str, Item] = weakref.WeakValueDictionary()
        self.keep_history = keep_history
        self.recently_viewed: list[Item] = []

    def load(self, sku: str) -> Item:
        item = self._by_sku.get(sku)
        if item is None:
            item = Item(sku)
            self._by_sku[sku] = item
        if self.keep_history:
            self.recently_viewed.append(item)
        return item

    def __len__(self) -> int:
        return len(self._by_sku)


catalog = Catalog(keep_history=True)
weak_catalog = Catalog(keep_history=False)  # the fix: the map alone
