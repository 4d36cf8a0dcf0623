"""datakit: a small library of the held-out corpus (a data-processing library: a spool
that ships batches as pickles, attribute rows, chunk readers, a native scanner with
progress callbacks, a dataclass loader, date and type parsing)."""
