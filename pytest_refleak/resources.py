"""What a test left behind besides memory: threads, file descriptors, asyncio tasks,
child processes, and process-wide state it changed.

Each kind is read before and after a run as a set of small numbers (thread idents,
descriptor numbers, task ids, child pids) or, for process-wide state, the handful
of objects installed as hooks.  A run that left nothing costs a directory listing
and a few comparisons; only what is new after a run is described, while it still
exists.  Whether something new is a leak is not decided here: as with memory, the
re-runs decide (a pool that starts its threads once is not a leak; a test that
starts one more on every run is).

Descriptions are plain strings, made at once: nothing measured is kept.  This
module never imports pytest.
"""

from __future__ import annotations

import _socket
import contextlib
import gc
import io
import ipaddress
import os
import signal
import socket
import sys
import sysconfig
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

THREADS = "threads"
FDS = "fds"
TASKS = "tasks"
#: Reported with the tasks: those a runner had to cancel when it shut its loop down.
PENDING = "pending tasks"
PROCESSES = "processes"
STATE = "state"
KINDS = (THREADS, FDS, TASKS, PROCESSES, STATE)

#: How long a thread the test started may take to finish by itself once the test is
#: over, in seconds, before it counts as left running.  Paid only when a new thread
#: is still there.
THREAD_GRACE = 0.2

#: New things described per kind and run: a test that leaks a thousand sockets
#: needs a few named, not all of them.
DESCRIBED = 5

_FD_DIR = "/proc/self/fd"


def available(kind: str) -> str | None:
    """Why ``kind`` cannot be checked on this system, or ``None`` if it can."""
    if kind == FDS and not os.path.isdir(_FD_DIR):
        return "file descriptors can only be listed where /proc/self/fd exists (Linux)"
    if kind == PROCESSES and not os.path.isdir("/proc/self"):
        return "child processes can only be listed where /proc exists (Linux)"
    if kind == TASKS and _task_registry() is None:
        return "this Python keeps no registry of asyncio tasks to read"
    return None


def unavailable(kinds: Iterable[str]) -> dict[str, str]:
    """The chosen kinds that cannot be checked here, and why."""
    return {kind: why for kind in kinds for why in [available(kind)] if why is not None}


# -- the snapshot ---------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What one moment held, kind by kind; ``None`` for a kind not checked."""

    threads: frozenset[int] | None = None
    fds: frozenset[int] | None = None
    tasks: frozenset[int] | None = None
    #: How many tasks event loops shut down so far had still pending.
    pending: int | None = None
    processes: frozenset[int] | None = None
    #: The objects installed as each watched hook, in :data:`STATE_NAMES` order
    #: followed by one per watched signal.
    state: tuple[object, ...] | None = None


@dataclass(frozen=True)
class Found:
    """What one run left of one kind: how much more there is, and what the new ones are."""

    kind: str
    grew: int
    items: tuple[str, ...] = ()
    #: The numbers of the first few new ones (thread idents, descriptors, task ids,
    #: pids): enough to find the objects owning them again for a picture.
    keys: tuple[int, ...] = field(default=(), compare=False)

    def short(self) -> str:
        """``1 thread left running``: for the one-line summary."""
        if self.kind == STATE:
            return "process state left changed"
        noun, verb = _WORDS[self.kind]
        return f"{self.grew} {noun if self.grew == 1 else _plural(noun)} {verb}"

    def per_run(self) -> str:
        """``1 thread left running per run``: for the headline."""
        if self.kind == STATE:
            return "process state left changed"
        return f"{self.short()} per run"

    def sentence(self) -> str:
        """``1 thread left running: Thread-3 (target wave.worker), started at lib.py:48``."""
        if self.kind == STATE:
            changed = "; ".join(self.items)
            return f"process state left changed: {changed}"
        noun, verb = _WORDS[self.kind]
        plural = noun if self.grew == 1 else _plural(noun)
        text = f"{self.grew} {plural} {verb}"
        if self.items:
            shown = ", ".join(self.items)
            more = len(self.items) < self.grew
            text += f": {shown}{', …' if more else ''}"
        return text


_WORDS = {
    THREADS: ("thread", "left running"),
    FDS: ("file descriptor", "left open"),
    TASKS: ("asyncio task", "left alive"),
    PENDING: ("asyncio task", "still pending when the event loop was shut down"),
    PROCESSES: ("child process", "never waited for"),
}


def _plural(noun: str) -> str:
    return noun[:-1] + "es" if noun.endswith("ss") else noun + "s"


class Watch:
    """Takes snapshots of the chosen kinds and tells what a run left.

    One per session: it remembers the child processes it has seen, so that a
    snapshot reads only the processes started since the last one.
    """

    def __init__(
        self,
        kinds: Iterable[str],
        *,
        runner_dirs: Iterable[str] = (),
    ) -> None:
        """``runner_dirs``: directories of the test runner's own code (its plugins): a
        task whose coroutine is defined there is the runner's, not the test's."""
        chosen = set(kinds)
        runner = tuple(os.path.normcase(os.path.realpath(d)) + os.sep for d in runner_dirs)
        self.kinds = tuple(k for k in KINDS if k in chosen and available(k) is None)
        self._processes = _Children() if PROCESSES in self.kinds else None
        self._state_names = STATE_NAMES
        self._signals = _settable_signals() if STATE in self.kinds else ()
        self._starts = _StartSites() if THREADS in self.kinds else None
        self._shutdowns = _LoopShutdowns(runner) if TASKS in self.kinds else None
        self._runner = runner

    def __bool__(self) -> bool:
        return bool(self.kinds)

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """While a test runs: note where threads are started, and which tasks were still
        pending when an event loop was shut down, to report them later."""
        if self._starts is not None:
            self._starts.install()
        if self._shutdowns is not None:
            self._shutdowns.install()
        try:
            yield
        finally:
            if self._shutdowns is not None:
                self._shutdowns.uninstall()
            if self._starts is not None:
                self._starts.uninstall()

    def snapshot(self) -> Snapshot:
        kinds = self.kinds
        return Snapshot(
            threads=_thread_idents() if THREADS in kinds else None,
            fds=_fd_numbers() if FDS in kinds else None,
            tasks=_task_ids(self._runner) if TASKS in kinds else None,
            pending=self._shutdowns.count if self._shutdowns is not None else None,
            processes=self._processes.current() if self._processes is not None else None,
            state=self._state() if STATE in kinds else None,
        )

    def _state(self) -> tuple[object, ...]:
        values = [_STATE_READERS[name]() for name in self._state_names]
        values.extend(_getsignal(number) for number in self._signals)
        return tuple(values)

    def _state_labels(self) -> list[str]:
        signals = [f"signal handler for {_signal_name(n)}" for n in self._signals]
        return [*self._state_names, *signals]

    def compare(self, before: Snapshot, after: Snapshot) -> tuple[Found, ...]:
        """What grew from ``before`` to ``after``, described while it is still there.

        ``after`` should be taken just now.  A thread still running is given a
        moment to end on its own first; a new snapshot is taken if one did.
        """
        found: list[Found] = []
        if before.threads is not None and after.threads is not None:
            new = after.threads - before.threads
            if new and _wait_for_threads(new, THREAD_GRACE):
                after_threads = _thread_idents()
                new = after_threads - before.threads
                grew = len(after_threads) - len(before.threads)
            else:
                grew = len(after.threads) - len(before.threads)
            if grew > 0:
                found.append(Found(THREADS, grew, _describe_threads(new), _first(new)))
        if before.fds is not None and after.fds is not None:
            grew = len(after.fds) - len(before.fds)
            if grew > 0:
                new = after.fds - before.fds
                found.append(Found(FDS, grew, _describe_fds(new), _first(new)))
        if before.tasks is not None and after.tasks is not None:
            grew = len(after.tasks) - len(before.tasks)
            if grew > 0:
                new = after.tasks - before.tasks
                found.append(Found(TASKS, grew, _describe_tasks(new), _first(new)))
        if before.pending is not None and after.pending is not None and self._shutdowns:
            grew = after.pending - before.pending
            if grew > 0:
                found.append(Found(PENDING, grew, self._shutdowns.described(before.pending, grew)))
        if before.processes is not None and after.processes is not None:
            grew = len(after.processes) - len(before.processes)
            if grew > 0:
                new_pids = after.processes - before.processes
                found.append(
                    Found(PROCESSES, grew, _describe_processes(new_pids), _first(new_pids))
                )
        if before.state is not None and after.state is not None:
            pairs = list(zip(before.state, after.state, strict=True))
            differing = [i for i, (old, now) in enumerate(pairs) if old is not now and old != now]
            if differing:
                # Named only when something changed: naming every signal costs more
                # than reading them all, on every test.
                labels = self._state_labels()
                changed = [
                    f"{labels[i]}: {_hook_name(pairs[i][0])} → {_hook_name(pairs[i][1])}"
                    for i in differing
                ]
                found.append(Found(STATE, len(changed), tuple(changed)))
        return tuple(found)

    def changed_state(self, before: Snapshot, after: Snapshot) -> list[int]:
        """Positions of the state entries that differ between the two snapshots."""
        if before.state is None or after.state is None:
            return []
        return [
            i
            for i, (old, new) in enumerate(zip(before.state, after.state, strict=True))
            if old is not new and old != new
        ]

    def restore_state(self, snapshot: Snapshot, positions: Sequence[int]) -> list[str]:
        """Put back the state entries at ``positions`` as ``snapshot`` had them.

        Re-runs start from the state the test found, so that a test which changes
        it on every run is told from code that changes it once (an import that
        installs a handler).  Returns what could not be put back.
        """
        if snapshot.state is None:
            return []
        failed = []
        labels = self._state_labels()
        count = len(self._state_names)
        for position in positions:
            value = snapshot.state[position]
            try:
                if position < count:
                    _STATE_WRITERS[self._state_names[position]](value)
                else:
                    number = self._signals[position - count]
                    if value is None:
                        # Installed from outside Python: nothing to put back.
                        raise ValueError("not installed from Python")
                    signal.signal(number, value)  # type: ignore[arg-type]
            except (ValueError, TypeError, OSError, RuntimeError):
                failed.append(labels[position])
        return failed


def _first(numbers: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(numbers)[:DESCRIBED])


def owners(found: Found) -> list[object]:
    """The Python objects that own what ``found`` names, while it still exists: the
    ``Thread``, the file or socket object of a descriptor, the ``Task``, the
    ``Popen``.  Empty for what no Python object owns (a descriptor from
    ``os.open``, process state).  Object types are checked with ``type()`` and the
    numbers read through the base classes' own methods: no code of the test's runs.
    """
    wanted = set(found.keys)
    if not wanted:
        return []
    if found.kind == THREADS:
        return [t for t in threading.enumerate() if t.ident in wanted]
    if found.kind == TASKS:
        return [t for t in list(_task_registry() or ()) if id(t) in wanted]
    if found.kind == FDS:
        return _objects_owning(wanted, _descriptor_of)
    if found.kind == PROCESSES:
        return _objects_owning(wanted, _pid_of)
    return []


def _objects_owning(
    wanted: set[int], number_of: Callable[[type], Callable[[object], object] | None]
) -> list[object]:
    found: list[object] = []
    everything = gc.get_objects()
    try:
        readers: dict[type, Callable[[object], object] | None] = {}
        for obj in everything:
            cls = type(obj)
            if cls not in readers:
                readers[cls] = number_of(cls)
            read = readers[cls]
            if read is None:
                continue
            try:
                number = read(obj)
            except Exception:  # noqa: BLE001 - closed, or half made
                continue
            if number in wanted:
                found.append(obj)
                if len(found) >= DESCRIBED:
                    break
    finally:
        everything.clear()
    return found


def _descriptor_of(cls: type) -> Callable[[object], object] | None:
    """How to read the descriptor of an instance of ``cls``: the files and sockets'
    own ``fileno``, never a subclass's."""
    if issubclass(cls, io.FileIO):
        return io.FileIO.fileno  # type: ignore[return-value]
    if issubclass(cls, socket.socket):
        return _socket.socket.fileno  # type: ignore[return-value]
    return None


def _pid_of(cls: type) -> Callable[[object], object] | None:
    subprocess = sys.modules.get("subprocess")
    if subprocess is None or not issubclass(cls, subprocess.Popen):
        return None
    return _popen_pid


def _popen_pid(obj: object) -> object:
    namespace = object.__getattribute__(obj, "__dict__")
    return namespace.get("pid") if isinstance(namespace, dict) else None


def same_kinds(found: Sequence[Found]) -> frozenset[str]:
    return frozenset(f.kind for f in found)


# -- threads ---------------------------------------------------------------------------


def _thread_idents() -> frozenset[int]:
    return frozenset(t.ident for t in threading.enumerate() if t.ident is not None)


def _wait_for_threads(idents: frozenset[int], grace: float) -> bool:
    """Give new threads ``grace`` seconds in all to end; say whether any did."""
    deadline = time.monotonic() + grace
    ended = False
    for thread in threading.enumerate():
        if thread.ident not in idents or thread is threading.current_thread():
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        thread.join(remaining)
        ended = ended or not thread.is_alive()
    return ended


def _describe_threads(idents: frozenset[int]) -> tuple[str, ...]:
    described = []
    for thread in threading.enumerate():
        if thread.ident in idents:
            described.append(describe_thread(thread))
            if len(described) == DESCRIBED:
                break
    return tuple(described)


def describe_thread(thread: threading.Thread) -> str:
    """``Thread-3 (target wave.worker), started at lib.py:48``."""
    parts = [thread.name]
    target = _thread_target(thread)
    if target:
        parts.append(f" (target {target})")
    site = getattr(thread, _SITE_ATTRIBUTE, None)
    if isinstance(site, str):
        parts.append(f", started at {site}")
    elif thread.daemon:
        parts.append(", daemon")
    return "".join(parts)


def _thread_target(thread: threading.Thread) -> str | None:
    # Thread keeps its target in _target until run() returns (CPython 3.10-3.13).
    target = getattr(thread, "_target", None)
    if target is None:
        run = getattr(type(thread), "run", None)
        if run is None or run is threading.Thread.run:
            return None
        target = run
    return _qualified_name(target)


def _qualified_name(function: object) -> str:
    inner = getattr(function, "func", None)  # functools.partial
    if inner is not None and not hasattr(function, "__qualname__"):
        function = inner
    function = getattr(function, "__func__", function)  # bound methods
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if name is None:
        return type(function).__qualname__
    return f"{module}.{name}" if module and module != "builtins" else str(name)


_SITE_ATTRIBUTE = "_refleak_started_at"

_STDLIB = tuple(
    os.path.normcase(os.path.realpath(p)) + os.sep
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)


class _StartSites:
    """Notes, on each thread started while a test runs, the line that started it.

    ``Thread.start`` is wrapped only while a test is measured.  The place is kept
    as an attribute of the thread itself, so that it goes when the thread goes:
    a thread started and joined leaves nothing behind.
    """

    def __init__(self) -> None:
        self._original: Callable[[threading.Thread], None] | None = None
        original = threading.Thread.start

        def start(thread: threading.Thread) -> None:
            with contextlib.suppress(Exception):
                site = _start_site(sys._getframe(1))
                if site is not None:
                    setattr(thread, _SITE_ATTRIBUTE, site)
            original(thread)

        self._wrapper = start
        self._wrapped = original

    def install(self) -> None:
        if threading.Thread.start is self._wrapped:
            setattr(threading.Thread, "start", self._wrapper)  # noqa: B010 - mypy: a method

    def uninstall(self) -> None:
        # Only if still ours: whoever replaced it since keeps their own.
        if threading.Thread.start is self._wrapper:
            setattr(threading.Thread, "start", self._wrapped)  # noqa: B010 - mypy: a method


def _start_site(frame: types.FrameType | None) -> str | None:
    """The first caller outside the standard library: where the project started it."""
    first: str | None = None
    while frame is not None:
        filename = frame.f_code.co_filename
        text = f"{_short(filename)}:{frame.f_lineno}"
        if first is None and filename != threading.__file__:
            first = text
        if not _in_stdlib(filename):
            return text
        frame = frame.f_back
    return first


def _in_stdlib(filename: str) -> bool:
    path = os.path.normcase(filename)
    return path.startswith(_STDLIB) and "site-packages" not in path


def _short(filename: str) -> str:
    """A file name relative to the working directory when it is under it."""
    if not os.path.isabs(filename):
        return filename
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


# -- file descriptors ------------------------------------------------------------------


def _fd_numbers() -> frozenset[int]:
    numbers = sorted(int(name) for name in os.listdir(_FD_DIR))
    # The listing saw its own descriptor, closed again by now.  It took the lowest
    # free number, so it is the first listed number that is no longer open; left
    # in, it would pass for a new descriptor when the test's file took its number.
    for number in numbers:
        try:
            os.fstat(number)
        except OSError:
            numbers.remove(number)
            break
    return frozenset(numbers)


def _describe_fds(numbers: Iterable[int]) -> tuple[str, ...]:
    described = []
    for number in sorted(numbers):
        text = describe_fd(number)
        if text is not None:
            described.append(text)
            if len(described) == DESCRIBED:
                break
    return tuple(described)


def describe_fd(number: int) -> str | None:
    """``fd 7 → /tmp/data.txt``, ``fd 8 → TCP socket 127.0.0.1:40112 → 127.0.0.1:8080``,
    ``fd 9 → pipe``; ``None`` if it is closed by now."""
    try:
        target = os.readlink(f"{_FD_DIR}/{number}")
    except OSError:
        return None
    if target.startswith("socket:["):
        return f"fd {number} → {_describe_socket(number, target[8:-1])}"
    if target.startswith("pipe:["):
        return f"fd {number} → pipe"
    if target.startswith("anon_inode:"):
        return f"fd {number} → {target[len('anon_inode:') :].strip('[]')}"
    return f"fd {number} → {_short(target)}"


def _describe_socket(number: int, inode: str) -> str:
    """A socket named from the kernel's tables, or from the socket itself."""
    for table, label in (("tcp", "TCP"), ("tcp6", "TCP"), ("udp", "UDP"), ("udp6", "UDP")):
        row = _net_row(table, inode)
        if row is not None:
            local, remote, listening = _inet_row(row)
            if table.startswith("tcp") and listening:
                return f"{label} socket listening on {local}"
            if remote.endswith(":0") and remote.split(":")[0] in ("0.0.0.0", "[::]"):
                return f"{label} socket {local}"
            return f"{label} socket {local} → {remote}"
    row = _net_row("unix", inode, column=6)
    if row is not None:
        path = row[7] if len(row) > 7 else ""
        return f"Unix socket {path}" if path else "Unix socket"
    return _socket_by_descriptor(number)


def _net_row(table: str, inode: str, column: int = 9) -> list[str] | None:
    try:
        with open(f"/proc/self/net/{table}", encoding="ascii", errors="replace") as file:
            next(file, None)
            for line in file:
                fields = line.split()
                if len(fields) > column and fields[column] == inode:
                    return fields
    except OSError:
        return None
    return None


def _inet_row(row: list[str]) -> tuple[str, str, bool]:
    return _address(row[1]), _address(row[2]), row[3] == "0A"


def _address(text: str) -> str:
    """``0100007F:1F90`` → ``127.0.0.1:8080`` (the kernel writes the address in host order)."""
    host, _, port = text.partition(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        shown = str(ipaddress.IPv4Address(raw[::-1]))
    else:
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        shown = f"[{ipaddress.IPv6Address(words)}]"
    return f"{shown}:{int(port, 16)}"


def _socket_by_descriptor(number: int) -> str:
    """Ask the socket itself; the descriptor is detached again whatever happens, so
    that it is never closed here."""
    try:
        sock = socket.socket(fileno=number)
    except OSError:
        return "socket"
    try:
        family = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6", socket.AF_UNIX: "Unix"}.get(
            sock.family, str(sock.family)
        )
        kind = {socket.SOCK_STREAM: "stream", socket.SOCK_DGRAM: "datagram"}.get(
            sock.type, str(sock.type)
        )
        text = f"{family} {kind} socket"
        with contextlib.suppress(OSError):
            text += f" {sock.getsockname()!r}"
        with contextlib.suppress(OSError):
            text += f" → {sock.getpeername()!r}"
        return text
    finally:
        sock.detach()


# -- asyncio tasks ---------------------------------------------------------------------


def _task_registry() -> Iterable[object] | None:
    """asyncio's weak set of tasks: ``_all_tasks`` on 3.10 and 3.11,
    ``_scheduled_tasks`` (plus ``_eager_tasks``) on 3.12 and 3.13.

    Read only if asyncio is already imported: importing it is not ours to do.
    """
    tasks_module = sys.modules.get("asyncio.tasks")
    if tasks_module is None:
        return ()
    registry = getattr(tasks_module, "_all_tasks", None)
    if registry is None:
        registry = getattr(tasks_module, "_scheduled_tasks", None)
    if registry is None:
        return None
    eager = getattr(tasks_module, "_eager_tasks", None)
    return registry if not eager else [*registry, *eager]


def _task_ids(runner: tuple[str, ...] = ()) -> frozenset[int]:
    registry = _task_registry()
    if not registry:
        return frozenset()
    # A copy first: a task freed while iterating would change the weak set.
    return frozenset(id(task) for task in list(registry) if not _is_runners(task, runner))


def _is_runners(task: object, runner: tuple[str, ...]) -> bool:
    """Whether the task runs a coroutine of the test runner's own code."""
    if not runner:
        return False
    get_coro = getattr(task, "get_coro", None)
    coro = get_coro() if callable(get_coro) else None
    code = getattr(coro, "cr_code", None)
    filename = getattr(code, "co_filename", None)
    if not isinstance(filename, str):
        return False
    return os.path.normcase(os.path.realpath(filename)).startswith(runner)


def _describe_tasks(ids: frozenset[int]) -> tuple[str, ...]:
    described = []
    for task in list(_task_registry() or ()):
        if id(task) in ids:
            described.append(describe_task(task))
            if len(described) == DESCRIBED:
                break
    return tuple(described)


def describe_task(task: object) -> str:
    """``coroutine poll (finished), defined at lib.py:12``; with asyncio's debug mode on,
    also where the task was created."""
    get_coro = getattr(task, "get_coro", None)
    coro = get_coro() if callable(get_coro) else None
    done = getattr(task, "done", None)
    state = "finished" if callable(done) and done() else "pending"
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
    if not isinstance(code, types.CodeType):
        return f"{type(coro).__qualname__} ({state})"
    text = _describe_code(code, getattr(coro, "__qualname__", None), state)
    traceback = getattr(task, "_source_traceback", None)
    if traceback:
        filename, lineno = traceback[-1][0], traceback[-1][1]
        text += f", created at {_short(filename)}:{lineno}"
    return text


def _describe_code(code: types.CodeType, name: str | None, state: str) -> str:
    name = name or getattr(code, "co_qualname", code.co_name)
    where = f"{_short(code.co_filename)}:{code.co_firstlineno}"
    return f"coroutine {name} ({state}), defined at {where}"


class _LoopShutdowns:
    """Counts the tasks still pending when an event loop was shut down, and notes the
    code of the first few.

    No public hook tells that a loop is being shut down with tasks left: by then
    the runner has cancelled them, and they are freed.  ``asyncio.Runner`` (which
    pytest-asyncio and anyio run tests in) and anyio's backport of it both collect
    them with ``asyncio.tasks.all_tasks(loop)`` from a function named
    ``_cancel_all_tasks``; that call is watched while a test runs.  Only code
    objects that exist anyway are kept, in slots made beforehand, so that noting a
    task allocates nothing the memory reading would count.
    """

    def __init__(self, runner: tuple[str, ...] = ()) -> None:
        self.count = 0
        self._runner = runner
        self._codes: list[object] = [None] * DESCRIBED
        self._wrapped: Callable[..., Any] | None = None
        self._wrapper: Callable[..., Any] | None = None

    def install(self) -> None:
        tasks_module = sys.modules.get("asyncio.tasks")
        if tasks_module is None:
            return
        original = getattr(tasks_module, "all_tasks", None)
        if original is None or original is self._wrapper:
            return
        if self._wrapped is not original:
            self._wrapped = original
            self._wrapper = self._make_wrapper(original)
        tasks_module.all_tasks = self._wrapper  # type: ignore[attr-defined]

    def _make_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def all_tasks(loop: object = None) -> Any:
            result = original(loop)
            with contextlib.suppress(Exception):
                if loop is not None and sys._getframe(1).f_code.co_name == "_cancel_all_tasks":
                    for task in result:
                        if not _is_runners(task, self._runner):
                            self._note(task)
            return result

        return all_tasks

    def _note(self, task: object) -> None:
        get_coro = getattr(task, "get_coro", None)
        coro = get_coro() if callable(get_coro) else None
        self._codes[self.count % DESCRIBED] = getattr(coro, "cr_code", None)
        self.count += 1

    def uninstall(self) -> None:
        tasks_module = sys.modules.get("asyncio.tasks")
        if tasks_module is not None and getattr(tasks_module, "all_tasks", None) is self._wrapper:
            tasks_module.all_tasks = self._wrapped  # type: ignore[attr-defined]

    def described(self, since: int, count: int) -> tuple[str, ...]:
        texts = []
        for number in range(since, since + min(count, DESCRIBED)):
            code = self._codes[number % DESCRIBED]
            if isinstance(code, types.CodeType):
                texts.append(_describe_code(code, None, "cancelled"))
        self._codes[:] = [None] * DESCRIBED
        return tuple(texts)


# -- child processes -------------------------------------------------------------------


class _Children:
    """This process's children, read cheaply.

    Listing every process to find our children costs milliseconds.  A child is
    always younger than what the kernel last handed out, so a snapshot reads
    only the processes whose pid came after the last one seen, and checks the
    children it already knows still exist.  Pids wrap around: then all are read.
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._last = _last_pid()
        self._children = self._scan(None)

    def current(self) -> frozenset[int]:
        last = _last_pid()
        known = frozenset(pid for pid in self._children if self._is_child(pid))
        if last is None or last != self._last:
            wrapped = last is None or self._last is None or last < self._last
            known = known | self._scan(None if wrapped else self._last)
            self._last = last
        self._children = known
        return known

    def _scan(self, after: int | None) -> frozenset[int]:
        found = set()
        try:
            names = os.listdir("/proc")
        except OSError:
            return frozenset()
        for name in names:
            if not name.isdigit():
                continue
            pid = int(name)
            if after is not None and pid <= after:
                continue
            if self._is_child(pid):
                found.add(pid)
        return frozenset(found)

    def _is_child(self, pid: int) -> bool:
        stat = _stat(pid)
        return stat is not None and stat[1] == self._pid


def _last_pid() -> int | None:
    try:
        with open("/proc/sys/kernel/ns_last_pid", "rb") as file:
            return int(file.read())
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/loadavg", "rb") as file:
            return int(file.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def _stat(pid: int) -> tuple[str, int, str] | None:
    """A process's state letter, parent pid and command name, from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces and parentheses.
    head, _, tail = text.rpartition(")")
    fields = tail.split()
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return fields[0], int(fields[1]), head.partition("(")[2]


def _describe_processes(pids: Iterable[int]) -> tuple[str, ...]:
    return tuple(describe_process(pid) for pid in sorted(pids)[:DESCRIBED])


def describe_process(pid: int) -> str:
    """``pid 4242 (running): sleep 60`` or ``pid 4242 (exited, not waited for): sleep``."""
    stat = _stat(pid)
    state = "gone"
    command = ""
    if stat is not None:
        state = "exited, not waited for" if stat[0] in ("Z", "X") else "running"
        command = stat[2]
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            args = file.read().rstrip(b"\0").split(b"\0")
        shown = " ".join(a.decode("utf-8", "replace") for a in args if a)
        if shown:
            command = shown if len(shown) <= 120 else shown[:119] + "…"
    return f"pid {pid} ({state}){': ' + command if command else ''}"


# -- process-wide state -----------------------------------------------------------------


#: Hooks read before and after each run.  ``warnings.showwarning`` and
#: ``warnings.filters`` are not among them: pytest's warnings plugin, and the
#: re-runs, put both back around every test, so a test cannot leave them changed.
STATE_NAMES = (
    "sys.excepthook",
    "sys.unraisablehook",
    "threading.excepthook",
    "sys.gettrace()",
    "sys.getprofile()",
)

_STATE_READERS: dict[str, Callable[[], object]] = {
    "sys.excepthook": lambda: sys.excepthook,
    "sys.unraisablehook": lambda: sys.unraisablehook,
    "threading.excepthook": lambda: threading.excepthook,
    "sys.gettrace()": sys.gettrace,
    "sys.getprofile()": sys.getprofile,
}


def _set_trace(value: object) -> None:
    # Only a Python-level function can be put back; a tracer installed from C
    # (coverage's) reads back as an object that settrace would call wrongly.
    if value is not None and not isinstance(value, (types.FunctionType, types.MethodType)):
        raise TypeError("not a Python function")
    sys.settrace(value)


def _set_profile(value: object) -> None:
    if value is not None and not isinstance(value, (types.FunctionType, types.MethodType)):
        raise TypeError("not a Python function")
    sys.setprofile(value)


_STATE_WRITERS: dict[str, Callable[[object], None]] = {
    "sys.excepthook": lambda v: setattr(sys, "excepthook", v),
    "sys.unraisablehook": lambda v: setattr(sys, "unraisablehook", v),
    "threading.excepthook": lambda v: setattr(threading, "excepthook", v),
    "sys.gettrace()": _set_trace,
    "sys.getprofile()": _set_profile,
}


# signal.getsignal turns each handler into an enum or tries to, which makes reading
# sixty of them cost 20 times more than the C function it wraps: SIG_DFL and
# SIG_IGN come back as plain 0 and 1 from this one.
_getsignal: Callable[[int], object] = getattr(
    sys.modules.get("_signal"), "getsignal", signal.getsignal
)


def _settable_signals() -> tuple[int, ...]:
    """Signals whose handler Python can read and set (not SIGKILL or SIGSTOP)."""
    numbers = []
    for number in sorted(signal.valid_signals()):
        if number in (getattr(signal, "SIGKILL", -1), getattr(signal, "SIGSTOP", -1)):
            continue
        try:
            _getsignal(number)
        except (ValueError, OSError):
            continue
        numbers.append(int(number))
    return tuple(numbers)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _hook_name(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, tuple):
        return f"{len(value)} entries"
    if isinstance(value, int):
        with contextlib.suppress(ValueError):
            return signal.Handlers(value).name
        return str(value)
    return _qualified_name(value)


@dataclass
class Evidence:
    """What the runs of one test left, kind by kind, to decide which kinds leak."""

    first: tuple[Found, ...] = ()
    reruns: list[tuple[Found, ...]] = field(default_factory=list)

    @property
    def suspect(self) -> frozenset[str]:
        """Kinds the first run grew, and every re-run so far grew again."""
        kinds = same_kinds(self.first)
        for found in self.reruns:
            kinds &= same_kinds(found)
        return kinds

    def leaked(self) -> tuple[Found, ...]:
        """The kinds that grew on every run, as the last re-run found them."""
        if not self.reruns:
            return ()
        kinds = self.suspect
        return tuple(f for f in self.reruns[-1] if f.kind in kinds)
