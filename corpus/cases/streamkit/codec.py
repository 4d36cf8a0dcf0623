"""A text codec for the wire format of a legacy device (bytes rotated by a per-stream
key), found through ``codecs.lookup`` by name.

``transfer(..., unregister=False)`` registers a new search function for every stream and never takes it
off: before ``codecs.unregister`` (3.10, bpo-41842, python/cpython#22360: "Search
function registration is not currently reversible, which may cause problems") there
was no way to. ``transfer(..., unregister=True)`` takes it off when the stream is done
(``codecs.unregister`` also empties the lookup cache, so the next lookup asks again).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable


def _rot_codec(name: str, key: int) -> codecs.CodecInfo:
    table_enc = bytes((b + key) % 256 for b in range(256))
    table_dec = bytes((b - key) % 256 for b in range(256))

    def encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
        return text.encode("latin-1", errors).translate(table_enc), len(text)

    def decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
        return bytes(data).translate(table_dec).decode("latin-1", errors), len(data)

    return codecs.CodecInfo(encode, decode, name=name)


def _search_for(name: str, key: int) -> Callable[[str], codecs.CodecInfo | None]:
    wanted = name.lower().replace("-", "_")

    def search(encoding: str) -> codecs.CodecInfo | None:
        if encoding.replace("-", "_") == wanted:
            return _rot_codec(name, key)
        return None

    return search


class Stream:
    def __init__(self, device: str, encoding: str) -> None:
        self.device = device
        self.encoding = encoding
        self.raw = io.BytesIO()

    def write_lines(self, lines: list[str]) -> int:
        data = "\n".join(lines).encode(self.encoding)
        return self.raw.write(data)

    def read_back(self) -> list[str]:
        return self.raw.getvalue().decode(self.encoding).split("\n")


def transfer(lines: list[str], device: str, key: int, *, unregister: bool) -> list[str]:
    search = _search_for("device-rot", key)
    codecs.register(search)
    try:
        stream = Stream(device, "device-rot")
        stream.write_lines(lines)
        return stream.read_back()
    finally:
        if unregister:
            codecs.unregister(search)
