"""The manual clock used by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from scaler.sim.clock import ManualClock, system_clock


def test_manual_clock_stands_still() -> None:
    """Two readings without advance are the same instant."""
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    assert clock() == clock()


def test_advance_moves_by_seconds() -> None:
    """advance(90) moves the clock 90 seconds."""
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    clock.advance(90)
    assert datetime(2025, 1, 1, 0, 1, 30, tzinfo=UTC) == clock()


def test_set_converts_to_utc() -> None:
    """set() takes any aware datetime and reads back in UTC."""
    clock = ManualClock()
    clock.set(datetime(2025, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2))))
    assert (datetime(2025, 6, 1, 8, 0, tzinfo=UTC), UTC) == (clock(), clock().tzinfo)


def test_naive_datetimes_are_refused() -> None:
    """A naive datetime is an error, not a silent guess."""
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2025, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    """The default clock returns aware UTC datetimes."""
    assert timedelta(0) == system_clock().utcoffset()
