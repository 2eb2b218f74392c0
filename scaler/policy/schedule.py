"""The schedule engine: when each window is open, and what a policy's windows and default want.

Everything is computed from the rules' boundary instants, never by stepping through
time: a window's openings are its cron firings (or ``between`` days, or its one
absolute period), each giving the interval ``[open - lead_time, close)``; intervals
of one window that overlap or touch are merged; at any instant the first window in
list order whose intervals contain it decides, else the default, else nothing.
Results are computed in week-long chunks and memoised per policy, so the daemon's
frequent questions and ``scaler plan`` over many deployments cost little.

Semantics decided here (and documented in docs/policies.md):
- ``cron`` + ``duration``: each firing opens the window for ``duration`` of elapsed time.
- ``between``: wall-clock open and close; an end at or before the start closes the next day.
- ``from`` + ``until``: wall-clock (or explicit-offset) instants; skip dates do not apply.
- ``skip_dates``, ``holidays`` and ``calendars`` (one :class:`~scaler.policy.skipdays.SkipDays`)
  stop a recurring window from opening on those local dates (the date of the firing or
  of the ``between`` opening, before ``lead_time`` is applied); a window that opened
  before a skipped date stays open for its full length.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from collections.abc import Mapping

from scaler.policy.model import DesiredState, Policy, Window
from scaler.policy.zones import UTC, days, local_date, require_aware, wall_instant

#: How far ahead :meth:`PolicySchedule.next_change` looks before answering "never".
DEFAULT_HORIZON = timedelta(days=400)
_CHUNK = timedelta(days=7)
_EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday
_MAX_CHUNKS = 256
_MAX_LEARNED = 64
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Segment:
    """A period ``[start, end)`` in which the schedule wants ``state`` (``None``: leave alone) because of ``source``."""

    start: datetime
    end: datetime
    state: DesiredState | None
    source: str

    @property
    def key(self) -> tuple[DesiredState | None, str]:
        """What the segment wants and why; consecutive segments differ in it."""
        return (self.state, self.source)


def window_intervals(
    policy: Policy, window: Window, start: datetime, end: datetime, lead: timedelta | None = None
) -> list[Interval]:
    """Return the merged intervals in which ``window`` of ``policy`` is open, clipped to ``[start, end)``.

    ``lead`` replaces the window's own lead time (one learned for a deployment; ``0`` gives
    the nominal openings).
    """
    start = require_aware(start, "start").astimezone(UTC)
    end = require_aware(end, "end").astimezone(UTC)
    if end <= start:
        return []
    lead = window.lead if lead is None else lead
    if window.timing == "cron":
        raw = _cron_intervals(policy, window, start, end, lead)
    elif window.timing == "between":
        raw = _between_intervals(policy, window, start, end, lead)
    else:
        raw = _absolute_intervals(policy, window, lead)
    return _merge_clip(raw, start, end)


def _cron_intervals(policy: Policy, window: Window, start: datetime, end: datetime, lead: timedelta) -> list[Interval]:
    assert window.cron is not None and window.duration is not None
    tz, duration, skip = policy.tz, window.duration, policy.skip
    intervals: list[Interval] = []
    # The latest firing before `start` whose interval still covers it (earlier ones end sooner).
    for day, fired in window.cron.fire_times_backwards(
        local_date(start, tz) + _ONE_DAY, local_date(start - duration, tz) - _ONE_DAY, tz
    ):
        if fired >= start:
            continue
        if fired + duration <= start:
            break
        if day in skip:
            continue
        intervals.append((fired - lead, fired + duration))
        break
    horizon = end + lead
    for day, fired in window.cron.fire_times(local_date(start, tz) - _ONE_DAY, local_date(horizon, tz) + _ONE_DAY, tz):
        if start <= fired < horizon and day not in skip:
            intervals.append((fired - lead, fired + duration))
    return intervals


def _between_intervals(
    policy: Policy, window: Window, start: datetime, end: datetime, lead: timedelta
) -> list[Interval]:
    assert window.between is not None
    tz, skip, spec = policy.tz, policy.skip, window.between
    intervals = []
    day = local_date(start, tz) - 2 * _ONE_DAY
    last = local_date(end + lead, tz) + _ONE_DAY
    while day <= last:
        if spec.opens_on(day) and day not in skip:
            opened, closed = spec.interval_on(day, tz)
            intervals.append((opened - lead, closed))
        day += _ONE_DAY
    return intervals


def _absolute_intervals(policy: Policy, window: Window, lead: timedelta) -> list[Interval]:
    assert window.from_ is not None and window.until is not None
    return [(wall_instant(window.from_, policy.tz) - lead, wall_instant(window.until, policy.tz))]


def skipped_openings(policy: Policy, start: datetime, end: datetime) -> list[tuple[date, tuple[str, ...]]]:
    """Return the local dates of ``[start, end)`` on which a recurring window of ``policy`` would
    open but does not because of a skipped date, each with those windows' names, in date order."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    if end <= start:
        return []
    return list(_skipped_days(policy, local_date(start, policy.tz), local_date(end - _TICK, policy.tz)))


def next_skipped_opening(
    policy: Policy, after: datetime, horizon: timedelta = DEFAULT_HORIZON
) -> tuple[date, tuple[str, ...]] | None:
    """Return the first local date from ``after``'s on which a recurring window of ``policy`` would open
    but is skipped, with those windows' names; ``None`` when there is none within ``horizon``."""
    after = require_aware(after, "after")
    first, last = local_date(after, policy.tz), local_date(after + horizon, policy.tz)
    return next(iter(_skipped_days(policy, first, last)), None)


def _skipped_days(policy: Policy, first: date, last: date) -> Iterator[tuple[date, tuple[str, ...]]]:
    """Yield the skipped local dates ``first``..``last`` on which a recurring window would open, with their names."""
    recurring = [window for window in policy.windows if window.recurring]
    skip = policy.skip
    if not skip or not recurring:
        return
    for day in days(first, last):
        if day in skip:
            names = tuple(window.label for window in recurring if _would_open(window, day))
            if names:
                yield day, names


def _would_open(window: Window, day: date) -> bool:
    """Whether a recurring window opens on local date ``day``, skip dates aside."""
    if window.cron is not None:
        return window.cron.matches_date(day)
    return window.between is not None and window.between.opens_on(day)


def _merge_clip(intervals: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    merged: list[list[datetime]] = []
    for opened, closed in sorted(intervals):
        if closed <= opened:
            continue  # a wall-clock window that a DST gap reduced to nothing
        if merged and opened <= merged[-1][1]:
            if closed > merged[-1][1]:
                merged[-1][1] = closed
        else:
            merged.append([opened, closed])
    clipped = []
    for opened, closed in merged:
        opened, closed = max(opened, start), min(closed, end)
        if opened < closed:
            clipped.append((opened, closed))
    return clipped


class PolicySchedule:
    """What a policy's windows and default want over time; memoised in week-long chunks.

    Reach it through :func:`schedule_of` (the policy's :class:`PolicySchedules` keep one per
    set of lead times) rather than building it; ``leads`` gives each window's lead time, in
    window order (default: the windows' own).
    """

    def __init__(self, policy: Policy, leads: tuple[timedelta, ...] | None = None) -> None:
        self.policy = policy
        self.leads = leads if leads is not None else tuple(window.lead for window in policy.windows)
        self._chunks: OrderedDict[int, tuple[Segment, ...]] = OrderedDict()
        if policy.default is not None:
            self._fallback: tuple[DesiredState | None, str] = (policy.default, "default")
        else:
            self._fallback = (None, "none")

    # ----------------------------------------------------------------- queries

    def state_at(self, instant: datetime) -> Segment:
        """Return the segment in force at ``instant`` (its ends may be cut at a chunk edge)."""
        instant = require_aware(instant)
        segments = self._chunk(_chunk_index(instant))
        starts = [segment.start for segment in segments]
        return segments[bisect.bisect_right(starts, instant) - 1]

    def next_change(self, after: datetime, horizon: timedelta = DEFAULT_HORIZON) -> datetime | None:
        """Return the first instant after ``after`` at which what the schedule wants (state or source) changes.

        Returns ``None`` when nothing changes within ``horizon``.
        """
        after = require_aware(after)
        current = self.state_at(after).key
        limit = after + horizon
        for segment in self._segments_from(after, limit):
            if segment.start > limit:
                return None
            if segment.start > after and segment.key != current:
                return segment.start
        return None

    def segments(self, start: datetime, end: datetime) -> list[Segment]:
        """Return the segments covering ``[start, end)`` in order; consecutive ones differ in state or source."""
        start, end = require_aware(start, "start"), require_aware(end, "end")
        result: list[Segment] = []
        for segment in self._segments_from(start, end):
            if segment.start >= end:
                break
            clipped = Segment(max(segment.start, start), min(segment.end, end), segment.state, segment.source)
            if result and result[-1].key == clipped.key:
                result[-1] = Segment(result[-1].start, clipped.end, clipped.state, clipped.source)
            else:
                result.append(clipped)
        return result

    # ----------------------------------------------------------------- computation

    def _segments_from(self, instant: datetime, until: datetime) -> Iterator[Segment]:
        """Yield merged segments from the one containing ``instant`` to the one containing ``until``, across chunks."""
        index = _chunk_index(instant)
        last = _chunk_index(until)
        pending: Segment | None = None
        while index <= last:
            for segment in self._chunk(index):
                if segment.end <= instant:
                    continue
                if pending is None:
                    pending = segment
                elif pending.key == segment.key and pending.end == segment.start:
                    pending = Segment(pending.start, segment.end, pending.state, pending.source)
                else:
                    yield pending
                    pending = segment
            index += 1
        if pending is not None:
            yield pending

    def _chunk(self, index: int) -> tuple[Segment, ...]:
        cached = self._chunks.get(index)
        if cached is not None:
            self._chunks.move_to_end(index)
            return cached
        start = _EPOCH + index * _CHUNK
        segments = self._compute(start, start + _CHUNK)
        self._chunks[index] = segments
        if len(self._chunks) > _MAX_CHUNKS:
            self._chunks.popitem(last=False)
        return segments

    def _compute(self, start: datetime, end: datetime) -> tuple[Segment, ...]:
        policy = self.policy
        per_window = [
            window_intervals(policy, window, start, end, lead) for window, lead in zip(policy.windows, self.leads)
        ]
        cuts = {start, end}
        for intervals in per_window:
            for opened, closed in intervals:
                cuts.add(opened)
                cuts.add(closed)
        ordered = sorted(cuts)
        positions = [0] * len(per_window)
        segments: list[Segment] = []
        for left, right in zip(ordered, ordered[1:]):
            key = self._fallback
            for number, intervals in enumerate(per_window):
                position = positions[number]
                while position < len(intervals) and intervals[position][1] <= left:
                    position += 1
                positions[number] = position
                if position < len(intervals) and intervals[position][0] <= left:
                    key = (policy.windows[number].state, f"window:{policy.windows[number].label}")
                    break
            if segments and segments[-1].key == key:
                previous = segments[-1]
                segments[-1] = Segment(previous.start, right, previous.state, previous.source)
            else:
                segments.append(Segment(left, right, key[0], key[1]))
        return tuple(segments)


def _chunk_index(instant: datetime) -> int:
    return (instant - _EPOCH) // _CHUNK


class PolicySchedules:
    """A policy's compiled schedules: the one with the windows' own lead times, and one per
    set of learned lead times (the most recent 64), each built once."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.own_leads = tuple(window.lead for window in policy.windows)
        self.default = PolicySchedule(policy, self.own_leads)
        self._learned: dict[tuple[timedelta, ...], PolicySchedule] = {}

    def with_lead_times(self, lead_times: Mapping[str, timedelta] | None) -> PolicySchedule:
        """The schedule with the windows' lead times replaced by ``lead_times`` (by window name)."""
        leads = tuple((lead_times or {}).get(window.label, window.lead) for window in self.policy.windows)
        if leads == self.own_leads:
            return self.default
        found = self._learned.pop(leads, None) or PolicySchedule(self.policy, leads)
        self._learned[leads] = found
        while len(self._learned) > _MAX_LEARNED:
            self._learned.pop(next(iter(self._learned)))
        return found


def compile_schedules(policy: Policy) -> Policy:
    """Compile ``policy``'s schedules and keep them with it; return the policy (the loader calls this)."""
    policy.keep_schedules(PolicySchedules(policy))
    return policy


def schedule_of(policy: Policy, lead_times: Mapping[str, timedelta] | None = None) -> PolicySchedule:
    """Return ``policy``'s compiled schedule, with ``lead_times`` (by window name) when given.

    Raises ``LookupError`` for a policy that was not loaded by :mod:`scaler.policy.loader`.
    """
    schedules = policy.schedules
    if not isinstance(schedules, PolicySchedules):
        raise LookupError(f"policy {policy.name!r} has no compiled schedule: load policies with scaler.policy.loader")
    return schedules.with_lead_times(lead_times)


def next_boundary(policy: Policy, after: datetime, horizon: timedelta = DEFAULT_HORIZON) -> datetime | None:
    """Return the next instant after ``after`` at which ``policy``'s schedule wants something else.

    Windows (lead time included) and the default only; health rules, expiry and
    suspensions are :func:`scaler.policy.resolve.resolve_desired_state`'s. ``None``
    when nothing changes within ``horizon``.
    """
    return schedule_of(policy).next_change(after, horizon)


def scheduled_state(policy: Policy, instant: datetime) -> Segment:
    """Return what ``policy``'s windows and default want at ``instant``, and why."""
    return schedule_of(policy).state_at(instant)
