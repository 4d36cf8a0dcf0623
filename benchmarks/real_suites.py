#!/usr/bin/env python3
"""Run pytest-refleak on the test suites of real, popular pure-Python projects.

For each project below (pinned versions), this script

1. makes a venv under the work dir, downloads the project's sdist from PyPI
   (``pip download --no-binary :all: --no-deps``), unpacks it, installs it with
   its test requirements and pytest-refleak from this repository (editable);
2. runs the project's own test suite from the unpacked sdist, alternating plain
   and ``--refleak --refleak-cycles=off`` for ``--rounds`` rounds (wall clock),
   then once with plain ``--refleak`` (cycles at their default, ``project``);
3. prints, per project: test count, median times and their ratio, the lines of
   the ``refleak`` terminal section (LEAKED / CYCLES / NOT CHECKED) per mode,
   and every test that passes plain but fails with the plugin, with the text
   the plugin printed for the first few.

Tests that already fail plain (in any plain round) are left out of the
comparison; only failures that appear with the plugin alone are reported.

Stdlib only.  Usage (from anywhere)::

    python benchmarks/real_suites.py                       # default projects
    python benchmarks/real_suites.py --projects click toolz --rounds 3
    python benchmarks/real_suites.py --list

The venvs are reused between invocations (``--fresh`` rebuilds them); since
pytest-refleak is installed editable, a reused venv tests the current code.
Full pytest output of every run is kept in ``<work dir>/logs`` and all figures
in ``<work dir>/results.json``.
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
import textwrap
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
        "test_requires": ["hypothesis==6.170.17", "pretend==1.0.9", "tomli-w==1.2.0", "pip"],
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
        "test_requires": ["hypothesis==6.170.17", "pympler==1.1", "cloudpickle==3.1.3"],
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
        "test_requires": ["freezegun==1.5.5", "hypothesis==6.170.17", "pytest-cov",
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
        "version": "0.15.2",
        "test_requires": [],
        "tests": ["tests"],
        "pytest_args": [],
    },
    "pyparsing": {
        "version": "3.3.3",
        "test_requires": ["railroad-diagrams==3.0.1", "jinja2==3.1.6"],
        "tests": ["tests"],
        "pytest_args": [],
    },
}

DEFAULT_PROJECTS = ["click", "jinja2", "more-itertools", "attrs", "packaging", "python-dateutil"]

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


def run_suite(name: str, info: dict, spec: dict, mode: str, tag: str, work: Path,
              timeout: float, full_suite: bool = False) -> dict:
    src = Path(info["src"])
    py = venv_python(Path(info["venv"]))
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    record = logs / f"{name}-{tag}.json"
    if record.exists():
        record.unlink()
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
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=src, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        timed_out = True
    seconds = time.perf_counter() - started
    (logs / f"{name}-{tag}.txt").write_text(" ".join(cmd) + "\n\n" + output)
    empty: dict = {"tests": {}, "collect_errors": {}}
    data = json.loads(record.read_text()) if record.exists() else empty
    counts: dict[str, int] = {}
    for entry in data["tests"].values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    last = output.strip().splitlines()[-1] if output.strip() else ""
    result = {
        "mode": mode, "tag": tag, "seconds": round(seconds, 2), "returncode": proc.returncode,
        "timed_out": timed_out, "counts": counts, "summary": last,
        "tests": data["tests"], "collect_errors": data["collect_errors"],
        "section": refleak_section(output), "internal_errors": crash_lines(output),
        "refleak_traceback": any(PLUGIN_FRAME_RE.search(line) for line in output.splitlines()),
        "command": " ".join(cmd), "cwd": str(src),
    }
    log(f"  [{name}] {tag:<22} {seconds:8.1f} s  rc={proc.returncode}  {last}")
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


def report(name: str, spec: dict, res: dict, show: int, list_limit: int) -> None:
    plain = [r for r in res["runs"] if r["mode"] == "plain"]
    off = [r for r in res["runs"] if r["mode"] == "refleak-cycles-off"]
    full = [r for r in res["runs"] if r["mode"] == "refleak"]
    tp = statistics.median(r["seconds"] for r in plain)
    to = statistics.median(r["seconds"] for r in off) if off else float("nan")
    tf = statistics.median(r["seconds"] for r in full) if full else float("nan")
    bar = "=" * 100
    log(f"\n{bar}\n{name} {spec['version']}   (cwd {plain[0]['cwd']})")
    log(f"  command: {plain[0]['command']}")
    log(f"  tests: {len(plain[0]['tests'])}  plain outcome: {plain[0]['summary']}")
    if plain[0]["collect_errors"]:
        log(f"  collection errors (plain): {sorted(plain[0]['collect_errors'])}")
    log(f"  plain {tp:.1f} s | --refleak --refleak-cycles=off {to:.1f} s (x{to / tp:.2f})"
        f" | --refleak {tf:.1f} s (x{tf / tp:.2f})")
    log("  all runs: " + ", ".join(f"{r['tag']}={r['seconds']}s" for r in res["runs"]))
    cmp_ = res["compare"]
    if cmp_["baseline_failures"]:
        log(f"  pre-existing failures plain (excluded): {len(cmp_['baseline_failures'])}")
        for nodeid in cmp_["baseline_failures"][:10]:
            log(f"    {nodeid}")
    for mode, runs in (("refleak-cycles-off", off), ("refleak", full)):
        if not runs:
            continue
        c = cmp_[mode]
        log(f"\n  --- {mode}: {runs[-1]['summary']}")
        for r in runs:
            if r["internal_errors"] or r["refleak_traceback"] or r["timed_out"]:
                log(f"  !!! {r['tag']}: rc={r['returncode']} timed_out={r['timed_out']} "
                    f"internal_errors={len(r['internal_errors'])} "
                    f"refleak in a traceback={r['refleak_traceback']} "
                    f"(see logs/{name}-{r['tag']}.txt)")
                for line in r["internal_errors"][:60]:
                    log("    " + line)
        section = runs[-1]["section"]
        log(f"  refleak section ({runs[-1]['tag']}): {len(section)} lines")
        for line in section:
            log("    " + line)
        if c["missing"]:
            log(f"  tests missing from these runs (present plain): {len(c['missing'])}: "
                f"{c['missing'][:10]}")
        if c["passes_only_with_plugin"]:
            log(f"  failing plain but passing with the plugin: {c['passes_only_with_plugin'][:10]}")
        items = sorted(c["only_plugin"].items(), key=order)
        log(f"  tests failing only with the plugin: {len(items)}")
        groups: dict[str, list[str]] = {}
        for nodeid, e in items:
            groups.setdefault(signature(nodeid, e, section), []).append(nodeid)
        log(f"  grouped by what they report ({len(groups)} groups; count, kind and what):")
        for sig, ids in sorted(groups.items(), key=lambda g: -len(g[1])):
            log(f"    {len(ids):>5}  {sig}")
            log(f"           e.g. {ids[0]}")
        for nodeid, e in items[:list_limit]:
            log(f"    {e['kind']:<7} {nodeid}  (in {e['rounds']}/{len(runs)} runs)")
        if len(items) > list_limit:
            log(f"    ... and {len(items) - list_limit} more (results.json has them all)")
        # the full text of the first test of each of the biggest groups
        firsts = [ids[0] for _, ids in sorted(groups.items(), key=lambda g: -len(g[1]))]
        for nodeid in firsts[:show]:
            e = c["only_plugin"][nodeid]
            log(f"\n  ~~~ {e['kind']} {nodeid}")
            log(textwrap.indent(e["text"].rstrip(), "  | "))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--projects", nargs="+", default=DEFAULT_PROJECTS, metavar="NAME",
                    help=f"projects to run (default: {' '.join(DEFAULT_PROJECTS)})")
    ap.add_argument("--work-dir", default="/tmp/refleak-suites", type=Path)
    ap.add_argument("--repo", default=REPO_DEFAULT, type=Path,
                    help="pytest-refleak checkout to install editable (default: %(default)s)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for the venvs (default: the one running this script)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternating plain / --refleak --refleak-cycles=off rounds (default 2)")
    ap.add_argument("--no-default-cycles", action="store_true",
                    help="skip the one run with plain --refleak")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per pytest run")
    ap.add_argument("--show", type=int, default=3,
                    help="print the full failure text of this many plugin-only failures per mode")
    ap.add_argument("--list-limit", type=int, default=40,
                    help="list at most this many plugin-only failures per mode by name")
    ap.add_argument("--full-suites", action="store_true",
                    help="also run the tests listed as 'slow' for a project (see PROJECTS)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the venvs")
    ap.add_argument("--setup-only", action="store_true")
    ap.add_argument("--report-only", action="store_true",
                    help="print the report from the last results.json without running anything")
    ap.add_argument("--list", action="store_true", help="list the known projects and exit")
    args = ap.parse_args(argv)

    if args.list:
        for name, spec in PROJECTS.items():
            log(f"{name}=={spec['version']}  test requires: {spec['test_requires']}")
        return 0
    unknown = [p for p in args.projects if p not in PROJECTS]
    if unknown:
        ap.error(f"unknown projects: {unknown}; known: {sorted(PROJECTS)}")
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
        show_results({k: saved[k] for k in args.projects if k in saved}, args, work)
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
        runs = []
        for i in range(1, args.rounds + 1):
            runs.append(run_suite(name, info, spec, "plain", f"plain-{i}", work, args.timeout,
                                  args.full_suites))
            runs.append(run_suite(name, info, spec, "refleak-cycles-off", f"refleak-cycles-off-{i}",
                                  work, args.timeout, args.full_suites))
        if not args.no_default_cycles:
            runs.append(run_suite(name, info, spec, "refleak", "refleak", work, args.timeout,
                                  args.full_suites))
        plain = [r for r in runs if r["mode"] == "plain"]
        res = {"version": spec["version"], "freeze": info["freeze"], "runs": runs, "compare": {}}
        for mode in ("refleak-cycles-off", "refleak"):
            mode_runs = [r for r in runs if r["mode"] == mode]
            if mode_runs:
                res["compare"][mode] = compare(plain, mode_runs)
        off_compare = res["compare"]["refleak-cycles-off"]
        res["compare"]["baseline_failures"] = off_compare["baseline_failures"]
        res["full_suite"] = args.full_suites
        results[name] = res
        saved[name] = res
        results_path.write_text(json.dumps(saved, indent=1))

    if args.setup_only:
        return 0
    show_results(results, args, work)
    return 0


def show_results(results: dict, args: argparse.Namespace, work: Path) -> None:
    for name, res in results.items():
        if "setup_failed" not in res:
            report(name, PROJECTS[name], res, args.show, args.list_limit)
    log("\n\nSUMMARY")
    log(f"python: {args.python}  rounds: {args.rounds}  work dir: {work}")
    log(f"{'project':<16} {'version':<9} {'tests':>6} {'plain s':>8} {'off s':>8} {'ratio':>6}"
        f" {'default s':>9} {'ratio':>6} {'only-plugin off/default':>24}")
    for name, res in results.items():
        if "setup_failed" in res:
            log(f"{name:<16} setup failed")
            continue
        plain = [r["seconds"] for r in res["runs"] if r["mode"] == "plain"]
        off = [r["seconds"] for r in res["runs"] if r["mode"] == "refleak-cycles-off"]
        full = [r["seconds"] for r in res["runs"] if r["mode"] == "refleak"]
        tp, to = statistics.median(plain), statistics.median(off)
        tf = statistics.median(full) if full else float("nan")
        n = len(next(r for r in res["runs"] if r["mode"] == "plain")["tests"])
        n_off = len(res["compare"]["refleak-cycles-off"]["only_plugin"])
        n_full = len(res["compare"].get("refleak", {}).get("only_plugin", {}))
        log(f"{name:<16} {res['version']:<9} {n:>6} {tp:>8.1f} {to:>8.1f} {to / tp:>6.2f}"
            f" {tf:>9.1f} {tf / tp:>6.2f} {f'{n_off}/{n_full}':>24}")
    log(f"\nfull output of every run: {work / 'logs'}; figures: {work / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
