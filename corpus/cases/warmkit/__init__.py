"""warmkit: a small library of the held-out corpus (batch 32: caches that fill over
the first two to seven calls and stop, beside caches keyed by a new value on every
call; plain leaks of different shapes beside clean background work)."""
