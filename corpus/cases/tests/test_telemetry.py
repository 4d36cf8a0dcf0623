"""Metrics shipped by a background thread that keeps running between the tests.

The shipper thread starts on first use and never stops; it makes the records of
what the tests hand it, and keeps the last two.
"""

import itertools

from telemetry import Counter, Histogram, shipper, timed

REQUESTS = Counter("requests")
LATENCY = Histogram("latency")
_ids = itertools.count()


def test_counter_with_fixed_labels():
    REQUESTS.inc(method="GET", status="200")
    assert REQUESTS.values[(("method", "GET"), ("status", "200"))] >= 1


def test_counter_with_unbounded_labels():
    # A label value with an id in it: a new series, kept forever, on every call
    # (chrisguidry/docket#164, prometheus/client_python#937).
    REQUESTS.inc(path=f"/users/{next(_ids)}/orders", status="200")


def test_histogram_timed_block():
    with timed(LATENCY):
        sum(range(1000))
    assert sum(LATENCY.counts.values()) >= 1


def test_shipper_keeps_only_recent_records():
    REQUESTS.inc(method="POST", status="201")
    assert 0 < len(shipper().recent) <= 2


def test_idle_beside_the_shipper():
    # Nothing shipped: the thread waits beside the test.
    shipper()
    assert sum(i * i for i in range(20_000)) > 0
