"""regkit: a small library of the held-out corpus (batch 31: registries in unusual
holders: partials in an event registry, a weak-value identity map beside a strong
history, a read-only MappingProxyType registry, class attributes set per call, an
``__init_subclass__`` registry, ``sys.modules``, ``copyreg``, ``threading.local`` in a
reused worker thread)."""
