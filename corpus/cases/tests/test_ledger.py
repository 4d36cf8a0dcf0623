"""Memory-only leaks (batch 31): numbers, strings, bytes and tuples of them piling up
in containers made at import, a str grown by +=, a StringIO never truncated."""

import itertools

from ledger import counters, trail, transcript

_n = itertools.count(1000)


def test_audit_trail_keeps_every_posting():
    # An untracked tuple (int, float, str) appended to a module-level list per call.
    n = next(_n)
    assert trail.post(n, n * 0.25, "refund") >= 1


def test_audit_totals_per_kind():
    n = next(_n)
    assert trail.post_to_totals(n, n * 0.25, "refund") > 0


def test_access_log_deque_without_maxlen():
    # roeimichael/ContextAnalyzerTerminal#5: deque() with no maxlen.
    n = next(_n)
    trail.access_log.record("GET", b"/api/orders/%d" % n, 200)
    assert trail.access_log.last()[2] == 200


def test_status_page_log_ring():
    n = next(_n)
    trail.status_page_log.record("GET", b"/api/orders/%d" % n, 200)
    assert len(trail.status_page_log.entries) <= 2


def test_hits_counted_by_raw_path():
    # A str -> int dict made at import (untracked by the collector) keyed by raw path.
    assert counters.hit(f"/api/orders/{next(_n)}") == 1


def test_hits_counted_by_route():
    assert counters.hit_route(f"/api/orders/{next(_n)}") >= 1


def test_latency_samples_kept_in_array():
    base = next(_n)
    assert counters.record_latencies([base + i / 64 for i in range(64)]) >= 64


def test_latency_samples_flushed():
    base = next(_n)
    assert counters.record_and_flush([base + i / 64 for i in range(64)])[0] == 64


def test_transcript_concatenated_onto_module_string():
    assert transcript.note(f"{next(_n):08d} user=alice action=export rows=120") > 0


def test_status_line_keeps_tail():
    assert transcript.note_status(f"{next(_n):08d} user=alice action=export rows=120") <= 80


def test_log_capture_stringio_never_truncated():
    # hatchet-dev/hatchet#4587 (#4432): a StreamHandler on a StringIO never emptied.
    assert transcript.run_task(transcript.worker_logs, next(_n)) > 0


def test_log_capture_stringio_truncated():
    assert transcript.run_task(transcript.fixed_worker_logs, next(_n)) > 0
