"""runtimekit: a small library of the held-out corpus (request locals, shutdown hooks,
per-thread scratch buffers, a resolver with a failure cache, an asyncio RPC client)."""
