"""Caches that fill over the first N calls, N = 2, 3, 4, 5 and 7 (the keys in use
come in turn), and their twins keyed by a new value on every call.

The unbounded twins are the classic "cache grows without bound" reports:
use-agent-os/agent-os#1111 (a dict keyed by every session ever seen),
AllenInstitute/ipfx#495 (``lru_cache`` keyed by fresh arguments), mozilla/dxr#558
(a cache keyed by whatever comes in, "so this cache just grows forever?").
"""

from __future__ import annotations

import functools
import itertools

# --- N = 2: codec objects cached by name (two names in use) ---------------------------

CODEC_NAMES = ("gzip", "identity")
_codec_turn = itertools.count()


class Codec:
    def __init__(self, name: str) -> None:
        self.name = name
        self.level = 6 if name == "gzip" else 0
        self.options = {"name": name, "window": 15}


_codecs: dict[str, Codec] = {}


def codec(name: str) -> Codec:
    found = _codecs.get(name)
    if found is None:
        found = _codecs[name] = Codec(name)
    return found


def next_codec() -> Codec:
    return codec(CODEC_NAMES[next(_codec_turn) % len(CODEC_NAMES)])


# --- N = 3: functools.lru_cache(maxsize=None) over three units ------------------------

UNITS = ("kg", "lb", "oz")
_unit_turn = itertools.count()


@functools.lru_cache(maxsize=None)
def unit_factor(unit: str) -> float:
    return {"kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125}[unit]


def next_unit_factor() -> float:
    return unit_factor(UNITS[next(_unit_turn) % len(UNITS)])


@functools.lru_cache(maxsize=None)
def parse_weight(text: str) -> float:
    # Keyed by the raw text of every request: a new entry for each new text.
    number, unit = text.split()
    return float(number) * unit_factor(unit)


# --- N = 4: a class-level table of encoded header templates (bytes) ------------------

class HeaderTemplates:
    KINDS = ("json", "csv", "xml", "text")
    _encoded: dict[str, bytes] = {}
    _turn = itertools.count()

    @classmethod
    def encoded(cls, kind: str) -> bytes:
        found = cls._encoded.get(kind)
        if found is None:
            found = cls._encoded[kind] = f"Content-Type: application/{kind}\r\n".encode()
        return found

    @classmethod
    def next_encoded(cls) -> bytes:
        return cls.encoded(cls.KINDS[next(cls._turn) % len(cls.KINDS)])


# --- N = 5: a set of the hosts seen (five hosts in rotation) ----------------------------

HOSTS = ("api.example.com", "cdn.example.com", "db.example.com", "mq.example.com", "s3.example.com")
_host_turn = itertools.count()
_seen_hosts: set[str] = set()


def note_host(host: str) -> int:
    _seen_hosts.add(host)
    return len(_seen_hosts)


def next_host() -> int:
    return note_host(HOSTS[next(_host_turn) % len(HOSTS)])


# --- N = 7: locale names normalised, seven locales in rotation (str -> str) ----------

LOCALES = ("en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "ja_JP")
_locale_turn = itertools.count()
_normalised: dict[str, str] = {}


def normalise_locale(raw: str) -> str:
    found = _normalised.get(raw)
    if found is None:
        found = _normalised[raw] = raw.replace("_", "-").lower() + ".utf-8"
    return found


def next_locale() -> str:
    return normalise_locale(LOCALES[next(_locale_turn) % len(LOCALES)])
