"""JSON round-trips of nested documents: allocation-heavy, nothing kept."""

from __future__ import annotations

import dataclasses
import json

import pytest


def make_document(seed, size):
    return {
        "id": seed,
        "title": f"document {seed}",
        "items": [
            {
                "n": i,
                "label": f"row-{seed}-{i}",
                "score": (i * 37 + seed) % 101 / 7.0,
                "flags": [i % 2 == 0, i % 3 == 0],
                "meta": None if i % 5 else {"note": "every fifth", "at": [seed, i]},
            }
            for i in range(size)
        ],
    }


@dataclasses.dataclass
class Reading:
    sensor: str
    values: list
    unit: str = "C"


class ReadingEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, Reading):
            return {"__reading__": dataclasses.asdict(o)}
        return super().default(o)


def decode_reading(obj):
    if "__reading__" in obj:
        return Reading(**obj["__reading__"])
    return obj


@pytest.mark.parametrize("seed", range(25))
def test_roundtrip(seed):
    doc = make_document(seed, 60 + seed % 5 * 10)
    for indent in (None, 2):
        text = json.dumps(doc, indent=indent, sort_keys=True)
        assert json.loads(text) == doc
    assert text.count('"label"') == len(doc["items"])


@pytest.mark.parametrize("seed", range(15))
def test_lines(seed):
    docs = [make_document(seed * 100 + k, 12) for k in range(16)]
    stream = "\n".join(json.dumps(d, separators=(",", ":")) for d in docs)
    parsed = [json.loads(line) for line in stream.splitlines()]
    assert [d["id"] for d in parsed] == [seed * 100 + k for k in range(16)]
    assert sum(len(d["items"]) for d in parsed) == 192


@pytest.mark.parametrize("seed", range(10))
def test_custom_encoder(seed):
    readings = [
        Reading(f"sensor-{seed}-{k}", [round(k * 0.1 + j, 2) for j in range(20)])
        for k in range(25)
    ]
    text = json.dumps({"readings": readings}, cls=ReadingEncoder)
    back = json.loads(text, object_hook=decode_reading)["readings"]
    assert back == readings
    assert all(isinstance(r, Reading) for r in back)
