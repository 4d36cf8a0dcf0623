"""Parsing log lines with compiled regular expressions."""

from __future__ import annotations

import re

import pytest

LINE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})\.(?P<ms>\d{3}) "
    r"\[(?P<level>[A-Z]+)\] (?P<logger>[\w.]+): (?P<message>.*)$"
)
KEY_VALUE = re.compile(r"(\w+)=(\"[^\"]*\"|\S+)")
IP = re.compile(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def make_log(seed, count):
    lines = []
    for i in range(count):
        level = LEVELS[(i + seed) % 4]
        lines.append(
            f"2024-05-{1 + i % 28:02d} 12:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d} "
            f"[{level}] app.module{i % 5}: request id={seed * 1000 + i} "
            f'user="user {i % 13}" ip=10.0.{i % 256}.{(i * 3) % 256} took={i % 97}ms'
        )
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(25))
def test_parse_lines(seed):
    log = make_log(seed, 250)
    entries = [LINE.match(line).groupdict() for line in log.splitlines()]
    assert len(entries) == 250
    fields = [dict(KEY_VALUE.findall(e["message"])) for e in entries]
    assert all(f["id"].isdigit() for f in fields)
    by_level = {}
    for e in entries:
        by_level[e["level"]] = by_level.get(e["level"], 0) + 1
    assert sum(by_level.values()) == 250


@pytest.mark.parametrize("seed", range(15))
def test_redact(seed):
    log = make_log(seed, 200)
    redacted = IP.sub(r"\1.\2.x.x", log)
    assert redacted.count(".x.x") == 200
    masked = KEY_VALUE.sub(lambda m: f"{m.group(1)}=***", redacted)
    assert "took=***" in masked


@pytest.mark.parametrize("seed", range(10))
def test_finditer_spans(seed):
    log = make_log(seed, 200)
    spans = [m.span() for m in IP.finditer(log)]
    assert len(spans) == 200
    assert all(log[a:b].startswith("10.0.") for a, b in spans)
    words = re.split(r"\s+", log)
    assert len(words) > 1600
