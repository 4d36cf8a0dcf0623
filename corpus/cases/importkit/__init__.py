"""importkit: a small library of the held-out corpus (batch 32: modules whose bodies
build trees of parent/child nodes, dataclasses, enums and namedtuples, re-imported by
their tests; a template with a self-referencing object, deep-copied by the project or
by the test)."""
