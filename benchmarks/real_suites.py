#!/usr/bin/env python3
"""Run pytest-refleak on the test suites of real, popular pure-Python projects.

For each project below (pinned versions), this script

1. makes a venv under the work dir, downloads the project's sdist from PyPI
   (``pip download --no-binary :all: --no-deps``), unpacks it, installs it with
   its test requirements and pytest-refleak from this repository (editable);
2. runs the project's own test suite from the unpacked sdist for ``--rounds``
   rounds, each running every mode once in turn: plain, ``--refleak
   --refleak-cycles=off``, and the default ``--refleak`` (cycles ``project``);
3. prints, per project: test count, the median CPU time (user + system of the
   pytest process and the children it waited for) and wall time of each mode
   and their ratios against plain, the plugin's verdicts and how many tests it
   ran more than once, and every test that passes plain but fails with the
   plugin, with the first lines of what the plugin printed.

CPU time is the headline figure: on a loaded machine wall time grows with
everybody else's work, CPU time much less.  A run with the plugin is stopped
once its CPU time reaches ``--timeout-per-run`` times the suite's plain CPU
time (a CPU-time rlimit, so load does not trigger it) and reported as
``> Nx (stopped)``; the tests it finished still count.

Tests that already fail plain (in any plain round) are left out of the
comparison; only failures that appear with the plugin alone are reported.

Stdlib only, POSIX only (rlimits).  Usage (from anywhere)::

    python benchmarks/real_suites.py                       # all projects, 3 rounds
    python benchmarks/real_suites.py --projects click toolz --rounds 1
    python benchmarks/real_suites.py --modes plain refleak --markdown --json out.json
    python benchmarks/real_suites.py --list

The venvs are reused between invocations (``--fresh`` rebuilds them); since
pytest-refleak is installed editable, a reused venv tests the current code.
Full pytest output of every run is kept in ``<work dir>/logs`` and all figures
in ``<work dir>/results.json`` (several invocations on different projects may
share a work dir).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

# -- what is run --------------------------------------------------------------------

#: Installed in every venv next to the project (pinned for reproducible figures).
COMMON_REQUIREMENTS = ["pytest==9.2.0"]

#: name on PyPI -> version, test requirements, and where its tests are (relative
#: to the unpacked sdist).  ``pytest_args`` are added to every run of that suite;
#: node ids listed under ``slow`` are deselected in both modes unless --full-suites.
PROJECTS: dict[str, dict] = {
    "click": {
        "version": "8.5.1",
        "test_requires": [],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "jinja2": {
        "version": "3.1.6",
        "test_requires": ["markupsafe==3.0.4", "trio==0.35.0"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "more-itertools": {
        "version": "11.2.1",
        "test_requires": [],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "packaging": {
        "version": "26.4",
        "test_requires": ["hypothesis==6.170.27", "pretend==1.0.9", "tomli-w==1.2.0", "pip"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "toolz": {
        "version": "1.2.0",
        "test_requires": [],
        "tests": ["toolz"],
        "pytest_args": [],
    },
    "attrs": {
        "version": "26.1.0",
        "test_requires": ["hypothesis==6.170.27", "pympler==1.1", "cloudpickle==3.1.3"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "itsdangerous": {
        "version": "2.2.0",
        "test_requires": ["freezegun==1.5.5"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "python-dateutil": {
        "version": "4.0.0",
        # its conftest uses pytest-cov's no_cover marker: without pytest-cov,
        # collection stops with PytestUnknownMarkWarning (an INTERNALERROR)
        "test_requires": ["freezegun==1.5.5", "hypothesis==6.170.27", "pytest-cov==7.1.0",
                          "attrs==26.1.0"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "sqlparse": {
        "version": "0.6.1",
        "test_requires": [],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "parso": {
        "version": "0.8.7",
        "test_requires": [],
        "tests": ["test"],
        "pytest_args": [],
    },
    "tomlkit": {
        "version": "0.15.3",
        "test_requires": [],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "idna": {
        "version": "3.20",
        "test_requires": ["hypothesis==6.170.27"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "six": {
        "version": "1.17.0",
        "test_requires": [],
        "tests": ["test_six.py"],
        "pytest_args": [],
    },
    "tabulate": {
        "version": "0.10.0",
        # numpy and pandas left out: their tests skip, and they would make the
        # venvs big for a few dozen tests
        "test_requires": ["wcwidth==0.9.4"],
        "tests": ["test"],
        "pytest_args": [],
    },
    "pyparsing": {
        "version": "3.3.3",
        "test_requires": ["railroad-diagrams==3.0.1", "jinja2==3.1.6"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    # The sdist holds its tests inside the package; run from the unpacked sdist, they
    # import that source tree (whose _speedups is not built), so the C tests skip.
    "simplejson": {
        "version": "4.3.0",
        "test_requires": [],
        "tests": ["simplejson/tests"],
        "pytest_args": [],
    },
    "pyrsistent": {
        "version": "0.20.0",
        "test_requires": ["hypothesis==6.170.27"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "cachetools": {
        "version": "8.0.3",
        "test_requires": [],
        "tests": ["tests"],
        "pytest_args": [],
    },
    # sortedcontainers 2.4.0's sdist has no tests: marshmallow stands in for it
    "marshmallow": {
        "version": "4.4.0",
        "test_requires": ["simplejson==4.3.0"],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "boltons": {
        "version": "26.2.0",
        "test_requires": [],
        "tests": ["tests"],
        "pytest_args": [],
    },
}

#: Cheapest first, so that a first table fills quickly.
DEFAULT_PROJECTS = ["six", "toolz", "itsdangerous", "tabulate", "more-itertools", "jinja2",
                    "sqlparse", "tomlkit", "pyparsing", "idna", "parso", "click", "attrs",
                    "python-dateutil", "packaging"]

#: Options on every run.  ``-x`` is never used: a whole suite must run.
BASE_ARGS = ["-p", "no:cacheprovider", "-q"]

MODES = {
    "plain": [],
    "refleak-cycles-off": ["--refleak", "--refleak-cycles=off"],
    "refleak": ["--refleak"],
}

#: Statuses that count as "did not fail".
OK = {"passed", "skipped", "xfailed", "xpassed"}

REPO_DEFAULT = Path(__file__).resolve().parent.parent

# A tiny pytest plugin, loaded with ``-p``, that records every test's outcome and
# failure text by node id.  It only implements reporting hooks, which
# pytest-refleak calls after its measuring window has closed.
RECORDER = '''
import json, os

_tests = {}
_collect_errors = {}


def _status(entry, report):
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return "xfailed"
        return "skipped"
    if report.when == "call" and hasattr(report, "wasxfail"):
        return "xpassed"
    return entry["status"] or "passed"


def pytest_runtest_logreport(report):
    entry = _tests.setdefault(report.nodeid, {"status": None, "text": [], "refleak": None})
    status = _status(entry, report)
    if entry["status"] in (None, "passed") or status in ("failed", "error"):
        entry["status"] = status
    if report.failed:
        entry["text"].append("[%s] %s" % (report.when, report.longreprtext[:40000]))
    verdict = getattr(report, "refleak_verdict", None)
    if verdict:
        entry["refleak"] = verdict
    record = getattr(report, "refleak_record", None)
    if record:
        # how many times the plugin ran the test, and what it concluded
        entry["runs"] = record.get("runs", 0)
        entry["verdict"] = record.get("kind") or record.get("verdict")
    path = os.environ.get("REFLEAK_SUITE_RECORD")
    if path and report.when == "teardown":
        # one line per finished test, so that a run stopped half-way still tells
        with open(path + "l", "a") as f:
            f.write(json.dumps([report.nodeid, entry]) + "\\n")


def pytest_collectreport(report):
    if report.failed:
        _collect_errors[report.nodeid] = report.longreprtext[:40000]


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("REFLEAK_SUITE_RECORD")
    if path:
        with open(path, "w") as f:
            json.dump({"tests": _tests, "collect_errors": _collect_errors,
                       "exitstatus": int(exitstatus)}, f)
'''

RECORDER_MODULE = "_refleak_suite_recorder"

SECTION_RE = re.compile(r"^=+ (.*?) =+$")
PLUGIN_FRAME_RE = re.compile(r"pytest_refleak[/\\]\w+\.py\"?(:\d+|, line \d+)")


# -- helpers ------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    log("  $ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack an sdist into ``dest`` and return its top folder."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            top = z.namelist()[0].split("/")[0]
            z.extractall(dest)
    else:
        with tarfile.open(archive) as t:
            top = t.getnames()[0].split("/")[0]
            if hasattr(tarfile, "data_filter"):
                t.extractall(dest, filter="data")
            else:
                t.extractall(dest)
    return dest / top


def setup_project(name: str, spec: dict, work: Path, repo: Path, python: str, fresh: bool) -> dict:
    """Make (or reuse) the venv and the unpacked sdist for one project."""
    version = spec["version"]
    pdir = work / f"{name}-{version}"
    venv = pdir / "venv"
    marker = pdir / "ready.json"
    want = {"python": python, "repo": str(repo), "spec": spec, "common": COMMON_REQUIREMENTS}
    if not fresh and marker.exists():
        info = json.loads(marker.read_text())
        if info.get("want") == want and Path(info["src"]).is_dir() and venv_python(venv).exists():
            log(f"[{name}] reusing {pdir}")
            return info
    if pdir.exists():
        shutil.rmtree(pdir)
    pdir.mkdir(parents=True)
    log(f"[{name}] setting up {pdir}")
    run([python, "-m", "venv", venv])
    py = venv_python(venv)
    dl = pdir / "sdist"
    run([py, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", "-d", dl,
         f"{name}=={version}"])
    archives = [p for p in dl.iterdir() if p.name.endswith((".tar.gz", ".zip", ".tgz"))]
    if len(archives) != 1:
        raise RuntimeError(f"expected one sdist in {dl}, found {archives}")
    src = unpack(archives[0], pdir)
    run([py, "-m", "pip", "install", "-q", src, *spec["test_requires"], *COMMON_REQUIREMENTS,
         "-e", repo])
    freeze = subprocess.run([py, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    info = {"want": want, "src": str(src), "venv": str(venv), "freeze": freeze.splitlines()}
    marker.write_text(json.dumps(info, indent=1))
    return info


def refleak_section(output: str) -> list[str]:
    """The lines of the ``refleak`` terminal section."""
    lines: list[str] = []
    inside = False
    for line in output.splitlines():
        m = SECTION_RE.match(line)
        if m:
            inside = m.group(1).strip() == "refleak"
            continue
        if inside and line.strip():
            lines.append(line.rstrip())
    return lines


def crash_lines(output: str) -> list[str]:
    """INTERNALERROR lines, and traceback lines that point into pytest_refleak."""
    return [line for line in output.splitlines()
            if line.startswith("INTERNALERROR") or PLUGIN_FRAME_RE.search(line)]


def _limit_cpu(seconds: float | None) -> None:
    """In the child, before exec: stop it with SIGXCPU after ``seconds`` of CPU time.

    A CPU-time limit, unlike a wall-clock one, does not fire earlier on a loaded
    machine.  No core file: a killed run's heap can be gigabytes."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if seconds is not None:
        soft = max(1, int(seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 10))


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_suite(name: str, info: dict, spec: dict, mode: str, tag: str, work: Path,
              wall_limit: float, cpu_limit: float | None = None,
              full_suite: bool = False) -> dict:
    """One pytest run of a suite; ``cpu`` is user + system time of the pytest process
    and the children it waited for.  The run is stopped after ``cpu_limit`` seconds of
    CPU time or ``wall_limit`` seconds of wall time, and then ``stopped`` says which."""
    src = Path(info["src"])
    py = venv_python(Path(info["venv"]))
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    record = logs / f"{name}-{tag}.json"
    for stale in (record, record.with_name(record.name + "l")):
        if stale.exists():
            stale.unlink()
    args = list(BASE_ARGS)
    if any(line.lower().startswith("pytest-randomly") for line in info["freeze"]):
        args += ["-p", "no:randomly"]
    args += ["-p", RECORDER_MODULE, *spec["pytest_args"]]
    if not full_suite:
        for nodeid in spec.get("slow", []):
            args += ["--deselect", nodeid]
    args += [*MODES[mode], *spec["tests"]]
    env = dict(os.environ)
    for var in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
                "VIRTUAL_ENV", "PYTHONPATH", "REFLEAK_DEBUG"):
        env.pop(var, None)
    env["PYTHONPATH"] = str(work / "recorder")
    env["REFLEAK_SUITE_RECORD"] = str(record)
    env["COLUMNS"] = "120"
    env["PY_COLORS"] = "0"
    env["PYTHONHASHSEED"] = "0"
    cmd = [str(py), "-m", "pytest", *args]
    # Runs are sequential, so the growth of the children's rusage is this run's.
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=src, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True,
                            preexec_fn=lambda: _limit_cpu(cpu_limit))
    try:
        output, _ = proc.communicate(timeout=wall_limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        timed_out = True
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    stopped = None
    if timed_out:
        stopped = f"wall-clock limit {wall_limit:.0f} s"
    elif proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and cpu_limit is not None:
        stopped = f"CPU-time limit {cpu_limit:.0f} s"
    (logs / f"{name}-{tag}.txt").write_text(" ".join(cmd) + "\n\n" + output)
    partial = record.with_name(record.name + "l")
    if record.exists():
        data = json.loads(record.read_text())
    else:
        data = {"tests": {}, "collect_errors": {}}
        if partial.exists():
            for line in partial.read_text().splitlines():
                try:
                    nodeid, entry = json.loads(line)
                except ValueError:  # the line the run was stopped in
                    continue
                data["tests"][nodeid] = entry
    counts: dict[str, int] = {}
    for entry in data["tests"].values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    last = output.strip().splitlines()[-1] if output.strip() else ""
    result = {
        "mode": mode, "tag": tag, "seconds": round(seconds, 2), "cpu": round(cpu, 2),
        "returncode": proc.returncode, "timed_out": timed_out, "stopped": stopped,
        "counts": counts, "summary": last,
        "tests": data["tests"], "collect_errors": data["collect_errors"],
        "section": refleak_section(output), "internal_errors": crash_lines(output),
        "refleak_traceback": any(PLUGIN_FRAME_RE.search(line) for line in output.splitlines()),
        "command": " ".join(cmd), "cwd": str(src),
    }
    note = f"  STOPPED ({stopped})" if stopped else ""
    log(f"  [{name}] {tag:<22} cpu {cpu:8.1f} s  wall {seconds:8.1f} s  "
        f"rc={proc.returncode}  {last[:70]}{note}")
    return result


def compare(plain_runs: list[dict], runs: list[dict]) -> dict:
    """Tests that fail only with the plugin, across ``runs`` of one mode."""
    baseline_bad = set()
    known = set()
    for r in plain_runs:
        for nodeid, entry in r["tests"].items():
            known.add(nodeid)
            if entry["status"] not in OK:
                baseline_bad.add(nodeid)
    only_plugin: dict[str, dict] = {}
    fixed: set[str] = set()
    missing: set[str] = set()
    for r in runs:
        seen = set(r["tests"])
        missing |= known - seen
        for nodeid, entry in r["tests"].items():
            if nodeid in baseline_bad:
                if entry["status"] in OK:
                    fixed.add(nodeid)
                continue
            if entry["status"] not in OK:
                e = only_plugin.setdefault(nodeid, {"kind": None, "rounds": 0, "text": ""})
                e["rounds"] += 1
                e["kind"] = (entry["refleak"] or entry["status"]).upper()
                e["text"] = "\n".join(entry["text"])
    return {"baseline_failures": sorted(baseline_bad), "only_plugin": only_plugin,
            "passes_only_with_plugin": sorted(fixed), "missing": sorted(missing)}


def signature(nodeid: str, e: dict, section: list[str]) -> str:
    """What a failure reports, with its numbers taken out, to group alike failures."""
    kind = e["kind"]
    what = ""
    if kind in ("LEAKED", "CYCLES"):
        prefix = f"{kind} {nodeid} - "
        what = next((line[len(prefix):] for line in section if line.startswith(prefix)), "")
        if not what:
            # a stopped run printed no summary: the first line of the test's report
            first = e["text"].strip().splitlines()[:1]
            what = first[0].split("refleak: ", 1)[-1] if first else ""
        what = re.sub(r"\d+(\.\d+)?", "N", what)
        what = re.sub(r"(KiB|MiB|B)/run", "B/run", what)
    else:
        lines = [line.strip() for line in e["text"].splitlines() if line.startswith("E ")]
        rest = e["text"].strip().splitlines()
        what = lines[-1] if lines else (rest[-1] if rest else "")
    return f"{kind:<7} {what[:150]}"


def order(item: tuple[str, dict]) -> tuple[int, str]:
    kind = item[1]["kind"]
    return ({"FAILED": 0, "ERROR": 0, "LEAKED": 1, "CYCLES": 2}.get(kind, 0), item[0])


PLUGIN_MODES = ("refleak-cycles-off", "refleak")


def mode_figures(runs: list[dict], mode: str) -> dict | None:
    """Median CPU and wall time of one mode's runs against plain's, and whether any
    run of it was stopped (then the ratio is a lower bound)."""
    plain = [r for r in runs if r["mode"] == "plain"]
    mine = [r for r in runs if r["mode"] == mode]
    if not plain or not mine:
        return None
    pc = statistics.median(r.get("cpu", float("nan")) for r in plain)
    pw = statistics.median(r["seconds"] for r in plain)
    stopped = [r for r in mine if r.get("stopped")]
    if stopped:
        # a stopped run says only "at least this much"; the smallest is what is known
        cpu = min(r.get("cpu", float("nan")) for r in stopped)
        wall = min(r["seconds"] for r in stopped)
    else:
        cpu = statistics.median(r.get("cpu", float("nan")) for r in mine)
        wall = statistics.median(r["seconds"] for r in mine)
    return {"cpu": cpu, "wall": wall, "cpu_ratio": cpu / pc if pc else float("nan"),
            "wall_ratio": wall / pw if pw else float("nan"), "stopped": bool(stopped),
            "runs": len(mine)}


def ratio_text(fig: dict | None, key: str) -> str:
    if fig is None:
        return "-"
    text = f"{fig[key]:.2f}"
    return f"> {fig[key]:.1f}x (stopped)" if fig["stopped"] else text


def first_lines(text: str, count: int) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[:count]


def report(name: str, spec: dict, res: dict, show_lines: int, list_limit: int) -> None:
    runs = res["runs"]
    plain = [r for r in runs if r["mode"] == "plain"]
    bar = "=" * 100
    log(f"\n{bar}\n{name} {spec['version']}   (cwd {plain[0]['cwd']})")
    log(f"  command: {plain[0]['command']}")
    log(f"  tests: {len(plain[0]['tests'])}  plain outcome: {plain[0]['summary']}")
    if plain[0]["collect_errors"]:
        log(f"  collection errors (plain): {sorted(plain[0]['collect_errors'])}")
    pc = statistics.median(r.get("cpu", float("nan")) for r in plain)
    pw = statistics.median(r["seconds"] for r in plain)
    figures = [f"plain cpu {pc:.1f} s, wall {pw:.1f} s"]
    for mode in PLUGIN_MODES:
        fig = mode_figures(runs, mode)
        if fig:
            figures.append(f"{mode} cpu {fig['cpu']:.1f} s (x{ratio_text(fig, 'cpu_ratio')}),"
                           f" wall {fig['wall']:.1f} s (x{ratio_text(fig, 'wall_ratio')})")
    log("  " + " | ".join(figures))
    log("  all runs: " + ", ".join(f"{r['tag']}={r.get('cpu', '?')}/{r['seconds']}s"
                                   + (" STOPPED" if r.get("stopped") else "") for r in runs))
    cmp_ = res["compare"]
    if cmp_.get("baseline_failures"):
        log(f"  pre-existing failures plain (excluded): {len(cmp_['baseline_failures'])}")
        for nodeid in cmp_["baseline_failures"][:10]:
            log(f"    {nodeid}")
    for mode in PLUGIN_MODES:
        mode_runs = [r for r in runs if r["mode"] == mode]
        if not mode_runs or mode not in cmp_:
            continue
        c = cmp_[mode]
        log(f"\n  --- {mode}: {mode_runs[-1]['summary']}")
        for r in mode_runs:
            if r["internal_errors"] or r["refleak_traceback"] or r["timed_out"] or r.get("stopped"):
                log(f"  !!! {r['tag']}: rc={r['returncode']} stopped={r.get('stopped')} "
                    f"internal_errors={len(r['internal_errors'])} "
                    f"refleak in a traceback={r['refleak_traceback']} "
                    f"tests finished={len(r['tests'])} (see logs/{name}-{r['tag']}.txt)")
                for line in r["internal_errors"][:60]:
                    log("    " + line)
        reruns = [e.get("runs", 0) for e in mode_runs[-1]["tests"].values()]
        verdicts: dict[str, int] = {}
        for e in mode_runs[-1]["tests"].values():
            if e.get("verdict"):
                verdicts[e["verdict"]] = verdicts.get(e["verdict"], 0) + 1
        # a record's "runs" counts the re-runs, not the first run
        log(f"  verdicts ({mode_runs[-1]['tag']}): {verdicts}; tests re-run: "
            f"{sum(1 for n in reruns if n)}, runs in all: {sum(1 + (n or 0) for n in reruns)}")
        section = mode_runs[-1]["section"]
        if c["missing"]:
            log(f"  tests missing from these runs (present plain): {len(c['missing'])}: "
                f"{c['missing'][:5]}")
        if c["passes_only_with_plugin"]:
            log(f"  failing plain but passing with the plugin: {c['passes_only_with_plugin'][:10]}")
        items = sorted(c["only_plugin"].items(), key=order)
        log(f"  tests failing only with the plugin: {len(items)}")
        groups: dict[str, list[str]] = {}
        for nodeid, e in items:
            groups.setdefault(signature(nodeid, e, section), []).append(nodeid)
        if len(groups) > 1:
            log(f"  grouped by what they report ({len(groups)} groups; count, kind and what):")
            for sig, ids in sorted(groups.items(), key=lambda g: -len(g[1])):
                log(f"    {len(ids):>5}  {sig}")
                log(f"           e.g. {ids[0]}")
        for nodeid, e in items[:list_limit]:
            log(f"\n  ~~~ {e['kind']} {nodeid}  (in {e['rounds']}/{len(mode_runs)} runs)")
            for line in first_lines(e["text"], show_lines):
                log("  | " + line[:200])
        if len(items) > list_limit:
            log(f"\n    ... and {len(items) - list_limit} more (results.json has them all)")


def git_commit(repo: Path) -> str:
    """The commit of ``main`` whose plugin code is measured: the newest commit on main's
    first-parent line that the checkout contains (so a main that has merged this
    branch back still names its own commit, not this branch's), or the checkout's
    own commit when there is no main branch."""

    def git(*args: str) -> list[str]:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        return proc.stdout.split() if proc.returncode == 0 else []

    mine = set(git("rev-list", "HEAD"))
    commit = next((c for c in git("rev-list", "--first-parent", "main") if c in mine), None)
    commit = commit or next(iter(git("rev-parse", "HEAD")), "?")
    dirty = git("status", "--porcelain", "pytest_refleak")
    return commit[:7] + ("+dirty" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--projects", nargs="+", default=DEFAULT_PROJECTS, metavar="NAME",
                    help="projects to run (default: all of them)")
    ap.add_argument("--work-dir", default="/tmp/refleak-suites", type=Path)
    ap.add_argument("--repo", default=REPO_DEFAULT, type=Path,
                    help="pytest-refleak checkout to install editable (default: %(default)s)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for the venvs (default: the one running this script)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating rounds, each running every mode once (default 3)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES),
                    help="modes to run in each round; plain is always run (default: all)")
    ap.add_argument("--reuse-plain", action="store_true",
                    help="take the plain runs from results.json (an earlier invocation) "
                         "instead of running them again")
    ap.add_argument("--timeout-per-run", type=float, default=20, metavar="RATIO",
                    help="stop a run with the plugin once its CPU time reaches RATIO times the "
                         "suite's plain CPU time; it is reported as '> RATIOx (stopped)' "
                         "(default 20)")
    ap.add_argument("--max-seconds", type=float, default=300,
                    help="stop any run after this much CPU time (default 300)")
    ap.add_argument("--wall-limit", type=float, default=1200,
                    help="stop any run after this much wall-clock time (default 1200)")
    ap.add_argument("--show-lines", type=int, default=8,
                    help="print this many lines of what the plugin said per plugin-only failure")
    ap.add_argument("--list-limit", type=int, default=40,
                    help="print at most this many plugin-only failures per suite and mode")
    ap.add_argument("--full-suites", action="store_true",
                    help="also run the tests listed as 'slow' for a project (see PROJECTS)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the venvs")
    ap.add_argument("--setup-only", action="store_true")
    ap.add_argument("--report-only", action="store_true",
                    help="print the report from the last results.json without running anything")
    ap.add_argument("--markdown", action="store_true",
                    help="also print the summary as a Markdown table")
    ap.add_argument("--json", type=Path, metavar="PATH",
                    help="also write this invocation's figures (without per-test data) here")
    ap.add_argument("--list", action="store_true", help="list the known projects and exit")
    args = ap.parse_args(argv)

    if args.list:
        for name, spec in PROJECTS.items():
            log(f"{name}=={spec['version']}  test requires: {spec['test_requires']}")
        return 0
    unknown = [p for p in args.projects if p not in PROJECTS]
    if unknown:
        ap.error(f"unknown projects: {unknown}; known: {sorted(PROJECTS)}")
    modes = ["plain", *[m for m in args.modes if m != "plain"]]
    work: Path = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "recorder").mkdir(exist_ok=True)
    (work / "recorder" / f"{RECORDER_MODULE}.py").write_text(RECORDER)
    repo = args.repo.resolve()

    results: dict[str, dict] = {}
    results_path = work / "results.json"
    # results.json keeps every project's last figures; this run replaces its own
    saved = json.loads(results_path.read_text()) if results_path.exists() else {}
    if args.report_only:
        show_results({k: saved[k] for k in args.projects if k in saved}, args)
        return 0
    for name in args.projects:
        spec = PROJECTS[name]
        try:
            info = setup_project(name, spec, work, repo, args.python, args.fresh)
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            log(f"[{name}] setup failed: {exc}")
            results[name] = {"setup_failed": str(exc)}
            continue
        if args.setup_only:
            continue
        commit = git_commit(repo)
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        runs: list[dict] = []
        if args.reuse_plain:
            # Plain pytest runs little of the plugin's code (its options), so plain runs
            # made before a change to it still hold; each keeps the commit it was made on.
            before = saved.get(name, {})
            runs = [dict(r, commit=r.get("commit", before.get("commit")))
                    for r in before.get("runs", []) if r["mode"] == "plain"]
            if not runs:
                log(f"[{name}] no saved plain runs to reuse: running plain too")
        reused = bool(runs)
        for i in range(1, args.rounds + 1):
            for mode in modes:
                if mode == "plain" and reused:
                    continue
                cpu_limit = args.max_seconds
                if mode != "plain":
                    plain_cpu = statistics.median(r["cpu"] for r in runs if r["mode"] == "plain")
                    cpu_limit = min(cpu_limit, args.timeout_per_run * max(plain_cpu, 0.5))
                runs.append(run_suite(name, info, spec, mode, f"{mode}-{i}", work,
                                      args.wall_limit, cpu_limit, args.full_suites))
                runs[-1]["commit"] = commit
        plain = [r for r in runs if r["mode"] == "plain"]
        res = {"version": spec["version"], "freeze": info["freeze"], "runs": runs,
               "compare": {}, "commit": commit, "started": started,
               "python": subprocess.run([str(venv_python(Path(info["venv"]))), "-c",
                                         "import sys; print(sys.version.split()[0])"],
                                        capture_output=True, text=True).stdout.strip(),
               "rounds": args.rounds}
        for mode in PLUGIN_MODES:
            mode_runs = [r for r in runs if r["mode"] == mode]
            if mode_runs:
                res["compare"][mode] = compare(plain, mode_runs)
                res["compare"]["baseline_failures"] = res["compare"][mode]["baseline_failures"]
        res["full_suite"] = args.full_suites
        results[name] = res
        # read again: another invocation on other projects may have written meanwhile
        saved = json.loads(results_path.read_text()) if results_path.exists() else {}
        saved[name] = res
        tmp = results_path.with_name(f"{results_path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(saved, indent=1))
        tmp.replace(results_path)

    if args.setup_only:
        return 0
    show_results(results, args)
    return 0


def summary_rows(results: dict) -> list[dict]:
    rows = []
    for name, res in results.items():
        if "setup_failed" in res:
            rows.append({"project": name, "setup_failed": res["setup_failed"]})
            continue
        runs = res["runs"]
        plain = [r for r in runs if r["mode"] == "plain"]
        row = {"project": name, "version": res["version"], "commit": res.get("commit"),
               "python": res.get("python"), "started": res.get("started"),
               "rounds": res.get("rounds"), "tests": len(plain[0]["tests"]),
               "plain_cpu": statistics.median(r.get("cpu", float("nan")) for r in plain),
               "plain_wall": statistics.median(r["seconds"] for r in plain)}
        for mode in PLUGIN_MODES:
            fig = mode_figures(runs, mode)
            if fig:
                fig["only_plugin"] = sorted(res["compare"][mode]["only_plugin"])
                fig["only_plugin_kinds"] = {
                    nodeid: e["kind"] for nodeid, e in res["compare"][mode]["only_plugin"].items()}
            row[mode] = fig
        rows.append(row)
    return rows


def show_results(results: dict, args: argparse.Namespace) -> None:
    for name, res in results.items():
        if "setup_failed" not in res:
            report(name, PROJECTS[name], res, args.show_lines, args.list_limit)
    rows = summary_rows(results)
    log("\n\nSUMMARY (ratios against plain: median CPU time user+sys, and median wall time)")
    log(f"work dir: {args.work_dir}")
    log(f"{'project':<16} {'version':<8} {'commit':<8} {'tests':>6} {'plain cpu':>9} "
        f"{'wall':>6} | {'off cpu':>18} {'wall':>6} {'fail':>4} | {'default cpu':>18} "
        f"{'wall':>6} {'fail':>4}")
    for row in rows:
        if "setup_failed" in row:
            log(f"{row['project']:<16} setup failed")
            continue
        cells = []
        for mode in PLUGIN_MODES:
            fig = row.get(mode)
            cells.append(f"{ratio_text(fig, 'cpu_ratio'):>18} {ratio_text(fig, 'wall_ratio'):>6} "
                         f"{len(fig['only_plugin']) if fig else '-':>4}")
        log(f"{row['project']:<16} {row['version']:<8} {row['commit']!s:<8} {row['tests']:>6} "
            f"{row['plain_cpu']:>9.1f} {row['plain_wall']:>6.1f} | " + " | ".join(cells))
    if args.markdown:
        log("\n| project | tests | plain CPU / wall | cycles off: CPU, wall | plugin-only "
            "failures | default: CPU, wall | plugin-only failures | main |")
        log("|---|---|---|---|---|---|---|---|")
        for row in rows:
            if "setup_failed" in row:
                continue
            cells = []
            for mode in PLUGIN_MODES:
                fig = row.get(mode)
                if fig is None:
                    cells += ["-", "-"]
                    continue
                if fig["stopped"]:
                    cells.append(f"> {fig['cpu_ratio']:.1f}x (stopped)")
                else:
                    cells.append(f"{fig['cpu_ratio']:.2f}, {fig['wall_ratio']:.2f}")
                cells.append(str(len(fig["only_plugin"])))
            log(f"| {row['project']} {row['version']} | {row['tests']:,} | "
                f"{row['plain_cpu']:.1f} s / {row['plain_wall']:.1f} s | " + " | ".join(cells)
                + f" | {row['commit']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, sort_keys=True))
        log(f"\nfigures written to {args.json}")
    log(f"\nfull output of every run: {args.work_dir / 'logs'}; "
        f"figures: {args.work_dir / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
