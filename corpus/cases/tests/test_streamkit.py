"""streamkit: streaming and serialization (batch 33). An encoder made of mutually
recursive closures per call (cycles) beside one made of methods, a codec search
function registered per transfer, fire-and-forget flush tasks kept in a set, and a
call tracer that logs every event; each beside its fix."""

import itertools
import json

from streamkit import codec, encoder, flush, trace

_n = itertools.count(34000)


def _records(n):
    return [
        {"id": n + i, "name": f"row-{n + i}", "tags": {"b", "a"}, "score": i / 4, "ok": i % 2 == 0,
         "nested": {"values": [i, None, [n]], "empty": {}}}
        for i in range(3)
    ]


# --- the incremental encoder ----------------------------------------------------------


def test_iterencode_closures_made_per_dump():
    # python/cpython#141686: mutually recursive nested functions, a cycle per call.
    text = encoder.dump_records(_records(next(_n)))
    assert text.count("\n") == 2
    assert '"tags": ["a", "b"]' in text


def test_chunk_encoder_methods_per_dump():
    records = _records(next(_n))
    text = encoder.dump_records(records, methods=True)
    assert [json.loads(line)["tags"] for line in text.splitlines()] == [["a", "b"]] * 3


# --- a codec registered per transfer --------------------------------------------------


def test_codec_search_function_registered_per_transfer():
    # python/cpython#22360 (bpo-41842): search functions could not be taken off.
    lines = [f"reading {next(_n)}", "temperature 21.5"]
    assert codec.transfer(lines, "probe-1", 7, unregister=False) == lines


def test_codec_search_function_unregistered_after_transfer():
    lines = [f"reading {next(_n)}", "temperature 21.5"]
    assert codec.transfer(lines, "probe-1", 7, unregister=True) == lines


# --- fire-and-forget flush tasks ------------------------------------------------------


def test_flush_tasks_kept_in_set_when_done():
    # ETS-Next-Gen/writing_observer#192, letta-ai/letta#2823.
    writer = flush.BatchWriter(flush.Sink(), discard=False)
    assert writer.write_all(_records(next(_n)) * 3) == 9


def test_flush_tasks_discarded_when_done():
    writer = flush.BatchWriter(flush.Sink(), discard=True)
    assert writer.write_all(_records(next(_n)) * 3) == 9


# --- a call tracer --------------------------------------------------------------------


_LINES = [f"{i}, item-{i}, {i * 1.5}" for i in range(6)]


def test_call_tracer_logs_every_event():
    # Hand-made: a debug event log that nothing empties.
    assert trace.traced(trace.EventLog(), trace.pipeline, _LINES) == 3.75


def test_call_tracer_counts_calls_per_function():
    assert trace.traced(trace.CallCounter(), trace.pipeline, _LINES) == 3.75
    assert trace._calls["_convert"] >= 6
