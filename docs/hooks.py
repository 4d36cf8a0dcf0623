"""MkDocs hook: fill the pages with real output and with the options as the code defines them.

``<!-- refleak-run: ARGS -->`` becomes the output of ``pytest ARGS`` run from the
repository root with the installed plugin; ``<!-- refleak-options -->`` becomes the
table of settings made from ``pytest_refleak.settings.OPTIONS``.  Nothing shown in
the docs is typed by hand.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN = re.compile(r"<!-- refleak-run: (.*?) -->")
OPTIONS = "<!-- refleak-options -->"
_outputs: dict[str, str] = {}


def _run(args: str) -> str:
    if args not in _outputs:
        env = {**os.environ, "COLUMNS": "100", "PY_COLORS": "0"}
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *shlex.split(args)]
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
        _outputs[args] = f"```text\n$ pytest {args}\n{output}\n```"
    return _outputs[args]


def _options_table() -> str:
    sys.path.insert(0, str(ROOT))
    from pytest_refleak.settings import OPTIONS as options

    rows = ["| Command line | ini setting | Default | What it does |", "|---|---|---|---|"]
    for option in options:
        flag = option.cli if option.flag else f"{option.cli}={option.metavar}"
        default = "off" if option.flag else str(option.default)
        rows.append(f"| `{flag}` | `{option.name}` | `{default}` | {option.help} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    markdown = RUN.sub(lambda match: _run(match.group(1)), markdown)
    if OPTIONS in markdown:
        markdown = markdown.replace(OPTIONS, _options_table())
    return markdown
