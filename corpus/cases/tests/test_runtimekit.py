"""Request locals, shutdown hooks, per-thread buffers, cached failures, RPC replies."""

import pytest

from runtimekit import lifecycle, locals, resolver, rpc, threads


def test_local_attribute_per_request():
    # pallets/werkzeug#2436, encode/databases#546: a ContextVar made per instance and
    # set in the thread's base context stays referenced by that context.
    state = locals.Local()
    state.user = "alice"
    state.roles = ("admin",)
    assert state.user == "alice"
    del state.roles
    with pytest.raises(AttributeError):
        state.roles  # noqa: B018


def test_request_scope_resets_context():
    with locals.request_scope(user="alice") as scope:
        assert locals.current("user") == "alice"
        assert locals.current("request_id") == scope["request_id"]
    assert locals.current("user") is None


def test_client_registers_close_with_atexit():
    # ARM-software/devlib#676, DataDog/dd-trace-py#2409: atexit keeps every client.
    with lifecycle.SshClient("build-01") as client:
        assert client.run("uname -r") == "build-01$ uname -r"
    assert not client.channel.open


def test_client_releases_channel_with_finalizer():
    with lifecycle.ManagedSshClient("build-01") as client:
        assert client.run("uname -r") == "build-01$ uname -r"
    assert not client.channel.open


def test_encode_batch_on_worker_thread():
    # paramiko/paramiko#2002: a table keyed by thread, never cleaned when threads end.
    assert threads.encode_batch(["a=1", "b=2"]) == b"a=1\nb=2\n"


def test_encode_batch_with_thread_local_scratch():
    assert threads.encode_batch_local(["a=1", "b=2"]) == b"a=1\nb=2\n"


def test_unknown_host_fails_from_cache():
    # torproject/stem#156 (torproject/nyx#52): the cached exception is raised again,
    # and its traceback grows by the frames of every lookup.
    assert resolver.default_resolver.resolve("api.internal") == "10.0.0.7"
    with pytest.raises(resolver.ResolutionError):
        resolver.default_resolver.resolve("cache.internal")


def test_unknown_host_fails_with_fresh_error():
    assert resolver.message_resolver.resolve("api.internal") == "10.0.0.7"
    with pytest.raises(resolver.ResolutionError):
        resolver.message_resolver.resolve("cache.internal")


@pytest.mark.asyncio
async def test_publish_while_transport_down():
    # openlawlibrary/pygls#608, tradeparadex/paradex-py#172: a failed send leaves the
    # pending future (and the loop it belongs to) in the shared client's table.
    client = rpc.shared_client
    assert await client.call("echo", [1, 2]) == [1, 2]
    with pytest.raises(rpc.RpcUnavailable):
        await client.call("publish", {"topic": "builds"})


@pytest.mark.asyncio
async def test_publish_while_transport_down_fixed():
    client = rpc.shared_client
    assert await client.call_fixed("echo", [1, 2]) == [1, 2]
    with pytest.raises(rpc.RpcUnavailable):
        await client.call_fixed("publish", {"topic": "builds"})
