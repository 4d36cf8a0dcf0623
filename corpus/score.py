"""Runs ``pytest --refleak`` on the corpus and scores its verdicts against expected.toml.

The plugin runs in its default mode (cycles: project) in a subprocess, with
``--refleak-report``; each case's record is compared with its expected verdict:

- caught: a leak reported LEAKED, cycles reported CYCLES;
- wrong kind: a leak reported as CYCLES or the other way round;
- missed: a leak or cycles that passed;
- false alarm: a clean case reported LEAKED or CYCLES;
- not checked: no verdict (the plugin could not check it, or the test did not pass).

Usage::

    python corpus/score.py [--python PATH] [--xdist N] [--order file|reversed|shuffled|randomly]
                           [--only TEXT]...
                           [--seed N] [--known-wrong FILE] [--json OUT]

Exit status: without ``--known-wrong``, 0 if every case got its expected verdict.
With it, 0 if every wrong case is listed in the file and no case listed as wrong is
now right (so the list must be updated when a fix lands). In the file, one test id a
line, ``#`` starts a comment, and a line starting with ``~`` lists a case that is
wrong only in some runs (order, xdist, Python version): it may be either.

Cases that need pytest-asyncio are left out, and counted as skipped, when the Python
that runs them does not have it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]
from expectations import CASES, HERE, Case, load  # noqa: E402

_GOT = {"leaked": "leak", "known leak": "leak", "cycles": "cycles", "clean": "clean"}
OUTCOMES = ("caught", "ok", "wrong kind", "missed", "false alarm", "not checked", "skipped")
WRONG = ("wrong kind", "missed", "false alarm", "not checked")


def _has_module(python: str, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], check=False).returncode == 0


def run_pytest(
    args: argparse.Namespace, skip_async: bool, report: Path, files: Sequence[str] = ()
) -> tuple[str, float, float]:
    command = [
        args.python, "-m", "pytest", "--refleak", f"--refleak-report={report}",
        "-q", "--tb=line", "-rN", "--color=no",
    ]  # fmt: skip
    if args.order == "randomly":
        # pytest-randomly's own shuffling (and its reseeding before every test), as
        # suites that use it run.
        command += ["-p", "randomly", f"--randomly-seed={args.seed}"]
    else:
        command += ["-p", "no:randomly", "-p", "_order"]
    if args.xdist:
        command += ["-n", str(args.xdist)]
    if skip_async:
        command += ["-m", "not asyncio"]
    command += files
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env["CORPUS_ORDER"] = args.order
    env["CORPUS_SEED"] = str(args.seed)
    env.pop("GITHUB_ACTIONS", None)
    start = time.monotonic()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, cwd=CASES, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time of pytest and its workers: on a shared machine the wall time says more
    # about the neighbours than about the plugin.
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if done.returncode not in (0, 1) or not report.exists():
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"score.py: pytest exited with {done.returncode} and no usable report")
    return done.stdout, elapsed, cpu


def _said(record: dict[str, Any] | None) -> str:
    """What the plugin said about a case, in one line."""
    if record is None:
        return "no record: the test did not run or did not pass"
    verdict = record.get("verdict")
    if verdict == "error":
        return f"NOT CHECKED: {record.get('note')}"
    if verdict == "clean":
        return f"passed (re-runs: {record.get('runs', 0)})"
    summary = record.get("summary") or verdict
    return " ".join(str(summary).split())


def score(
    cases: list[Case], records: dict[str, dict[str, Any]], skipped: set[str]
) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        record = records.get(case.nodeid)
        if case.nodeid in skipped:
            outcome, got = "skipped", "-"
        elif record is None or record.get("verdict") not in _GOT:
            outcome, got = "not checked", "-"
        else:
            got = _GOT[record["verdict"]]
            if case.verdict == "clean":
                outcome = "ok" if got == "clean" else "false alarm"
            elif got == case.verdict:
                outcome = "caught"
            elif got == "clean":
                outcome = "missed"
            else:
                outcome = "wrong kind"
        said = _said(record) if outcome in WRONG else ""
        row = {"nodeid": case.nodeid, "want": case.verdict, "got": got, "outcome": outcome}
        rows.append({**row, "said": said})
    return rows


def read_known_wrong(path: Path) -> tuple[set[str], set[str]]:
    always, sometimes = set(), set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("~"):
            sometimes.add(line[1:].strip())
        elif line:
            always.add(line)
    return always, sometimes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the Python that runs pytest")
    parser.add_argument("--xdist", type=int, default=0, metavar="N", help="run with -n N")
    parser.add_argument(
        "--order", choices=("file", "reversed", "shuffled", "randomly"), default="file"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="the seed of --order=shuffled or randomly"
    )
    parser.add_argument("--known-wrong", type=Path, help="cases the plugin is known to get wrong")
    parser.add_argument("--json", type=Path, help="also write the scores to this file")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only the test files of the cases whose node id contains TEXT"
        " (repeatable), and score their cases",
    )
    args = parser.parse_args(argv)
    if os.sep in args.python:
        # pytest runs in corpus/cases: a relative path is the caller's.
        args.python = os.path.abspath(args.python)

    cases = load()
    files: list[str] = []
    if args.only:
        chosen = [c for c in cases if any(text in c.nodeid for text in args.only)]
        if not chosen:
            raise SystemExit(f"score.py: no case matches {' or '.join(args.only)}")
        files = sorted({c.nodeid.split("::", 1)[0] for c in chosen})
        cases = [c for c in cases if c.nodeid.split("::", 1)[0] in files]
    if not _has_module(args.python, "pytest_refleak"):
        raise SystemExit(f"score.py: pytest-refleak is not installed for {args.python}")
    if args.xdist and not _has_module(args.python, "xdist"):
        raise SystemExit(f"score.py: pytest-xdist is not installed for {args.python}")
    skip_async = not _has_module(args.python, "pytest_asyncio")
    skipped = {c.nodeid for c in cases if skip_async and c.needs == "asyncio"}

    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        _output, elapsed, cpu = run_pytest(args, skip_async, report_path, files)
        report = json.loads(report_path.read_text(encoding="utf-8"))
    records = {r["nodeid"]: r for r in report["tests"]}
    rows = score(cases, records, skipped)
    unexpected = sorted(set(records) - {c.nodeid for c in cases})

    mode = "serial" if not args.xdist else f"-n {args.xdist}"
    order = args.order + (f" (seed {args.seed})" if args.order in ("shuffled", "randomly") else "")
    print(
        f"pytest-refleak on the corpus: Python {report['python']}, {mode}, {order}, "
        f"cycles={report['settings']['cycles']}, {elapsed:.0f} s wall, {cpu:.0f} s CPU"
    )
    wrong = [r for r in rows if r["outcome"] in WRONG]
    width = max((len(r["nodeid"]) for r in wrong), default=0)
    for r in wrong:
        print(f"  {r['outcome']:11} {r['nodeid']:{width}}  want {r['want']:6}  {r['said']}")
    for nodeid in unexpected:
        print(f"  not in expected.toml: {nodeid}")
    totals = {o: sum(1 for r in rows if r["outcome"] == o) for o in OUTCOMES}
    bad = sum(1 for c in cases if c.verdict != "clean" and c.nodeid not in skipped)
    clean = sum(1 for c in cases if c.verdict == "clean" and c.nodeid not in skipped)
    print(
        f"caught {totals['caught']}/{bad}, wrong kind {totals['wrong kind']}, "
        f"missed {totals['missed']}; clean passed {totals['ok']}/{clean}, "
        f"false alarms {totals['false alarm']}; not checked {totals['not checked']}; "
        f"skipped {totals['skipped']}"
    )
    if args.json:
        scores = {
            "python": report["python"],
            "mode": mode,
            "order": order,
            "seconds": round(elapsed, 1),
            "cpu_seconds": round(cpu, 1),
            "totals": totals,
            "rows": rows,
            "unexpected": unexpected,
        }
        args.json.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")

    wrong_ids = {r["nodeid"] for r in wrong}
    right_ids = {r["nodeid"] for r in rows if r["outcome"] in ("caught", "ok")}
    if args.known_wrong is None:
        return 1 if wrong_ids or unexpected else 0
    always, sometimes = read_known_wrong(args.known_wrong)
    new = sorted(wrong_ids - always - sometimes)
    fixed = sorted(always & right_ids)
    for nodeid in new:
        print(f"NEW WRONG (not in {args.known_wrong.name}): {nodeid}")
    for nodeid in fixed:
        print(f"NOW RIGHT (remove it from {args.known_wrong.name}): {nodeid}")
    return 1 if new or fixed or unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
