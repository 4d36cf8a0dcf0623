"""A metrics client with a background shipper thread.

Shaped like the push clients of metrics and error-reporting services: the first
use starts a daemon thread that drains a queue of measurements into a bounded
ring of recent records (and notes a beat), and waits for more.  A heartbeat
every 200 ms while idle was tried here and taken out: running beside every later
test of the corpus, it made the tiny leak of
``tests/test_memo.py::test_lru_cache_unbounded_new_keys`` (a 60-character key
per call) pass in one of two runs under ``-n 2`` (the limit
``docs/how-it-decides.md`` names: a block or two a test keeps can be hidden by
another thread's frees).  The counters keep one
value per distinct set of label values, forever: labels with unbounded values (a
user id, a path with an id in it) grow them on every call, the leak behind
chrisguidry/docket#164 ("memory leak in Prometheus metrics by removing unbounded
labels") and prometheus/client_python#937.
"""

from telemetry.client import Counter, Histogram, shipper, timed

__all__ = ["Counter", "Histogram", "shipper", "timed"]
