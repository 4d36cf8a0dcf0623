"""Hostile input: files that are not files, objects that lie, text that cannot be encoded.

Whatever a test, its objects or its files do, the run ends normally: one clear
message for a usage error, a verdict for every test, no traceback from the
plugin.  ``docs/hostile-input.md`` says what the plugin promises and what not.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LEAK = """
import leakylib
def test_leak():
    leakylib.append_thing()
"""


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def no_traceback(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text
    # Not the plugin's: execnet sends a pytest-xdist worker still busy 5 s after its
    # controller finished a SIGINT (seen on a loaded machine), and the KeyboardInterrupt
    # lands in whatever runs, often the plugin's gc callback; Python reports it as an
    # exception ignored there.
    interrupted = re.compile(
        r"Exception ignored in: <bound method CycleCatcher\._on_collection.*?KeyboardInterrupt",
        re.DOTALL,
    )
    assert "Traceback" not in interrupted.sub("", text)


# -- files that are not regular files ------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX's")
def test_report_to_a_fifo_is_written_into_it(leaky: pytest.Pytester) -> None:
    """A FIFO given as the report path gets the report and stays a FIFO."""
    fifo = leaky.path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as pipe:
            received.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    leaky.makepyfile(test_it=LEAK)
    # pytest-benchmark (in the test extras) makes a directory of its own here.
    result = run(leaky, "--refleak", f"--refleak-report={fifo}", "-p", "no:benchmark")
    reader.join(timeout=30)
    result.assert_outcomes(failed=1)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(received[0])["tests"][0]["verdict"] == "leaked"
    assert [p.name for p in leaky.path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="making a device needs root"
)
def test_report_to_a_character_device_leaves_it_a_device(leaky: pytest.Pytester) -> None:
    """A device given as the report path (as root, ``/dev/null``) is written into, never
    replaced by a regular file.  A copy of the null device in a temporary directory
    stands in for the real one."""
    device = leaky.path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    leaky.makepyfile(test_it=LEAK)
    result = run(leaky, "--refleak", f"--refleak-report={device}")
    result.assert_outcomes(failed=1)
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    no_traceback(result)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_report_and_baseline_through_symlinks_write_their_targets(
    leaky: pytest.Pytester,
) -> None:
    """A symbolic link stays a link: the file it points to gets the new text."""
    (leaky.path / "real").mkdir()
    for name in ("report.json", "leaks.json"):
        (leaky.path / "real" / name).write_text('{"version": 1, "leaks": {}}', encoding="utf-8")
        os.symlink(leaky.path / "real" / name, leaky.path / name)
    leaky.makepyfile(test_it=LEAK)
    result = run(
        leaky,
        "--refleak",
        "--refleak-report=report.json",
        "--refleak-baseline=leaks.json",
        "--refleak-baseline-update",
    )
    result.assert_outcomes(passed=1)
    for name in ("report.json", "leaks.json"):
        assert os.path.islink(leaky.path / name)
        assert read_json(leaky.path / "real" / name)["version"] == 1
    assert read_json(leaky.path / "real" / "leaks.json")["leaks"]


# -- text that cannot be encoded ----------------------------------------------------------

SURROGATES = """
import sys, types
import leakylib
class Says:
    def __repr__(self):
        return "\\ud800"
# A module whose name holds a lone surrogate, as one named from an undecodable
# file name would: the chain to the leak starts at it.
registry = sys.modules["reg\\udcff"] = types.ModuleType("reg\\udcff")
registry.KEEP = []
def test_leak():
    registry.KEEP.append(Says())
def test_real_leak():
    leakylib.append_thing()
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_lone_surrogates_in_names_and_reprs(leaky: pytest.Pytester, workers: list[str]) -> None:
    """A repr or a module name holding a lone surrogate is reported escaped: the
    report file, the summary and pytest-xdist's messages all get text they can encode."""
    leaky.makepyfile(test_it=SURROGATES)
    result = run(leaky, "--refleak", "--refleak-report=report.json", *workers)
    result.assert_outcomes(failed=2)
    no_traceback(result)
    result.stdout.fnmatch_lines(["*LEAKED test_it.py::test_real_leak*Thing*"])
    report = read_json(leaky.path / "report.json")
    leak = {t["nodeid"]: t for t in report["tests"]}["test_it.py::test_leak"]
    assert leak["verdict"] == "leaked"
    assert leak["types"][0]["chains"][0].startswith("kept alive by reg\\udcff.KEEP[")


# -- objects that hang, sleep or blow up ----------------------------------------------------

SLOW_REPRS = """
import time
import leakylib
KEEP = []
class Endless:
    def __repr__(self):
        while True:
            pass
class Sleepy:
    def __repr__(self):
        time.sleep(60)
        return "awake"
def test_endless():
    KEEP.append(Endless())
def test_sleepy():
    KEEP.append(Sleepy())
def test_real_leak():
    leakylib.append_thing()
"""


def test_reprs_that_never_return_are_not_run(leaky: pytest.Pytester) -> None:
    """A leaked object whose ``__repr__`` never returns, or sleeps, neither hangs nor
    slows the run: the plugin never calls the reprs of classes it does not know.

    Each sample is looked for on its own: pytest-randomly, active in this run,
    orders the two tests either way (an expected failure from stop 16 to 29 was
    only that order)."""
    leaky.makepyfile(test_it=SLOW_REPRS)
    result = leaky.runpytest_subprocess("-p", "no:cacheprovider", "--refleak", timeout=50)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*e.g. <Endless at 0x*"])
    result.stdout.fnmatch_lines(["*e.g. <Sleepy at 0x*"])
    no_traceback(result)


@pytest.mark.parametrize(
    ("args", "marker", "message"),
    [
        (
            ["--refleak", "--refleak-runs=100000"],
            "",
            "*--refleak-runs: must be at most 100, got 100000*",
        ),
        (
            [],
            "@pytest.mark.refleak(runs=10**30)\n",
            "*refleak marker argument runs: must be at most 100, got 1000000000000000000000000000000*",
        ),
    ],
    ids=["option", "marker"],
)
def test_runs_beyond_the_cap_are_a_usage_error(
    pytester: pytest.Pytester, args: list[str], marker: str, message: str
) -> None:
    """A number of re-runs that would never finish is refused at once, exit code 4."""
    pytester.makepyfile(test_it=f"import pytest\n{marker}def test_it():\n    pass\n")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    no_traceback(result)


# -- baselines that are not baselines ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "baseline leaks.json cannot be read (RecursionError*"),
        ('{"version": true, "leaks": {}}', "baseline leaks.json has version True, but *"),
        ('{"version": 1.0, "leaks": {}}', "baseline leaks.json has version 1.0, but *"),
        (
            '{"version": 1, "leaks": {"t.py::t": {"kind": "leaked", "objects": '
            + "[" * 500
            + "]" * 500
            + "}}}",
            "baseline leaks.json, entry 't.py::t': 'objects' must be a whole number, 0 or more, got [[[...]]]",
        ),
    ],
    ids=["deep", "version-true", "version-float", "deep-figure"],
)
def test_hostile_baselines_are_usage_errors(
    pytester: pytest.Pytester, content: str, message: str
) -> None:
    """Whatever the baseline file holds, the run stops with one line and exit code 4."""
    (pytester.path / "leaks.json").write_text(content)
    pytester.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(pytester, "--refleak", "--refleak-baseline=leaks.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: refleak: {message}"])
    no_traceback(result)


# -- graph files --------------------------------------------------------------------------


def test_graph_files_of_tests_with_similar_ids_do_not_collide(leaky: pytest.Pytester) -> None:
    """Ids that read the same once made safe for a file name (``a b``, ``a/b``) get
    pictures of their own."""
    leaky.makepyfile(
        test_it="""
        import pytest, leakylib
        @pytest.mark.parametrize("n", [1, 2], ids=["a b", "a/b"])
        def test_it(n):
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak", "--refleak-graphs=pictures")
    result.assert_outcomes(failed=2)
    dots = [p for p in (leaky.path / "pictures").iterdir() if p.suffix == ".dot"]
    assert len(dots) == 2
    for dot in dots:
        result.stdout.fnmatch_lines([f"*picture of what keeps it alive: pictures/{dot.name}"])


# -- generated hostile objects ------------------------------------------------------------

HOSTILE_PRELUDE = """
import importlib.util
import time
import weakref
import leakylib

KEEP = []

class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr for you")

class EndlessRepr:
    def __repr__(self):
        while True:
            pass

class SleepyRepr:
    def __repr__(self):
        time.sleep(60)
        return "late"

class NotTextRepr:
    def __repr__(self):
        return 42

class SaysRepr:
    def __init__(self, text):
        self.text = text
    def __repr__(self):
        return self.text

class RaisingGetattribute:
    def __getattribute__(self, name):
        raise RuntimeError(name)

class LyingClass:
    @property
    def __class__(self):
        raise RuntimeError("no class for you")

class BadKey:
    def __hash__(self):
        return 1
    def __eq__(self, other):
        raise RuntimeError("no comparing")

class Target:
    pass

def dead_proxy():
    target = Target()
    proxy = weakref.proxy(target)
    del target
    return proxy

def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value

def lazy_module():
    spec = importlib.util.find_spec("colorsys")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
"""

#: Text with lone surrogates among ordinary characters, written into the test file
#: as Python escapes.
odd_text = st.text(
    st.one_of(st.characters(), st.characters(categories=["Cs"])), min_size=1, max_size=8
)

hostile_object = st.one_of(
    st.sampled_from(
        [
            "BadRepr()",
            "EndlessRepr()",
            "SleepyRepr()",
            "NotTextRepr()",
            "RaisingGetattribute()",
            "LyingClass()",
            "{BadKey(): Target()}",
            "dead_proxy()",
            "lazy_module()",
        ]
    ),
    odd_text.map(lambda text: f"SaysRepr({text!r})"),
    odd_text.map(lambda text: f"{{{text!r}: Target()}}"),
    st.integers(min_value=1, max_value=2000).map(lambda depth: f"nested({depth})"),
)


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    objects=st.lists(hostile_object, min_size=1, max_size=8),
    workers=st.sampled_from([(), ("-n", "2")]),
)
def test_hostile_objects_never_break_the_run(
    leaky: pytest.Pytester, objects: list[str], workers: tuple[str, ...]
) -> None:
    """However hostile the objects a test leaks, the run ends within a bound, with no
    internal error and no traceback of the plugin's, and the ordinary leak beside them
    (in the same test and in the next one) is still caught."""
    body = "".join(f"    KEEP.append({expression})\n" for expression in objects)
    leaky.makepyfile(
        test_it=HOSTILE_PRELUDE
        + f"\ndef test_hostile():\n{body}    leakylib.append_thing()\n"
        + "\ndef test_real_leak():\n    leakylib.append_thing()\n"
        + "\ndef test_clean():\n    pass\n"
    )
    result = leaky.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--refleak",
        "--refleak-report=report.json",
        *workers,
        timeout=120,
    )
    no_traceback(result)
    assert "pytest_refleak" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=2, passed=1)
    tests = {t["nodeid"]: t for t in read_json(leaky.path / "report.json")["tests"]}
    assert tests["test_it.py::test_real_leak"]["verdict"] == "leaked"
    hostile = tests["test_it.py::test_hostile"]
    assert hostile["verdict"] == "leaked"
    assert "Thing" in [t["name"] for t in hostile["types"]]


# -- objects that lie about their class ---------------------------------------------------

PROXIED = """
import leakylib

class Proxy:
    '''Claims to be what it wraps, as wrapt's and lazy-object-proxy's proxies do.'''
    __slots__ = ("__wrapped__",)
    def __init__(self, wrapped):
        object.__setattr__(self, "__wrapped__", wrapped)
    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "__wrapped__"), name)
    @property
    def __class__(self):
        return type(object.__getattribute__(self, "__wrapped__"))

REGISTRY = Proxy([])

def test_it():
    REGISTRY.append(leakylib.Thing())
"""


def test_chain_through_a_proxy(leaky: pytest.Pytester) -> None:
    """A proxy claiming to be the list it wraps is looked at as what it is: the chain
    goes through its slot to the list."""
    leaky.makepyfile(test_it=PROXIED)
    result = run(leaky, "--refleak")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*kept alive by test_it.REGISTRY.__wrapped__[[]*]"])
    no_traceback(result)


BROKEN_CLASSES = """
import importlib.util, sys, weakref
import leakylib

KEEP = []

class Raising:
    def __getattribute__(self, name):
        raise RuntimeError("no attributes for you: " + name)

class Target:
    pass

def dead_proxy():
    target = Target()
    proxy = weakref.proxy(target)
    del target
    return proxy

def lazy_module():
    # Loading it writes a file: looking at it must not load it.
    spec = importlib.util.spec_from_file_location("lazy_target", "lazy_target.py")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lazy_target_" + str(len(KEEP))] = module
    loader.exec_module(module)
    return module

def test_it():
    KEEP.append(Raising())
    KEEP.append(dead_proxy())
    KEEP.append(lazy_module())
    leakylib.append_thing()
"""


def test_objects_that_break_isinstance_hide_no_leak(leaky: pytest.Pytester) -> None:
    """A raising ``__getattribute__``, a dead weak proxy and a lazily loaded module are
    looked at by their real type: the test is judged, the leak beside them is caught,
    and the lazy module is never loaded."""
    leaky.makepyfile(
        test_it=BROKEN_CLASSES,
        lazy_target="open('loaded.txt', 'w').write('loaded')\n",
    )
    leaky.makeconftest(
        """
        def pytest_refleak_ignore(item):
            return [type(None)]
        """
    )
    result = run(leaky, "--refleak", "--refleak-report=report.json")
    result.assert_outcomes(failed=1)
    no_traceback(result)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_it - *"])
    leak = read_json(leaky.path / "report.json")["tests"][0]
    assert {"Thing", "Raising", "ProxyType"} <= {t["name"] for t in leak["types"]}
    assert not (leaky.path / "loaded.txt").exists()


# -- small leaks that look like pytest's buffers ------------------------------------------

SMALL_LISTS = """
import collections, itertools, logging
import pytest

SUBSCRIBERS = collections.defaultdict(list)
COUNTER = itertools.count()
KEEP = []

@pytest.mark.parametrize("n", range(6))
def test_subscribers(n):
    logging.getLogger("app").warning("subscribing %d", n)
    SUBSCRIBERS[next(COUNTER)]

@pytest.mark.parametrize("n", range(6))
def test_empty(n):
    logging.getLogger("app").warning("keeping %d", n)
    KEEP.append([])

@pytest.mark.parametrize("n", range(6))
def test_one_string(n):
    KEEP.append(["text %d" % n])

def test_only_logs():
    logging.getLogger("app").warning("nothing kept")
"""


def test_small_lists_are_leaks_whatever_pytest_buffers(pytester: pytest.Pytester) -> None:
    """An empty list or a list of one string that the test keeps is its leak, also while
    pytest's logging plugin makes buffers (whose hidden lists, before Python 3.12, look
    alike: they are told apart by nothing holding them); a test that only logs is clean."""
    pytester.makepyfile(test_it=SMALL_LISTS)
    result = run(pytester, "--refleak")
    result.assert_outcomes(failed=18, passed=1)
    no_traceback(result)


# -- the project's own mistakes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("conftest", "message"),
    [
        (
            "def pytest_refleak_ignore(item):\n    raise ValueError('my bad')\n",
            "the pytest_refleak_ignore hook raised ValueError: my bad",
        ),
        (
            "def pytest_refleak_ignore(item):\n    return 5\n",
            "the pytest_refleak_ignore hook returned 5: expected an iterable of objects and types, or None",
        ),
        (
            "def pytest_refleak_clear_caches(config):\n    raise KeyError('cache')\n",
            "the pytest_refleak_clear_caches hook raised KeyError: 'cache'",
        ),
    ],
    ids=["ignore-raises", "ignore-returns-5", "clear-caches-raises"],
)
def test_hook_errors_are_the_projects(leaky: pytest.Pytester, conftest: str, message: str) -> None:
    """A hook of the project's that raises or returns nonsense is named with the
    project's own frames, not called a bug of the plugin's; the run ends with exit
    code 4 and the other tests are still checked."""
    leaky.makeconftest(conftest)
    leaky.makepyfile(test_it=LEAK + "def test_clean():\n    pass\n")
    result = run(leaky, "--refleak")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([f"NOT CHECKED test_it.py::test_leak - {message}"])
    if "raised" in message:
        result.stdout.fnmatch_lines(["  conftest.py:2, in pytest_refleak_*", "    raise *"])
    assert "bug in pytest-refleak" not in result.stdout.str()
    no_traceback(result)


def test_pytest_exit_with_any_code_marks_the_report_interrupted(leaky: pytest.Pytester) -> None:
    """pytest.exit() stops the session whatever return code it gives: the report says
    the run was interrupted."""
    leaky.makepyfile(
        test_it=LEAK + "import pytest\ndef test_stop():\n    pytest.exit('enough', returncode=3)\n"
    )
    result = run(leaky, "--refleak", "--refleak-report=report.json")
    assert result.ret == 3
    report = read_json(leaky.path / "report.json")
    assert report["interrupted"] is True
    assert [t["nodeid"] for t in report["tests"]] == ["test_it.py::test_leak"]


def test_a_test_that_stops_tracemalloc_is_said_so(leaky: pytest.Pytester) -> None:
    """A test that stops tracemalloc is the test's doing: it is judged without the
    traces, or not checked with a note saying why, never called a bug of the plugin's.
    (How a stopped tracemalloc is measured is the collector's; this pins the message.)"""
    leaky.makepyfile(
        test_it="import tracemalloc\nKEEP = []\ndef test_stop():\n"
        "    KEEP.append([])\n    tracemalloc.stop()\n"
    )
    result = run(leaky, "--refleak")
    out = result.stdout.str()
    assert (
        "NOT CHECKED test_it.py::test_stop - the test stopped tracemalloc, which its traced "
        "re-run needs" in out
    ) or "LEAKED test_it.py::test_stop" in out
    assert "bug in pytest-refleak" not in out
    no_traceback(result)


def test_bad_marker_under_xdist_reaches_the_user(pytester: pytest.Pytester) -> None:
    """A malformed marker found by a pytest-xdist worker is said, naming the test and
    the argument, and the run exits with code 4: no internal error."""
    pytester.makepyfile(
        test_m="import pytest\n@pytest.mark.refleak(tolerance=3)\ndef test_marked():\n    pass\n"
        "def test_other():\n    pass\n"
    )
    result = run(pytester, "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["*refleak: test_m.py::test_marked: unknown refleak marker argument 'tolerance'*"]
    )
    no_traceback(result)


# -- pytest-timeout -------------------------------------------------------------------------

SLOW_LEAK = """
import time
import leakylib
def test_slow_leak():
    time.sleep(1.0)
    leakylib.append_thing()
def test_clean():
    pass
"""


@pytest.mark.parametrize(
    "args",
    [["--timeout=2.5"], ["--timeout=2.5", "--timeout-method=thread"], ["--timeout=2.5", "-n", "2"]],
    ids=["signal", "thread", "xdist"],
)
def test_re_runs_do_not_count_against_the_tests_time_limit(
    leaky: pytest.Pytester, args: list[str]
) -> None:
    """pytest-timeout's limit is the test's: a test well within it is checked, however
    long its re-runs take together, and no timer ends the session or loses a record."""
    pytest.importorskip("pytest_timeout")
    leaky.makepyfile(test_it=SLOW_LEAK)
    result = run(leaky, "--refleak", "--refleak-report=report.json", *args)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_slow_leak - *Thing*"])
    no_traceback(result)
    tests = {t["nodeid"]: t["verdict"] for t in read_json(leaky.path / "report.json")["tests"]}
    assert tests == {"test_it.py::test_slow_leak": "leaked", "test_it.py::test_clean": "clean"}


def test_a_timeout_in_a_re_run_is_no_internal_error(leaky: pytest.Pytester) -> None:
    """A limit on the test function only is set again for each re-run; a re-run that
    runs over it makes the test not checked, and the session goes on."""
    pytest.importorskip("pytest_timeout")
    leaky.makepyfile(
        test_it="""
        import time
        import pytest
        import leakylib
        RUNS = []
        @pytest.mark.timeout(1, func_only=True)
        def test_slower_each_time():
            RUNS.append(1)
            time.sleep(0.0 if len(RUNS) == 1 else 3.0)
            leakylib.append_thing()
        def test_real_leak():
            leakylib.append_thing()
        """
    )
    result = run(leaky, "--refleak")
    result.stdout.fnmatch_lines(["NOT CHECKED test_it.py::test_slower_each_time - *"])
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_real_leak - *"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_large_leak_costs_time_in_proportion(leaky: pytest.Pytester) -> None:
    """A test leaking ten thousand lists is judged and explained in a time that grows
    with the leak, not with its square: the CPU time of the whole run is bounded."""
    resource = pytest.importorskip("resource")  # POSIX's
    leaky.makepyfile(
        test_it="KEEP = []\ndef test_big():\n    KEEP.append([[] for _ in range(10_000)])\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run(leaky, "--refleak")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_big - 10001 objects/run*"])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # About 18 s on a loaded machine; the quadratic search of before took 57 s.
    assert cpu < 35, cpu


def test_a_leaked_frame_is_named_as_one(leaky: pytest.Pytester) -> None:
    """A leak hanging from a frame is headlined ``frame``, not after the generators of
    the pytest calls that frame keeps alive."""
    leaky.makepyfile(
        test_it="import sys\nKEEP = []\ndef test_it():\n    KEEP.append(sys._getframe())\n"
    )
    result = run(leaky, "--refleak")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_it - * frame ×* via test_it.KEEP"])


# -- other threads ---------------------------------------------------------------------------

BACKGROUND_THREAD = """
import collections, threading, time
import pytest

EVENTS = collections.deque(maxlen=200)
HISTORY = []

@pytest.fixture(scope="session", autouse=True)
def ticker():
    stop = threading.Event()
    def tick():
        n = 0
        while not stop.is_set():
            EVENTS.append({"seq": n, "at": time.time(), "tags": [str(n)]})
            HISTORY.append("event %d of the session" % n)
            n += 1
            stop.wait(0.001)
    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()
"""

WHILE_IT_TICKS = """
import threading, time
import pytest

@pytest.mark.parametrize("n", range(6))
def test_clean(n):
    assert [str(i) for i in range(100)]
    time.sleep(0.02)

class Node:
    pass

KEEP = []
NAMES = set()

def test_keeps_an_object():
    KEEP.append(Node())

def test_keeps_a_string():
    NAMES.add("page %d of the test: " % len(NAMES) + "text " * 400)

def test_keeps_what_its_own_thread_made():
    thread = threading.Thread(target=lambda: KEEP.append({"made": [len(KEEP)]}))
    thread.start()
    thread.join()
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_what_a_thread_already_running_keeps_is_not_the_test_s(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    """A session fixture's thread that fills a bounded deque and an unbounded list while
    the tests run leaves every clean test clean; the tests that keep an object, a
    2 KB string, or what a thread they started themselves made, still leak.  (A
    60-byte string per run beside this thread can pass: see ``verdict.disturbed``.)"""
    pytester.makeconftest(BACKGROUND_THREAD)
    pytester.makepyfile(test_it=WHILE_IT_TICKS)
    result = run(pytester, "--refleak", "--refleak-report=report.json", *workers)
    no_traceback(result)
    tests = {t["nodeid"]: t["verdict"] for t in read_json(pytester.path / "report.json")["tests"]}
    leaks = {
        f"test_it.py::{name}"
        for name in (
            "test_keeps_an_object",
            "test_keeps_a_string",
            "test_keeps_what_its_own_thread_made",
        )
    }
    assert {nodeid for nodeid, verdict in tests.items() if verdict != "clean"} == leaks
    assert len(tests) == 9
    result.stdout.fnmatch_lines(["LEAKED test_it.py::test_keeps_an_object - *Node*"])


POOL_WORK = """
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(max_workers=1)
POOL.submit(int).result()  # its worker waits for work before any test runs
KEEP = []

def keep_a_record():
    KEEP.append({"made in the pool": [len(KEEP)], "note": "record %d" % len(KEEP)})

def test_keeps_what_a_running_pool_made():
    POOL.submit(keep_a_record).result()

def test_uses_a_running_pool():
    assert POOL.submit(sum, range(100)).result() == 4950
"""


def test_work_handed_to_a_waiting_pool_is_the_test_s(pytester: pytest.Pytester) -> None:
    """A worker that was waiting for work before the test runs the test's function:
    what that function keeps is the test's leak (the worker's thread was running
    before the test, but the project's code it runs was handed to it)."""
    pytester.makepyfile(test_it=POOL_WORK)
    result = run(pytester, "--refleak", "--refleak-report=report.json")
    no_traceback(result)
    result.stdout.fnmatch_lines(
        ["LEAKED test_it.py::test_keeps_what_a_running_pool_made - *dict*via test_it.KEEP*"]
    )
    tests = {t["nodeid"]: t["verdict"] for t in read_json(pytester.path / "report.json")["tests"]}
    if sys.version_info < (3, 11) and tests["test_it.py::test_uses_a_running_pool"] != "clean":
        # Seen on 3.10 (stop 27): the Future's condition, +168 B, still held by
        # the worker's running frame for a moment after it set the result.
        pytest.xfail("3.10: what a worker's running frame still holds reads as kept")
    assert tests["test_it.py::test_uses_a_running_pool"] == "clean"
