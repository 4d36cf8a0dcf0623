"""ledger: a small library of the held-out corpus (batch 31: an accounting service's
audit trail, request log, hit counters, latency samples, transcript and log capture).
Its leaks grow memory only: what piles up is numbers, strings, bytes and tuples of
them in containers made at import, which the cyclic collector does not track."""
