"""String building: f-strings, str.format, padding, wrapping, and captured output."""

from __future__ import annotations

import textwrap

import pytest

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
    "mike november oscar papa quebec romeo sierra tango uniform victor whiskey"
).split()


def table(rows, widths):
    lines = []
    for row in rows:
        cells = [f"{str(cell):<{width}}" for cell, width in zip(row, widths)]
        lines.append("| " + " | ".join(cells) + " |")
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    return "\n".join([rule, *lines, rule])


@pytest.mark.parametrize("n", range(20))
def test_table(n):
    rows = [
        (i, WORDS[(i + n) % len(WORDS)], f"{i * 3.14159:.3f}", "{:>6}".format(i * n))
        for i in range(400)
    ]
    widths = [max(len(str(row[c])) for row in rows) for c in range(4)]
    text = table(rows, widths)
    assert text.count("\n") == len(rows) + 1
    assert len({len(line) for line in text.splitlines()}) == 1


@pytest.mark.parametrize("n", range(15))
def test_wrap_and_justify(n):
    paragraph = " ".join(WORDS[(i * 7 + n) % len(WORDS)] for i in range(400))
    for width in (30, 50, 72):
        lines = textwrap.wrap(paragraph, width=width)
        assert all(len(line) <= width for line in lines)
        justified = [line.center(width, ".") for line in lines]
        assert " ".join(j.strip(".") for j in justified).split() == paragraph.split()
    assert textwrap.shorten(paragraph, width=60).endswith("[...]")


@pytest.mark.parametrize("n", range(10))
def test_report_output(n, capsys):
    totals = {f"{word}-{k}": len(word) * (n + k + 1) for word in WORDS for k in range(24)}
    for word, total in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{word:>10} {total:6d} {'#' * (total % 30)}")
    print("%d words, %s" % (len(totals), "done"))
    out = capsys.readouterr().out
    assert out.count("\n") == len(WORDS) * 24 + 1
    assert "done" in out


@pytest.mark.parametrize("n", range(5))
def test_case_and_encoding(n):
    text = " ".join(WORDS) * (n + 3) * 40
    variants = [text.upper(), text.title(), text.swapcase(), text.casefold()]
    encoded = [v.encode("utf-8") for v in variants] + [text.encode("utf-16")]
    assert encoded[-1].decode("utf-16") == text
    assert {len(v) for v in variants} == {len(text)}
    assert text.replace(" ", "_").split("_") == text.split(" ")
