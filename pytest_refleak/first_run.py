"""The first run of a checked test: the real one, reported as usual, and measured.

A measuring window opens when the test's setup starts and closes when its
function-scoped fixtures are torn down, before fixtures of wider scope are.
pytest's own records made in between (reports, captured output, the containers
of the item and its fixture request) are worked out and taken off: see
:meth:`FirstRun._exclusions` and :mod:`pytest_refleak.exclusions`.
"""

from __future__ import annotations

import array
import contextlib
import gc
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from pytest_refleak.exclusions import Exclusions, bounded_caches, bounded_dict_caches
from pytest_refleak.heap import malloc_chunk, referents
from pytest_refleak.held_reports import pack_reports, unpack_reports
from pytest_refleak.measure import Reading
from pytest_refleak.objects import hidden_blocks
from pytest_refleak.pytest_internals import (
    RunningHookCall,
    containers_of,
    fixture_finalizers,
    fixture_request,
    item_containers,
    node_setup_records,
    settle_log_handler,
    tooling_holders,
)
from pytest_refleak.settings import Limits

if TYPE_CHECKING:
    from pytest_refleak.protocol import Checker


class FirstRun:
    """The real run of a checked test, measured around pytest's whole run of it.

    The window opens and closes with nothing of pytest's in flight, so that no
    half-finished hook call is counted at one end and not at the other.
    Everything the window writes while open was allocated before it opened.
    """

    def __init__(self, checker: Checker, item: pytest.Item, limits: Limits) -> None:
        self.item = item
        self.first_call = checker.first_call_of(item)
        self.origins = checker.origins
        self.limits = limits
        # Its bytes held through malloc decide nothing (every checked test is re-run,
        # see verdict.looks_leaky), and their readings have a budget: not read.
        self.window = checker.window(
            cycles=limits.cycles != "off", accept=limits.accept_cycles, read_malloc=False
        )
        self.reading: Reading | None = None
        #: Why measuring failed, if it did (a bug of ours, not the test's).
        self.failure: str | None = None
        self.state = "idle"
        self.containers: list[tuple[object, object, str, int]] = []
        self.request: object = None
        # Made now, not while the window is open: anything created between the
        # window's two readings would count as the test's.
        self.extra_blocks = 0
        self.extra_bytes = array.array("q", [0])
        self.reports: Sequence[pytest.TestReport] = ()
        self.caches = [*bounded_caches(), *bounded_dict_caches()]
        self.exclusions = self._exclusions
        self.hook_call: RunningHookCall | None = None

    def open(self) -> None:
        item = self.item
        # pytest drops the item's fixture values and request object after the
        # teardown; holding them keeps their memory from counting as freed.
        self.request = fixture_request(item)
        self.containers = item_containers(item)
        settle_log_handler(item.config)
        # Values pytest computes once per item when it first reports on it.
        item.location  # noqa: B018
        getattr(item, "id", None)
        self.hook_call = RunningHookCall.find()
        self.state = "open"
        self.window.open()

    def close(self, reports: list[pytest.TestReport]) -> list[pytest.TestReport]:
        """Read the window and hand back the reports, re-made if they had to be let go.

        pytest's reports are still held here, to be marked and logged later.  To
        keep their memory out of the reading they are pickled into one bytes
        object, dropped, and made again once memory has been read.
        """
        if self.state != "open":
            return reports
        self.state = "closed"
        item = self.item
        packed = pack_reports(reports)
        extra = 0
        self.reports = reports
        if packed is not None:
            reports.clear()
            extra += 1  # the string itself
            # Into an array made beforehand: an int made now would count.
            self.extra_bytes[0] = malloc_chunk(sys.getsizeof(packed))
        try:
            extra += self._let_go_dropped()
            self.extra_blocks = extra + self.first_call
            self.reading = self.window.close(self.exclusions)
        # pytest.fail() is no Exception: a timer's (pytest-timeout's) lands here too.
        except (Exception, pytest.fail.Exception) as error:  # noqa: BLE001 - keep the reports
            self.failure = failure_note(error)
            self.reading = None
            # Put the collector's settings back, whatever state the window is in.
            with contextlib.suppress(Exception):
                self.window.close()
        self.containers = []
        self.request = None
        self._forget_hook_call()
        if packed is None:
            return reports
        return unpack_reports(packed, item)

    def _let_go_dropped(self) -> int:
        """Empty the containers pytest let go of once nothing else holds them; return
        the blocks of those it keeps that grew from empty."""
        extra = 0
        request_dropped = fixture_request(self.item) is not self.request
        held_more = []
        for entry in self.containers:
            owner, container, name, size = entry
            dropped = (
                request_dropped
                if owner is self.request
                else (getattr(owner, name, None) is not container)
            )
            # Counted right here: passing the container to a helper would add
            # references, and a different number on different Python versions.
            # Ours: the tuple in self.containers, ``container`` and getrefcount's
            # argument; for one owned by the request, held here, the request's.
            others = (
                sys.getrefcount(container) - (3 if owner is self.item else 4) if dropped else -1
            )
            if others == 0:
                # pytest let it go: empty it as pytest meant it to be.
                container.clear()  # type: ignore[attr-defined]
            elif 0 < others <= 3:
                # A few more holders: garbage, perhaps (see below).  A container
                # shared by every item of a function has one holder per item.
                held_more.append(entry)
            elif _grew_from_empty(container, size):
                extra += 1
        if held_more:
            # Garbage not yet collected may be what still holds it: pytest's calling
            # frame, kept in a cycle by a caught exception's traceback, whose closure
            # cell (and locals, once a traceback was rendered) hold the fixture
            # values.  Look again once that is gone.
            gc.collect()
            # With cycles caught, that garbage is kept for the verdict: what it
            # holds is let go all the same.
            garbage = self.window.garbage_ids()
            for entry in held_more:
                owner, container, name, size = entry
                by_garbage = sum(1 for r in gc.get_referrers(container) if id(r) in garbage)
                others = sys.getrefcount(container) - (3 if owner is self.item else 4)
                if others - by_garbage == 0:
                    container.clear()  # type: ignore[attr-defined]
                elif _grew_from_empty(container, size):
                    extra += 1
        return extra

    def _exclusions(self) -> Exclusions:
        item = self.item
        current = [c for owner in (item, self.request) for _, c, _, _ in containers_of(owner)]
        # The stash's storage: new entries there (tmp_path's results, say) are pytest's.
        current.extend(r for r in referents(item.stash) if type(r) is dict)
        call = self.hook_call
        extra_blocks = self.extra_blocks + self._new_untracked_containers(current)
        if call is not None:
            extra_blocks += call.grown_from_empty()
        return Exclusions(
            bookkeeping=[
                self.reports,
                *self.reports,
                item.stash,
                *fixture_finalizers(item),
                *(call.roots() if call is not None else ()),
            ],
            owned=current,
            holders=tooling_holders(item.config),
            tracers=self.origins.tracers(),
            # What bounded caches gained is theirs to drop: no reason to re-run.
            caches=self.caches,
            extra_blocks=extra_blocks,
            extra_bytes=self.extra_bytes[0],
            exact=[*node_setup_records(item), *(call.iterators() if call is not None else ())],
        )

    def _new_untracked_containers(self, current: list[object]) -> int:
        """Blocks of the lists and dicts put on the item in the window that the
        collector does not see.

        A new container among the item's attributes is the tooling's (see
        ``owned`` in :class:`~pytest_refleak.exclusions.Exclusions`), but one holding
        only strings and numbers (pytest-rerunfailures' dicts of each phase's
        outcome, made afresh for every test) is not tracked, so it is not among the
        new objects whose blocks are taken off.  Counted here, when the item's
        attribute is its only holder, which is how a new one looks.
        """
        before = {id(c) for _, c, _, _ in self.containers}
        blocks = 0
        for container in current:
            if id(container) in before or gc.is_tracked(container):
                continue
            # Ours: ``current``, ``container`` and getrefcount's argument.
            if sys.getrefcount(container) - 3 == 1:
                blocks += 1 + hidden_blocks(container)
        return blocks

    def _forget_hook_call(self) -> None:
        if self.hook_call is not None:
            self.hook_call.forget()
            self.hook_call = None

    def abandon(self) -> None:
        self._forget_hook_call()
        if self.state == "open":
            self.state = "closed"
            self.window.close()


_EMPTY_SIZE: dict[type, int] = {dict: sys.getsizeof({}), list: sys.getsizeof([])}


def _grew_from_empty(container: object, size: int) -> bool:
    """Whether a container that was empty has since allocated storage: one block."""
    return size == _EMPTY_SIZE.get(type(container)) and sys.getsizeof(container) > size


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
