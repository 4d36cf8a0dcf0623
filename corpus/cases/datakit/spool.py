"""Ships batches of rows to a worker as pickle frames over one long-lived stream."""

from __future__ import annotations

import io
import pickle
from typing import Any


class Spool:
    """python/cpython#125756 (gh-125762 documents ``Pickler.clear_memo``), joblib/joblib#570:
    one ``Pickler`` reused for every frame keeps every object it ever pickled in its
    memo (to emit back-references), so every batch shipped stays alive with its rows.
    """

    def __init__(self) -> None:
        self._stream = io.BytesIO()
        self._pickler = pickle.Pickler(self._stream, protocol=pickle.HIGHEST_PROTOCOL)
        self.frames = 0

    def _after_dump(self) -> None:
        pass

    def send(self, obj: Any) -> bytes:
        self._pickler.dump(obj)
        self._after_dump()
        frame = self._stream.getvalue()
        self._stream.seek(0)
        self._stream.truncate()
        self.frames += 1
        return frame


class FramedSpool(Spool):
    """The fix: every frame stands alone; the memo is cleared after each dump."""

    def _after_dump(self) -> None:
        self._pickler.clear_memo()


def make_batch(batch_id: int, size: int) -> list[dict[str, Any]]:
    return [{"batch": batch_id, "row": i, "sku": f"sku-{i}", "qty": [i, i + 1]} for i in range(size)]


spool = Spool()
framed_spool = FramedSpool()
