"""MkDocs hook: fill the pages with real output and with the options as the code defines them.

``<!-- refleak-run: ARGS -->`` becomes the output of ``pytest ARGS`` run from the
repository root with the installed plugin; ``<!-- refleak-options -->`` becomes the
table of settings made from ``pytest_refleak.settings.OPTIONS``.  Nothing shown in
the docs is typed by hand.

Pages that walk through files a run writes (a baseline, a report) use ``{tmp}``
in their markers: a scratch directory made afresh for the page, shown as the
directory pytest runs in.  On such pages, ``<!-- refleak-show: PATH -->`` becomes
the file's content, and ``<!-- refleak-write: PATH -->`` writes the fenced block
that follows it to the file (the block stays on the page, so the reader sees what
the next run reads).  ARGS may start with ``NAME=value`` environment settings.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from xml.dom import minidom

ROOT = Path(__file__).resolve().parent.parent
MARKERS = re.compile(
    r"<!-- refleak-run: (?P<run>.*?) -->"
    r"|<!-- refleak-show: (?P<show>\S+) -->"
    r"|<!-- refleak-write: (?P<write>\S+) -->\n(?P<block>```\w*\n(?P<content>.*?\n)```)",
    re.DOTALL,
)
OPTIONS = "<!-- refleak-options -->"
TMP = "{tmp}"
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_outputs: dict[str, str] = {}


def _run(args: str, tmp: str | None) -> str:
    # Runs that use the scratch directory depend on what earlier runs left there.
    if args in _outputs and TMP not in args:
        return _outputs[args]
    settings, rest = _split_env(args)
    env = {**os.environ, "COLUMNS": "100", "PY_COLORS": "0"}
    env.pop("GITHUB_ACTIONS", None)
    env.update(setting.split("=", 1) for setting in settings)
    words = shlex.split(rest.replace(TMP, tmp) if tmp is not None else rest)
    # Other plugins installed for the project's own tests (the asyncio ones) would
    # add header lines of their own: the pages show this plugin alone.
    others = ["-p", "no:asyncio", "-p", "no:anyio"]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *others, *words]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    output = (result.stdout + result.stderr).rstrip()
    # Machine details vary from one build to the next; the rest is the real output.
    output = re.sub(r"^platform .*$", "platform linux -- Python 3.x, pytest-9.x, pluggy-1.x",
                    output, flags=re.MULTILINE)
    output = re.sub(r"^plugins: .*$", "plugins: refleak", output, flags=re.MULTILINE)
    output = re.sub(r" in \d+\.\d+s", " in 0.50s", output)
    output = re.sub(r"at 0x[0-9a-f]+", "at 0x7f3a1c2b5e10", output)
    if tmp is not None:
        output = output.replace(tmp + os.sep, "").replace(tmp, ".")
        rest = rest.replace(TMP + "/", "")
    command_line = " ".join(["$", *settings, "pytest", rest])
    _outputs[args] = f"```text\n{command_line}\n{output}\n```"
    return _outputs[args]


def _split_env(args: str) -> tuple[list[str], str]:
    """``NAME=value`` settings at the start of ARGS, and the rest."""
    words = args.split(" ")
    settings = []
    while words and _ENV.match(words[0]):
        settings.append(words.pop(0))
    return settings, " ".join(words)


def _show(path: str, tmp: str | None) -> str:
    real = Path(path.replace(TMP, tmp or TMP))
    text = real.read_text(encoding="utf-8").rstrip()
    language = {".json": "json", ".xml": "xml"}.get(real.suffix, "text")
    if language == "xml":
        # pytest writes JUnit XML on one line; the machine and the clock vary.
        text = minidom.parseString(text).documentElement.toprettyxml(indent="  ").rstrip()
        text = re.sub(r' (timestamp|hostname)="[^"]*"', "", text)
        text = re.sub(r' time="[0-9.]+"', ' time="0.010"', text)
    return f"```{language}\n{text}\n```"


def _write(path: str, content: str, tmp: str | None) -> None:
    Path(path.replace(TMP, tmp or TMP)).write_text(content, encoding="utf-8")


def _options_table() -> str:
    sys.path.insert(0, str(ROOT))
    from pytest_refleak.settings import OPTIONS as options

    rows = ["| Command line | ini setting | Default | What it does |", "|---|---|---|---|"]
    for option in options:
        flag = option.cli if option.flag else f"{option.cli}={option.metavar}"
        if option.flag:
            default = "off"
        elif option.default in (None, ()):
            default = "none"
        else:
            default = str(option.default)
        rows.append(f"| `{flag}` | `{option.name}` | `{default}` | {option.help} |")
    return "\n".join(rows)


def _fill(markdown: str, tmp: str | None) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("run") is not None:
            return _run(match.group("run"), tmp)
        if match.group("show") is not None:
            return _show(match.group("show"), tmp)
        _write(match.group("write"), match.group("content"), tmp)
        return match.group("block")

    return MARKERS.sub(replace, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if TMP in markdown:
        with tempfile.TemporaryDirectory(prefix="refleak-docs-") as tmp:
            markdown = _fill(markdown, tmp)
    else:
        markdown = _fill(markdown, None)
    if OPTIONS in markdown:
        markdown = markdown.replace(OPTIONS, _options_table())
    return markdown
