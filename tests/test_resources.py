"""Resources a test leaves behind: each kind caught, and each harmless case left alone.

Every leak here grows on every run; every harmless case either puts back what it
took, or takes it once (a pool, a wider-scoped fixture) and reuses it.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from conftest import run

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc (Linux)"
)

#: The code under test: what it leaks lives outside the test files.
RESLIB = textwrap.dedent(
    '''
    import concurrent.futures
    import os
    import signal
    import socket
    import subprocess
    import sys
    import threading

    stop = threading.Event()
    _files = []
    _sockets = []
    children = []
    _pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)


    def worker():
        stop.wait(60)


    def start_worker():
        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        return thread


    def run_worker_and_join():
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()


    def use_pool():
        return _pool.submit(sum, [1, 2]).result()


    def keep_file(path):
        _files.append(open(path, "w"))


    def open_descriptor(path):
        return os.open(path, os.O_RDONLY)


    def keep_server_socket():
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        _sockets.append(server)


    def spawn_sleeper():
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


    def on_signal(signum, frame):
        pass


    def install_handler():
        signal.signal(signal.SIGUSR1, on_signal)


    def install_chained_handler():
        previous = signal.getsignal(signal.SIGUSR1)
        def handler(signum, frame):
            if callable(previous):
                previous(signum, frame)
        signal.signal(signal.SIGUSR1, handler)


    _installed = False


    def install_handler_once():
        global _installed
        if not _installed:
            signal.signal(signal.SIGUSR2, on_signal)
            _installed = True


    WORKERS = []


    def keep_worker():
        WORKERS.append(start_worker())
    '''
)


@pytest.fixture
def reslib(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(reslib=RESLIB)
    return pytester


def assert_resource_leak(result: pytest.RunResult, test: str, *lines: str) -> None:
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"LEAKED test_it.py::{test} - *"])
    for line in lines:
        result.stdout.fnmatch_lines([line])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


# -- threads ---------------------------------------------------------------------------


def test_thread_left_running(reslib: pytest.Pytester) -> None:
    """A thread started on every run and never stopped is named, with its target and
    the line that started it."""
    reslib.makepyfile(test_it="import reslib\ndef test_it():\n    reslib.start_worker()\n")
    result = run(reslib, "--refleak")
    assert_resource_leak(
        result,
        "test_it",
        "*1 thread left running: Thread-* (target reslib.worker), started at reslib.py:22",
    )


def test_joined_thread_and_bounded_pool_are_not_leaks(reslib: pytest.Pytester) -> None:
    """A thread started and joined, and a module-level pool that starts its threads
    once and reuses them, leave nothing behind."""
    reslib.makepyfile(
        test_it="""
        import reslib
        def test_joined():
            reslib.run_worker_and_join()
        def test_pool():
            assert reslib.use_pool() == 3
        """
    )
    result = run(reslib, "--refleak", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*left running*")


def test_thread_of_a_module_scoped_fixture_is_not_the_tests(reslib: pytest.Pytester) -> None:
    """A thread a module-scoped fixture starts in its setup and stops in its teardown
    belongs to the fixture, not to the test that happened to set it up."""
    reslib.makepyfile(
        test_it="""
        import threading, pytest, reslib
        @pytest.fixture(scope="module")
        def server():
            stop = threading.Event()
            thread = threading.Thread(target=stop.wait, args=(60,))
            thread.start()
            yield
            stop.set()
            thread.join()
        def test_first(server):
            pass
        def test_second(server):
            pass
        """
    )
    result = run(reslib, "--refleak")
    result.assert_outcomes(passed=2)


# -- file descriptors --------------------------------------------------------------------


@linux_only
def test_file_kept_open_in_a_module_list(reslib: pytest.Pytester) -> None:
    reslib.makepyfile(
        test_it="import reslib\ndef test_it(tmp_path):\n    reslib.keep_file(tmp_path / 'kept.txt')\n"
    )
    result = run(reslib, "--refleak")
    assert_resource_leak(result, "test_it", "*1 file descriptor left open: fd * → */kept.txt*")


@linux_only
def test_descriptor_never_closed(reslib: pytest.Pytester) -> None:
    """An ``os.open`` without ``os.close`` leaves no Python object behind: only the
    descriptor tells."""
    reslib.makepyfile(
        test_it="import reslib\ndef test_it():\n    reslib.open_descriptor(reslib.__file__)\n"
    )
    result = run(reslib, "--refleak")
    assert_resource_leak(result, "test_it", "*1 file descriptor left open: fd * → reslib.py*")


@linux_only
def test_socket_never_closed(reslib: pytest.Pytester) -> None:
    reslib.makepyfile(test_it="import reslib\ndef test_it():\n    reslib.keep_server_socket()\n")
    result = run(reslib, "--refleak")
    assert_resource_leak(
        result, "test_it", "*1 file descriptor left open: fd * → TCP socket listening on 127.0.0.1:*"
    )


@linux_only
def test_closed_files_captured_output_and_fixture_files_are_not_leaks(
    reslib: pytest.Pytester,
) -> None:
    """Files closed by the test, pytest's capturing fixtures, and a file a module-scoped
    fixture holds open are not the test's."""
    reslib.makepyfile(
        test_it="""
        import os, sys, pytest
        @pytest.fixture(scope="module")
        def log(tmp_path_factory):
            with open(tmp_path_factory.mktemp("log") / "log.txt", "w") as file:
                yield file
        def test_closed(tmp_path):
            with open(tmp_path / "a.txt", "w") as file:
                file.write("x")
            os.close(os.open(tmp_path / "a.txt", os.O_RDONLY))
        def test_capfd(capfd):
            os.write(1, b"out")
            assert capfd.readouterr().out == "out"
        def test_capsys(capsys):
            print("out")
            assert capsys.readouterr().out == "out\\n"
        def test_fixture_file(log):
            log.write("x")
        """
    )
    result = run(reslib, "--refleak")
    result.assert_outcomes(passed=4)


# -- child processes ---------------------------------------------------------------------


def _keep_a_sleeper_per_run(reslib: pytest.Pytester) -> None:
    """A test that starts a child on every run and keeps it in a module list; the
    children are killed when the session ends."""
    reslib.makeconftest(
        """
        import reslib
        def pytest_unconfigure(config):
            for child in reslib.children:
                child.kill()
                child.wait()
        """
    )
    reslib.makepyfile(
        test_it="import reslib\ndef test_it():\n    reslib.children.append(reslib.spawn_sleeper())\n"
    )


@linux_only
def test_child_never_waited_for(reslib: pytest.Pytester) -> None:
    """A child process started on every run and never waited for is named by pid, state
    and command line."""
    _keep_a_sleeper_per_run(reslib)
    result = run(reslib, "--refleak")
    assert_resource_leak(
        result,
        "test_it",
        "*1 child process never waited for: pid * (running): * -c import time; time.sleep(60)",
    )


@linux_only
def test_child_waited_for_is_not_a_leak(reslib: pytest.Pytester) -> None:
    reslib.makepyfile(
        test_it="""
        import reslib
        def test_it():
            child = reslib.spawn_sleeper()
            child.kill()
            child.wait()
        """
    )
    run(reslib, "--refleak").assert_outcomes(passed=1)


# -- process-wide state ------------------------------------------------------------------


def test_signal_handler_left_installed(reslib: pytest.Pytester) -> None:
    """A handler installed on every run and never put back is state left changed, even
    when it is the same function every time."""
    reslib.makepyfile(test_it="import reslib\ndef test_it():\n    reslib.install_handler()\n")
    result = run(reslib, "--refleak")
    assert_resource_leak(
        result,
        "test_it",
        "*process state left changed: signal handler for SIGUSR1: SIG_DFL → reslib.on_signal*",
    )


def test_signal_handler_put_back_or_installed_once_is_not_a_leak(reslib: pytest.Pytester) -> None:
    """A handler the test puts back, and one a library installs once on first use, are
    not the test's leak; the one installed once is still installed afterwards."""
    reslib.makepyfile(
        test_it="""
        import signal, reslib
        def test_restored():
            old = signal.signal(signal.SIGUSR1, reslib.on_signal)
            signal.signal(signal.SIGUSR1, old)
        def test_once():
            reslib.install_handler_once()
        def test_still_installed():
            assert signal.getsignal(signal.SIGUSR2) is reslib.on_signal
        """
    )
    result = run(reslib, "--refleak", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_excepthook_left_replaced(reslib: pytest.Pytester) -> None:
    reslib.makepyfile(
        test_it="import sys\ndef test_it():\n    sys.excepthook = lambda *args: None\n"
    )
    result = run(reslib, "--refleak")
    assert_resource_leak(
        result, "test_it", "*process state left changed: sys.excepthook: * → test_it.test_it.<locals>.<lambda>*"
    )


# -- asyncio tasks -----------------------------------------------------------------------

ASYNC_TESTS = """
import asyncio, pytest

kept = set()

async def forever():
    await asyncio.sleep(60)

async def quick():
    pass

@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.{mark}
async def test_pending():
    asyncio.get_running_loop().create_task(forever())

@pytest.mark.{mark}
async def test_kept():
    task = asyncio.get_running_loop().create_task(quick())
    kept.add(task)
    await task

@pytest.mark.{mark}
async def test_awaited():
    await asyncio.get_running_loop().create_task(quick())
"""


@pytest.mark.parametrize("plugin", ["asyncio", "anyio"])
def test_asyncio_tasks(pytester: pytest.Pytester, plugin: str) -> None:
    """A task still pending when the test's loop is shut down, and a finished one kept in
    a module-level set, are leaks; an awaited task is not."""
    pytest.importorskip("pytest_asyncio" if plugin == "asyncio" else "anyio")
    pytester.makepyfile(test_it=ASYNC_TESTS.format(mark=plugin))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = run(pytester, "--refleak", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*1 asyncio task still pending when the event loop was shut down: "
            "coroutine forever (cancelled), defined at test_it.py:5*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*1 asyncio task left alive: coroutine quick (finished), defined at test_it.py:8*"]
    )
    for test in ("test_pending", "test_kept"):
        result.stdout.fnmatch_lines([f"LEAKED test_it.py::{test} - *"])


def test_asyncio_tasks_drawn(pytester: pytest.Pytester) -> None:
    """A task kept in a module's set is drawn from its holders; tasks cancelled when
    their loop shut down have none left, and their picture says so."""
    pytest.importorskip("pytest_asyncio")
    pytester.makepyfile(test_it=ASYNC_TESTS.format(mark="asyncio"))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = run(pytester, "--refleak", "-p", "no:randomly", "--refleak-graphs=pictures")
    result.assert_outcomes(passed=1, failed=2)
    pictures = pytester.path / "pictures"
    kept = next(pictures.glob("test_it.py_test_kept-*.tasks.dot")).read_text()
    assert 'label="Task' in kept or 'label="_asyncio.Task' in kept
    assert '[label="kept"' in kept
    result.stdout.fnmatch_lines(["*picture of what holds the leaked tasks: pictures/*.tasks.dot"])
    pending = next(pictures.glob("test_it.py_test_pending-*.pending-tasks.dot")).read_text()
    assert "still pending when their event loop was shut down" in pending
    assert not list(pictures.glob("test_it.py_test_awaited*"))


# -- the switch ----------------------------------------------------------------------------


def test_resources_none_checks_memory_only(reslib: pytest.Pytester) -> None:
    """--refleak-resources=none: a descriptor leak with no Python object goes unnoticed;
    choosing a kind checks only that kind."""
    reslib.makepyfile(
        test_it="import reslib\ndef test_it():\n    reslib.open_descriptor(reslib.__file__)\n"
    )
    run(reslib, "--refleak", "--refleak-resources=none").assert_outcomes(passed=1)
    run(reslib, "--refleak", "--refleak-resources=threads").assert_outcomes(passed=1)
    if sys.platform.startswith("linux"):
        run(reslib, "--refleak", "--refleak-resources=fds").assert_outcomes(failed=1)


def test_header_names_the_resources_checked(reslib: pytest.Pytester) -> None:
    reslib.makepyfile(test_it="def test_it():\n    pass\n")
    result = run(reslib, "--refleak", "--refleak-resources=threads,state")
    result.stdout.fnmatch_lines(["refleak: checking every test (*resources: threads, state*)"])


# -- report file, JUnit XML and baseline -----------------------------------------------------


@linux_only
def test_resource_leaks_in_report_junit_and_baseline(reslib: pytest.Pytester) -> None:
    """A resource leak is in the JSON report and the JUnit properties like a memory leak;
    the baseline records it per kind, accepts it, and fails it once it grows."""
    import json
    import xml.etree.ElementTree as ET

    one = "import reslib\ndef test_it():\n    reslib.open_descriptor(reslib.__file__)\n"
    reslib.makepyfile(test_it=one)
    result = run(reslib, "--refleak", "--refleak-report=report.json", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    record = json.loads((reslib.path / "report.json").read_text())["tests"][0]
    assert record["verdict"] == "leaked"
    assert [(r["kind"], r["per_run"]) for r in record["resources"]] == [("fds", 1)]
    assert record["resources"][0]["items"][0].endswith("→ reslib.py")
    properties = {
        p.get("name"): p.get("value") for p in ET.parse(reslib.path / "junit.xml").iter("property")
    }
    assert properties["refleak_resources_per_run"] == "fds: 1"

    baseline = ("--refleak", "--refleak-baseline=leaks.json")
    run(reslib, *baseline, "--refleak-baseline-update").assert_outcomes(passed=1)
    entry = json.loads((reslib.path / "leaks.json").read_text())["leaks"]["test_it.py::test_it"]
    assert entry["resources"] == {"fds": 1}
    run(reslib, *baseline).assert_outcomes(passed=1)

    reslib.makepyfile(test_it=one + "    reslib.open_descriptor(reslib.__file__)\n")
    result = run(reslib, *baseline)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*a known leak in the baseline, but it grew:*", "*2 fds/run, recorded 1*"])


# -- the right holder ----------------------------------------------------------------------

HOLDERS = """
import signal, threading

stop = threading.Event()

class Worker:
    def loop(self):
        stop.wait(60)

def start():
    threading.Thread(target=Worker().loop, daemon=True).start()

class Payload:
    pass

def remember():
    handler = signal.getsignal(signal.SIGUSR1)
    if not hasattr(handler, "payloads"):
        payloads = []
        def handler(signum, frame):
            return payloads
        handler.payloads = payloads
        signal.signal(signal.SIGUSR1, handler)
    handler.payloads.append(Payload())
"""


def test_holders_out_of_the_collectors_sight_are_named(pytester: pytest.Pytester) -> None:
    """What a running thread and a signal handler hold is not blamed on a missing
    Py_DECREF: the thread and the handler are named (an object truly held by native
    code still is blamed: see test_explain.py)."""
    pytester.makepyfile(holders=HOLDERS)
    pytester.makepyfile(
        test_it="""
        import holders
        def test_thread():
            holders.start()
        def test_signal():
            holders.remember()
        """
    )
    # -v: chains for more types, the thread's bound method among them on 3.11+.  On
    # 3.10, since the traced re-run leaves out what the earlier re-runs' threads made
    # meanwhile (stop 27), the bound method's chain is not found; the memory that
    # thread holds is still named as its (``held by the running thread``).
    result = run(pytester, "--refleak", "-p", "no:randomly", "-v", "-k", "thread")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["* by the running thread 'Thread-*"])
    result.stdout.no_fnmatch_line("*Py_DECREF*")
    # Without the state check, which puts the old handler back before each re-run, the
    # handler stays and keeps what every run adds: held from the signal module only.
    result = run(pytester, "--refleak", "--refleak-resources=none", "-v", "-k", "signal")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*kept alive by the handler of SIGUSR1 (signal.signal) → remember.<locals>.handler()*"]
    )
    result.stdout.no_fnmatch_line("*Py_DECREF*")


# -- pictures ------------------------------------------------------------------------------


def test_thread_drawn_from_its_holders(reslib: pytest.Pytester) -> None:
    """A leaked thread gets a picture of what holds its Thread object (here a module's
    list), not of threading's own registry or the frames it runs."""
    reslib.makepyfile(test_it="import reslib\ndef test_it():\n    reslib.keep_worker()\n")
    result = run(reslib, "--refleak", "--refleak-graphs=pictures")
    assert_resource_leak(result, "test_it")
    name = "test_it.py_test_it-889b5006.threads.dot"
    result.stdout.fnmatch_lines([f"*picture of what holds the leaked threads: pictures/{name}"])
    text = (reslib.path / "pictures" / name).read_text()
    assert 'label="Thread\\n' in text
    assert '[label="WORKERS"' in text
    assert 'label="module\\nreslib"' in text
    assert "_active" not in text


@linux_only
def test_descriptor_without_an_owner_gets_a_note(reslib: pytest.Pytester) -> None:
    """A descriptor no Python object owns has nothing to draw: its picture says so."""
    reslib.makepyfile(
        test_it="import reslib\ndef test_it():\n    reslib.open_descriptor(reslib.__file__)\n"
    )
    result = run(reslib, "--refleak", "--refleak-graphs=pictures")
    assert_resource_leak(result, "test_it")
    name = "test_it.py_test_it-889b5006.fds.dot"
    result.stdout.fnmatch_lines([f"*picture of what holds the leaked fds: pictures/{name}"])
    text = (reslib.path / "pictures" / name).read_text()
    assert "1 file descriptor left open: fd " in text
    assert "no file or socket object owns it" in text


@linux_only
def test_file_drawn_from_its_holders(reslib: pytest.Pytester) -> None:
    """A file kept open in a module's list is drawn from its FileIO up to the list."""
    reslib.makepyfile(
        test_it="import reslib\ndef test_it(tmp_path):\n    reslib.keep_file(tmp_path / 'kept.txt')\n"
    )
    result = run(reslib, "--refleak", "--refleak-graphs=pictures")
    assert_resource_leak(result, "test_it")
    text = (reslib.path / "pictures" / "test_it.py_test_it-889b5006.fds.dot").read_text()
    assert 'label="FileIO' in text
    assert '[label="_files"' in text


@linux_only
def test_child_drawn_from_its_holders(reslib: pytest.Pytester) -> None:
    """A child never waited for is drawn from its Popen object up to the module list
    that keeps it."""
    _keep_a_sleeper_per_run(reslib)
    result = run(reslib, "--refleak", "--refleak-graphs=pictures")
    assert_resource_leak(result, "test_it")
    name = "test_it.py_test_it-889b5006.processes.dot"
    result.stdout.fnmatch_lines([f"*picture of what holds the leaked processes: pictures/{name}"])
    text = (reslib.path / "pictures" / name).read_text()
    assert 'label="Popen' in text
    assert '[label="children"' in text
