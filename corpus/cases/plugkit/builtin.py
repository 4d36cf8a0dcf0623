"""Built-in plugins; they register themselves when this module is imported."""

from __future__ import annotations

from plugkit.registry import register


@register
class CsvPlugin:
    suffix = ".csv"

    def load(self, text: str) -> list[list[str]]:
        return [line.split(",") for line in text.splitlines()]


@register
class JsonPlugin:
    suffix = ".json"

    def load(self, text: str) -> str:
        return text.strip()
