"""Caches: memoised methods, bounded caches, singletons and warm-ups."""

import itertools

from memo import pricing

_n = itertools.count()


def test_cached_method_keeps_instances():
    # pytest-dev/pytest#9148: functools.cache on a method keeps every instance alive.
    book = pricing.PriceBook("USD")
    book.history.extend([1.0] * 50)
    assert book.convert(10.0) == 10.8


def test_instance_cache_is_freed_with_instance():
    # Clean twin of test_cached_method_keeps_instances.
    book = pricing.SafePriceBook("USD")
    assert book.convert(10.0) == 10.8
    assert book.convert(10.0) == 10.8


def test_weak_method_cache():
    # python/cpython#102618: weakly keyed per-instance cache.
    book = pricing.WeakPriceBook("GBP")
    assert book.convert(100.0) == 86.0


def test_quote_memo_keyed_on_instance():
    # tkem/cachetools#106: a memo keyed on (self, arg) keeps every Quoter.
    q = pricing.Quoter(f"customer-{next(_n)}")
    assert q.quote("sku-1").endswith(":15")


def test_bounded_compiled_cache():
    # sqlalchemy/sqlalchemy#4560: an LRU that prunes itself grows only until full.
    assert pricing.compile_query("orders").startswith("SELECT")


def test_lru_cache_with_maxsize_new_keys():
    # Memoisation with a size limit, a new key on every call.
    assert pricing.rate_for(f"USD-{next(_n)}") > 1.0


def test_lru_cache_unbounded_new_keys():
    # functools.lru_cache(maxsize=None) fed a new key per call grows without end.
    assert pricing.unbounded_rate(f"GBP-{next(_n)}-{'x' * 40}") > 0.8


def test_lazy_singleton():
    assert pricing.get_client()["rates"]["EUR"] == 1.0


def test_warm_up_then_stable():
    assert pricing.table_lookup(7) == 10.5


def test_previous_result_replaced():
    assert pricing.report(40) == 40
