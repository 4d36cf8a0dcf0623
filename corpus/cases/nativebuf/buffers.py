"""Receive buffers and chunk stores of a small network codec."""

from __future__ import annotations

import os
from array import array

_rx = bytearray()
_rx_consumed = bytearray()
_samples = array("d")
_chunks: list[bytes] = []
_last_chunk: bytes = b""
_ring = bytearray(64 * 1024)


def receive(packet_size: int = 64 * 1024) -> int:
    """Appends every packet to the receive buffer and never consumes it (realloc growth)."""
    _rx.extend(b"\x00" * packet_size)
    return len(_rx)


def receive_and_consume(packet_size: int = 64 * 1024) -> int:
    """The same on a buffer of its own, consumed after each packet."""
    _rx_consumed.extend(b"\x00" * packet_size)
    n = len(_rx_consumed)
    del _rx_consumed[:]
    return n


def record_samples(count: int = 2048) -> int:
    """An ``array('d')`` extended by 16 KiB per call, in place."""
    _samples.extend([0.5] * count)
    return len(_samples)


def keep_chunk(size: int = 256 * 1024) -> int:
    """rushter/selectolax#90: a large buffer per parse, outside pymalloc, kept for good."""
    _chunks.append(os.urandom(size))
    return len(_chunks)


def replace_chunk(size: int = 256 * 1024) -> int:
    """Keeps only the latest chunk: replaced, not accumulated."""
    global _last_chunk
    _last_chunk = os.urandom(size)
    return len(_last_chunk)


def write_ring(data: bytes, offset: int) -> int:
    """Writes into a preallocated ring buffer."""
    start = offset % len(_ring)
    end = min(start + len(data), len(_ring))
    _ring[start:end] = data[: end - start]
    return end - start
