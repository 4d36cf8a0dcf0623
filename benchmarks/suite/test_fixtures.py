"""Tests leaning on fixtures of every scope: module, function, yield and the session heap."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def catalog():
    """Built once for this module and shared, read-only, by its tests."""
    return {
        f"P{i:05d}": {"name": f"product {i}", "price": 1 + (i * 37) % 500,
                      "tags": ("red" if i % 3 else "blue", "big" if i % 7 else "small")}
        for i in range(5000)
    }


class Cart:
    def __init__(self):
        self.items = {}
        self.closed = False

    def add(self, code, quantity=1):
        self.items[code] = self.items.get(code, 0) + quantity

    def total(self, catalog):
        return sum(catalog[code]["price"] * n for code, n in self.items.items())

    def close(self):
        self.items.clear()
        self.closed = True


@pytest.fixture
def cart():
    """A function-scoped fixture with a teardown."""
    cart = Cart()
    yield cart
    cart.close()
    assert cart.closed


@pytest.mark.parametrize("n", range(20))
def test_search_catalog(n, catalog):
    wanted = "blue" if n % 2 else "red"
    hits = [code for code, item in catalog.items() if item["tags"][0] == wanted]
    assert hits
    cheap = sorted(hits, key=lambda code: (catalog[code]["price"], code))[: 10 + n]
    assert all(catalog[c]["price"] <= catalog[cheap[-1]]["price"] for c in cheap)


@pytest.mark.parametrize("n", range(15))
def test_cart(n, catalog, cart, records):
    for k in range(1000):
        cart.add(f"P{(k * 97 + n) % 5000:05d}", 1 + k % 3)
    total = cart.total(catalog)
    assert total > 0
    assert len(records) == 60 and records[n]["name"] == f"item-{n:04d}"
    expensive = {code: catalog[code]["price"] for code in cart.items if catalog[code]["price"] > 250}
    assert sum(expensive.values()) <= total


@pytest.mark.parametrize("n", range(15))
def test_heap_lookups(n, heap, records):
    step = max(1, len(heap) // 1500)
    picked = [heap[i] for i in range(n, len(heap), step)]
    keys = [node.payload.tags[1]["id"] for node in picked]
    assert keys == [node.key for node in picked]
    depth = [0] * len(picked)
    for i, node in enumerate(picked):
        while node.parent is not None:
            depth[i] += 1
            node = node.parent
    assert max(depth, default=0) <= 7
    enriched = [dict(r, rank=i) for i, r in enumerate(records)]
    assert [r["rank"] for r in enriched] == list(range(60))
