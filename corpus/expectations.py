"""Reads ``expected.toml``: the verdict every corpus case should get.

Shared by ``verify.py`` and ``score.py``. The file is TOML; on Python 3.10, which has
no ``tomllib``, the restricted subset the file uses is read by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected.toml"
CASES = HERE / "cases"
VERDICTS = ("leak", "cycles", "clean")


@dataclass(frozen=True)
class Case:
    nodeid: str
    verdict: str
    # "test": the case makes cyclic garbage that is the test's own (a re-imported
    # module, a container the test puts into itself), which the default cycles mode
    # must not count; verify.py then does not ask who made the garbage.
    garbage: str = ""
    # "asyncio": needs pytest-asyncio to run under pytest.
    needs: str = ""
    # Memory that grows for a reason outside the case: "hypothesis" (its own memory
    # grows over tens of runs of any property test), "import" (the import system on
    # 3.13 keeps a little from every re-import). verify.py judges by objects only.
    noise: str = ""


_ENTRY = re.compile(r'^"(?P<key>[^"]+)"\s*=\s*(?P<value>.+?)\s*(?:#.*)?$')
_FIELD = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def _parse_subset(text: str) -> dict[str, object]:
    cases: dict[str, object] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        match = _ENTRY.match(line)
        if section != "cases" or match is None:
            raise ValueError(f"expected.toml: cannot read line: {raw!r}")
        value = match["value"]
        if value.startswith("{"):
            cases[match["key"]] = dict(_FIELD.findall(value))
        else:
            cases[match["key"]] = value.strip('"')
    return {"cases": cases}


def load(path: Path = EXPECTED) -> list[Case]:
    text = path.read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10
        data = _parse_subset(text)
    else:
        data = tomllib.loads(text)
    cases = []
    for nodeid, value in data["cases"].items():  # type: ignore[union-attr]
        if isinstance(value, str):
            value = {"verdict": value}
        case = Case(nodeid=nodeid, **value)
        if case.verdict not in VERDICTS:
            raise ValueError(f"expected.toml: {nodeid}: unknown verdict {case.verdict!r}")
        cases.append(case)
    return cases
