"""Helpers documented by example; the examples run as doctests.

>>> normalize("  Hello   World ")
'hello world'
"""

from __future__ import annotations

_AUDIT: list[str] = []


def normalize(text: str) -> str:
    """Collapses whitespace and lowers case.

    >>> normalize("A  b")
    'a b'
    """
    return " ".join(text.split()).lower()


def audited_normalize(text: str) -> str:
    """Normalizes, and keeps an audit line of every call.

    >>> audited_normalize("Fish " * 300)[:9]
    'fish fish'
    """
    result = normalize(text)
    _AUDIT.append(f"normalize({text!r}) -> {result!r}")
    return result


def slugify(text: str) -> str:
    """
    >>> words = ["Hello", "World"]
    >>> slugify(" ".join(words))
    'hello-world'
    """
    return normalize(text).replace(" ", "-")
