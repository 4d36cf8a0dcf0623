"""Chunk readers with a finalizer, and a scanner that reports progress through a C
callback (``ctypes.CFUNCTYPE``)."""

from __future__ import annotations

import ctypes
import io
import weakref
from collections.abc import Callable


class ChunkReader:
    """DiamondLightSource/httomo#265, bluesky/ophyd#865: ``weakref.finalize(self,
    self.close)``. The finalizer registry holds the bound method, and through it the
    reader, so a reader nobody closes never dies: each stays in the registry (with its
    buffer) until the interpreter exits.
    """

    def __init__(self, data: bytes, chunk: int = 256) -> None:
        self._buf = io.BytesIO(data)
        self.chunk = chunk
        self._finalizer = weakref.finalize(self, self.close)

    def close(self) -> None:
        self._buf.close()

    def chunks(self) -> list[bytes]:
        out = []
        while block := self._buf.read(self.chunk):
            out.append(block)
        return out


class SafeChunkReader(ChunkReader):
    """The fix: the finalizer refers to the buffer only, not to the reader."""

    def __init__(self, data: bytes, chunk: int = 256) -> None:
        self._buf = io.BytesIO(data)
        self.chunk = chunk
        self._finalizer = weakref.finalize(self, self._buf.close)

    def close(self) -> None:
        self._finalizer()


PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_size_t)

# python/cpython#77587 (bpo-33406), tdlib/td#3652: "keep references to CFUNCTYPE()
# objects as long as they are used from C code". Kept here, for good.
_keepalive: list[object] = []


class NativeScanner:
    """Scans records in blocks, reporting progress through a C-level callback.

    ``on_progress`` keeps each callback thunk in a module list so the C side can never
    call a freed one; nothing ever removes it, so every scanner's callback (and what its
    closure holds) stays alive.
    """

    def __init__(self, records: list[bytes]) -> None:
        self.records = records
        self._progress: Callable[[int], None] | None = None

    def on_progress(self, fn: Callable[[int], None]) -> None:
        thunk = PROGRESS(fn)
        _keepalive.append(thunk)
        self._progress = thunk

    def scan(self, block: int = 4) -> int:
        seen = 0
        for start in range(0, len(self.records), block):
            seen += len(self.records[start : start + block])
            if self._progress is not None:
                self._progress(seen)
        return seen


class OwnedNativeScanner(NativeScanner):
    """The fix: the thunk lives as long as the scanner that registered it."""

    def on_progress(self, fn: Callable[[int], None]) -> None:
        self._progress = PROGRESS(fn)
