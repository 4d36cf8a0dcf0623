"""Property-based tests with hypothesis."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memo import pricing
from textparse import docs, lexer

_SETTINGS = settings(
    max_examples=15,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

_SEEN: list[list[str]] = []


@_SETTINGS
@given(st.text(alphabet="ab \t", max_size=20))
def test_normalize_idempotent(text):
    assert docs.normalize(docs.normalize(text)) == docs.normalize(text)


@_SETTINGS
@given(st.lists(st.integers(min_value=0, max_value=9), max_size=6))
def test_encode_lists(values):
    assert lexer.encode(values) == "[" + ", ".join(map(str, values)) + "]"


@_SETTINGS
@given(st.integers(min_value=0, max_value=50))
def test_lru_never_exceeds_size(n):
    cache = pricing.LRU(maxsize=3)
    for i in range(n):
        cache.get(i, str)
    assert len(cache._data) <= 3


@_SETTINGS
@given(st.text(alphabet="xyz", min_size=1, max_size=8))
def test_property_keeps_examples(text):
    # Every example the property sees is remembered in a module-level list.
    _SEEN.append([text] * 20)
    assert text
