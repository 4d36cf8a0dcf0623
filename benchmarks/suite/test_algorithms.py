"""Textbook algorithms on small inputs: searches, dynamic programming, heaps."""

from __future__ import annotations

import bisect
import collections
import heapq

import pytest


def grid(seed, size):
    return [
        [((x * 73856093) ^ (y * 19349663) ^ (seed * 83492791)) % 100 < 20 and (x, y) != (0, 0)
         for x in range(size)]
        for y in range(size)
    ]


def shortest_path(walls, start, goal):
    size = len(walls)
    queue = collections.deque([start])
    seen = {start: None}
    while queue:
        here = queue.popleft()
        if here == goal:
            break
        x, y = here
        for nxt in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            nx, ny = nxt
            if 0 <= nx < size and 0 <= ny < size and not walls[ny][nx] and nxt not in seen:
                seen[nxt] = here
                queue.append(nxt)
    if goal not in seen:
        return None
    path = [goal]
    while path[-1] != start:
        path.append(seen[path[-1]])
    return path[::-1]


def lcs(a, b):
    previous = [0] * (len(b) + 1)
    for ca in a:
        current = [0]
        for j, cb in enumerate(b):
            current.append(previous[j] + 1 if ca == cb else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


@pytest.mark.parametrize("seed", range(20))
def test_shortest_path(seed):
    walls = grid(seed, 40)
    goal = next((x, y) for y in range(39, -1, -1) for x in range(39, -1, -1) if not walls[y][x])
    path = shortest_path(walls, (0, 0), goal)
    if path is not None:
        assert path[0] == (0, 0) and path[-1] == goal
        assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(path, path[1:]))


@pytest.mark.parametrize("seed", range(15))
def test_lcs(seed):
    a = "".join("ACGT"[(i * i + seed) % 4] for i in range(90))
    b = "".join("ACGT"[(i * 3 + seed) % 4] for i in range(90))
    n = lcs(a, b)
    assert 0 < n <= 90
    assert lcs(a, a) == 90


@pytest.mark.parametrize("seed", range(15))
def test_heaps_and_bisect(seed):
    streams = [sorted((i * 7919 + k * 104729 + seed) % 10007 for i in range(400)) for k in range(6)]
    merged = list(heapq.merge(*streams))
    assert merged == sorted(merged)
    top = heapq.nlargest(20, merged)
    assert top == sorted(merged, reverse=True)[:20]
    index = []
    for value in merged[::3]:
        bisect.insort(index, value)
    assert all(index[bisect.bisect_left(index, v)] == v for v in merged[::15])
