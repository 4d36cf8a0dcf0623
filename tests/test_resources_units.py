"""The resource snapshots on their own, without pytest's run protocol: what each kind
sees when something is left behind, and that it sees nothing when it is not."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator

import pytest

from pytest_refleak import resources
from pytest_refleak.resources import Evidence, Found, Watch
from pytest_refleak.settings import RESOURCE_KINDS, SettingsError, resolve

linux_only = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="reads /proc (Linux)"
)


@pytest.fixture
def watch() -> Watch:
    return Watch(resources.KINDS)


def _kinds(found: tuple[Found, ...]) -> list[str]:
    return [f.kind for f in found]


def test_nothing_left_is_nothing_found(watch: Watch) -> None:
    """A run that opens and closes, starts and joins, leaves nothing to report."""
    before = watch.snapshot()
    with watch.watching():
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
        with tempfile.TemporaryFile() as file:
            file.write(b"x")
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        asyncio.run(asyncio.sleep(0))
    assert watch.compare(before, watch.snapshot()) == ()


def _wait(event: threading.Event) -> None:
    event.wait(10)


def test_a_thread_left_running_is_named_with_target_and_start_site(watch: Watch) -> None:
    """A thread still running after the run: its name, its target and the line that started it."""
    stop = threading.Event()
    before = watch.snapshot()
    with watch.watching():
        thread = threading.Thread(target=_wait, args=(stop,), name="waiter")
        thread.start()
        line = sys._getframe().f_lineno - 1
    try:
        found = watch.compare(before, watch.snapshot())
    finally:
        stop.set()
        thread.join()
    assert _kinds(found) == ["threads"]
    assert found[0].grew == 1
    sentence = found[0].sentence()
    assert sentence == (
        "1 thread left running: waiter (target test_resources_units._wait), "
        f"started at {resources._short(__file__)}:{line}"
    )


def test_a_thread_that_ends_on_its_own_right_after_is_given_a_moment(watch: Watch) -> None:
    """A thread finishing just after the run is not left running."""
    before = watch.snapshot()
    threading.Thread(target=lambda: threading.Event().wait(0.05)).start()
    assert watch.compare(before, watch.snapshot()) == ()


def test_start_sites_are_noted_only_while_watching(watch: Watch) -> None:
    """Thread.start is wrapped only inside ``watching()`` and put back after."""
    original = threading.Thread.start
    with watch.watching():
        assert threading.Thread.start is not original
    assert threading.Thread.start is original


@linux_only
def test_files_and_pipes_left_open_are_named(watch: Watch, tmp_path: os.PathLike[str]) -> None:
    """A file object and a pipe left open: the path and 'pipe', by descriptor number."""
    path = os.path.join(tmp_path, "kept.txt")
    before = watch.snapshot()
    file = open(path, "w")  # noqa: SIM115 - left open on purpose
    number = file.fileno()
    read, write = os.pipe()
    try:
        found = watch.compare(before, watch.snapshot())
    finally:
        file.close()
        os.close(read)
        os.close(write)
    assert _kinds(found) == ["fds"]
    assert found[0].grew == 3
    text = found[0].sentence()
    assert text.startswith("3 file descriptors left open: ")
    assert f"fd {number} → " in text
    assert "kept.txt" in text
    assert text.count("→ pipe") == 2


@linux_only
def test_a_socket_is_named_by_protocol_and_address(watch: Watch) -> None:
    """A listening TCP socket names its address."""
    before = watch.snapshot()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        found = watch.compare(before, watch.snapshot())
    finally:
        server.close()
    assert _kinds(found) == ["fds"]
    text = found[0].sentence()
    assert f"127.0.0.1:{port}" in text, text
    assert "socket" in text


@linux_only
def test_describing_a_socket_never_closes_it() -> None:
    """Asking the socket itself for its addresses leaves the descriptor open."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        text = resources._socket_by_descriptor(sock.fileno())
        assert "IPv4 datagram socket" in text
        sock.getsockname()  # still open
    finally:
        sock.close()


def test_address_from_the_kernel_table() -> None:
    """/proc/net/tcp writes addresses in host byte order, ports in hex."""
    assert resources._address("0100007F:1F90") == "127.0.0.1:8080"
    assert resources._address("00000000000000000000000001000000:0050") == "[::1]:80"


@linux_only
def test_a_child_never_waited_for_is_found_with_its_command(watch: Watch) -> None:
    """A running child left behind is named by pid, state and command line; once waited
    for, it is gone."""
    before = watch.snapshot()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # Its command line is there once it has started the program.
        for _ in range(200):
            with open(f"/proc/{child.pid}/cmdline", "rb") as file:
                if b"sleep" in file.read():
                    break
            threading.Event().wait(0.01)
        found = watch.compare(before, watch.snapshot())
    finally:
        child.kill()
        child.wait()
    assert _kinds(found) == ["processes"]
    assert found[0].sentence().startswith(f"1 child process never waited for: pid {child.pid} (running): ")
    assert "time.sleep(30)" in found[0].sentence()
    assert watch.compare(before, watch.snapshot()) == ()


@linux_only
def test_an_exited_child_not_waited_for_is_a_zombie(watch: Watch) -> None:
    before = watch.snapshot()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        for _ in range(200):
            stat = resources._stat(child.pid)
            if stat is not None and stat[0] == "Z":
                break
            threading.Event().wait(0.02)
        found = watch.compare(before, watch.snapshot())
    finally:
        child.wait()
    assert _kinds(found) == ["processes"]
    assert "(exited, not waited for)" in found[0].sentence()


def test_children_of_other_processes_are_not_ours() -> None:
    """A process started by a child of ours is not our child."""
    children = resources._Children()
    before = children.current()
    code = "import subprocess,sys; p=subprocess.Popen([sys.executable,'-c','pass']); p.wait()"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert children.current() == before


_kept: set[asyncio.Task[None]] = set()


async def _poll() -> None:
    await asyncio.sleep(0)


def test_a_task_kept_after_its_loop_closed_is_named(watch: Watch) -> None:
    """A finished task kept in a module-level set: its coroutine and where it is defined."""

    async def main() -> None:
        _kept.add(asyncio.get_running_loop().create_task(_poll()))
        await asyncio.sleep(0.01)

    asyncio.run(main())  # imports whatever asyncio needs first
    _kept.clear()
    before = watch.snapshot()
    asyncio.run(main())
    try:
        found = watch.compare(before, watch.snapshot())
    finally:
        _kept.clear()
    assert _kinds(found) == ["tasks"]
    text = found[0].sentence()
    assert text.startswith("1 asyncio task left alive: coroutine ")
    assert "_poll (finished), defined at" in text


def test_a_task_let_go_is_not_found(watch: Watch) -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_task(_poll())

    asyncio.run(main())
    before = watch.snapshot()
    asyncio.run(main())
    assert watch.compare(before, watch.snapshot()) == ()


def _handler(signum: int, frame: object) -> None:
    pass


def test_a_replaced_signal_handler_and_hook_are_state_changed(watch: Watch) -> None:
    """A handler and a sys hook left replaced are 'state changed', named old → new."""
    before = watch.snapshot()
    old = signal.signal(signal.SIGUSR1, _handler)
    old_hook = sys.excepthook
    sys.excepthook = lambda *args: None
    try:
        after = watch.snapshot()
        found = watch.compare(before, after)
        positions = watch.changed_state(before, after)
        assert watch.restore_state(before, positions) == []
        assert signal.getsignal(signal.SIGUSR1) == old
        assert sys.excepthook is old_hook
    finally:
        signal.signal(signal.SIGUSR1, old)
        sys.excepthook = old_hook
    assert _kinds(found) == ["state"]
    text = found[0].sentence()
    assert text.startswith("process state left changed: ")
    # Its old value differs (exceptiongroup's backport installs one on 3.10).
    assert f"sys.excepthook: {resources._hook_name(old_hook)} → test_resources_units.test_a_replaced" in text
    assert "signal handler for SIGUSR1: SIG_DFL → test_resources_units._handler" in text


def test_a_handler_put_back_is_no_change(watch: Watch) -> None:
    before = watch.snapshot()
    old = signal.signal(signal.SIGUSR2, _handler)
    signal.signal(signal.SIGUSR2, old)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
    assert watch.compare(before, watch.snapshot()) == ()


def test_only_chosen_kinds_are_read() -> None:
    """A kind not chosen is not read at all (its snapshot part is None)."""
    watch = Watch(["threads"])
    snapshot = watch.snapshot()
    assert snapshot.threads is not None
    assert (snapshot.fds, snapshot.tasks, snapshot.processes, snapshot.state) == (None,) * 4
    assert not Watch([])


def test_evidence_needs_growth_on_every_run() -> None:
    """A kind leaks only if the first run and every re-run grew it."""
    thread = Found("threads", 1, ("t",))
    fd = Found("fds", 1, ("f",))
    evidence = Evidence(first=(thread, fd))
    assert evidence.leaked() == ()
    evidence.reruns.append((thread, fd))
    evidence.reruns.append((thread,))
    assert evidence.suspect == frozenset({"threads"})
    assert evidence.leaked() == (thread,)


@pytest.fixture
def no_tasks_module() -> Iterator[None]:
    saved = sys.modules.pop("asyncio.tasks")
    try:
        yield
    finally:
        sys.modules["asyncio.tasks"] = saved


def test_tasks_are_not_read_before_asyncio_is_imported(no_tasks_module: None) -> None:
    assert resources._task_ids() == frozenset()


@pytest.mark.parametrize(
    ("given", "kinds"),
    [
        (None, RESOURCE_KINDS),
        ("all", RESOURCE_KINDS),
        ("none", ()),
        ("fds, threads", ("threads", "fds")),
        ("STATE", ("state",)),
    ],
)
def test_resources_option_is_resolved(given: str | None, kinds: tuple[str, ...]) -> None:
    assert resolve({"refleak_resources": given}, {}).resources == kinds


def test_resources_option_from_ini() -> None:
    assert resolve({}, {"refleak_resources": "tasks"}).resources == ("tasks",)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("sockets", "--refleak-resources: unknown resource kind 'sockets'*"),
        ("all,threads", "--refleak-resources: 'all' and 'none' stand alone*"),
        (",", "--refleak-resources: expected threads, fds, tasks, processes, state*"),
    ],
)
def test_resources_option_rejects_nonsense(given: str, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        resolve({"refleak_resources": given}, {})
    from fnmatch import fnmatch

    assert fnmatch(str(error.value), message), str(error.value)


async def _forever() -> None:
    await asyncio.sleep(100)


def test_a_task_pending_when_the_runner_shuts_its_loop_down_is_found(watch: Watch) -> None:
    """asyncio.Runner cancels what is still pending when it closes: those tasks are
    counted and named, though they are gone by the time the run is over."""

    async def main() -> None:
        asyncio.get_running_loop().create_task(_forever())
        await asyncio.sleep(0)

    before = watch.snapshot()
    with watch.watching():
        asyncio.run(main())
    # The cancelled task may wait for a collection (3.13); the plugin reads after one.
    gc.collect()
    found = watch.compare(before, watch.snapshot())
    assert _kinds(found) == ["pending tasks"]
    assert found[0].sentence().startswith(
        "1 asyncio task still pending when the event loop was shut down: "
        "coroutine _forever (cancelled), defined at "
    )
    assert asyncio.tasks.all_tasks is asyncio.all_tasks


def test_a_task_awaited_is_not_pending_at_shutdown(watch: Watch) -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_task(_poll())

    before = watch.snapshot()
    with watch.watching():
        asyncio.run(main())
    assert watch.compare(before, watch.snapshot()) == ()


def test_unseen_holders_running_thread_and_signal_handler() -> None:
    """A bound method a thread is running, a local of its frame, and a signal handler are
    named; an object none of them holds is not."""
    from pytest_refleak.unseen import unseen_holder

    class Worker:
        def loop(self, event: threading.Event) -> None:
            local = [event]
            event.wait(10)
            del local

    stop = threading.Event()
    worker = Worker()
    method = worker.loop
    thread = threading.Thread(target=method, args=(stop,), name="looper")
    thread.start()
    old = signal.signal(signal.SIGUSR1, _handler)
    try:
        assert unseen_holder(method) == "the running thread 'looper'"
        # The innermost frame that holds it: Event.wait's own.
        assert unseen_holder(stop) == "the running thread 'looper': local 'self' of wait()"
        assert unseen_holder(_handler) == "the handler of SIGUSR1 (signal.signal)"
        assert unseen_holder(object()) is None
    finally:
        signal.signal(signal.SIGUSR1, old)
        stop.set()
        thread.join()


# -- the objects owning what was left, for pictures ------------------------------------------


@linux_only
def test_owners_found_again_by_number(watch: Watch, tmp_path: os.PathLike[str]) -> None:
    """What a run left is found again by the numbers its Found keeps: the Thread, the
    file object of a descriptor, the Popen of a child; a raw descriptor has none."""
    stop = threading.Event()
    before = watch.snapshot()
    thread = threading.Thread(target=stop.wait, args=(10,), daemon=True)
    thread.start()
    kept = open(os.path.join(tmp_path, "kept.txt"), "w")  # noqa: SIM115 - kept open on purpose
    raw = os.open(os.path.join(tmp_path, "kept.txt"), os.O_RDONLY)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(10)"])
    try:
        found = {f.kind: f for f in watch.compare(before, watch.snapshot())}
        assert resources.owners(found["threads"]) == [thread]
        owned = resources.owners(found["fds"])
        assert [type(o).__name__ for o in owned] == ["FileIO"]
        assert owned[0] is kept.buffer.raw
        assert found["fds"].keys == tuple(sorted((kept.fileno(), raw)))
        if "processes" in found:
            assert resources.owners(found["processes"]) == [child]
        del owned
    finally:
        stop.set()
        thread.join()
        kept.close()
        os.close(raw)
        child.kill()
        child.wait()
    # The numbers are not part of what a Found is: runs compare by kind, count, text.
    assert Found("fds", 1, ("f",), (3,)) == Found("fds", 1, ("f",), (4,))
    assert resources.owners(Found("state", 1, ("x",))) == []
