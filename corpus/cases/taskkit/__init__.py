"""taskkit: a small library of the held-out corpus (batch 31: async and threads: an
async resolver's in-flight futures, session timers on a long-lived private event loop,
a module-level thread pool, and a sync journal called from many tests)."""
