"""quietkit: a small library of the held-out corpus (batch 31: clean code that looks
leaky: a cache that warms over four calls, a two-entry LRU, a batch list cleared per
call, a module attribute swapped per call, interned identifiers, a lazily imported
stdlib module, fixed loggers and patterns, format specs, functools.cache)."""
