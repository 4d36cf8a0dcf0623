"""Explaining leaks: what keeps them alive, the summary lines, pictures, hostile objects."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import run

NATIVE = "kept alive by a reference count held in native code (a missing Py_DECREF?)"


def output_of(leaky: pytest.Pytester, call: str, *args: str) -> str:
    leaky.makepyfile(test_it=f"import leakylib\ndef test_it():\n    {call}\n")
    result = run(leaky, "--refleak", *args)
    result.assert_outcomes(failed=1)
    return result.stdout.str()


@pytest.mark.parametrize(
    ("call", "chain", "summary"),
    [
        (
            "leakylib.append_thing()",
            "        kept alive by leakylib._registry[",
            "Thing ×1 via leakylib._registry",
        ),
        (
            "leakylib.Model()",
            "        kept alive by leakylib.Model._instances[",
            "Model ×1 via leakylib.Model._instances",
        ),
        (
            "leakylib.add_log_handler()",
            "        kept alive by logging.getLogger('leakylib.audit').handlers[",
            "NullHandler ×1 via logging.getLogger('leakylib.audit').handlers",
        ),
        (
            "leakylib.compute()",
            "        kept alive by leakylib.Calculator.compute (lru_cache) → key (<leakylib.Calc",
            "Calculator ×1 via leakylib.Calculator.compute",
        ),
        (
            "leakylib.add_module()",
            "        kept alive by sys.modules['leaky_module_",
            "module ×1 via sys.modules",
        ),
        (
            "leakylib.subscribe()",
            "        kept alive by leakylib._callbacks[",
            "Listener ×1 via leakylib._callbacks",
        ),
        (
            "leakylib.register_exit_hook()",
            "        kept alive by atexit callbacks → register_exit_hook.<locals>.<lambda>()",
            "function ×1 via atexit callbacks",
        ),
        ("leakylib.lose_list()", f"        no referrers: {NATIVE}", "list ×1 with no referrers"),
    ],
    ids=["list", "class-registry", "logger", "lru_cache", "sys.modules", "callback", "atexit",
         "no-referrers"],
)
def test_what_keeps_objects_alive(leaky: pytest.Pytester, call: str, chain: str,
                                  summary: str) -> None:
    """Each leaked object's chain from a root, as a path a developer recognises."""
    out = output_of(leaky, call)
    assert chain in out
    summary_line = next(line for line in out.splitlines() if line.startswith("LEAKED test_it"))
    assert summary in summary_line


SWAPPER = """
class Entry:
    pass

class Seen(dict):
    pass

_scratch = Seen()
_types = {}

def size_everything(keep):
    # A big scratch dict swapped for a fresh one on every call, as a sizing
    # library does, beside a small registry that keeps one entry per new class.
    global _scratch
    _scratch = Seen.fromkeys(range(2000))
    if keep:
        _types[len(_types)] = Entry()
"""


@pytest.mark.parametrize("keep", [True, False], ids=["kept", "swapped-only"])
def test_what_is_swapped_on_every_run_does_not_name_the_leak(
    pytester: pytest.Pytester, keep: bool
) -> None:
    """A big object swapped for a fresh one on every run is not what leaked: the
    report names the small entry kept beside it.  Alone, the swap passes."""
    pytester.makepyfile(
        swapper=SWAPPER,
        test_it=f"import swapper\ndef test_it():\n    swapper.size_everything({keep})\n",
    )
    result = run(pytester, "--refleak")
    if not keep:
        result.assert_outcomes(passed=1)
        return
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_it - *: Entry ×1 via swapper._types*"])


def test_closure_variable_named_in_chain(leaky: pytest.Pytester) -> None:
    """What a closure keeps is named by its variable."""
    out = output_of(leaky, "leakylib.register_exit_hook()")
    assert "<lambda>() (closure variable 'data')" in out


@pytest.mark.xfail(
    reason="caught on 3.10, 3.11 and 3.13 since new objects that only took an old one's "
    "place claim no line (objects.kept_types); on 3.12 missed in 3 of 8 runs by hand, "
    "when the context's mapping grows a node of a type more than it drops, which then "
    "claims the line as before (stop 29: claiming only each object's own size there "
    "caught it, and flagged a warming cache, so it was not landed)",
    strict=False,
)
def test_a_string_kept_where_an_object_is_swapped_is_caught(pytester: pytest.Pytester) -> None:
    """A string kept per run, allocated at the same line as a mapping node that
    replaces the run before's, is still the test's leak (the variable, named by a
    string, is no object the collector lists either)."""
    pytester.makepyfile(
        test_it="""
        import contextvars
        import itertools

        NUMBERS = itertools.count()

        def test_string_in_context():
            n = next(NUMBERS)
            contextvars.ContextVar("text-%d" % n).set("x" * 200 + str(n))
        """
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(failed=1)


def test_what_a_context_variable_keeps_is_named(pytester: pytest.Pytester) -> None:
    """A variable made per call and set in the thread's contextvars context stays
    there, with its value, out of the referrer search's sight: the report names the
    context, not native code, for objects and for strings alike."""
    pytester.makepyfile(
        test_it="""
        import contextvars
        import itertools

        NUMBERS = itertools.count()

        class Session:
            def __init__(self):
                self.data = {"n": 1}

        def test_object_in_context():
            contextvars.ContextVar("session-%d" % next(NUMBERS)).set(Session())

        def test_string_in_context():
            name = "text-%d" % next(NUMBERS)
            variable = contextvars.ContextVar(name)
            variable.set("x" * 200 + name)

        def test_one_variable_reset():
            token = CURRENT.set(Session())
            CURRENT.reset(token)

        CURRENT = contextvars.ContextVar("current")
        """
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_it.py::test_object_in_context - *Session ×1 via the running thread,"
            " as its contextvars context",
        ]
    )
    # The string's headline names the context either as what holds the memory or,
    # in a run where the context's tree also gains a node on every re-run (its
    # shape follows the variables' hashes, which differ from run to run), as what
    # keeps that node: seen both ways on 3.12.
    result.stdout.fnmatch_lines(
        ["LEAKED test_it.py::test_string_in_context - *the running thread*context"]
    )
    result.stdout.fnmatch_lines(
        ["*held by the running thread's context (contextvars), ContextVar 'text-*'*"]
    )
    assert "missing Py_DECREF" not in result.stdout.str()
    # Twenty re-runs make the context's tree a level deeper, and the search for the
    # first sample's holder (which reads this thread's context) must leave nothing
    # behind that the next sample's search would follow instead.
    result = run(pytester, "--refleak", "--refleak-runs=20", "-k", "object_in_context")
    result.stdout.fnmatch_lines(
        ["*kept alive by the running thread, as its contextvars context → *Session"]
    )
    assert "no root found" not in result.stdout.str()


@pytest.mark.parametrize(
    ("call", "holder"),
    [
        ("leakylib.cache_bytes(100)", "held by leakylib._cache"),
        ("leakylib.cache_bytes(700)", "held by leakylib._cache"),
        ("leakylib.append_big_int()", "held by leakylib._numbers["),
        ("leakylib.lose_bytes()", f"no container holds it: {NATIVE}"),
    ],
    ids=["small-bytes", "bytes-over-512", "big-int", "no-container"],
)
def test_what_holds_untracked_memory(leaky: pytest.Pytester, call: str, holder: str) -> None:
    """Strings, bytes and numbers are found in the containers that hold them."""
    out = output_of(leaky, call)
    assert f"      {holder}" in out


def test_numbers_inside_untracked_tuples_are_held_by_the_tuples_holder(
    pytester: pytest.Pytester,
) -> None:
    """A tuple of strings and numbers is no container the collector lists: what it
    holds (a number made in another function, so at another line) is found through
    the tuple, in the list that holds it, not blamed on native code."""
    pytester.makepyfile(
        postings="""
_TRAIL = []

def amount(n):
    return n * 1000003 + 7

def post(n):
    _TRAIL.append((amount(n), "refund " * 3))
""",
        test_it="""
import itertools
import postings

_n = itertools.count(10**6)

def test_post():
    postings.post(next(_n))
""",
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "held by postings._TRAIL[" in out
    assert "missing Py_DECREF" not in out


def test_a_kept_object_is_explained_though_its_first_sample_was_swapped(
    pytester: pytest.Pytester,
) -> None:
    """Each run sets two accessors on a class: one under a fixed name, which the next
    run swaps for its own, and one under a new name, which stays.  The sample the
    explanation starts from must be one still alive: the report names the class
    attribute that keeps the function, not nothing; and the column name the
    function's closure keeps is held by that cell, not by native code."""
    pytester.makepyfile(
        rows="""
def _getter(field):
    def get(self):
        return self.values[field]
    return get

class Row:
    pass

def bind(cls, columns):
    for column in columns:
        setattr(cls, "get_" + column, _getter(column))
""",
        test_it="""
import itertools
import rows

_n = itertools.count()

def test_bind():
    rows.bind(rows.Row, ["region", "d%d" % next(_n)])
""",
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_bind - *function ×1 via rows.Row.get_d*"])
    # The column's name, a string the closure's cell holds: a cell is a container too.
    assert "missing Py_DECREF" not in result.stdout.str()
    # Every sample is the traced run's: a later run's function at a swapped one's
    # address (its memory reused) would be kept by a later column's accessor.
    held = set(re.findall(r"kept alive by rows\.Row\.(get_\w+)", result.stdout.str()))
    assert len(held) == 1 and held.pop().startswith("get_d"), result.stdout.str()


def test_a_weak_reference_never_names_the_leak(pytester: pytest.Pytester) -> None:
    """An identity map (a ``WeakValueDictionary``) beside a strong history list: each
    run's item is kept by the list, and its weak entry only because it is.  The
    leak is named by the item and the list, not by the weak entry's class."""
    pytester.makepyfile(
        catalog="""
import weakref

class Item:
    def __init__(self, sku):
        self.sku = sku

by_sku = weakref.WeakValueDictionary()
history = []

def view(sku):
    item = by_sku.get(sku)
    if item is None:
        item = by_sku[sku] = Item(sku)
    history.append(item)
    return item
""",
        test_it="""
import itertools
import catalog

_n = itertools.count()

def test_view():
    catalog.view("SKU-%d" % next(_n))
""",
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_view - *: Item ×1 via catalog.history"])


def test_cycle_path_and_allocation(leaky: pytest.Pytester) -> None:
    """A cycle is shown as a path back to its start, with where its objects came from."""
    out = output_of(leaky, "leakylib.make_tree()")
    assert "Node.children → list[0] → Node.parent → Node" in out or (
        "Node.parent → Node.children → list[0] → Node" in out
    )
    assert "allocated at leakylib.py:" in out


class_with_hostile_repr = """
class Hostile:
    def __repr__(self):
        raise RuntimeError("no repr for you")
class Recursive:
    def __repr__(self):
        return repr(self)
class Huge:
    def __repr__(self):
        return "x" * 10_000_000
KEPT = {}
def test_it():
    from unittest import mock
    KEPT[Hostile()] = Hostile()
    KEPT[len(KEPT)] = Recursive()
    KEPT[len(KEPT)] = Huge()
    KEPT[len(KEPT)] = mock.MagicMock()
"""


def test_hostile_reprs_degrade(pytester: pytest.Pytester) -> None:
    """reprs that raise, recurse, are huge or belong to mocks never break the report."""
    pytester.makepyfile(test_it=class_with_hostile_repr)
    result = run(pytester, "--refleak", "-v")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "<Hostile at 0x" in out
    assert "<Recursive at 0x" in out
    assert "<MagicMock at 0x" in out
    assert "kept alive by test_it.KEPT[<Hostile at 0x" in out
    assert "x" * 200 not in out
    assert "Traceback" not in out and "INTERNALERROR" not in out


def test_summary_lines_sorted_by_size_with_count(leaky: pytest.Pytester) -> None:
    """One line per leaking test in the refleak section, biggest first, then a count."""
    leaky.makepyfile(
        test_it="""
        import leakylib
        def test_small():
            leakylib.append_big_int()
        def test_big():
            leakylib.cache_bytes(5000)
        def test_clean():
            pass
        """
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*= refleak =*",
            "LEAKED test_it.py::test_big - +* KiB/run: held by leakylib._cache",
            "LEAKED test_it.py::test_small - +* B/run: held by leakylib._numbers",
            "2 tests leaked",
        ]
    )


@pytest.mark.parametrize("on_ci", [False, True], ids=["terminal", "ci"])
def test_each_verdict_is_said_once_in_full(
    leaky: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, on_ci: bool
) -> None:
    """The refleak section says each leak in one full line; pytest's short test summary
    names the test without saying it again, cut or whole, and never repeats the
    explanation (pytest prints messages whole on CI)."""
    if on_ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
        monkeypatch.delenv("BUILD_NUMBER", raising=False)
    leaky.makepyfile(test_it="import leakylib\ndef test_big():\n    leakylib.cache_bytes(5000)\n")
    for args in ((), ("-n", "2")):
        result = run(leaky, "--refleak", *args)
        result.assert_outcomes(failed=1)
        output = result.stdout.str()
        assert output.count("KiB/run: held by leakylib._cache") == 1, output
        assert output.count("where the memory still allocated") == 1, output
        result.stdout.fnmatch_lines(
            [
                "*= refleak =*",
                "LEAKED test_it.py::test_big - +* KiB/run: held by leakylib._cache",
                "*short test summary info*",
                "LEAKED test_it.py::test_big",
            ]
        )


def test_tb_line_gives_the_one_line_verdict(leaky: pytest.Pytester) -> None:
    leaky.makepyfile(test_it="import leakylib\ndef test_big():\n    leakylib.cache_bytes(5000)\n")
    result = run(leaky, "--refleak", "--tb=line")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["test_it.py:2: +* KiB/run: held by leakylib._cache"])
    assert "None" not in result.stdout.lines


def test_quiet_keeps_one_liners_and_verbose_shows_more(leaky: pytest.Pytester) -> None:
    """-q: the headline and the chains; -v: more types, sites and figures."""
    leaky.makepyfile(test_it="import leakylib\ndef test_it(): leakylib.add_log_handler()\n")
    quiet = run(leaky, "--refleak", "-q")
    quiet.stdout.fnmatch_lines(
        [
            "refleak: * objects/run, +* B/run: NullHandler ×1 via logging.getLogger(*).handlers",
            "  NullHandler: kept alive by logging.getLogger('leakylib.audit').handlers*",
            "LEAKED test_it.py::test_it - *",
        ]
    )
    assert "allocated at" not in quiet.stdout.str()
    verbose = run(leaky, "--refleak", "-v")
    verbose.stdout.fnmatch_lines(
        ["*what is still alive*", "*allocated at leakylib.py:*", "*refleak: checked 1 test*"]
    )
    assert "checked 1 test" not in run(leaky, "--refleak").stdout.str()


def test_graphs_written_and_named(leaky: pytest.Pytester) -> None:
    """--refleak-graphs writes a Graphviz file per leaking test and the report names it."""
    leaky.makepyfile(
        test_it="import leakylib\ndef test_it(): leakylib.append_thing()\n"
        "def test_clean(): pass\n"
    )
    result = run(leaky, "--refleak", "--refleak-graphs=pictures")
    result.assert_outcomes(failed=1, passed=1)
    dot = leaky.path / "pictures" / "test_it.py_test_it-889b5006.dot"
    result.stdout.fnmatch_lines(["*picture of what keeps it alive: pictures/test_it.py_test_it-889b5006.dot"])
    text = dot.read_text()
    assert text.startswith("digraph ObjectGraph {")
    assert 'label="Thing' in text
    assert 'label="list' in text  # the module's _registry, which holds it
    assert sorted(p.name for p in (leaky.path / "pictures").iterdir() if p.suffix == ".dot") == [
        "test_it.py_test_it-889b5006.dot"
    ]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphs_rendered_as_svg(leaky: pytest.Pytester) -> None:
    """With Graphviz installed, the picture is rendered too."""
    leaky.makepyfile(test_it="import leakylib\ndef test_it(): leakylib.append_thing()\n")
    result = run(leaky, "--refleak", "--refleak-graphs=pictures")
    svg = leaky.path / "pictures" / "test_it.py_test_it-889b5006.svg"
    result.stdout.fnmatch_lines(["*picture of what keeps it alive: pictures/test_it.py_test_it-889b5006.svg"])
    assert "<svg" in svg.read_text()


def test_graphs_drawn_for_memory_held_in_strings_and_bytes(leaky: pytest.Pytester) -> None:
    """Memory kept in bytes (which the collector does not track) gets a picture of the
    containers holding a sample of it: the module's ``_cache`` dict, then the module;
    the report and the JSON report name it."""
    import json

    leaky.makepyfile(test_it="import leakylib\ndef test_it(): leakylib.cache_bytes(4096)\n")
    result = run(
        leaky, "--refleak", "--refleak-graphs=pictures", "--refleak-report=report.json"
    )
    result.assert_outcomes(failed=1)
    name = "test_it.py_test_it-889b5006.dot"
    result.stdout.fnmatch_lines([f"*picture of what keeps it alive: pictures/{name}"])
    text = (leaky.path / "pictures" / name).read_text()
    # The dict holding them, reached from the module's namespace as _cache; under it
    # the first leaked object found (the string key, allocated on the same line).
    assert 'label="module\\nleakylib"' in text
    assert '[label="_cache"' in text
    assert re.search(r'held0 \[label="str \(\d+ B\)\\n\'key-\d+\'", fontcolor=red\];', text)
    assert re.search(r'o\d+ -> held0 \[label="\(key\)"\];', text)
    record = json.loads((leaky.path / "report.json").read_text())["tests"][0]
    assert record["graphs"][0] == f"pictures/{name}"


def test_leak_with_nothing_to_draw_gets_a_note(leaky: pytest.Pytester) -> None:
    """Bytes that no container holds (a reference count leaked in native code) have no
    holders to draw: the test's picture is a note saying what leaked and why."""
    leaky.makepyfile(test_it="import leakylib\ndef test_it(): leakylib.lose_bytes()\n")
    result = run(leaky, "--refleak", "--refleak-graphs=pictures")
    result.assert_outcomes(failed=1)
    name = "test_it.py_test_it-889b5006.dot"
    result.stdout.fnmatch_lines([f"*picture of what keeps it alive: pictures/{name}"])
    text = (leaky.path / "pictures" / name).read_text()
    assert text.startswith("digraph refleak {")
    assert 'note [label="LEAKED test_it.py::test_it - ' in text
    assert re.search(r"allocated at \S*leakylib.py:\d+", text)
    assert "no container holds it" in text
    assert "nothing that holds it was found to draw" in text
    # -q names the picture too.
    quiet = run(leaky, "--refleak", "--refleak-graphs=pictures", "-q")
    quiet.stdout.fnmatch_lines([f"  picture: pictures/{name}"])


def test_clean_tests_draw_nothing(leaky: pytest.Pytester) -> None:
    """Tests that leak nothing write no picture, and no directory for them."""
    leaky.makepyfile(
        test_it="import leakylib\ndef test_it(): leakylib.make_tree()\ndef test_two(): pass\n"
    )
    result = run(leaky, "--refleak", "--refleak-graphs=pictures", "--refleak-cycles=off")
    result.assert_outcomes(passed=2)
    assert not (leaky.path / "pictures").exists()
    result.stdout.no_fnmatch_line("*picture*")


def test_graph_directory_that_cannot_be_made(leaky: pytest.Pytester) -> None:
    """A directory for pictures that cannot be made is a usage error, said once before
    any test runs."""
    Path(leaky.path / "taken").write_text("a file, not a directory")
    leaky.makepyfile(test_it="import leakylib\ndef test_it(): leakylib.append_thing()\n"
                     "def test_two(): leakylib.append_thing()\n")
    result = run(leaky, "--refleak", "--refleak-graphs=taken/pictures")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: refleak: --refleak-graphs: cannot write into *taken/pictures*: *taken' is not a directory"]
    )
    assert len([line for line in result.stderr.lines if "refleak:" in line]) == 1
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_empty_graph_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it="def test_it(): pass\n")
    result = run(pytester, "--refleak", "--refleak-graphs= ")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--refleak-graphs: expected a directory*"])


def test_leaks_past_the_sessions_search_allowance_are_still_reported(
    leaky: pytest.Pytester,
) -> None:
    """Explaining stops taking long once the session's allowance is spent (here at
    once); the verdict, types and allocation sites are still reported."""
    leaky.makeconftest(
        """
        import pytest_refleak.alive as alive
        alive.FREE_SECONDS = 0.0
        alive.SESSION_SHARE = 0.0
        """
    )
    leaky.makepyfile(
        test_it="""
        import leakylib

        def test_leaks():
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*allocated at leakylib.py:*", "LEAKED test_it.py::test_leaks - 1 object/run*Thing*"]
    )


@pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="from 3.12 io's newline decoder shows the collector what it holds, and no"
    " other type of the standard library hides the objects it holds",
)
def test_what_a_type_hiding_its_references_holds_is_not_blamed_on_native_code(
    pytester: pytest.Pytester,
) -> None:
    """On 3.10 and 3.11 a ``TextIOWrapper`` keeps its codec's decoder through a
    newline decoder whose type has no garbage-collector support: the decoder has
    no referrer the collector shows, as an object a missing ``Py_DECREF`` keeps
    has none (click's ``CliRunner`` streams were reported so).  Its holder is
    found by its address in that decoder's structure.  The other side, an object
    that nothing holds, is ``test_what_keeps_objects_alive[no-referrers]``."""
    pytester.makepyfile(
        test_it="""
import io
_streams = []

class Console:
    def __init__(self):
        self.out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")

def test_it():
    _streams.append(Console())
"""
    )
    result = run(pytester, "--refleak", "-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*IncrementalDecoder*×1*",
            "*kept alive by the structure of IncrementalNewlineDecoder (whose references"
            " the garbage collector does not see), held by TextIOWrapper*",
        ]
    )
    assert "missing Py_DECREF" not in result.stdout.str()


def test_a_class_made_per_call_is_explained_by_its_own_holders(pytester: pytest.Pytester) -> None:
    """A class made and kept per call owns what the collector does not show as
    held: its base's registry of subclasses refers to it through a dict only the
    base's C structure holds, and its namespace's table, outgrown by ``setattr``
    at a line of its own, is part of it.  Neither is a missing ``Py_DECREF``
    (pyrsistent's generated field types read so)."""
    pytester.makepyfile(
        proj="""
_made = []

class Base:
    pass

def make_type(n):
    made = type(f"Made{n}", (Base,), {"a": 1})
    for i in range(12):
        setattr(made, f"field_{i}", i)
    _made.append(made)
    return made
""",
        test_it="""
import itertools
import proj

_n = itertools.count()

def test_it():
    proj.make_type(next(_n))
""",
    )
    result = run(pytester, "--refleak", "-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*kept alive by proj.Base's registry of subclasses (in its C structure)*",
            "*held by the table of Made*'s namespace, kept alive by proj._made[[]*[]]",
        ]
    )
    assert "missing Py_DECREF" not in result.stdout.str()


def test_memory_a_leaked_object_keeps_in_its_c_structure_is_named(
    pytester: pytest.Pytester,
) -> None:
    """A ``BytesIO``'s buffer is kept by its C structure, which does not show it
    to the collector: no container of the heap
    holds them, and the search of the whole heap used to end with "a missing
    Py_DECREF?" (click's ``CliRunner`` streams).  The leaked object's own
    structure is read for them first, so the report names it; memory held in a
    module's container is still named by that container."""
    pytester.makepyfile(
        test_it="""
import io

KEPT = []
NAMES = {}


def test_keeps_a_stream():
    stream = io.BytesIO()
    stream.write(b"x" * 300)
    KEPT.append(stream)


def test_keeps_a_string():
    NAMES[len(NAMES)] = "z" * 300 + str(len(NAMES))
"""
    )
    result = run(pytester, "--refleak")
    result.assert_outcomes(failed=2)
    assert "missing Py_DECREF" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*held by BytesIO, in its C structure (the garbage collector does not see it),"
            " kept alive by test_it.KEPT[[]*[]]",
            "*held by test_it.NAMES[[]*[]]*",
        ]
    )
