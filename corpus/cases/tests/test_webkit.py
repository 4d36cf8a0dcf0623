"""A web/service framework: clients, app factories, routers, log endpoints, responses."""

import itertools

from webkit import client, events, logs, responses, routing

_n = itertools.count()


def test_client_adds_null_handler_per_instance():
    # PaddleHQ/paddle-python-sdk#144: every client without a logger adds a NullHandler
    # to the shared logger.
    api = client.ApiClient("key-123")
    assert api.get("/transactions", page=1)["status"] == 200


def test_client_null_handler_added_once():
    api = client.SafeApiClient("key-123")
    assert api.get("/transactions", page=1)["status"] == 200


def test_app_factory_stacks_session_listeners():
    # DRYTRIX/TimeTracker#655, DataDog/dd-trace-py#18361: create_app() listens on the
    # global session class every time it is called.
    app = events.create_app({"TESTING": True})
    session = app.session()
    session.add({"id": 1})
    assert session.flush() >= 1
    assert session.audited >= 1


def test_app_factory_listens_once():
    app = events.create_app_fixed({"TESTING": True})
    session = app.session()
    session.add({"id": 1})
    assert session.flush() == 1
    assert session.audited == 1


def test_unknown_paths_inserted_by_hot_check():
    # nltk/nltk#2047, opensteno/plover#1188: a defaultdict read inserts the missing key.
    assert routing.router.dispatch("/health") == (200, "ok")
    assert routing.router.dispatch(f"/wp-admin/probe-{next(_n)}.php")[0] == 404


def test_unknown_paths_not_inserted():
    assert routing.safe_router.dispatch("/health") == (200, "ok")
    assert routing.safe_router.dispatch(f"/wp-admin/probe-{next(_n)}.php")[0] == 404


def test_log_endpoint_memory_handler_without_target():
    # Tribler/tribler#8530 (#8485): a MemoryHandler with no target never empties.
    assert logs.server.handle("GET", f"/api/downloads/{next(_n)}") == 200
    assert logs.server.endpoint.recent(1)[0].endswith("-> 200")


def test_log_endpoint_ring_buffer():
    assert logs.ring_server.handle("GET", f"/api/downloads/{next(_n)}") == 200
    assert logs.ring_server.endpoint.recent(1)[0].endswith("-> 200")
    assert len(logs.ring_server.endpoint.records()) <= 3


def test_response_keeps_bound_method_on_itself():
    # python/cpython#89020 (bpo-44857), pyro-ppl/pyro#1938: self._on_close = self.release.
    response = responses.app.handle("/health")
    assert response.status == 200
    response.close()
    assert response.closed


def test_response_without_self_reference():
    response = responses.plain_app.handle("/health")
    assert response.status == 200
    response.close()
    assert response.closed


def test_error_page_formats_traceback():
    # Looks noisy (the traceback module and linecache fill on first use), but is clean.
    response = responses.plain_app.handle("/boom")
    assert response.status == 500
    assert "ValueError: the view failed" in response.body
