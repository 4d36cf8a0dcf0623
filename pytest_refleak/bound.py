"""How much checking one test may cost: a few runs of the test plus a fixed allowance.

A false alarm must never cost minutes.  Re-runs are few by construction: at most
twice ``refleak_runs``, plus one, and each ends as soon as the test looks clean.
What is not bounded by construction is the plugin's own work around them:
reading the heap after each re-run, tracing allocations, describing cycles and
explaining a leak all grow with what the test leaves behind, and a test that
leaves a hundred thousand objects would otherwise pay for each of them.  That
work gets :data:`ALLOWANCE_SECONDS` of CPU time per test, the test's own runs not
counted.  When it is spent the plugin stops where it is and says so: a test whose
every re-run left more objects is still a leak (without allocation sites or
holders); a test the re-runs had not decided yet is *not checked*, with the
reason, and fails the run under ``--refleak-strict``.

CPU time, not wall time: on a loaded machine the same work takes longer by the
clock, and the bound must not cut a test short there that it lets through
elsewhere.
"""

from __future__ import annotations

import array
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: CPU seconds of the plugin's own work per test, beyond the test's own runs.
ALLOWANCE_SECONDS = 10.0


def _allowance() -> float:
    # Read when a bound is made, so that a test of the bound can lower it.
    return ALLOWANCE_SECONDS


@dataclass
class Bound:
    """The plugin's own time on one test, and what was cut short when it ran out."""

    allowance: float = field(default_factory=_allowance)
    clock: Callable[[], float] = time.process_time
    #: What the plugin left undone because the bound was reached.
    cut: list[str] = field(default_factory=list)
    started: float = field(init=False)
    # The test's own CPU seconds, and when its current run started, kept as raw
    # numbers: timing a re-run happens inside its measured window, where a new
    # object kept would count as the test's.
    _times: array.array[float] = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()
        self._times = array.array("d", [0.0, 0.0])

    def test_starts(self) -> None:
        self._times[1] = self.clock()

    def test_ends(self) -> None:
        """The time since :meth:`test_starts` was the test's, not the plugin's."""
        self._times[0] += self.clock() - self._times[1]

    @property
    def in_test(self) -> float:
        return self._times[0]

    def spent(self) -> float:
        return self.clock() - self.started - self._times[0]

    def reached(self) -> bool:
        return self.spent() >= self.allowance

    def left(self) -> float:
        return max(0.0, self.allowance - self.spent())

    def note(self) -> str | None:
        """What the report says about the bound, if it was reached."""
        if not self.cut:
            return None
        return (
            f"checking stopped at its bound, {self.allowance:g} s of the plugin's own "
            f"CPU time beyond the test's runs: {'; '.join(self.cut)}"
        )
