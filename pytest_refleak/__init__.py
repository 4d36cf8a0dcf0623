"""pytest-refleak: find leaked objects, leaked memory and uncollected reference cycles."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
