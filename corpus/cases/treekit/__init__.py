"""treekit: a small library of the held-out corpus (batch 32: a parser that links
parents inside functools.reduce and map callbacks, a visitor that links them seven
frames deep, and their weak or parent-table twins)."""
