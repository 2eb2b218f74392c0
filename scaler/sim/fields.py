"""Reading typed fields out of the simulator's documents (seeds, control requests).

Every problem raises :class:`SeedError` whose text names the source (a file, a request) and
the field, as ``deployments[3].max_replicas: must be a whole number >= 1, not 0``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from uuid import UUID


class SeedError(ValueError):
    """A seed document is malformed; the message names the source (file) and the field."""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


class Reader:
    """Reads typed fields out of mappings, raising :class:`SeedError` that names the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, problem: str) -> SeedError:
        return SeedError(f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}")

    def no_unknown_fields(self, raw: Mapping[str, Any], where: str, known: tuple[str, ...]) -> None:
        for key in raw:
            if key not in known:
                raise self.error(join(where, str(key)), f"unknown field (known fields: {', '.join(known)})")

    def text(self, raw: Mapping[str, Any], where: str, name: str, *, default: str = "", required: bool = False) -> str:
        if name not in raw:
            if required:
                raise self.error(join(where, name), "is required")
            return default
        value = raw[name]
        if not isinstance(value, str) or not value:
            raise self.error(join(where, name), "must be a non-empty string")
        return value

    def uuid(self, raw: Mapping[str, Any], where: str, name: str) -> str:
        value = raw[name]
        if isinstance(value, str):
            try:
                return str(UUID(value))
            except ValueError:
                pass
        raise self.error(join(where, name), f"must be a UUID, not {value!r}")

    def integer(self, raw: Mapping[str, Any], where: str, name: str, *, default: int, minimum: int) -> int:
        value = raw.get(name, default)
        if not is_int(value) or value < minimum:
            raise self.error(join(where, name), f"must be a whole number >= {minimum}, not {value!r}")
        return int(value)

    def number(self, raw: Mapping[str, Any], where: str, name: str, *, required: bool = False) -> float | None:
        if raw.get(name) is None:
            if required:
                raise self.error(join(where, name), "is required (seconds, a number >= 0)")
            return None
        value = raw[name]
        if not is_number(value) or value < 0:
            raise self.error(join(where, name), f"must be a number of seconds >= 0, not {value!r}")
        return float(value)

    def boolean(self, raw: Mapping[str, Any], where: str, name: str, *, default: bool) -> bool:
        value = raw.get(name, default)
        if not isinstance(value, bool):
            raise self.error(join(where, name), f"must be true or false, not {value!r}")
        return value

    def accelerators(self, raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
        value = raw.get("accelerator_type", ["nvidia-tesla-t4"])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
            raise self.error(join(where, "accelerator_type"), "must be a non-empty list of accelerator names")
        return tuple(value)

    def pods(self, value: Any, where: str) -> dict[str, int]:
        if not isinstance(value, Mapping) or set(value) != {"ready", "not_ready"}:
            raise self.error(where, "must be {ready: N, not_ready: M} or null")
        for key in ("ready", "not_ready"):
            if not is_int(value[key]) or value[key] < 0:
                raise self.error(f"{where}.{key}", f"must be a whole number >= 0, not {value[key]!r}")
        return {"ready": value["ready"], "not_ready": value["not_ready"]}

    def mappings(
        self, value: Any, where: str, known: tuple[str, ...], *, listed: str, each: str
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Each item of list ``value`` with its place (``where[i]``), checked as it comes: an error when
        ``value`` is no list (``must be a list of <listed>``), an item no mapping (``must be <each>``),
        or an item holds a field not in ``known``."""
        if not isinstance(value, list):
            raise self.error(where, f"must be a list of {listed}")
        for index, item in enumerate(value):
            at = f"{where}[{index}]"
            if not isinstance(item, Mapping):
                raise self.error(at, f"must be {each}")
            self.no_unknown_fields(item, at, known)
            yield at, item

    def messages(self, value: Any, where: str) -> list[dict[str, str]]:
        fields = ("message", "severity")
        return [
            {
                "message": self.text(item, at, "message", required=True),
                "severity": self.text(item, at, "severity", default="info"),
            }
            for at, item in self.mappings(
                value, where, fields, listed="{message, severity}", each="a mapping {message, severity}"
            )
        ]
