"""The README and the docs tell the truth about the options and the commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_refleak.settings import MARKER_ARGS, OPTIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("option", OPTIONS, ids=[o.name for o in OPTIONS])
def test_readme_lists_every_option(option: object) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"`{option.cli}" in readme  # type: ignore[attr-defined]
    assert f"`{option.name}`" in readme  # type: ignore[attr-defined]


def test_docs_list_every_marker_argument() -> None:
    markers = (ROOT / "docs" / "markers.md").read_text()
    for name in MARKER_ARGS:
        assert f"| `{name}` |" in markers


def test_readme_commands_are_marked_for_ci() -> None:
    """.ci/run runs the commands that follow these markers, as written."""
    readme = (ROOT / "README.md").read_text()
    assert "<!-- newcomer-demo -->\n```console\n" in readme
    assert "<!-- test-command -->\n```console\n" in readme
