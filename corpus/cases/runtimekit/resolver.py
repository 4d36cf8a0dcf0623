"""A name resolver that remembers failed lookups for a while."""

from __future__ import annotations


class ResolutionError(LookupError):
    pass


_ZONE = {"api.internal": "10.0.0.7", "db.internal": "10.0.0.9"}


class Resolver:
    """torproject/stem#156 (torproject/nyx#52): a failure is cached as the exception
    object and raised again on every later lookup. Each ``raise`` of the same object
    puts the frames it passes through in front of its ``__traceback__``, so the cached
    exception keeps a longer chain of tracebacks, and their frames, on every lookup.
    """

    def __init__(self) -> None:
        self._failures: dict[str, ResolutionError] = {}

    def resolve(self, name: str) -> str:
        cached = self._failures.get(name)
        if cached is not None:
            raise cached
        try:
            return _ZONE[name]
        except KeyError:
            error = ResolutionError(f"no address for {name!r}")
            self._failures[name] = error
            raise error from None


class MessageCachingResolver:
    """The fix: cache the message, raise a fresh exception each time."""

    def __init__(self) -> None:
        self._failures: dict[str, str] = {}

    def resolve(self, name: str) -> str:
        message = self._failures.get(name)
        if message is not None:
            raise ResolutionError(message)
        try:
            return _ZONE[name]
        except KeyError:
            message = self._failures[name] = f"no address for {name!r}"
            raise ResolutionError(message) from None


# One resolver for the process, as an application keeps it.
default_resolver = Resolver()
message_resolver = MessageCachingResolver()
