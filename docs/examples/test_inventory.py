"""Tests for the inventory example: one is clean, three leak in different ways."""

import inventory


def test_valid_sku():
    # Compiling a regular expression or importing a module fills caches once:
    # that is not a leak, and the test passes.
    assert inventory.is_valid("ABC-1234")
    assert not inventory.is_valid("abc")


def test_add_item():
    inventory.add_item("ABC-1234")


def test_label():
    assert inventory.label("ABC-1234", 3) == "ABC-1234 x3"


def test_count_bins():
    assert inventory.count_bins("A1", ["ABC-1234", "XYZ-9876"]) == 2
