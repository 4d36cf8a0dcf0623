"""Async and threads (batch 31), and one leaking helper called from many tests."""

import itertools

import pytest

from taskkit import resolver, sessions, sync, thumbs

_n = itertools.count(9000)


@pytest.mark.asyncio
async def test_resolver_keeps_done_futures():
    # graphql-python/graphql-core-legacy#104, aio-libs/async-lru#82.
    query = resolver.Query(f"db{next(_n)}.internal")
    assert (await resolver.resolver.resolve(query)).startswith("10.0.")


@pytest.mark.asyncio
async def test_resolver_forgets_done_futures():
    query = resolver.Query(f"db{next(_n)}.internal")
    assert (await resolver.fixed_resolver.resolve(query)).startswith("10.0.")


def test_session_timer_left_on_long_lived_loop():
    # ArchiveTeam/wpull#166, sbidy/pywizlight#107: call_later never cancelled.
    session = sessions.store.open(f"user{next(_n)}")
    session.data["cart"].append("sku-1")
    sessions.store.close(session)
    assert not session.expired


def test_session_timer_cancelled_on_close():
    session = sessions.fixed_store.open(f"user{next(_n)}")
    session.data["cart"].append("sku-1")
    sessions.fixed_store.close(session)
    assert not session.expired


def test_thumbnail_futures_kept_by_module_pool():
    # celery/celery#486: the pool keeps every task.
    thumbs.submit(b"image-%d" % next(_n))
    assert all(len(t) == 256 for t in thumbs.wait_all()[-1:])


def test_thumbnail_futures_drained():
    out = thumbs.make_batch_drained([b"image-%d" % next(_n)])
    assert len(out[0]) == 256


def test_thumbnail_batch_on_own_pool_shut_down():
    out = thumbs.make_batch_own_pool([b"image-%d" % next(_n), b"other"])
    assert [len(t) for t in out] == [256, 256]


# The same leaking helper, sync.push, called from five tests in a row: each must be
# reported on its own, the fifth after four others leaked into the same list.
def test_sync_orders():
    assert sync.push("order", next(_n), {"total": 120, "currency": "EUR"}) > 0


def test_sync_invoices():
    assert sync.push("invoice", next(_n), {"order": 1, "due": "2024-05-01"}) > 0


def test_sync_refunds():
    assert sync.push("refund", next(_n), {"order": 1, "amount": 20}) > 0


def test_sync_customers():
    assert sync.push("customer", next(_n), {"name": "Alice", "tier": "gold"}) > 0


def test_sync_payouts():
    assert sync.push("payout", next(_n), {"account": "DE00", "amount": 99}) > 0


def test_sync_shipped_after_push():
    assert sync.push_shipped("order", next(_n), {"total": 120, "currency": "EUR"}) > 0


def test_journal_read_after_leaking_tests():
    # Runs after five leaking tests: it only reads the journal they fill.
    assert sync.journal_size() >= 0


@pytest.mark.parametrize("fmt", ["json", "csv", "xml"])
def test_export_kept_by_name(fmt):
    assert sync.export(fmt, next(_n), [{"id": 1, "total": 120}]) > 0
