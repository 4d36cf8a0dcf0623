"""streamkit: a small streaming and serialization library of the held-out corpus
(batch 33): an incremental JSON encoder, a text codec registered for each stream,
fire-and-forget flush tasks, and a call tracer for debugging pipelines."""
