"""Reading and writing small CSV-like files."""

from __future__ import annotations

import csv
import io
import os
import tempfile


def roundtrip(rows: list[list[str]]) -> list[list[str]]:
    """Writes rows to a temporary file and reads them back."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(out.getvalue().encode("utf-8"))
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
        return [row for row in csv.reader(io.StringIO(text))]
    finally:
        os.unlink(path)
