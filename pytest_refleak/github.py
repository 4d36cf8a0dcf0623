"""GitHub Actions annotations: each leak marked at the line of the project's code that made it.

A line ``::error file=F,line=N,title=T::MESSAGE`` in a job's output becomes an
annotation on that line in the pull request.  GitHub reads these "workflow
commands" from the output as it goes by; values must be escaped as its rules say.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pytest_refleak.record import CYCLES, KNOWN, LEAKED, Record

#: Where a file belongs, given its path relative to the rootdir: "project", "tests", ...
Classify = Callable[[str], str]


def escape_data(text: str) -> str:
    """A message: ``%``, carriage returns and newlines are written as %-escapes."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: escaped like a message, and ``:`` and ``,`` as well."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


_WORDS = {LEAKED: "LEAKED", CYCLES: "CYCLES", KNOWN: "KNOWN LEAK"}


def workflow_commands(records: Iterable[Record], classify: Classify) -> list[str]:
    """One annotation per leak (an error) and per known leak (a warning), in test id order."""
    lines = []
    for record in sorted(records, key=lambda r: str(r["nodeid"])):
        line = annotation(record, classify)
        if line is not None:
            lines.append(line)
    return lines


def annotation(record: Record, classify: Classify) -> str | None:
    verdict = record.get("verdict")
    if verdict not in _WORDS:
        return None
    site = allocation_site(record, classify)
    level = "warning" if verdict == KNOWN else "error"
    title = f"refleak: {_WORDS[verdict]} {record['nodeid']}"
    message = str(record.get("summary") or title)
    if verdict == KNOWN:
        message = f"{message}\n(a known leak, accepted by the baseline)"
    if record.get("text"):
        message = f"{message}\n{record['text']}"
    where = ""
    if site is not None:
        where = f"file={escape_property(site[0])},line={site[1]},"
    return f"::{level} {where}title={escape_property(title)}::{escape_data(message)}"


def allocation_site(record: Record, classify: Classify) -> tuple[str, int] | None:
    """The innermost line of the project's own code that allocated what leaked.

    Failing that, a line of the test code; failing that, the test itself.
    Files outside the rootdir are never chosen: they are not the project's.
    """
    tests = None
    for filename, lineno in _candidate_frames(record):
        if not isinstance(filename, str) or filename.startswith(("<", "..")):
            continue
        if os.path.isabs(filename):
            continue
        where = classify(filename)
        if where == "project":
            return filename, int(lineno)
        if where == "tests" and tests is None:
            tests = (filename, int(lineno))
    if tests is not None:
        return tests
    location = record.get("location")
    if location:
        return str(location[0]), int(location[1])
    return None


def _candidate_frames(record: Record) -> Iterator[tuple[Any, Any]]:
    """Every allocation frame the record names, innermost first within each traceback."""
    for growth in record.get("types", ()):
        for frames in growth.get("sites", ()):
            for frame in reversed(frames):
                yield frame[0], frame[1]
    for memory in record.get("memory", ()):
        for frame in reversed(memory.get("frames", ())):
            yield frame[0], frame[1]
    for cycle in record.get("cycles", ()):
        for site in cycle.get("sites", ()):
            yield site[0], site[1]
