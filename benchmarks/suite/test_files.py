"""Reading and writing files under ``tmp_path``: CSV, JSON and plain text."""

from __future__ import annotations

import csv
import json

import pytest


@pytest.mark.parametrize("seed", range(20))
def test_csv_roundtrip(seed, tmp_path):
    path = tmp_path / "data.csv"
    rows = [{"id": str(i), "name": f"name {i}", "score": f"{(i * seed) % 17 / 3:.3f}"}
            for i in range(250)]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "name", "score"])
        writer.writeheader()
        writer.writerows(rows)
    with path.open(newline="") as handle:
        back = list(csv.DictReader(handle))
    assert back == rows


@pytest.mark.parametrize("seed", range(15))
def test_workspace_merge(seed, workspace):
    parts = [json.loads(p.read_text()) for p in sorted(workspace.glob("part*.json"))]
    rows = [row for part in parts for row in part["rows"]]
    assert len(rows) == 120
    merged = workspace / f"merged-{seed}.json"
    merged.write_text(json.dumps({"seed": seed, "rows": rows}, indent=1))
    assert json.loads(merged.read_text())["rows"] == rows
    merged.unlink()


@pytest.mark.parametrize("seed", range(15))
def test_text_lines(seed, tmp_path):
    directory = tmp_path / "notes"
    directory.mkdir()
    for k in range(4):
        lines = [f"{k}:{i}: note {seed} line {i}" for i in range(50)]
        (directory / f"note{k}.txt").write_text("\n".join(lines) + "\n")
    total = 0
    for path in sorted(directory.iterdir()):
        with path.open() as handle:
            total += sum(1 for line in handle if "line" in line)
    assert total == 200
    assert sorted(p.name for p in directory.iterdir()) == [f"note{k}.txt" for k in range(4)]
