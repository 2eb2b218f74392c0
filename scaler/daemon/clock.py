"""The daemon's clock: one injectable callable that returns the current instant.

The daemon reads it once per tick and passes that ``now`` down, so every decision of a
cycle is made at one instant. Tests pass a manual clock (the simulator's
``ManualClock`` is one: a callable returning an aware UTC datetime) and drive the
daemon and the simulated platform with the same object. The daemon wraps it in a
:class:`SteadyClock`, which never goes backwards when the wall clock is stepped back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

log = structlog.get_logger()

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


#: How far the wall clock may fall behind the daemon's time before it is logged as a step back, in seconds.
#: NTP slews small errors and steps only large ones (128 ms or more); a second is clearly a step.
STEP_NOTICE_SECONDS = 1.0
#: Longest the daemon's time waits for the wall clock to catch up, in seconds (a day). A wall clock
#: further behind than this is taken as the truth (a store written under a clock far in the future,
#: a host set a day ahead by mistake): waiting that long would be worse than repeating a transition.
MAX_HOLD_SECONDS = 86_400.0


class SteadyClock:
    """The daemon's time: the wall clock, except that it never goes backwards.

    Schedules are wall-clock facts, so the daemon follows the wall clock, forward jumps
    included (a VM resumed after an hour catches up on the transitions it missed). When
    the wall clock steps back (an NTP correction), the daemon's time stays at the latest
    instant it has used, or that its store remembers acting at, until the wall clock
    passes it again: a transition already applied is not undone and applied a second
    time, and no decision is made at an instant earlier than one already made. While
    held, time-based waits (health durations, backoffs, probes) pause too. A wall clock
    more than :data:`MAX_HOLD_SECONDS` behind is followed at once, with an error logged.
    """

    def __init__(self, wall: Clock = system_clock, *, floor: datetime | None = None) -> None:
        """Follow ``wall``; ``floor`` is the latest instant the store remembers (none returned is earlier)."""
        self._wall = wall
        self._latest: datetime | None = floor
        self._held = False

    @property
    def latest(self) -> datetime | None:
        """The latest instant returned (or the floor), ``None`` before the first call without a floor."""
        return self._latest

    @property
    def held_until(self) -> datetime | None:
        """While the wall clock is behind the daemon's time: the instant it must reach; else ``None``."""
        return self._latest if self._held else None

    def raise_floor(self, instant: datetime) -> None:
        """Never return an instant before ``instant`` from now on (what the store remembers acting at)."""
        if self._latest is None or instant > self._latest:
            self._latest = instant

    def __call__(self) -> datetime:
        """Return the wall clock's instant, or the latest instant returned when the wall clock is behind it."""
        now = self._wall()
        latest = self._latest
        if latest is None or now >= latest:
            if self._held:
                self._held = False
                log.info("wall_clock_caught_up", now=iso(now))
            self._latest = now
            return now
        behind = (latest - now).total_seconds()
        if behind > MAX_HOLD_SECONDS:
            log.error(
                "wall_clock_far_behind",
                wall_clock=iso(now),
                daemon_time=iso(latest),
                behind_seconds=round(behind, 3),
                effect="following the wall clock: transitions since then may be applied again",
            )
            self._held = False
            self._latest = now
            return now
        if not self._held and behind >= STEP_NOTICE_SECONDS:
            self._held = True
            log.warning(
                "wall_clock_behind",
                wall_clock=iso(now),
                daemon_time=iso(latest),
                behind_seconds=round(behind, 3),
                effect="decisions stay at the daemon's time until the wall clock passes it",
            )
        return latest


class DecisionInstants:
    """The instant each cycle decides with: read once the cycle holds its lock, never older than the last.

    A job that waited (for a list, for health answers, for the lock held by a boundary
    whose calls were retrying) must not decide with the instant it started at: newer
    decisions may have been applied meanwhile, and deciding at the older instant would
    revert them. The daemon's clock never goes back (:class:`SteadyClock`); should an
    instant older than the last decision come back all the same, :meth:`next` answers
    ``None`` and the cycle stands down, leaving the work to the next one.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.last: datetime | None = None
        """The instant of the latest cycle's decisions."""

    def next(self) -> datetime | None:
        """The instant to decide with now, or ``None`` when the clock answers one older than the last."""
        now = self._clock()
        last = self.last
        if last is not None and now < last:
            log.warning(
                "decision_stood_down",
                now=iso(now),
                last_decision=iso(last),
                effect="an instant older than the last decision never acts; the next cycle decides",
            )
            return None
        self.last = now
        return now

