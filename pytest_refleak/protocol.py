"""The run protocol of a checked test: first run, re-runs, conclusion.

How a checked test runs (``docs/how-it-decides.md`` has the long version):

1. Its first run is the real one, reported as usual, and not measured: what is
   older than the test is frozen before it, and pytest's reports are held back
   meanwhile (:mod:`pytest_refleak.held_reports`).
2. If it passed, it is re-run, unreported, up to ``refleak_runs`` times; the
   last planned re-run traces allocations to tell where things came from, and
   only a test that grew on every re-run is traced.  Only growth on every
   re-run makes a leak (:func:`pytest_refleak.verdict.judge`).
3. The verdict becomes the test's record, put on its last report, and a leak the
   baseline does not accept fails the test's call report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_refleak.alive import (
    Request,
    atexit_callbacks,
    draw_the_rest,
    explain_alive,
    search_seconds,
)
from pytest_refleak.bound import Bound
from pytest_refleak.companions import measuring_once, no_replay, replaying, timed, timer_key
from pytest_refleak.cycles import Accepted, CycleGroup, precedence, shape_key
from pytest_refleak.exclusions import (
    Exclusions,
    SavedCaches,
    bounded_caches,
    clear_caches,
    library_caches,
    saved_caches,
    tooling_namespaces,
    tooling_state,
)
from pytest_refleak.gate import Gate
from pytest_refleak.graphs import file_stem
from pytest_refleak.heap import (
    CYCLE_FRAMES,
    DEEPEST_FRAMES,
    TRACE_FRAMES,
    Heap,
    deeper_frames,
    keep_warning_registries,
    unshown_warnings,
)
from pytest_refleak.held_reports import (
    HeldReports,
    all_passed,
    failure_of,
    last_attempt,
    sample_report,
)
from pytest_refleak.measure import (
    CYCLE_UNDETERMINED,
    Reading,
    Window,
    calibrate_offset,
    calibrate_type,
    without_samples,
)
from pytest_refleak.origins import Origin, Origins
from pytest_refleak.pytest_internals import (
    doctest_globals,
    explanation_longrepr,
    fixture_finalizers,
    keeping_wider_scopes,
    report_sections,
    runtestprotocol,
    set_up_nodes,
    tear_down_for,
    tooling_holders,
)
from pytest_refleak.record import (
    CYCLES,
    KNOWN,
    LEAKED,
    USAGE_ERROR,
    Record,
    clean_record,
    junit_properties,
    unchecked_record,
    verdict_record,
)
from pytest_refleak.resources import STATE, Evidence, Found, Snapshot, Watch, same_kinds
from pytest_refleak.settings import Limits, Settings
from pytest_refleak.text import is_a, printable, safe_repr
from pytest_refleak.verdict import (
    Kind,
    Verdict,
    cycles_may_count,
    judge,
    memory_cleared,
    moved,
    objects_leak_so_far,
    settling,
    still_leaky,
    traced_rerun_due,
)

#: A doctest's globals, and the copy each re-run starts from.
Globals = tuple[dict[str, Any], dict[str, Any]]


class HookError(Exception):
    """A ``pytest_refleak_*`` hook of the project's raised, or returned what it may not.

    The project's mistake, not the plugin's: the test is not checked, the message
    names the hook and shows the project's own frames, and the run ends with the
    usage error exit code.
    """


class Interfered(Exception):
    """The test undid what measuring it needs (stopped tracemalloc): it cannot be
    checked, and that is neither a leak nor a bug of the plugin's."""


class Checker:
    """Runs checked tests, and holds the measuring tools and figures of the session."""

    def __init__(self, config: pytest.Config, settings: Settings, gate: Gate) -> None:
        self.config = config
        self.settings = settings
        self.gate = gate
        self._heap: Heap | None = None
        self._origins: Origins | None = None
        self._calibration: dict[type, int] = {}
        #: A re-run window's own blocks, with cycles caught or not.
        self._offsets: dict[bool, int] = {}
        self._watch: Watch | None = None
        self.checked = 0
        self.rerun = 0
        self.seconds = 0.0
        self.explain_seconds = 0.0
        self.started = time.perf_counter()
        #: The project's hook error while checking the current test, if any.
        self._hook_error: str | None = None
        #: Puts the current test's replay state back before each re-run.
        self._start_again: Callable[[], None] = no_replay
        #: The dict caches as the current test's re-runs found them: put back
        #: around each re-run (``exclusions.clear_caches``).
        self._saved_caches: SavedCaches | None = None
        #: Cycles traced so far, by test function and shape (cycles.shape_key):
        #: see ``_may_borrow``.
        self._traced_shapes: dict[tuple[str, int], CycleGroup] = {}
        #: What went wrong in the last re-run that did not pass, as text.
        self._rerun_failure = ""

    # -- lazily made measuring tools -----------------------------------------------

    @property
    def heap(self) -> Heap:
        if self._heap is None:
            self._heap = Heap()
        return self._heap

    @property
    def origins(self) -> Origins:
        if self._origins is None:
            patterns = self.config.getini("python_files") or ["test_*.py", "*_test.py"]
            self._origins = Origins([str(self.config.rootpath)], list(patterns))
        return self._origins

    def window(
        self,
        *,
        cycles: bool,
        trace: bool = False,
        since: tracemalloc.Snapshot | None = None,
        grown_before: frozenset[tuple[str, int]] = frozenset(),
        previous: tuple[tuple[int, int], ...] = (),
        accept: tuple[Accepted, ...] = (),
        describe: bool = False,
        frames: int = TRACE_FRAMES,
        watched: frozenset[int] = frozenset(),
        count_memory: bool = True,
        objects_decide: int | None = None,
    ) -> Window:
        """A re-run's window.

        Re-runs do not freeze the heap again: what earlier runs of the test made
        stays collectable, so that a structure rebuilt on every run and dropped by
        the next one is freed, as it would be without the plugin.  They decide on
        their bytes held through malloc, read from a full cache of freed chunks,
        or a run that frees into it seems to grow.
        """
        self._calibrate(cycles)
        return Window(
            self.heap,
            self.origins,
            cycles=cycles,
            trace=trace,
            nframes=frames,
            detailed=(trace and since is None) or describe,
            calibration=self._calibration,
            offset=self._offsets[cycles],
            freeze=False,
            since=since,
            grown_before=grown_before,
            previous=previous,
            accept=accept,
            settle_malloc=True,
            watched=watched,
            count_memory=count_memory,
            objects_decide=objects_decide,
        )

    @property
    def watch(self) -> Watch:
        """The resource snapshots, made when the first checked test runs."""
        if self._watch is None:
            self._watch = Watch(self.settings.resources, runner_dirs=plugin_dirs(self.config))
        return self._watch

    def _watching(self) -> contextlib.AbstractContextManager[None]:
        watch = self.watch
        return watch.watching() if watch else contextlib.nullcontext()

    def _snapshot(self) -> Snapshot | None:
        """The resources now; ``None`` when there are none to read or reading failed
        (no descriptor left to list ``/proc`` with, say): the test is then judged on
        memory alone rather than lost."""
        watch = self.watch
        if not watch:
            return None
        try:
            return watch.snapshot()
        except Exception:  # noqa: BLE001 - see the docstring
            return None

    def _compare(self, before: Snapshot | None) -> tuple[Found, ...]:
        return self._compared(before, self._snapshot() if before is not None else None)

    def _compared(self, before: Snapshot | None, after: Snapshot | None) -> tuple[Found, ...]:
        if before is None or after is None:
            return ()
        try:
            return self.watch.compare(before, after)
        except Exception:  # noqa: BLE001 - as for _snapshot
            return ()

    def restore(self) -> None:
        """Put the interpreter back as the heap found it, if the heap was ever made."""
        if self._heap is not None:
            self._heap.restore()
            self._heap = None

    def _calibrate(self, cycles: bool) -> None:
        """Measure what a re-run's window costs itself, once per kind of window.

        Before a test's first run, not at its first re-run: calibrating settles
        and freezes the heap, and frozen, what the first run made is never
        collected (a module the first run imported and the re-run imports again
        left no cycles to see in that re-run).
        """
        if not self._calibration:
            self._calibration = {pytest.TestReport: calibrate_type(self.heap, sample_report)}
        if cycles not in self._offsets:
            # After the report's calibration, which freezes the heap: a window that
            # does not freeze lists and reads every object not frozen, the whole
            # heap of a session before its first freeze (a second of CPU time).
            # With the re-runs' own settings, so that it measures the code they run.
            self._offsets[cycles] = calibrate_offset(
                self.heap, self.origins, cycles=cycles, freeze=False, settle_malloc=True
            )

    def _settle(self, limits: Limits) -> str | None:
        """Freeze what is older than the test, before its first run; say why not if
        that failed (a bug of ours: the test then runs as usual, unchecked).

        The re-runs then list and collect only what this test's runs made.  Not
        after the first run: what it made must stay collectable, so that a
        structure the next run replaces is freed, as it would be without the plugin.
        """
        try:
            self._calibrate(limits.cycles != "off")
            self.heap.settle()
        except Exception as error:  # noqa: BLE001 - the test must run whatever happens
            return failure_note(error)
        return None

    # -- running a checked test ------------------------------------------------------

    def run(
        self, item: pytest.Item, nextitem: pytest.Item | None, limits: Limits
    ) -> Generator[None, object, object]:
        """Measure a checked test around whoever runs its protocol, then report it.

        A hook wrapper's body: the first run is whatever the inner implementations
        of ``pytest_runtest_protocol`` do (pytest's runner, or pytest-rerunfailures'
        attempts), and plugins that wrap the protocol (pytest-timeout's limit)
        apply to it as they would without us.  Re-runs come after, outside them.
        """
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        # A doctest's run empties its globals: each re-run gets a fresh copy.
        globs = doctest_globals(item)
        doctest = (globs, dict(globs)) if globs is not None else None
        held = HeldReports(item)
        held.install()
        try:
            # Outside the test: what reading them allocates is not the test's.
            resources_before = self._snapshot()
            unsettled = self._settle(limits)
            with self._watching():
                result = yield
                reports = held.reports()
            # Before the resources are read again: pytest-timeout's timer may be a thread.
            _stop_test_timer(item)
            resources_after = self._snapshot() if resources_before is not None else None
            left = self._compared(resources_before, resources_after)
            self.checked += 1
            # Earlier attempts (pytest-rerunfailures) are reported as they are; the
            # last is the one judged.
            final = reports[last_attempt(reports) :]
            held.keep = False
            verdict: Verdict | None
            self._hook_error = None
            try:
                verdict = self._second_look(
                    item,
                    nextitem,
                    limits,
                    final,
                    doctest,
                    Evidence(first=left),
                    (resources_before, resources_after),
                )
            except pytest.exit.Exception:
                raise
            except HookError as error:
                verdict = None
                self._hook_error = str(error)
            except Interfered as error:
                verdict = Verdict(Kind.INCONCLUSIVE, runs=0, note=str(error))
            # pytest.fail() and pytest.skip() raise no Exception: a timer's lands here too.
            except (Exception, pytest.fail.Exception, pytest.skip.Exception) as error:  # noqa: BLE001
                verdict = Verdict(Kind.INCONCLUSIVE, runs=0, note=failure_note(error))
            if unsettled is not None:
                verdict = Verdict(Kind.INCONCLUSIVE, runs=0, note=unsettled)
        finally:
            held.uninstall()
            if timer_key in item.stash:
                del item.stash[timer_key]
        if final:
            self._conclude(item, final, verdict, limits)
        for report in reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return result

    # -- re-runs ------------------------------------------------------------------

    def _second_look(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        limits: Limits,
        reports: list[pytest.TestReport],
        doctest: Globals | None,
        evidence: Evidence,
        first_state: tuple[Snapshot | None, Snapshot | None],
    ) -> Verdict | None:
        """Re-run a test that passed, and judge it from its re-runs.

        The first run is not measured: every test that passed is re-run (see
        ``docs/how-it-decides.md``, *Every checked test is re-run once*), so what
        the first run left decides nothing that the re-runs do not decide better.
        """
        if not reports or not all_passed(reports):
            return None
        started = time.perf_counter()
        self.rerun += 1
        try:
            with replaying(item) as self._start_again, measuring_once(item.config):
                return self._rerun(item, nextitem, limits, doctest, evidence, first_state)
        finally:
            self._start_again = no_replay
            # Outside the windows: what the real run tore down after the test goes
            # again, once, after all re-runs.
            tear_down_for(item, nextitem)
            self.seconds += time.perf_counter() - started

    def _rerun(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        limits: Limits,
        doctest: Globals | None,
        evidence: Evidence,
        first_state: tuple[Snapshot | None, Snapshot | None],
    ) -> Verdict:
        """Re-run the test unreported; the last planned re-run traces allocations.

        The first re-runs are cheap and clear most tests, those warming up over a
        few calls included.  The last traces, so that a leaking test gets its
        allocation sites and the memory held by strings and numbers is counted;
        any after it are cheap again.  A test leaks only if every re-run grew.

        Re-runs keep fixtures of wider scope set up: after the last test of a
        module, the first re-run sets its module fixtures up again, the later ones
        find them ready, as a next test of the module would, and they are torn
        down once after the re-runs.  A session fixture that starts a server is
        started once more, not once per re-run, and what the first re-run sets
        up is not counted against the later ones.

        Resources the first run left (``evidence``) are read around each re-run
        too, and re-running goes on while they grow, memory clean or not.  Process
        state the first run changed is put back before each re-run, so that a
        test that changes it on every run is told from code that changes it once;
        if that was not the test's doing, the first run's state is put back after.
        """
        # The first run may have loaded the project's code.
        self.origins.look_for_project()
        bound = Bound()
        ignored, ignored_types = self._ignored(item)
        traced: Reading | None = None
        failure = None
        # Python 3.10 keeps a frame per function for reuse, which makes single
        # readings noisier: one more re-run must grow before a test counts as leaking.
        runs = limits.runs + (1 if sys.version_info < (3, 11) else 0)
        readings: list[Reading] = []
        # The re-runs that did not set up a wider scope again: only they show
        # whether growth is settling (see ``_sets_up_a_scope``).
        comparable: list[Reading] = []
        # What the re-runs so far left alive: the next tells replaced from kept by it.
        # Not the first run's, which holds what is made once and freed later.
        kept: tuple[tuple[int, int], ...] = ()
        count_callbacks = atexit_callbacks()
        callbacks_before = count_callbacks() if count_callbacks else 0
        state_before, state_after = first_state
        changed_state: list[int] = []
        if state_before is not None and state_after is not None:
            changed_state = self.watch.changed_state(state_before, state_after)
        memory_clean = False
        try:
            with saved_caches() as self._saved_caches:
                caches = [*bounded_caches(), *tooling_state(self.origins)]
                # The item's own attributes: another plugin's per-run record there.
                slots = [*tooling_namespaces(self.origins), item.__dict__]
                library_caches()  # looked for now, outside the measured windows
                number = 0
                # Memory the traced re-run kept in strings and numbers is counted
                # again by the next re-run, from the traces where the traced one
                # ended: what the first allocated and the second freed (a buffer
                # swapped for a fresh one) is taken off.  Set only while that net
                # re-run is due.
                since: tracemalloc.Snapshot | None = None
                grown_before: frozenset[tuple[str, int]] = frozenset()
                net: Reading | None = None
                # Growth still shrinking after the planned re-runs is something warming
                # up, not yet a leak: re-run until it settles, at most as often again.
                # A traced re-run skipped for cycles already traced elsewhere, which
                # this re-run did not confirm: one more re-run traces after all.
                retrace = False
                # Which re-run traces: later while plain re-runs were disturbed.
                due = runs
                # Frames for the next traced re-run, when a trace of fewer left some
                # cycle's maker open (0: as the re-runs so far call for).
                deeper = 0
                # Frame limits a traced re-run was traced on from, once each.
                traced_on: set[int] = set()
                # The traced re-run's samples, which the explanation looks up by id
                # after the last re-run: those that died or whose address a later
                # object took since are not looked up (a swapped function's address
                # reused by the next run's function would name the wrong holder).
                watched: frozenset[int] = frozenset()
                stale: set[int] = set()
                # Left stale by pytest's warnings plugin as the real run ended.
                keep_warning_registries()
                while (
                    number < due
                    or since is not None
                    or retrace
                    or (number < 2 * runs and settling(comparable, limits))
                ):
                    number += 1
                    # Tracing makes a run several times slower: only a test that grew
                    # on every cheap re-run gets one.
                    tracing = (number == due or retrace) and not memory_clean
                    retrace = False
                    borrowing = tracing and self._may_borrow(item, readings, limits)
                    if borrowing:
                        tracing = False
                    if changed_state and state_before is not None:
                        self.watch.restore_state(state_before, changed_state)
                    if tracing:
                        # Explaining a leak later needs what this re-run allocated.
                        self.heap.hold_tracing()
                    # A re-run that left no memory behind decided memory: a traced one
                    # then only tells who made the cycles.
                    cleared = memory_cleared(readings, limits)
                    frames = deeper or (CYCLE_FRAMES if tracing and cleared else TRACE_FRAMES)
                    scoped = _sets_up_a_scope(item)
                    reading, end_snapshot, left = self._measure_rerun(
                        item,
                        nextitem,
                        limits,
                        tracing or since is not None,
                        ignored,
                        ignored_types,
                        caches,
                        slots=slots,
                        since=since,
                        grown_before=grown_before,
                        previous=kept,
                        bound=bound,
                        doctest=doctest,
                        describe=borrowing,
                        frames=frames,
                        # A kind of resource leaks only if the first run and every
                        # re-run grew it: once no kind is left suspect, reading
                        # them again decides nothing (most tests: none from the start).
                        resources=bool(evidence.suspect),
                        watched=watched,
                        count_memory=not cleared or since is not None,
                        objects_decide=(
                            limits.allow_objects if objects_leak_so_far(readings, limits) else None
                        ),
                    )
                    if reading is None:
                        why = self._rerun_failure
                        failure = "it did not pass when re-run" + (f" ({why})" if why else "")
                        break
                    open_groups = [g for g in reading.cycles.groups if g.shallow]
                    # Cycles freed a run after they were made (a module the test
                    # imports again, a tree each call replaces) were made by the run
                    # before this one: traced again with as many frames, tracing on
                    # from this run, they are judged from traces of their own.
                    # Otherwise with more frames, tracing started afresh.
                    on = bool(open_groups) and all(g.late for g in open_groups)
                    # Deeper traces only tell who made a cycle: worth their cost (a
                    # run traced with 128 frames, attrs' hypothesis tests 12 s each)
                    # only while cycles can still fail the test.
                    if (
                        tracing
                        and open_groups
                        and cycles_may_count(readings, limits)
                        and (frames not in traced_on if on else frames < DEEPEST_FRAMES)
                        and not self.heap.user_tracing
                        and not bound.reached()
                    ):
                        # This run is not one of the re-runs judged (it read no
                        # quick cycle flags).
                        if on:
                            traced_on.add(frames)
                            deeper = frames
                        else:
                            deeper = deeper_frames(frames)
                            self.heap.release_tracing()
                        retrace = True
                        evidence.reruns.append(left)
                        continue
                    if borrowing:
                        borrowed = self._borrowed(item, reading)
                        if borrowed is None:
                            retrace = True
                        else:
                            reading = traced = borrowed
                    stale |= reading.stale
                    readings.append(reading)
                    if not scoped:
                        comparable.append(reading)
                    evidence.reruns.append(left)
                    # Not after the traced re-run itself: its reading (described,
                    # its block count inexact) would put the traced one later again.
                    if traced is None and not tracing:
                        due = traced_rerun_due(readings, runs, limits)
                    kept = reading.kept
                    if tracing:
                        traced = reading
                        watched = frozenset(i for g in reading.by_type for i in g.sample_ids)
                        stale.clear()
                        self._remember_shapes(item, reading)
                        # Counted again from where this one ended: strings and
                        # numbers it kept, and objects that took the place of the
                        # run before's (their predecessors were allocated before
                        # tracing began, so their memory went unseen when freed).
                        if reading.untracked or any(g.replaced for g in reading.by_type):
                            since = end_snapshot
                            grown_before = frozenset(line for line, _ in reading.untracked_lines)
                        else:
                            # Only memory held by strings and numbers needs the
                            # traces to be explained; the rest run faster without.
                            self.heap.release_tracing()
                    elif since is not None:
                        net = reading
                        since = None
                    memory_moved = (
                        reading is net and traced is not None and moved(readings, traced, net)
                    )
                    if not memory_clean and not still_leaky(
                        reading, limits, memory_moved=memory_moved
                    ):
                        memory_clean = True
                        since = None
                        self.heap.release_tracing()
                    if memory_clean and not evidence.suspect:
                        break
                    # Two re-runs are always made: what the bound cuts short is
                    # tracing, counting memory again, waiting for growth to settle,
                    # and re-running a test clean of memory whose resources grew.
                    if number < 2 or not bound.reached():
                        continue
                    if memory_clean:
                        if number < due:
                            bound.cut.append(
                                f"stopped after {number} of {due} planned re-runs"
                                " while resources grew"
                            )
                        break
                    if number < due or since is not None:
                        bound.cut.append(_cut_short(number, due, since is not None))
                        break
                    if number < 2 * runs and settling(comparable, limits):
                        bound.cut.append(f"stopped after {number} re-runs, still settling")
                        break
            if failure is not None:
                return Verdict(Kind.INCONCLUSIVE, runs=len(readings), note=failure)
            if memory_clean:
                verdict = Verdict(Kind.CLEAN, runs=number)
            else:
                verdict = self._judge(readings, traced, limits, net, bound)
            leaked = evidence.leaked()
            if changed_state and state_after is not None and STATE not in same_kinds(leaked):
                self.watch.restore_state(state_after, changed_state)
            if leaked:
                kind = Kind.INCONCLUSIVE if verdict.kind is Kind.INCONCLUSIVE else Kind.LEAKED
                verdict = dataclasses.replace(verdict, kind=kind, resources=leaked)
            if verdict.kind is Kind.LEAKED:
                grew = count_callbacks is not None and (
                    count_callbacks() - callbacks_before >= len(readings)
                )
                if bound.reached():
                    bound.cut.append("what keeps it alive was not looked for")
                else:
                    if stale and verdict.detail is not None:
                        verdict = dataclasses.replace(
                            verdict, detail=without_samples(verdict.detail, stale)
                        )
                    verdict = self._explain(item, verdict, atexit_grew=grew, bound=bound)
            if verdict.failed and self.settings.graphs_dir is not None:
                verdict = self._draw(item, verdict)
            note = bound.note()
            if note is not None and verdict.kind is not Kind.INCONCLUSIVE:
                verdict = dataclasses.replace(
                    verdict, note=f"{verdict.note}; {note}" if verdict.note else note
                )
            return verdict
        finally:
            self._saved_caches = None
            self.heap.release_tracing()

    def _may_borrow(self, item: pytest.Item, readings: list[Reading], limits: Limits) -> bool:
        """Whether the re-run due to trace may run untraced, its cycles described
        with the sites traced for an earlier test.

        A cycle-making test is traced to tell who made its cycles' members (the
        project's code, or the test's own) and where.  When every re-run so far
        left no memory behind and each cycle the last one saw has a shape (the
        loop that names it) already traced for another case of the same test
        function (a parametrized test), that re-run describes its cycles
        untraced, and each gets the maker and sites traced for its shape then
        (:meth:`_borrowed`): the same code made it.  Not across test functions,
        where the same loop may be the project's in one (a container its code
        nests) and the test's in another (the same container the test puts into
        itself).  On suites of parametrized tests that all make the same cycle
        (parse trees with parent pointers) the traced re-run was nearly all of
        the plugin's time.
        """
        if not readings or limits.cycles == "off":
            return False
        last = readings[-1]
        shapes = last.cycle_shapes
        if not shapes or last.cycle_flags & CYCLE_UNDETERMINED:
            return False
        memory_only = dataclasses.replace(limits, cycles="off")
        if any(still_leaky(r, memory_only) for r in readings):
            return False
        function = _function_key(item)
        return all((function, key) in self._traced_shapes for key in shapes)

    def _borrowed(self, item: pytest.Item, reading: Reading) -> Reading | None:
        """``reading``, its cycles (described untraced) given the sites traced for
        their shapes; ``None`` if one of them was not traced yet."""
        function = _function_key(item)
        groups = []
        for group in reading.cycles.groups:
            if group.accepted:
                groups.append(group)
                continue
            known = self._traced_shapes.get((function, shape_key(group)))
            if known is None:
                return None
            groups.append(
                dataclasses.replace(
                    group, origin=known.origin, sites=known.sites, site_types=known.site_types
                )
            )
        if not groups:
            return None
        groups.sort(key=precedence)
        return dataclasses.replace(
            reading, cycles=dataclasses.replace(reading.cycles, groups=tuple(groups))
        )

    def _remember_shapes(self, item: pytest.Item, reading: Reading) -> None:
        function = _function_key(item)
        for group in reading.cycles.groups:
            if group.origin is not None and len(self._traced_shapes) < 1000:
                self._traced_shapes.setdefault((function, shape_key(group)), group)

    def _judge(
        self,
        readings: list[Reading],
        traced: Reading | None,
        limits: Limits,
        net: Reading | None,
        bound: Bound,
    ) -> Verdict:
        """The verdict over the re-runs that ran, the bound having perhaps cut them short.

        Without the traced re-run only the objects can decide: a test that left
        more new objects than allowed on each of at least two re-runs leaks; one
        the re-runs had not decided is not checked, and says why.
        """
        if traced is not None:
            return judge(readings, traced, limits, net=net)
        verdict = judge(readings, readings[-1], limits)
        if len(readings) >= 2 and verdict.kind is Kind.LEAKED:
            return verdict
        return Verdict(
            Kind.INCONCLUSIVE,
            runs=len(readings),
            note=(
                f"it left something behind on each of {len(readings)} re-run"
                f"{'s' if len(readings) != 1 else ''}, but {bound.note()}"
            ),
        )

    def _explain(
        self, item: pytest.Item, verdict: Verdict, *, atexit_grew: bool, bound: Bound
    ) -> Verdict:
        """Fill in what keeps the leak alive while it still is."""
        verbose = item.config.get_verbosity()
        graphs_dir = None
        if self.settings.graphs_dir is not None:
            graphs_dir = Path(self.settings.graphs_dir)
        request = Request(
            types=6 if verbose > 0 else 3,
            sites=5 if verbose > 0 else 3,
            atexit_grew=atexit_grew,
            graphs_dir=graphs_dir,
            stem=file_stem(item.nodeid),
            budget_seconds=min(
                search_seconds(self.explain_seconds, time.perf_counter() - self.started),
                bound.left(),
            ),
        )
        # Explaining unfreezes the heap and freezes it again: a freeze of the user's
        # since the plugin's last must be noticed before, and that one remembered after.
        self.heap.notice_user_freeze()
        explained = explain_alive(verdict, request, unfreeze=self.heap.frozen)
        if self.heap.frozen:
            self.heap.refrozen()
        self.explain_seconds += explained.seconds
        verdict = explained.verdict
        if explained.graphs:
            verdict = dataclasses.replace(verdict, graphs=tuple(map(str, explained.graphs)))
        if explained.problem:
            verdict = dataclasses.replace(verdict, note=explained.problem)
        return verdict

    def _draw(self, item: pytest.Item, verdict: Verdict) -> Verdict:
        """Pictures of the cycles and resources, and of any leak still without one."""
        assert self.settings.graphs_dir is not None
        # Only finding the owners of resources looks at the heap.
        unfreeze = self.heap.frozen and any(found.keys for found in verdict.resources)
        if unfreeze:
            self.heap.notice_user_freeze()
        drawn = draw_the_rest(
            verdict,
            Path(self.settings.graphs_dir),
            item.nodeid,
            file_stem(item.nodeid),
            unfreeze=unfreeze,
        )
        if unfreeze:
            self.heap.refrozen()
        self.explain_seconds += drawn.seconds
        verdict = drawn.verdict
        if drawn.problem:
            note = f"{verdict.note}; {drawn.problem}" if verdict.note else drawn.problem
            verdict = dataclasses.replace(verdict, note=note)
        return verdict

    def _measure_rerun(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        limits: Limits,
        traced: bool,
        ignored: list[object],
        ignored_types: tuple[type, ...],
        caches: list[object],
        slots: list[object] | None = None,
        since: tracemalloc.Snapshot | None = None,
        grown_before: frozenset[tuple[str, int]] = frozenset(),
        previous: tuple[tuple[int, int], ...] = (),
        bound: Bound | None = None,
        doctest: Globals | None = None,
        describe: bool = False,
        resources: bool = True,
        frames: int = TRACE_FRAMES,
        watched: frozenset[int] = frozenset(),
        count_memory: bool = True,
        objects_decide: int | None = None,
    ) -> tuple[Reading | None, tracemalloc.Snapshot | None, tuple[Found, ...]]:
        """The re-run's reading (``None`` if it did not pass), the traces where it
        ended when it traced, and the resources it left (read only if ``resources``)."""
        config = item.config
        sections = report_sections(item)
        sections_before = len(sections) if sections is not None else 0
        properties_before = len(item.user_properties)
        # Only of fixtures set up now: one the re-run sets up (after the real run
        # tore it down) registers its own teardown, which must stay.
        registrations = [(lst, len(lst)) for lst in fixture_finalizers(item, set_up_only=True)]
        window = self.window(
            cycles=limits.cycles != "off",
            trace=traced,
            since=since,
            grown_before=grown_before,
            previous=previous,
            accept=limits.accept_cycles,
            describe=describe,
            frames=frames,
            watched=watched,
            count_memory=count_memory,
            objects_decide=objects_decide,
        )

        def exclusions() -> Exclusions:
            # What bounded caches gained is theirs to drop later.
            # The item itself: what a run leaves on pytest's node (another plugin's
            # per-run records, a timer's handle) is pytest's.
            return Exclusions(
                holders=[item, item.stash, *tooling_holders(config), *fixture_finalizers(item)],
                tracers=self.origins.tracers(),
                ignored=ignored,
                ignored_types=ignored_types,
                caches=caches,
                slots=slots or (),
            )

        self._clear_caches(config)
        resources_before = self._snapshot() if resources else None
        passed = False
        with self._watching():
            window.open()
            try:
                if doctest is not None:
                    # Inside the window: the run empties the dict again.
                    globs, fresh = doctest
                    globs.update(fresh)
                # Inside the window too: what the last re-run's tooling left there
                # is replaced by this run's, not added to (companions.replaying).
                self._start_again()
                with unshown_warnings(), timed(item):
                    if bound is not None:
                        bound.test_starts()
                    reports = runtestprotocol(item, log=False, nextitem=keeping_wider_scopes(item))
                    if bound is not None:
                        bound.test_ends()
                passed = all_passed(reports)
                if not passed:
                    self._rerun_failure = failure_of(reports)
                del reports
            finally:
                # Re-runs are not reported: what they added to the item goes, and so do
                # the teardown registrations their fixtures left with wider-scoped ones.
                if sections is not None:
                    del sections[sections_before:]
                del item.user_properties[properties_before:]
                for finalizers, length in registrations:
                    del finalizers[length:]
                stopped = traced and not tracemalloc.is_tracing()
                try:
                    self._clear_caches(config)
                finally:
                    # Closed whatever the project's hook did: the window holds the
                    # collector's and tracemalloc's settings.
                    try:
                        reading = window.close(exclusions)
                    except Exception:
                        if not stopped:
                            raise
                        raise Interfered(
                            "the test stopped tracemalloc, which its traced re-run needs"
                        ) from None
        left = self._compare(resources_before)
        return (reading if passed else None), window.end_snapshot, left

    def _clear_caches(self, config: pytest.Config) -> None:
        clear_caches(self._saved_caches)
        hook = config.hook.pytest_refleak_clear_caches
        self._call_hook("pytest_refleak_clear_caches", lambda: hook(config=config))

    def _ignored(self, item: pytest.Item) -> tuple[list[object], tuple[type, ...]]:
        objects: list[object] = []
        types_: list[type] = []
        hook = item.ihook.pytest_refleak_ignore
        results = self._call_hook("pytest_refleak_ignore", lambda: hook(item=item))
        for result in results:  # type: ignore[attr-defined]
            if result is None:
                continue
            try:
                declared_all = list(result)
            except Exception:  # noqa: BLE001 - not iterable, or its iteration raised
                raise HookError(
                    f"the pytest_refleak_ignore hook returned {safe_repr(result)}: "
                    "expected an iterable of objects and types, or None"
                ) from None
            for declared in declared_all:
                # type(), not isinstance: a declared object may be a proxy.
                (types_ if is_a(declared, type) else objects).append(declared)
        return objects, tuple(types_)

    def _call_hook(self, name: str, call: Callable[[], object]) -> object:
        """Call one of the project's hooks; what it raises is its error, said as such."""
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - the project's code: any error
            raise HookError(self._hook_failure(name, error)) from None

    def _hook_failure(self, name: str, error: Exception) -> str:
        """``the NAME hook raised X: ...`` and the project's frames of the traceback."""
        try:
            text = str(error)
        except Exception:  # noqa: BLE001 - an exception that cannot say what it is
            text = "?"
        lines = [f"the {name} hook raised {type(error).__name__}: {text[:500]}"]
        root = str(self.config.rootpath)
        for frame in traceback.extract_tb(error.__traceback__):
            if self.origins.of_file(frame.filename) is Origin.TOOLING:
                continue
            shown = frame.filename
            if shown.startswith(root + os.sep):
                shown = os.path.relpath(shown, root)
            lines.append(f"  {shown}:{frame.lineno}, in {frame.name}")
            if frame.line:
                lines.append(f"    {frame.line}")
        return printable("\n".join(lines))

    def _conclude(
        self,
        item: pytest.Item,
        reports: list[pytest.TestReport],
        verdict: Verdict | None,
        limits: Limits,
    ) -> None:
        """Put the test's record on its reports, and fail it for a leak the baseline does not
        accept.  The record travels with the last report: pytest-xdist sends it to the
        controller, which writes the report file and the summary."""
        if any(r.skipped for r in reports):
            return
        path, line, _ = item.location
        location = (path, (line or 0) + 1)
        record: Record
        if self._hook_error is not None:
            note, self._hook_error = self._hook_error, None
            record = unchecked_record(item.nodeid, note, location, kind=USAGE_ERROR)
        elif not all_passed(reports):
            record = unchecked_record(item.nodeid, "the test did not pass", location)
        elif verdict is None:
            record = clean_record(item.nodeid)
        else:
            root = str(item.config.rootpath)
            record = verdict_record(
                item.nodeid,
                verdict,
                limits,
                root=root,
                location=location,
                verbosity=item.config.get_verbosity(),
            )
        self.gate.judge(record)
        if record["verdict"] in (LEAKED, CYCLES, KNOWN):
            # The test's own call report comes after those of its subtests.
            call = [r for r in reports if r.when == "call"][-1]
            call.refleak_verdict = record["verdict"]  # type: ignore[attr-defined]
            if record["verdict"] != KNOWN:
                self._fail(call, record)
        reports[-1].refleak_record = record  # type: ignore[attr-defined]
        reports[-1].user_properties.extend(junit_properties(record))

    def _fail(self, call: pytest.TestReport, record: Record) -> None:
        call.outcome = "failed"
        # The one-line verdict is said once, in full, in the plugin's summary; the
        # short test summary names the test.  Only --tb=line, which prints a line
        # per failure in place of the explanation's header, is given it.
        crash = None
        if getattr(self.config.option, "tbstyle", "auto") == "line":
            summary = str(record["summary"])
            prefix = f"{str(record['verdict']).upper()} {record['nodeid']} - "
            message = summary[len(prefix) :] if summary.startswith(prefix) else summary
            path, lineno = record.get("location") or (call.location[0], 0)
            crash = (str(path), int(lineno or 0), message)
        call.longrepr = explanation_longrepr(str(record["text"]), crash)


def _function_key(item: pytest.Item) -> str:
    """The test function an item runs, whatever its parameters."""
    return item.nodeid.partition("[")[0]


def _stop_test_timer(item: pytest.Item) -> None:
    """End the time limit pytest-timeout set for the test's run: the re-runs and the
    analysis are the plugin's, and must not count against it (nor be stopped by it).

    With a limit on the test function only, pytest-timeout sets it again for each
    re-run's call, which is each run's own.  ``pytest_timeout_cancel_timer`` is one
    of pytest-timeout's documented hooks; without pytest-timeout there is none.
    """
    cancel = getattr(item.ihook, "pytest_timeout_cancel_timer", None)
    if cancel is not None:
        cancel(item=item)


def _sets_up_a_scope(item: pytest.Item) -> bool:
    """Whether running ``item`` now sets up a module, class or package again.

    After the last test of a module the first re-run sets the module's fixtures up
    again (the real run tore them down): that re-run's growth holds the scope's
    setup, several times a small leak's, and says nothing about whether the
    test's own growth is settling.  Judged with the others it made a steady
    one-object leak look like a cache warming up (45 blocks, then 1, 1), and a
    later re-run disturbed by one freed block cleared it.
    """
    set_up = set_up_nodes(item)
    if set_up is None:
        return False
    return any(id(node) not in set_up for node in item.listchain()[:-1])


def _cut_short(number: int, runs: int, net_due: bool) -> str:
    """What the bound left undone in the middle of the planned re-runs."""
    if number < runs:
        return f"stopped after {number} of {runs} planned re-runs, before the traced one"
    # Only the re-run that counts memory from where the traced one ended was left.
    return "the memory kept was not counted again net of what the traced re-run freed"


def failure_note(error: BaseException) -> str:
    """The note for a test whose measuring raised: an error of the plugin's, unless a
    test outcome (``pytest.fail``, as pytest-timeout's timeout) stopped it."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - an exception that cannot say what it is
        text = "?"
    if isinstance(error, (pytest.fail.Exception, pytest.skip.Exception)):
        return f"checking it was stopped ({type(error).__name__}: {text[:200]})"
    return (
        f"measuring it failed ({type(error).__name__}: {text[:200]}); "
        "this is a bug in pytest-refleak, please report it"
    )


def plugin_dirs(config: pytest.Config) -> list[str]:
    """The package directories of the pytest plugins installed from distributions
    (pytest-asyncio's, anyio's): the test runner's own code, whose event-loop
    runners keep tasks of their own."""
    dirs = set()
    for plugin, _ in config.pluginmanager.list_plugin_distinfo():
        name = getattr(plugin, "__name__", "")
        top = sys.modules.get(name.partition(".")[0]) if isinstance(name, str) else None
        path = getattr(top, "__file__", None)
        if isinstance(path, str) and not name.startswith("pytest_refleak"):
            dirs.add(os.path.dirname(path))
    return sorted(dirs)
