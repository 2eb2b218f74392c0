"""Clocks for the simulator: the system's UTC clock and a manual one that tests move by hand.

A clock is any callable returning an aware UTC ``datetime``. The simulator evaluates
every timed transition against its clock when a request arrives, so a test that
advances a :class:`ManualClock` sees the effect on its next request without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

#: What the simulator calls to learn the time: returns an aware UTC datetime.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move.

    >>> clock = ManualClock(datetime(2025, 1, 6, 9, tzinfo=UTC))
    >>> clock.advance(30)
    >>> clock().isoformat()
    '2025-01-06T09:00:30+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (aware; converted to UTC), or at 2025-01-06 09:00 UTC, a Monday."""
        self._now = _as_utc(start) if start is not None else datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        """Return the clock's current instant."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (negative values move it back)."""
        self._now += timedelta(seconds=seconds)

    def set(self, instant: datetime) -> None:
        """Put the clock at ``instant`` (aware; converted to UTC)."""
        self._now = _as_utc(instant)


def _as_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("the clock needs an aware datetime (with a time zone)")
    return instant.astimezone(UTC)
