"""A deployment's 7-day timeline as SVG geometry: the plan engine's desired states, exceptions over them,
the health observed, now.

Pure: the plan's transitions, the exceptions, the health history and the instant are parameters.
The strip spans :data:`WIDTH` units for ``[start, until)``; each period of one desired state is a
band whose ``state`` (``running``, ``stopped``, ``bounds``, ``unchanged``) gives its colour in the
style sheet, each exception a band in the lane below, and each recorded health value a band in
the lane below that (up to now: health is observed, not planned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scaler.policy.forecast import Transition, iso_utc
from scaler.store import ExceptionRecord, HealthChange
from scaler.vocabulary import HealthStatus

#: Units across the strip (the SVG's viewBox; the page scales it to its width).
WIDTH = 1000.0
#: How far back the strip starts, and how long it is.
BEFORE_NOW = timedelta(days=1)
SPAN = timedelta(days=7)
#: The health values with a colour of their own; any other is ``other``.
_HEALTH_CLASSES = {
    HealthStatus.HEALTHY.value: "healthy",
    HealthStatus.DEGRADED.value: "degraded",
    HealthStatus.UNHEALTHY.value: "unhealthy",
    HealthStatus.SCALED_DOWN.value: "scaled-down",
}


@dataclass(frozen=True)
class Band:
    """One period on the strip: from ``x`` over ``width`` units, what it is, and when."""

    x: float
    width: float
    state: str
    label: str
    source: str
    start: datetime
    end: datetime

    @property
    def at(self) -> str:
        """The period's start, ISO 8601 UTC."""
        return iso_utc(self.start)


@dataclass(frozen=True)
class Timeline:
    """The strip: its period, the desired-state bands, the exception bands, now, and day ticks."""

    start: datetime
    until: datetime
    bands: tuple[Band, ...]
    exceptions: tuple[Band, ...]
    health: tuple[Band, ...]
    now_x: float
    ticks: tuple[tuple[float, str], ...]

    @property
    def start_text(self) -> str:
        return iso_utc(self.start)

    @property
    def until_text(self) -> str:
        return iso_utc(self.until)


def window(now: datetime) -> tuple[datetime, datetime]:
    """The strip's period at ``now``: from a day before (on the hour) for :data:`SPAN`."""
    start = (now - BEFORE_NOW).replace(minute=0, second=0, microsecond=0)
    return start, start + SPAN


def state_class(transition: Transition) -> str:
    """``running``, ``stopped``, ``bounds`` (replica bounds) or ``unchanged`` (left alone)."""
    state = transition.state
    if state is None:
        return "unchanged"
    if state.kind in ("running", "stopped"):
        return state.kind
    return "bounds"


def health_class(value: str) -> str:
    """The style of a health value: ``healthy``, ``degraded``, ``unhealthy``, ``scaled-down`` or ``other``."""
    return _HEALTH_CLASSES.get(value, "other")


def build_timeline(
    transitions: Sequence[Transition], exceptions: Sequence[ExceptionRecord], start: datetime, until: datetime,
    now: datetime, health: Sequence[HealthChange] = (),
) -> Timeline:  # fmt: skip
    """The strip over ``[start, until)`` of ``transitions`` (the plan's, the first at ``start``) with the
    ``exceptions`` that overlap it, the ``health`` history (any order) up to ``now``, and ``now`` marked."""
    span = (until - start).total_seconds()

    def x_of(instant: datetime) -> float:
        seconds = (min(max(instant, start), until) - start).total_seconds()
        return round(WIDTH * seconds / span, 3)

    bands = []
    for index, transition in enumerate(transitions):
        end = transitions[index + 1].at if index + 1 < len(transitions) else until
        label = transition.state.describe() if transition.state is not None else "left alone"
        bands.append(
            Band(x_of(transition.at), round(x_of(end) - x_of(transition.at), 3), state_class(transition), label,
                 transition.source, transition.at, end)  # fmt: skip
        )
    overlays = []
    for exception in exceptions:
        ends = min(exception.until, exception.ended_at or exception.until)
        if ends <= start or exception.created_at >= until:
            continue
        label = exception.kind if exception.state is None else f"{exception.kind} {exception.state}"
        overlays.append(
            Band(x_of(exception.created_at), round(x_of(ends) - x_of(exception.created_at), 3), exception.kind, label,
                 exception.reason, exception.created_at, ends)  # fmt: skip
        )
    observed = []
    for change in health:
        ends = min(change.until or now, now)
        if ends <= start or change.since >= until:
            continue
        observed.append(
            Band(x_of(change.since), round(x_of(ends) - x_of(change.since), 3), health_class(change.value),
                 change.value, "health", change.since, ends)  # fmt: skip
        )
    observed.sort(key=lambda band: band.start)
    ticks = []
    day = start.replace(hour=0) + timedelta(days=1)
    while day < until:
        ticks.append((x_of(day), day.strftime("%a %d")))
        day += timedelta(days=1)
    return Timeline(start, until, tuple(bands), tuple(overlays), tuple(observed), x_of(now), tuple(ticks))
