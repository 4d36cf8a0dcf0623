"""The CI gate's pure parts on their own: records, the baseline, annotations, atomic writes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_refleak import baseline, github
from pytest_refleak.baseline import BaselineError, Entry, Stale
from pytest_refleak.cycles import CycleFindings, CycleGroup
from pytest_refleak.gate import Gate
from pytest_refleak.measure import MemoryGrowth, Reading, TypeGrowth
from pytest_refleak.origins import Origin
from pytest_refleak.record import (
    CYCLES,
    clean_record,
    complete,
    junit_properties,
    report_document,
    verdict_record,
    write_atomically,
)
from pytest_refleak.report import explain, one_line
from pytest_refleak.settings import Limits, Settings, SettingsError, resolve
from pytest_refleak.verdict import Kind, Verdict

ROOT = "/project"


@dataclass(frozen=True)
class ChainedGrowth(TypeGrowth):
    """Per-type growth that also says what keeps the objects alive."""

    chains: tuple[str, ...] = ()


def leak_verdict(objects: int = 2, memory: int = 300) -> Verdict:
    thing = ChainedGrowth(
        name="Thing",
        count=objects,
        size=96,
        samples=("<Thing>",),
        sites=(((f"{ROOT}/tests/test_x.py", 7), (f"{ROOT}/pkg/core.py", 12)),),
        chains=("core._registry → list[0] → Thing",),
    )
    cycle = CycleGroup(
        size=2, types=(("Node", 2),), origin=Origin.PROJECT, path="Node.a → Node",
        sites=(f"{ROOT}/pkg/tree.py:5",),
    )
    reading = Reading(
        blocks=2,
        objects=objects,
        by_type=(thing,),
        memory=(MemoryGrowth(size=memory, count=2, frames=(("/usr/lib/python3/json.py", 3),)),),
        cycles=CycleFindings(groups=(cycle,), garbage=2, truncated=False),
    )
    return Verdict(
        Kind.LEAKED, runs=3, objects=(objects + 1, objects, objects), blocks=(2, 2, 2),
        leaked_objects=True, memory_per_run=memory, cycles=(cycle,), detail=reading,
    )


def leak_record(objects: int = 2, memory: int = 300, nodeid: str = "tests/test_x.py::test_a") -> dict[str, Any]:
    return verdict_record(nodeid, leak_verdict(objects, memory), Limits(), root=ROOT,
                          location=("tests/test_x.py", 6))


# -- records ---------------------------------------------------------------------------


def test_record_of_a_leak_is_plain_data_with_relative_paths() -> None:
    """A leak's record survives JSON unchanged; paths inside the rootdir are relative."""
    record = leak_record()
    assert json.loads(json.dumps(record)) == record
    assert record["verdict"] == record["kind"] == "leaked"
    assert record["objects_per_run"] == [3, 2, 2]
    (thing,) = record["types"]
    assert thing["sites"] == [[["tests/test_x.py", 7], ["pkg/core.py", 12]]]
    assert thing["chains"] == ["core._registry → list[0] → Thing"]
    assert record["memory"][0]["frames"] == [["/usr/lib/python3/json.py", 3]]
    assert record["cycles"][0]["sites"] == [["pkg/tree.py", 5]]
    assert record["cycles"][0]["origin"] == "project"
    assert record["summary"].startswith("LEAKED tests/test_x.py::test_a - 2 objects/run")


def test_type_growth_without_chains_gives_an_empty_list() -> None:
    """Until the measurement says what keeps objects alive, a type's chains are empty."""
    plain = TypeGrowth(name="Thing", count=1, size=48)
    detail = Reading(blocks=1, objects=1, by_type=(plain,))
    record = verdict_record("t.py::t", Verdict(Kind.LEAKED, runs=2, objects=(1, 1),
                                                  leaked_objects=True, detail=detail),
                            Limits(), root=ROOT)
    assert record["types"][0]["chains"] == []


def test_clean_record_is_small_and_completed_for_the_report() -> None:
    """Clean tests carry four fields; the report gives them every field of the schema."""
    record = clean_record("t.py::t")
    assert len(record) == 4
    full = complete(record)
    assert list(full) == list(complete(leak_record()))
    assert full["types"] == [] and full["baseline"] is None
    assert junit_properties(record) == [
        ("refleak_verdict", "clean"), ("refleak_objects_per_run", 0), ("refleak_bytes_per_run", 0)
    ]


def test_report_document_counts_and_sorts() -> None:
    """The report sorts tests by id and counts each verdict."""
    records = [leak_record(nodeid="b.py::t"), clean_record("a.py::t")]
    document = report_document(records, limits=Limits(), interrupted=True)
    assert document["version"] == 1 and document["interrupted"] is True
    assert [t["nodeid"] for t in document["tests"]] == ["a.py::t", "b.py::t"]
    assert document["totals"]["checked"] == 2
    assert document["totals"]["leaked"] == document["totals"]["clean"] == 1


# -- atomic writing --------------------------------------------------------------------


def test_write_atomically_replaces_the_file(tmp_path: Path) -> None:
    """The new text replaces the old, parent directories are made, no temporary is left."""
    target = tmp_path / "deep" / "report.json"
    write_atomically(str(target), "one\n")
    write_atomically(str(target), "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error while writing leaves the previous file whole."""
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def refuse(source: str, destination: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(str(target), "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


# -- the baseline ----------------------------------------------------------------------


def test_a_leaks_figure_is_what_every_re_run_left_not_the_last_reading() -> None:
    """Readings of 3, 2, 2 with a leak of 2 per run: one run left an extra object
    beside the leak (a tracer's record, a cache resized).  The report, the baseline
    and the JUnit properties all say 2; the last reading, if it is the odd one,
    does not move the figure."""
    verdict = leak_verdict(objects=2)
    odd_last = Verdict(
        Kind.LEAKED, runs=3, objects=(2, 2, 3), blocks=(2, 2, 2), leaked_objects=True,
        memory_per_run=300, detail=verdict.detail,
    )
    for measured in (verdict, odd_last):
        assert measured.objects_per_run == 2
        assert one_line("t.py::t", measured).startswith("LEAKED t.py::t - 2 objects/run, ")
        assert "2 new objects left alive per run" in explain(measured, Limits())
        record = verdict_record("t.py::t", measured, Limits(), root=ROOT)
        assert Entry.of_record(record).objects == 2
        assert ("refleak_objects_per_run", 2) in junit_properties(record)


def test_entry_of_a_record_takes_the_smallest_object_count() -> None:
    """Objects: the count every re-run reached; bytes and cycles as measured."""
    assert Entry.of_record(leak_record()) == Entry(
        kind="leaked", objects=2, bytes=300, cycles=1, types={"Thing": 2}
    )


@pytest.mark.parametrize(
    ("recorded", "objects", "memory", "grew"),
    [
        (Entry("leaked", objects=2, bytes=300, cycles=1), 2, 300, []),
        (Entry("leaked", objects=2, bytes=300, cycles=1), 3, 300, []),
        (Entry("leaked", objects=2, bytes=300, cycles=1), 4, 300, ["4 objects/run, recorded 2"]),
        (Entry("leaked", objects=8, bytes=300, cycles=1), 10, 300, []),
        (Entry("leaked", objects=8, bytes=300, cycles=1), 11, 300, ["11 objects/run, recorded 8"]),
        (Entry("leaked", objects=2, bytes=300, cycles=1), 2, 4396, []),
        (Entry("leaked", objects=2, bytes=300, cycles=1), 2, 4397, ["4397 bytes/run, recorded 300"]),
        (Entry("leaked", objects=2, bytes=100_000, cycles=1), 2, 150_000, []),
        (Entry("leaked", objects=2, bytes=100_000, cycles=1), 2, 150_001,
         ["150001 bytes/run, recorded 100000"]),
        (Entry("leaked", objects=2, bytes=300, cycles=0), 2, 300, ["1 cycles/run, recorded 0"]),
        (Entry("cycles", objects=0, bytes=300, cycles=1), 2, 300, ["2 objects/run, recorded 0"]),
    ],
)
def test_growth_tolerance(recorded: Entry, objects: int, memory: int, grew: list[str]) -> None:
    """A figure may grow by a quarter (objects, cycles) or a half (bytes) of its recorded
    value, at least by one object, one cycle or 4 KiB; a figure recorded as zero may not
    grow at all, except memory by 4 KiB."""
    assert baseline.growth(leak_record(objects, memory), recorded) == grew


def test_baseline_round_trip_is_sorted_and_stable(tmp_path: Path) -> None:
    """Entries and their types are written sorted; reading and writing again changes nothing."""
    entries = {
        "b.py::t": Entry("cycles", cycles=2, types={"Node": 2}),
        "a.py::t": Entry("leaked", objects=1, bytes=64, types={"Z": 1, "A": 3}),
    }
    path = tmp_path / "leaks.json"
    baseline.write(str(path), entries)
    text = path.read_text()
    assert text.index('"a.py::t"') < text.index('"b.py::t"')
    assert text.index('"A"') < text.index('"Z"')
    assert text.startswith('{\n  "version": 1,\n  "leaks": {\n') and text.endswith("}\n")
    assert baseline.load(str(path)) == entries
    assert baseline.dumps(baseline.load(str(path))) == text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "baseline leaks.json does not exist; write it with --refleak-baseline-update"),
        ("  \n", "baseline leaks.json is empty; write it with --refleak-baseline-update"),
        ("{", "baseline leaks.json is not valid JSON (Expecting property name enclosed in "
              "double quotes at line 1, column 2); fix it, or delete it and write it with "
              "--refleak-baseline-update"),
        ('{"leaks": {}}', "baseline leaks.json has no version field: it is not a pytest-refleak baseline"),
        ('{"version": "1", "leaks": {}}', "baseline leaks.json has version '1', but this "
         "pytest-refleak reads version 1; delete it and write it again with --refleak-baseline-update"),
        ('{"version": 1}', "baseline leaks.json: 'leaks' must be an object of test ids"),
        ('{"version": 1, "leaks": {"t": 3}}', "baseline leaks.json, entry 't': expected an object of figures, got 3"),
        ('{"version": 1, "leaks": {"t": {"kind": "leaked", "size": 3}}}',
         "baseline leaks.json, entry 't': unknown field 'size'"),
        ('{"version": 1, "leaks": {"t": {"kind": "leaked", "bytes": 1.5}}}',
         "baseline leaks.json, entry 't': 'bytes' must be a whole number, 0 or more, got 1.5"),
        ('{"version": 1, "leaks": {"t": {"kind": "leaked", "types": {"X": true}}}}',
         "baseline leaks.json, entry 't': type 'X' must be a whole number, 0 or more, got True"),
    ],
)
def test_unusable_baselines_say_why(tmp_path: Path, content: str | None, message: str) -> None:
    """Each way a baseline can be unusable has its own message naming the file."""
    path = tmp_path / "leaks.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError) as error:
        baseline.load(str(path), shown="leaks.json")
    assert str(error.value) == message


def test_missing_or_empty_baseline_is_fine_when_writing(tmp_path: Path) -> None:
    """Updating may start from no file or an empty one, never from a corrupt one."""
    path = tmp_path / "leaks.json"
    assert baseline.load(str(path), missing_ok=True) == {}
    path.write_text("")
    assert baseline.load(str(path), missing_ok=True) == {}
    path.write_text("{")
    with pytest.raises(BaselineError):
        baseline.load(str(path), missing_ok=True)


def test_stale_entries() -> None:
    """Stale: checked and clean, or gone from a file that was collected, or a file that is
    gone; not stale: not run, deselected, or not checkable."""
    entries = {name: Entry("leaked", objects=1) for name in (
        "a.py::fixed", "a.py::leaks", "a.py::removed", "a.py::deselected", "a.py::failed",
        "b.py::not_run", "gone.py::t",
    )}
    records = {
        "a.py::fixed": clean_record("a.py::fixed"),
        "a.py::leaks": leak_record(nodeid="a.py::leaks"),
        "a.py::failed": {"nodeid": "a.py::failed", "verdict": "error", "kind": None},
    }
    collected = {"a.py::fixed", "a.py::leaks", "a.py::deselected", "a.py::failed"}
    stale = baseline.stale_entries(entries, records, collected, lambda path: path != "gone.py")
    assert stale == [
        Stale("a.py::fixed", "no longer leaks"),
        Stale("a.py::removed", "no longer exists"),
        Stale("gone.py::t", "no longer exists"),
    ]


def test_update_records_new_and_grown_leaks_and_ratchets_down() -> None:
    """Updating adds new leaks, re-records grown ones, lowers shrunk figures, keeps the
    rest as they were and drops stale entries."""
    entries = {
        "t.py::same": Entry("leaked", objects=2, bytes=300, cycles=1, types={"Thing": 2}),
        "t.py::shrunk": Entry("leaked", objects=3, bytes=900, cycles=1, types={"Thing": 3}),
        "t.py::grew": Entry("leaked", objects=1, bytes=300, cycles=1, types={"Thing": 1}),
        "t.py::noisy": Entry("leaked", objects=2, bytes=250, cycles=1, types={"Thing": 2}),
        "t.py::stale": Entry("leaked", objects=1),
        "t.py::not_run": Entry("leaked", objects=1),
    }
    records = [
        leak_record(2, 300, "t.py::same"),
        leak_record(2, 300, "t.py::shrunk"),
        leak_record(5, 300, "t.py::grew"),
        leak_record(2, 320, "t.py::noisy"),
        leak_record(1, 100, "t.py::new"),
        clean_record("t.py::stale"),
    ]
    update = baseline.updated(entries, records, [Stale("t.py::stale", "no longer leaks")])
    assert list(update.entries) == sorted(update.entries)
    new = update.entries
    assert new["t.py::same"] == entries["t.py::same"]
    assert new["t.py::noisy"] == entries["t.py::noisy"]
    assert new["t.py::shrunk"] == Entry("leaked", objects=2, bytes=300, cycles=1, types={"Thing": 2})
    assert new["t.py::grew"] == Entry("leaked", objects=5, bytes=300, cycles=1, types={"Thing": 5})
    assert new["t.py::new"].objects == 1
    assert new["t.py::not_run"] == entries["t.py::not_run"]
    assert "t.py::stale" not in new
    assert (update.added, update.removed, update.changed) == (1, 1, 2)


def test_gate_turns_accepted_leaks_into_known_leaks() -> None:
    """A leak within its entry is known; one past it, or without one, still fails;
    updating accepts every leak."""
    entries = {"t.py::known": Entry("leaked", objects=2, bytes=300, cycles=1)}
    gate = Gate(Settings(check_all=True, limits=Limits(), baseline="b.json"), ROOT, entries)
    known, grown, new = (leak_record(2, 300, "t.py::known"), leak_record(9, 300, "t.py::known"),
                         leak_record(2, 300, "t.py::new"))
    for record in (known, grown, new):
        gate.judge(record)
    assert known["verdict"] == "known leak" and known["baseline"]["objects"] == 2
    assert grown["verdict"] == "leaked" and grown["growth"] == ["9 objects/run, recorded 2"]
    assert grown["text"].endswith("a known leak in the baseline, but it grew:\n    9 objects/run, recorded 2")
    assert new["verdict"] == "leaked" and new["baseline"] is None
    updating = Gate(Settings(check_all=True, limits=Limits(), baseline="b.json",
                             baseline_update=True), ROOT, {})
    accepted = leak_record(nodeid="t.py::new")
    updating.judge(accepted)
    assert accepted["verdict"] == "known leak"


# -- GitHub annotations ----------------------------------------------------------------


def test_workflow_command_escaping() -> None:
    """Messages escape %, CR and LF; properties also : and ,."""
    assert github.escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def classify(path: str) -> str:
    if path.startswith(".venv/") or "site-packages" in path:
        return "third-party"
    return "tests" if path.startswith("tests/") else "project"


def test_annotation_site_prefers_project_code_then_tests_then_the_test() -> None:
    record = leak_record()
    assert github.allocation_site(record, classify) == ("pkg/core.py", 12)
    record["types"][0]["sites"] = [[["tests/test_x.py", 7], [".venv/lib/site-packages/x.py", 3]]]
    record["cycles"] = []
    assert github.allocation_site(record, classify) == ("tests/test_x.py", 7)
    record["types"] = []
    assert github.allocation_site(record, classify) == ("tests/test_x.py", 6)


def test_annotations_are_errors_for_leaks_and_warnings_for_known_leaks() -> None:
    """One single-line command per leak, none for clean tests."""
    leak = leak_record(nodeid="tests/test_x.py::test_a")
    known = leak_record(nodeid="tests/test_x.py::test_b")
    known["verdict"] = "known leak"
    lines = github.workflow_commands([known, leak, clean_record("t.py::t")], classify)
    assert len(lines) == 2
    assert lines[0].startswith(
        "::error file=pkg/core.py,line=12,title=refleak%3A LEAKED tests/test_x.py%3A%3Atest_a::"
        "LEAKED tests/test_x.py::test_a - 2 objects/run"
    )
    assert lines[1].startswith("::warning file=pkg/core.py,line=12,")
    assert all("\n" not in line for line in lines)


def test_interrupted_run_writes_the_report_but_not_the_baseline(tmp_path: Path) -> None:
    """After Ctrl-C the report holds what finished; the baseline is left as it was."""
    settings = Settings(check_all=True, limits=Limits(), report=str(tmp_path / "r.json"),
                        baseline=str(tmp_path / "b.json"), baseline_update=True)
    gate = Gate(settings, str(tmp_path))
    gate.add(leak_record(nodeid="t.py::t"))
    gate.finish(interrupted=True, exists=lambda path: True)
    assert json.loads((tmp_path / "r.json").read_text())["interrupted"] is True
    assert not (tmp_path / "b.json").exists()
    assert ("refleak: baseline b.json not updated: the run was interrupted", "yellow") in gate.summary()
    gate.finish(interrupted=False, exists=lambda path: True)
    assert list(baseline.load(str(tmp_path / "b.json"))) == ["t.py::t"]


# -- settings --------------------------------------------------------------------------


def test_paths_are_taken_from_where_they_were_given(tmp_path: Path) -> None:
    """A command-line path is relative to the directory pytest runs in, an ini path to the
    ini file's directory; absolute paths stay as they are."""
    settings = resolve({"refleak_report": "r.json"}, {"refleak_baseline": "b.json"},
                       cli_dir="/here", ini_dir="/project")
    assert (settings.report, settings.baseline) == ("/here/r.json", "/project/b.json")
    settings = resolve({"refleak_report": "/abs/r.json"}, {}, cli_dir="/here")
    assert settings.report == "/abs/r.json" and settings.baseline is None
    with pytest.raises(SettingsError, match="--refleak-baseline-update: say which file"):
        resolve({"refleak_baseline_update": True}, {})
    with pytest.raises(SettingsError, match="is a directory, expected a file"):
        resolve({"refleak_report": str(tmp_path)}, {})
    assert resolve({}, {"refleak_baseline_update": "true", "refleak_baseline": "b.json"},
                   ini_dir="/p").baseline_update is True


def _cycle_record(nodeid: str, path: str, site: list[Any]) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "verdict": CYCLES,
        "kind": CYCLES,
        "summary": f"CYCLES {nodeid} - 1 cycle ({path})",
        "cycles": [{"path": path, "sites": [site], "size": 3, "types": []}],
        "leaked_memory": 0,
        "bytes_per_run": 0,
    }


def test_tests_that_round_the_same_loop_share_a_summary_line() -> None:
    """The same references from the same line are one shape whatever the node types and
    list indices; another line, or other references, another shape."""
    gate = Gate(Settings(check_all=True, limits=Limits()), ROOT)
    shapes = [
        ("t.py::a", "Statement.tokens → list[0] → Case.parent → Statement", ["sql.py", 196]),
        ("t.py::b", "Statement.tokens → list[3] → Function.parent → Statement", ["sql.py", 196]),
        ("t.py::c", "Token.parent → Statement.tokens → list[0] → Token", ["sql.py", 196]),
        ("t.py::d", "Statement.tokens → list[0] → Case.parent → Statement", ["sql.py", 171]),
        ("t.py::e", "Node.me → Node", ["sql.py", 196]),
    ]
    for nodeid, path, site in shapes:
        gate.add(_cycle_record(nodeid, path, site))
    lines = [line for line, _ in gate.summary()]
    assert lines[:3] == [
        "CYCLES t.py::d - 1 cycle (Statement.tokens → list[0] → Case.parent → Statement)",
        "CYCLES t.py::e - 1 cycle (Node.me → Node)",
        "CYCLES 3 tests: Statement.tokens → list[0] → Case.parent → Statement (sql.py:196), "
        "e.g. t.py::a",
    ]
    verbose = [line for line, _ in gate.summary(verbose=True)]
    assert "    CYCLES t.py::b - 1 cycle (Statement.tokens → list[3] → Function.parent → Statement)" in verbose


def test_a_memory_leak_with_only_swapped_objects_lists_no_type() -> None:
    """When every new object took the place of one the run before left, the report
    lists no "×0" row and names the memory's holder, not a swapped type."""
    swapped = TypeGrowth(name="set", count=1, size=216, samples=("{1000}",), replaced=1)
    memory = MemoryGrowth(
        size=464, count=1, frames=(("pkg/core.py", 3),), holders=("held by core.CACHE",)
    )
    detail = Reading(blocks=1, objects=1, by_type=(swapped,), memory=(memory,))
    verdict = Verdict(Kind.LEAKED, runs=3, leaked_memory=True, memory_per_run=656, detail=detail)
    text = explain(verdict, Limits(), root=ROOT)
    assert "×0" not in text and "{1000}" not in text
    assert "no new object is still alive after the traced re-run: its 1 new object took" in text
    assert "is their own size" not in text
    assert "held by core.CACHE" in text
    brief = explain(verdict, Limits(), root=ROOT, verbosity=-1)
    assert brief.startswith("refleak: +656 B/run: held by core.CACHE")
    assert "set" not in brief
