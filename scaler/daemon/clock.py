"""The daemon's clock: one injectable callable that returns the current instant.

The daemon reads it once per tick and passes that ``now`` down, so every decision of a
cycle is made at one instant. Tests pass a manual clock (the simulator's
``ManualClock`` is one: a callable returning an aware UTC datetime) and drive the
daemon and the simulated platform with the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Returns the current instant as an aware UTC ``datetime``.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the current instant from the system's clock, in UTC."""
    return datetime.now(UTC)


def unix_seconds(instant: datetime | None) -> float:
    """Return ``instant`` as Unix seconds (0 for ``None``), the unit of ``*_timestamp_seconds`` metrics."""
    return instant.timestamp() if instant is not None else 0.0


def iso(instant: datetime | None) -> str | None:
    """Return ``instant`` in ISO 8601 UTC with ``Z`` (``None`` stays ``None``), as /status shows instants."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")
