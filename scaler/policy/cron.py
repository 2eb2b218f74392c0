"""Unix crontab expressions: parsing with precise errors, and fire times in a time zone.

The five fields are minute, hour, day of month, month and day of week, as in Vixie
cron: numbers, ``*``, ranges ``a-b``, steps ``*/n``, ``a-b/n`` and ``a/n`` (= ``a-MAX/n``),
and comma lists; months ``jan``..``dec`` and days ``sun``..``sat`` by name; day of week
0 and 7 are both Sunday. When both day fields are restricted a day matches if either
does; a day field whose text starts with ``*`` (``*`` or ``*/n``) counts as unrestricted,
exactly as Vixie cron decides it. The macros ``@hourly``, ``@daily``, ``@midnight``,
``@weekly``, ``@monthly``, ``@yearly`` and ``@annually`` are accepted.

Fire times are computed directly from the parsed sets over local dates (not by
wrapping a scheduler's trigger): each matching wall-clock time of a matching date is
turned into an instant by :func:`scaler.policy.zones.local_instant`, so a time in the
spring-forward gap fires once, moved forward, and a time in the fall-back overlap
fires once, at its first occurrence. Keeping the rule in one small function makes the
DST behaviour obvious and testable, where a trigger's numeric day-of-week and its
double firing in the repeated hour would have to be corrected from outside.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from scaler.policy.zones import local_instant

_MONTH_NAMES = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EXPECTED = "a 5-field crontab: minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None
    names_hint: str


_FIELDS = (
    _Field("minute", 0, 59, None, ""),
    _Field("hour", 0, 23, None, ""),
    _Field("day-of-month", 1, 31, None, ""),
    _Field("month", 1, 12, _MONTH_NAMES, "jan..dec"),
    _Field("day-of-week", 0, 7, _DAY_NAMES, "sun..sat"),
)


class CronError(ValueError):
    """A crontab expression is malformed; the message names the field and what it allows."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed crontab expression. ``weekdays`` uses cron numbering: 0 = Sunday .. 6 = Saturday."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_of_month_star: bool
    day_of_week_star: bool

    def __str__(self) -> str:
        return self.text

    def matches_date(self, day: date) -> bool:
        """Return whether the schedule fires on local date ``day`` (month, then the Vixie day rule)."""
        if day.month not in self.months:
            return False
        in_month = day.day in self.days_of_month
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        if self.day_of_month_star or self.day_of_week_star:
            return in_month and in_week
        return in_month or in_week

    def clock_times(self) -> tuple[time, ...]:
        """Return the wall-clock times of day at which the schedule fires, in order."""
        return _clock_times(self.hours, self.minutes)

    def fire_times(self, first_day: date, last_day: date, tz: tzinfo) -> list[tuple[date, datetime]]:
        """Return ``(local date, UTC instant)`` of every firing on local dates ``first_day``..``last_day``.

        Instants are sorted and unique: a gap time moved onto an existing firing fires once.
        """
        fires: dict[datetime, date] = {}
        clocks = self.clock_times()
        day = first_day
        one_day = timedelta(days=1)
        while day <= last_day:
            if self.matches_date(day):
                for clock in clocks:
                    fires.setdefault(local_instant(day, clock, tz), day)
            day += one_day
        return sorted(((scheduled, instant) for instant, scheduled in fires.items()), key=lambda item: item[1])

    def fire_times_backwards(self, last_day: date, first_day: date, tz: tzinfo):
        """Yield ``(local date, UTC instant)`` firings from ``last_day`` back to ``first_day``, latest first."""
        clocks = self.clock_times()
        day = last_day
        one_day = timedelta(days=1)
        while day >= first_day:
            if self.matches_date(day):
                for instant in sorted({local_instant(day, clock, tz) for clock in clocks}, reverse=True):
                    yield day, instant
            day -= one_day


_CLOCK_CACHE: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[time, ...]] = {}


def _clock_times(hours: tuple[int, ...], minutes: tuple[int, ...]) -> tuple[time, ...]:
    key = (hours, minutes)
    cached = _CLOCK_CACHE.get(key)
    if cached is None:
        cached = tuple(time(hour, minute) for hour in hours for minute in minutes)
        _CLOCK_CACHE[key] = cached
    return cached


def parse_cron(text: str) -> CronSchedule:
    """Return the schedule of crontab expression ``text``.

    Raises :class:`CronError` naming the field, the offending value and what the field allows.
    """
    if not isinstance(text, str):
        raise CronError(f"expected {EXPECTED}")
    expression = " ".join(text.split())
    if expression.startswith("@"):
        if expression.lower() not in _MACROS:
            raise CronError(
                f"unknown macro {expression!r}; expected one of {', '.join(sorted(_MACROS))} or {EXPECTED}"
            )
        fields_text = _MACROS[expression.lower()].split()
    else:
        fields_text = expression.split(" ") if expression else []
        if len(fields_text) != 5:
            extra = "; seconds and years are not supported" if len(fields_text) > 5 else ""
            raise CronError(f"{text!r} has {len(fields_text)} fields; expected {EXPECTED}{extra}")
    values = [_parse_field(spec, field) for spec, field in zip(fields_text, _FIELDS)]
    minutes, hours, days_of_month, months, weekdays = values
    weekdays = {0 if day == 7 else day for day in weekdays}
    schedule = CronSchedule(
        text=expression,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days_of_month=frozenset(days_of_month),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        day_of_month_star=fields_text[2].startswith("*"),
        day_of_week_star=fields_text[4].startswith("*"),
    )
    _check_fires_at_all(schedule, fields_text)
    return schedule


def _parse_field(spec: str, field: _Field) -> set[int]:
    if not spec:
        raise CronError(f"the {field.name} field is empty")
    result: set[int] = set()
    for item in spec.split(","):
        if not item:
            raise CronError(f"the {field.name} field {spec!r} has an empty list entry")
        result |= _parse_item(item, field)
    return result


def _parse_item(item: str, field: _Field) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise CronError(f"{field.name} {item!r}: the step after '/' must be a whole number of at least 1")
        step = int(step_text)
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        start_text, _, end_text = base.partition("-")
        low, high = _value(start_text, field, item), _value(end_text, field, item)
        if low > high:
            raise CronError(
                f"{field.name} range {base!r} runs backwards; a range goes from low to high "
                f"({field.low}-{field.high}), split it into two ranges instead"
            )
    else:
        low = _value(base, field, item)
        high = field.high if slash else low
    return set(range(low, high + 1, step))


def _value(text: str, field: _Field, item: str) -> int:
    if text.isdigit():
        number = int(text)
        if not field.low <= number <= field.high:
            allowed = f"{field.low}-{field.high}"
            if field.name == "day-of-week":
                allowed += " (0 and 7 are Sunday)"
            raise CronError(f"{field.name} {number} is out of range; {field.name} takes {allowed}")
        return number
    if field.names is not None and text.lower() in field.names:
        return field.names[text.lower()]
    allowed = f"numbers {field.low}-{field.high}"
    if field.names is not None:
        allowed += f" or names {field.names_hint}"
    shown = repr(text) if text == item else f"{text!r} in {item!r}"
    raise CronError(f"{field.name} value {shown} is not valid; {field.name} takes {allowed}")


_DAYS_IN_MONTH = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _check_fires_at_all(schedule: CronSchedule, fields_text: list[str]) -> None:
    """Reject a day-of-month that no selected month has (``0 0 31 2 *``): it would never fire."""
    if schedule.day_of_month_star or not schedule.day_of_week_star:
        return
    if any(day <= _DAYS_IN_MONTH[month] for month in schedule.months for day in schedule.days_of_month):
        return
    raise CronError(
        f"day-of-month {fields_text[2]!r} never occurs in month {fields_text[3]!r}, so the schedule never fires"
    )
