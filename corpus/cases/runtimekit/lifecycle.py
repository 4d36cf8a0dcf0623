"""Clients that hold a socket-like resource and must release it at shutdown."""

from __future__ import annotations

import atexit
import itertools
import weakref

_ids = itertools.count()


class _Channel:
    """The resource a client owns: a buffer and an open flag, no reference back."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.buffer = bytearray(512)
        self.open = True

    def release(self) -> None:
        self.open = False
        self.buffer = bytearray()


class SshClient:
    """ARM-software/devlib#676, DataDog/dd-trace-py#2409, tenable/nessrest#81:
    ``atexit.register(self.close)`` in the constructor. The atexit table keeps the
    bound method, and with it the client and its channel, until the interpreter exits,
    whether or not the client was closed long ago.
    """

    def __init__(self, host: str) -> None:
        self.id = next(_ids)
        self.channel = _Channel(host)
        atexit.register(self.close)

    def run(self, command: str) -> str:
        if not self.channel.open:
            raise RuntimeError("client is closed")
        return f"{self.channel.host}$ {command}"

    def close(self) -> None:
        if self.channel.open:
            self.channel.release()

    def __enter__(self) -> SshClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ManagedSshClient:
    """The fix: a finalizer on the client that releases the channel, not the client.

    ``weakref.finalize`` still runs at exit for clients alive then, but it refers only to
    the channel, and its entry goes away when the client dies or is closed.
    """

    def __init__(self, host: str) -> None:
        self.id = next(_ids)
        self.channel = _Channel(host)
        self._finalizer = weakref.finalize(self, self.channel.release)

    def run(self, command: str) -> str:
        if not self.channel.open:
            raise RuntimeError("client is closed")
        return f"{self.channel.host}$ {command}"

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> ManagedSshClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
