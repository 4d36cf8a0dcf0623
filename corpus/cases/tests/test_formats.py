"""Everyday formatting and parsing: clean tests of the kind most suites are made of."""

import csv
import io
import json
from dataclasses import replace

from settings import config
from textparse import docs, lexer


def test_sniff_csv_dialect():
    sample = "a;b;c\n1;2;3\n4;5;6\n"
    assert csv.Sniffer().sniff(sample).delimiter == ";"


def test_json_roundtrip():
    doc = {"items": [{"sku": "a", "qty": 2}], "total": 12.5}
    assert json.loads(json.dumps(doc, sort_keys=True)) == doc


def test_settings_replace():
    base = config.Settings()
    assert replace(base, workers=3).workers == 3 and base.workers == 2


def test_list_tokenizer_on_long_input():
    text = " + ".join(f"x{i}" for i in range(200))
    assert len(lexer.ListTokenizer(text).tokens) == 399


def test_slugify_many():
    out = io.StringIO()
    for title in ("Hello World", "  Leak  Hunting ", "A B C"):
        out.write(docs.slugify(title) + "\n")
    assert out.getvalue().splitlines() == ["hello-world", "leak-hunting", "a-b-c"]
