"""Exceptions kept in the frames they trace back to, and their fixes."""

import pytest

from faults import jobs


def test_job_stores_its_exception():
    # python/cpython#75188
    assert jobs.Job("nightly").run() is False


def test_job_stores_message():
    assert jobs.TextJob("nightly").run() is False


def test_local_refers_to_exception():
    # celery/billiard#311
    assert jobs.handle({}) == "failed"


def test_exception_not_bound():
    assert jobs.handle_fixed({}) == "failed"


def _always_fails():
    raise ValueError("flaky backend")


def test_raise_last_keeps_frame():
    # Lightning-AI/lightning-thunder#1193
    with pytest.raises(ValueError):
        jobs.call_with_retry(_always_fails)


def test_raise_last_fixed():
    with pytest.raises(ValueError):
        jobs.call_with_retry_fixed(_always_fails)


def test_frame_kept_in_local():
    # stb-tester/stb-tester#587
    assert jobs.caller_name() == "test_frame_kept_in_local"


def test_frame_deleted():
    assert jobs.caller_name_fixed() == "test_frame_deleted"


def test_result_reraises_with_self_in_frame():
    # python/cpython#80111
    # Built inline: a local of the test holding the result would put the test's own
    # frame on the cycle too.
    with pytest.raises(KeyError):
        jobs.Result.failed(KeyError("job-1")).get()


def test_result_reraises_fixed():
    # python/cpython#24995, the fix
    with pytest.raises(KeyError):
        jobs.FixedResult.failed(KeyError("job-1")).get()


def test_validation_error_raised_from_local():
    # dapper91/pydantic-xml#222
    with pytest.raises(jobs.ValidationError):
        jobs.validate_country("USA")


def test_validation_ok():
    assert jobs.validate_country("US") == "US"


def test_exception_history_on_long_lived_strategy():
    # cannatag/ldap3#529
    assert jobs.default_strategy.open("ldap://10.0.0.1") is False
