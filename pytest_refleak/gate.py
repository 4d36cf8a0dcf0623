"""The CI gate: the baseline applied to each verdict, and the run's report, baseline and summary.

Checking happens where tests run (in pytest-xdist's workers, if any): there
:meth:`Gate.judge` turns a leak the baseline accepts into a known leak.  The
records then travel to the process that reports (the controller, or the only
process), which keeps them with :meth:`Gate.add` and, at the end of the
session, writes the report file and the updated baseline once, with
:meth:`Gate.finish`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pytest_refleak import baseline as baseline_mod
from pytest_refleak import github
from pytest_refleak.baseline import Entry, Stale
from pytest_refleak.record import (
    CYCLES,
    KNOWN,
    LEAKED,
    USAGE_ERROR,
    Record,
    encodable,
    not_checked,
    report_document,
    size_of,
    write_atomically,
)
from pytest_refleak.record import dumps as dump_report
from pytest_refleak.settings import Settings
from pytest_refleak.text import printable

#: A line of the summary and its colour for pytest's terminal ("red", "yellow", "").
Line = tuple[str, str]


@dataclass
class Gate:
    settings: Settings
    root: str
    entries: dict[str, Entry] = field(default_factory=dict)
    version: str = ""
    records: dict[str, Record] = field(default_factory=dict)
    collected: set[str] = field(default_factory=set)
    stale: list[Stale] = field(default_factory=list)
    #: What writing the files at the end came to, for the summary.
    outcomes: list[Line] = field(default_factory=list)
    write_failed: bool = False

    @classmethod
    def open(cls, settings: Settings, root: str, version: str = "") -> Gate:
        """The gate for a run; :class:`~pytest_refleak.baseline.BaselineError` if the
        baseline cannot be used."""
        entries: dict[str, Entry] = {}
        if settings.baseline is not None:
            entries = baseline_mod.load(
                settings.baseline,
                missing_ok=settings.baseline_update,
                shown=baseline_mod.relative_to(settings.baseline, root),
            )
        return cls(settings, root, entries, version)

    # -- where tests run -----------------------------------------------------------

    def judge(self, record: Record) -> None:
        """Turn a leak the baseline accepts into a known leak; note how a known one grew."""
        if record["verdict"] not in (LEAKED, CYCLES):
            return
        entry = self.entries.get(record["nodeid"])
        if entry is not None:
            # Names read from the file may hold what cannot be encoded.
            record["baseline"] = encodable(entry.to_json())
            record["growth"] = baseline_mod.growth(record, entry)
        if self.settings.baseline_update or (entry is not None and not record["growth"]):
            record["verdict"] = KNOWN
        elif record["growth"]:
            reasons = "".join(f"\n    {reason}" for reason in record["growth"])
            grew = f"\n  a known leak in the baseline, but it grew:{reasons}"
            record["text"] = f"{record['text']}{grew}"

    # -- where the run is reported -------------------------------------------------

    def add(self, record: Record) -> None:
        self.records[record["nodeid"]] = record

    def add_collected(self, nodeids: Iterable[str]) -> None:
        self.collected.update(nodeids)

    def finish(self, *, interrupted: bool, exists: Callable[[str], bool] | None = None) -> None:
        """Find stale baseline entries, then write the report and the baseline."""
        if self.settings.baseline is not None:
            self.stale = baseline_mod.stale_entries(
                self.entries, self.records, self.collected, exists or self._exists
            )
        if self.settings.report is not None:
            self._write_report(self.settings.report, interrupted)
        if self.settings.baseline is not None and self.settings.baseline_update:
            self._write_baseline(self.settings.baseline, interrupted)

    def _exists(self, path: str) -> bool:
        return os.path.exists(os.path.join(self.root, path))

    def _write_report(self, path: str, interrupted: bool) -> None:
        document = report_document(
            self.records.values(),
            limits=self.settings.limits,
            interrupted=interrupted,
            stale=[{"nodeid": s.nodeid, "reason": s.reason} for s in self.stale],
            baseline=self._shown(self.settings.baseline),
            version=self.version,
            strict=self.settings.strict,
        )
        if self._write(path, dump_report(document), "report"):
            self.outcomes.append((f"refleak: report written to {self._shown(path)}", ""))

    def _write_baseline(self, path: str, interrupted: bool) -> None:
        shown = self._shown(path)
        if interrupted:
            self.outcomes.append(
                (f"refleak: baseline {shown} not updated: the run was interrupted", "yellow")
            )
            return
        update = baseline_mod.updated(self.entries, self.records.values(), self.stale)
        if self._write(path, baseline_mod.dumps(update.entries), "baseline"):
            count = len(update.entries)
            self.outcomes.append(
                (
                    f"refleak: baseline {shown} updated: {count} known "
                    f"leak{'s' if count != 1 else ''} ({update.added} added, "
                    f"{update.removed} removed, {update.changed} changed)",
                    "",
                )
            )
            # What is in the file now is what the summary speaks of.
            self.stale = []

    def _write(self, path: str, text: str, what: str) -> bool:
        try:
            write_atomically(path, text)
        except OSError as error:
            reason = error.strerror or str(error)
            self.outcomes.append(
                (f"refleak: could not write the {what} to {self._shown(path)}: {reason}", "red")
            )
            self.write_failed = True
            return False
        return True

    @property
    def usage_error(self) -> bool:
        """Whether a test could not be checked because of the project's mistake."""
        return any(r.get("kind") == USAGE_ERROR for r in self.records.values())

    def _shown(self, path: str | None) -> str | None:
        return None if path is None else baseline_mod.relative_to(path, self.root)

    # -- the summary ---------------------------------------------------------------

    def header(self) -> list[str]:
        lines = []
        if self.settings.baseline is not None:
            shown = self._shown(self.settings.baseline)
            count = _count(len(self.entries), "known leak")
            action = ", updating it" if self.settings.baseline_update else ""
            lines.append(f"refleak: baseline {shown} ({count}{action})")
        if self.settings.report is not None:
            lines.append(f"refleak: report to {self._shown(self.settings.report)}")
        if self.settings.strict:
            lines.append("refleak: strict: a test that cannot be checked fails the run")
        return lines

    def not_checked(self) -> list[Record]:
        """The records of tests that passed but could not be checked, by test id."""
        return sorted(
            (r for r in self.records.values() if not_checked(r)), key=lambda r: str(r["nodeid"])
        )

    @property
    def strict_failed(self) -> bool:
        """Whether ``--refleak-strict`` fails the run: some test could not be checked."""
        return self.settings.strict and bool(self.not_checked())

    def summary(self, *, verbose: bool = False) -> list[Line]:
        """The lines of the terminal summary: leaks first, largest first.

        Tests that failed for the same cycle are one line, with how many made it;
        ``verbose`` says each test's own line below it.
        """
        records = sorted(self.records.values(), key=lambda r: str(r["nodeid"]))
        leaks = sorted(
            (r for r in records if r["verdict"] in (LEAKED, CYCLES)), key=lambda r: -size_of(r)
        )
        lines: list[Line] = []
        shapes = _by_cycle_shape(r for r in leaks if r["verdict"] == CYCLES)
        grouped = {id(r) for group in shapes for r in group if len(group) > 1}
        for record in leaks:
            if id(record) in grouped:
                continue
            lines.append((_line(record), "red"))
        for group in shapes:
            if len(group) < 2:
                continue
            # The first by name: the largest may change from run to run.
            example = min(str(r["nodeid"]) for r in group)
            lines.append((f"CYCLES {len(group)} tests: {_shape(group[0])}, e.g. {example}", "red"))
            if verbose:
                lines.extend((f"    {_line(r)}", "") for r in group)
        known = [r for r in records if r["verdict"] == KNOWN]
        for record in known:
            lines.append((f"KNOWN LEAK {_what(record)}", "yellow"))
        for item in self.stale:
            lines.append((f"STALE {item.nodeid} - {item.reason}", "yellow"))
        unchecked = self.not_checked()
        colour = "red" if self.settings.strict else "yellow"
        for record in unchecked:
            lines.append((f"NOT CHECKED {record['nodeid']} - {record['note']}", colour))
        # A hook of the project's that raised: the run ends with a usage error.
        mistakes = [r for r in records if r.get("kind") == USAGE_ERROR]
        for record in mistakes:
            lines.append((f"NOT CHECKED {record['nodeid']} - {record['note']}", "red"))
        # Every test that was not checked is counted, so that none passes unnoticed.
        counts = []
        if leaks:
            counts.append(f"{_count(len(leaks), 'test')} leaked")
        not_checked_count = len(unchecked) + len(mistakes)
        if not_checked_count:
            counts.append(
                f"{not_checked_count} not checked"
                if leaks
                else f"{_count(not_checked_count, 'test')} not checked"
            )
        if counts:
            lines.append((", ".join(counts), ""))
        if unchecked and self.settings.strict:
            lines.append(
                (
                    f"refleak: --refleak-strict: {_count(len(unchecked), 'test')} not checked "
                    f"{'fails' if len(unchecked) == 1 else 'fail'} the run",
                    "red",
                )
            )
        if known:
            shown = self._shown(self.settings.baseline)
            lines.append((f"{_count(len(known), 'known leak')} accepted by baseline {shown}", ""))
        if self.stale:
            lines.append(
                (
                    f"{_count(len(self.stale), 'stale baseline entry', 'stale baseline entries')}"
                    ": remove with --refleak-baseline-update",
                    "",
                )
            )
        lines.extend(self.outcomes)
        return [(printable(line), colour) for line, colour in lines]

    def annotations(self, classify: github.Classify) -> list[str]:
        return github.workflow_commands(self.records.values(), classify)


def _line(record: Record) -> str:
    line = str(record["summary"])
    if record.get("growth"):
        line += f" (grew past the baseline: {'; '.join(record['growth'])})"
    return line


def _first_cycle(record: Record) -> tuple[str, str]:
    """The loop of a record's first cycle and where its first member was made."""
    first = (record.get("cycles") or [{}])[0]
    sites = first.get("sites") or []
    site = f"{sites[0][0]}:{sites[0][1]}" if sites and sites[0] else ""
    return str(first.get("path", "")), site


def _shape_key(record: Record) -> tuple[tuple[str, ...], str]:
    """What tells one cycle from another in a summary: the references its loop goes
    through, whatever the types on the way and the list index, and where its first
    member was allocated.  A parser that keeps parent pointers makes trees of every
    size, of many node classes, that all round ``.tokens → [n] → .parent``."""
    path, site = _first_cycle(record)
    steps = set()
    for part in path.split(" → "):
        # Each part is Type.attribute, Type[key] or Type: the reference is the rest.
        cut = min((i for i in (part.find("."), part.find("[")) if i >= 0), default=len(part))
        steps.add(re.sub(r"\[\d+\]", "[n]", part[cut:]))
    return tuple(sorted(steps)), site


def _by_cycle_shape(records: Iterable[Record]) -> list[list[Record]]:
    """Records of tests that failed for cycles, grouped by :func:`_shape_key`, the
    largest group first."""
    groups: dict[tuple[tuple[str, ...], str], list[Record]] = {}
    for record in records:
        groups.setdefault(_shape_key(record), []).append(record)
    return sorted(groups.values(), key=lambda g: (-len(g), str(g[0]["nodeid"])))


def _shape(record: Record) -> str:
    path, site = _first_cycle(record)
    return f"{path} ({site})" if site else path


def _what(record: Record) -> str:
    """A record's one-line summary without its leading word: ``test_x - 1 object/run``."""
    summary = str(record.get("summary") or record["nodeid"])
    word, _, rest = summary.partition(" ")
    return rest if word in ("LEAKED", "CYCLES") else summary


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
