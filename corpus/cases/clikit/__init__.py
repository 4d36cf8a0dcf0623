"""clikit: a small command-line framework of the held-out corpus (batch 33): commands
in groups, a context stack, a test runner that captures output, per-run loggers,
deprecated options that warn, and a reload signal handler per application."""
