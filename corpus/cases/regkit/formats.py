"""A read-only registry of media-type encoders, exposed as a MappingProxyType."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import MappingProxyType
from typing import Any


class Encoder:
    def __init__(self, media_type: str, indent: int | None) -> None:
        self.media_type = media_type
        self.options = {"indent": indent, "sort_keys": True}

    def encode(self, obj: Any) -> str:
        return json.dumps(obj, **self.options)


def _registry() -> tuple[MappingProxyType[str, Encoder], Callable[[str, Encoder], None]]:
    # The dict itself is reachable only through the read-only proxy and its bound
    # __setitem__ (no module attribute names it).
    store: dict[str, Encoder] = {}
    return MappingProxyType(store), store.__setitem__


ENCODERS, _set_encoder = _registry()


def negotiate(api_version: int, pretty: bool) -> Encoder:
    """Every API version gets a vendor media type (``application/vnd.shop.v{N}+json``);
    registered on every request, it leaks one encoder per version number seen."""
    media_type = f"application/vnd.shop.v{api_version}+json"
    encoder = Encoder(media_type, 2 if pretty else None)
    _set_encoder(media_type, encoder)
    return ENCODERS[media_type]


def negotiate_fixed(api_version: int, pretty: bool) -> Encoder:
    """The fix: one media type (the version goes into a parameter), replaced in place."""
    media_type = "application/vnd.shop+json"
    encoder = Encoder(media_type, 2 if pretty else None)
    _set_encoder(media_type, encoder)
    return ENCODERS[media_type]
