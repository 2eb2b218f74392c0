"""iCalendar (RFC 5545) files named by a policy's ``calendars``: reading, checking, and the dates they cover.

A file is read once per load, checked whole (a file that is not iCalendar, a component
with a broken property, an event without a start, a recurrence that cannot be expanded
is a :class:`CalendarError` saying what is wrong), and expanded a year at a time on
demand with ``recurring-ical-events`` (``RRULE``, ``RDATE``, ``EXDATE`` and
``RECURRENCE-ID`` honoured). An event covers the local dates it touches in the policy's
zone: an all-day event its dates (``DTEND`` exclusive), a timed one every date from its
start to just before its end; a floating time is read in the policy's zone. Cancelled
events (``STATUS:CANCELLED``) cover nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events

#: Largest calendar file read (a company's closures for decades fit in far less).
MAX_CALENDAR_BYTES = 16 * 1024 * 1024
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
UNNAMED_EVENT = "calendar event"


class CalendarError(ValueError):
    """A calendar file cannot be read or is not a valid iCalendar file; the message says what is wrong."""


@dataclass(eq=False)
class CalendarFile:
    """A checked calendar file: the path as written in the policy, where it was read, its SHA-256."""

    written: str
    path: Path
    sha256: str
    calendar: Any
    _years: dict[tuple[int, str], dict[date, tuple[str, ...]]] = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return self.written

    def events_on(self, day: date, tz: tzinfo) -> tuple[str, ...]:
        """Return the summaries of the events covering local date ``day`` in ``tz`` (empty when none)."""
        key = (day.year, str(tz))
        dates = self._years.get(key)
        if dates is None:
            dates = self._years[key] = _dates_of_year(self.calendar, day.year, tz)
        return dates.get(day, ())


def read_calendar_file(written: str, base: Path) -> CalendarFile:
    """Return the calendar at ``written`` (relative to ``base``, the policy file's directory), checked.

    Raises :class:`CalendarError` when it cannot be read or is not a valid iCalendar file.
    """
    path = base / written
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CALENDAR_BYTES + 1)
    except OSError as exc:
        raise CalendarError(f"calendar {written!r} cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_CALENDAR_BYTES:
        raise CalendarError(f"calendar {written!r} is larger than {MAX_CALENDAR_BYTES // (1024 * 1024)} MiB")
    try:
        calendar = parse_calendar(raw)
    except CalendarError as exc:
        raise CalendarError(f"calendar {written!r} {exc}") from None
    return CalendarFile(written, path, hashlib.sha256(raw).hexdigest(), calendar)


def parse_calendar(raw: bytes) -> Any:
    """Return the ``icalendar.Calendar`` of ``raw``; raise :class:`CalendarError` saying what is wrong with it."""
    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CalendarError(f"is not an iCalendar file: {_short(exc)}") from None
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise CalendarError(f"is not an iCalendar file: it holds a {calendar.name}, not a VCALENDAR")
    for component in calendar.walk():
        for name, problem in component.errors:
            raise CalendarError(f"has a {component.name}{_which(component)} whose {name} is invalid: {_short(problem)}")
        if component.name == "VEVENT" and component.get("DTSTART") is None:
            raise CalendarError(f"has a VEVENT{_which(component)} without DTSTART")
    try:
        recurring_ical_events.of(calendar).between(date(2000, 1, 1), date(2000, 1, 2))
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds for a bad recurrence
        raise CalendarError(f"has a recurrence that cannot be expanded: {_short(exc)}") from None
    return calendar


def _which(component: Any) -> str:
    summary = component.get("SUMMARY")
    if summary:
        return f" {str(summary)[:60]!r}"
    uid = component.get("UID")
    return f" (UID {str(uid)[:60]})" if uid else ""


def _short(problem: object) -> str:
    text = " ".join(str(problem).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _dates_of_year(calendar: Any, year: int, tz: tzinfo) -> dict[date, tuple[str, ...]]:
    """The local dates of ``year`` in ``tz`` covered by the calendar's events, each with their summaries."""
    found: defaultdict[date, list[str]] = defaultdict(list)
    query = recurring_ical_events.of(calendar)
    for event in query.between(date(year, 1, 1) - 2 * _ONE_DAY, date(year + 1, 1, 1) + 2 * _ONE_DAY):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        summary = " ".join(str(event.get("SUMMARY") or "").split()) or UNNAMED_EVENT
        for day in covered_dates(event.start, event.end, tz):
            if day.year == year and summary not in found[day]:
                found[day].append(summary)
    return {day: tuple(names) for day, names in found.items()}


def covered_dates(start: date | datetime, end: date | datetime | None, tz: tzinfo) -> list[date]:
    """Return the local dates in ``tz`` that an event from ``start`` to ``end`` (exclusive) touches."""
    if not isinstance(start, datetime):
        last_day = (end if isinstance(end, date) and not isinstance(end, datetime) else start + _ONE_DAY) - _ONE_DAY
        last_day = max(last_day, start)
        return [start + timedelta(days=offset) for offset in range((last_day - start).days + 1)]
    opened = _local(start, tz)
    closed = _local(end, tz) if isinstance(end, datetime) else opened
    first = opened.date()
    last = (closed - _TICK).date() if closed > opened else first
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _local(moment: datetime, tz: tzinfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
