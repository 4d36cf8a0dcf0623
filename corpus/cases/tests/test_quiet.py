"""Clean code that looks leaky (batch 31): none of these may be reported."""

import itertools

from quietkit import quiet

_n = itertools.count(7000)


def test_dialect_cache_warms_over_four_calls():
    assert quiet.next_dialect().delimiter in (",", "\t")


def test_preview_lru_bounded_at_two():
    n = next(_n)
    value = quiet.previews.get_or_make(("preview", n), lambda: {"id": n, "px": [0] * 16})
    assert value["id"] == n
    assert len(quiet.previews.data) <= 2


def test_batch_list_cleared_each_call():
    assert quiet.load_batch([{"id": next(_n)}, {"id": 2}]) == 2


def test_settings_module_attribute_swapped():
    assert quiet.reload_settings(next(_n)).values["timeout"] == 30


def test_interned_header_fields():
    line = ",".join(["order_id", "customer_id", "total", "currency"]) + f",note{0}"
    assert quiet.header_fields(line)[0] == "order_id"


def test_decimal_imported_on_first_call():
    assert quiet.money(f"{next(_n)}.456") .endswith(".46")


def test_fixed_logger_and_compiled_pattern():
    assert quiet.audit("order.created", f"user{next(_n)}")


def test_format_spec_built_per_call():
    assert "EUR" in quiet.format_amount(next(_n) * 1.5, 12)


def test_functools_cache_same_arguments():
    assert quiet.tax_rate("DE", "food") == 0.095


def test_charset_table_warms_over_five_calls():
    # Memory only (an untracked str -> str dict), growing on the first five calls.
    assert "-" in quiet.next_charset_of_five()


def test_charset_table_warms_over_three_calls():
    assert "-" in quiet.next_charset_of_three()
