"""What a C extension's reference-counting mistakes look like from Python.

``ctypes.pythonapi.Py_IncRef`` stands in for an extension function that takes a new
reference and never gives it back (a missing ``Py_DECREF``).
"""

from __future__ import annotations

import ctypes
import os

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None
_decref = ctypes.pythonapi.Py_DecRef
_decref.argtypes = [ctypes.py_object]
_decref.restype = None


def frame_payload(size: int) -> bytes:
    """numpy/numpy#26020: an error path that keeps a reference to its input."""
    payload = os.urandom(8) * (size // 8)
    _incref(payload)
    return payload[:16]


def frame_payload_fixed(size: int) -> bytes:
    payload = os.urandom(8) * (size // 8)
    _incref(payload)
    try:
        return payload[:16]
    finally:
        _decref(payload)


def build_results(count: int) -> tuple[list[int], float]:
    """manodeep/Corrfunc#229: PyList_New's reference is never released after Py_BuildValue."""
    results = [i * i for i in range(count)]
    _incref(results)
    return results, 0.5


def build_results_fixed(count: int) -> tuple[list[int], float]:
    results = [i * i for i in range(count)]
    return results, 0.5


class Message:
    def __init__(self, topic: str, body: bytes) -> None:
        self.topic = topic
        self.body = body


def deliver(topic: str) -> str:
    """eclipse-ecal/ecal#1754: a callback argument built per message and never decref'd."""
    message = Message(topic, b"x" * 200)
    _incref(message)
    return message.topic
