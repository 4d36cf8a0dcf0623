"""Caches that fill over the first N calls and stop (clean) beside twins keyed by a
new value on every call (leak); plain leaks beside background work (batch 32)."""

import itertools

from warmkit import plain, warm

_n = itertools.count(11000)


# --- caches that warm up, and their unbounded twins ------------------------------------


def test_codec_cache_fills_over_two_calls():
    assert warm.next_codec().options["window"] == 15


def test_codec_cache_keyed_by_new_name_every_call():
    # use-agent-os/agent-os#1111: a dict keyed by every session ever seen.
    assert warm.codec(f"codec-{next(_n)}").options["window"] == 15


def test_unit_lru_cache_fills_over_three_calls():
    assert warm.next_unit_factor() > 0


def test_weight_lru_cache_keyed_by_new_text_every_call():
    # AllenInstitute/ipfx#495: lru_cache (maxsize=None) keyed by fresh arguments.
    assert warm.parse_weight(f"{next(_n)} lb") > 0


def test_header_templates_fill_over_four_calls():
    assert warm.HeaderTemplates.next_encoded().startswith(b"Content-Type")


def test_header_templates_keyed_by_new_kind_every_call():
    # mozilla/dxr#558: "so this cache just grows forever?"
    assert warm.HeaderTemplates.encoded(f"x-batch-{next(_n)}").endswith(b"\r\n")


def test_seen_hosts_fill_over_five_calls():
    # At least one host seen; how many depends on whether the twin below ran first
    # (the set is shared), so the count is not asserted.
    assert warm.next_host() >= 1


def test_seen_hosts_keyed_by_new_host_every_call():
    # use-agent-os/agent-os#1111 again: every host ever seen, kept.
    assert warm.note_host(f"node-{next(_n)}.example.com") >= 1


def test_locale_table_fills_over_seven_calls():
    # Clean: it stops after seven calls (the plugin, which re-runs a growing test
    # five times, may not see it stop).
    assert warm.next_locale().endswith(".utf-8")


# --- plain leaks beside background work -----------------------------------------------


def test_audit_log_keeps_one_record_per_call():
    # Alexey-T/CudaText#5535, Eshajha19/agri#1594: a module list, one object a call.
    n = next(_n)
    assert plain.churn(n) > 0
    assert plain.audit("login", {"user": n}) >= 1


def test_audit_recent_in_bounded_deque():
    # Eshajha19/agri#1594's fix: deque(maxlen=...).
    n = next(_n)
    assert plain.churn(n) > 0
    assert plain.audit_recent("login", {"user": n}) <= 3


def test_handles_in_weak_value_registry():
    # icatproject/python-icat#121, confident-ai/deepeval#2551.
    n = next(_n)
    assert plain.churn(n) > 0
    handle = plain.open_handle(f"h-{n}")
    assert plain._handles[f"h-{n}"] is handle


def test_connections_kept_in_dict_keyed_by_id():
    # cisco/mindmeld#296, Dicklesworthstone/mcp_agent_mail#244.
    n = next(_n)
    assert plain.churn(n) > 0
    conn = plain.connect(f"host=db{n};port=5432")
    assert conn.params["port"] == "5432"


def test_connections_removed_from_id_dict_on_close():
    n = next(_n)
    assert plain.churn(n) > 0
    with plain.connect(f"host=db{n};port=5432") as conn:
        assert conn.params["port"] == "5432"
