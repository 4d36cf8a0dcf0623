"""Clients: pools registered and never released, retries, sessions per request."""

from netkit import client


def test_client_not_closed_keeps_pool():
    # psf/requests#4601, minio/minio-py#1133: every client's pool stays registered.
    c = client.Client("https://api.example.org")
    assert c.get("/items").status == 200


def test_client_closed():
    # Clean twin of test_client_not_closed_keeps_pool.
    with client.Client("https://api.example.org") as c:
        assert c.get("/items").status == 200


def test_new_session_per_request_closed():
    # aio-libs/aiohttp#1029: a session per request is slow, but closed it is no leak.
    for path in ("/a", "/b", "/c"):
        with client.Client("https://api.example.org") as c:
            assert c.get(path).json()["status"] == 200


def test_retry_history_keeps_tracebacks():
    # urllib3/urllib3#3082: the retry keeps the error whose traceback holds the retry.
    assert client.fetch_with_retries("https://x.test/", failures=2).status == 200


def test_retry_history_as_text():
    assert client.fetch_with_retries_fixed("https://x.test/", failures=2).status == 200
