"""Dict, list and set comprehensions, and the collections and itertools toolbox."""

from __future__ import annotations

import collections
import itertools

import pytest

CITIES = ["Oslo", "Lima", "Pune", "Kyiv", "Riga", "Doha", "Baku", "Nice", "Bern", "Kobe"]


def make_rows(seed, count):
    return [
        {"city": CITIES[(i * 7 + seed) % len(CITIES)], "year": 2000 + i % 20,
         "value": (i * 2654435761 + seed) % 1000}
        for i in range(count)
    ]


@pytest.mark.parametrize("seed", range(20))
def test_group_and_aggregate(seed):
    rows = make_rows(seed, 2000)
    by_city = collections.defaultdict(list)
    for row in rows:
        by_city[row["city"]].append(row["value"])
    means = {city: sum(v) / len(v) for city, v in by_city.items()}
    assert set(means) <= set(CITIES)
    counts = collections.Counter(row["city"] for row in rows)
    assert sum(counts.values()) == 2000
    assert counts.most_common(1)[0][1] >= 200


@pytest.mark.parametrize("seed", range(15))
def test_pivot(seed):
    rows = make_rows(seed, 500)
    years = sorted({row["year"] for row in rows})
    pivot = {
        city: {year: sum(r["value"] for r in rows if r["city"] == city and r["year"] == year)
               for year in years}
        for city in CITIES[:4]
    }
    assert all(len(row) == len(years) for row in pivot.values())
    flat = [(c, y, v) for c, row in pivot.items() for y, v in row.items() if v]
    assert all(v > 0 for _, _, v in flat)


@pytest.mark.parametrize("seed", range(15))
def test_itertools_pipeline(seed):
    rows = sorted(make_rows(seed, 1500), key=lambda r: (r["city"], r["year"]))
    groups = {
        key: len(list(group))
        for key, group in itertools.groupby(rows, key=lambda r: r["city"])
    }
    assert sum(groups.values()) == 1500
    windows = list(zip(rows, itertools.islice(rows, 1, None)))
    rising = sum(1 for a, b in windows if b["value"] > a["value"])
    assert 0 < rising < len(windows)
    chunks = [rows[i:i + 32] for i in range(0, len(rows), 32)]
    assert list(itertools.chain.from_iterable(chunks)) == rows
    pairs = list(itertools.combinations(CITIES[: 4 + seed % 5], 2))
    assert len(pairs) == len(set(pairs))
