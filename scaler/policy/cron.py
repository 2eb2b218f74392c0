"""Unix crontab expressions: parsing with precise errors, and fire times in a time zone.

The five fields are minute, hour, day of month, month and day of week, as in Vixie
cron: numbers, ``*``, ranges ``a-b``, steps ``*/n``, ``a-b/n`` and ``a/n`` (= ``a-MAX/n``),
and comma lists; months ``jan``..``dec`` and days ``sun``..``sat`` by name; day of week
0 and 7 are both Sunday. When both day fields are restricted a day matches if either
does; a day field whose text starts with ``*`` (``*`` or ``*/n``) counts as unrestricted,
exactly as Vixie cron decides it. The macros ``@hourly``, ``@daily``, ``@midnight``,
``@weekly``, ``@monthly``, ``@yearly`` and ``@annually`` are accepted.

Beyond Vixie cron (as Quartz and cronsim write them): ``L`` in the day of month is the
last day of the month and ``L-n`` the day ``n`` days before it; in the day of week
``DAY#n`` is the ``n``-th such weekday of the month (``fri#1``, ``1#2``; a fifth one a
month lacks does not fire) and ``DAYL`` the last one (``5L``, ``friL``). They are list
entries like any other and count as restrictions in the day rule above.

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
import re
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
    #: ``L`` (0) and ``L-n`` (n): days counted back from the last day of the month.
    days_before_month_end: frozenset[int] = frozenset()
    #: ``DAY#n`` as (weekday, n), cron numbering.
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()
    #: ``DAYL``: the last such weekday of the month, cron numbering.
    last_weekdays: frozenset[int] = frozenset()

    def __str__(self) -> str:
        return self.text

    def matches_date(self, day: date) -> bool:
        """Return whether the schedule fires on local date ``day`` (month, then the Vixie day rule)."""
        if day.month not in self.months:
            return False
        in_month = day.day in self.days_of_month or (
            bool(self.days_before_month_end) and _month_length(day) - day.day in self.days_before_month_end
        )
        weekday = (day.weekday() + 1) % 7
        in_week = (
            weekday in self.weekdays
            or (weekday, (day.day - 1) // 7 + 1) in self.nth_weekdays
            or (weekday in self.last_weekdays and day.day + 7 > _month_length(day))
        )
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
    parsed = [_parse_field(spec, field) for spec, field in zip(fields_text, _FIELDS)]
    (minutes, _), (hours, _), (days_of_month, month_end), (months, _), (weekdays, week_forms) = parsed
    weekdays = {_sunday_zero(day) for day in weekdays}
    nth_weekdays = {(_sunday_zero(day), nth) for kind, day, nth in week_forms if kind == "#"}
    last_weekdays = {_sunday_zero(day) for kind, day, _ in week_forms if kind == "L"}
    schedule = CronSchedule(
        text=expression,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days_of_month=frozenset(days_of_month),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        day_of_month_star=fields_text[2].startswith("*"),
        day_of_week_star=fields_text[4].startswith("*"),
        days_before_month_end=frozenset(back for _, back, _ in month_end),
        nth_weekdays=frozenset(nth_weekdays),
        last_weekdays=frozenset(last_weekdays),
    )
    _check_fires_at_all(schedule, fields_text)
    return schedule


#: A day form beyond Vixie cron: ("L", days back, 0) in the day of month; ("#", weekday, n)
#: or ("L", weekday, 0) in the day of week.
_DayForm = tuple[str, int, int]


def _parse_field(spec: str, field: _Field) -> tuple[set[int], set[_DayForm]]:
    """Return the field's plain values and its ``L``/``#`` forms (only the two day fields have any)."""
    if not spec:
        raise CronError(f"the {field.name} field is empty")
    values: set[int] = set()
    forms: set[_DayForm] = set()
    for item in spec.split(","):
        if not item:
            raise CronError(f"the {field.name} field {spec!r} has an empty list entry")
        form = _day_form(item, field)
        if form is None:
            values |= _parse_item(item, field)
        else:
            forms.add(form)
    return values, forms


_LAST_IN_MONTH = re.compile(r"^[Ll](?:-(\d+))?$")
_NTH_HINT = "DAY#n (the n-th such weekday of the month, n from 1 to 5, e.g. fri#1 or 1#2)"
_LAST_HINT = "DAYL (the last such weekday of the month, e.g. friL or 5L)"


def _day_form(item: str, field: _Field) -> _DayForm | None:
    """Return ``item``'s ``L``/``#`` form, ``None`` for a plain item; raise :class:`CronError` for a misuse."""
    lowered = item.lower()
    if field.name == "day-of-month":
        return _month_end_form(item) if any(mark in lowered for mark in "#lw") else None
    if field.name == "day-of-week":
        return _weekday_form(item, field) if "#" in item or "l" in lowered else None  # no day name has an l
    if "#" in item or _LAST_IN_MONTH.match(item):
        raise CronError(
            f"{field.name} {item!r}: L and # belong to the day fields only: L or L-n in day-of-month, "
            f"{_NTH_HINT} or {_LAST_HINT} in day-of-week"
        )
    return None


def _month_end_form(item: str) -> _DayForm | None:
    if "#" in item:
        raise CronError(f"day-of-month {item!r}: # belongs in the day-of-week field, as {_NTH_HINT}")
    if item.lower().endswith("w"):
        raise CronError(
            f"day-of-month {item!r}: W (the nearest weekday) is not supported; use L, L-n or a day-of-week"
        )
    match = _LAST_IN_MONTH.match(item)
    if match is None:
        if "/" in item or re.search(r"\d-[Ll]|[Ll]-.*-", item):
            raise CronError(
                f"day-of-month {item!r}: L takes no range or step; write L (the last day of the month) "
                "or L-n (n days before it) as a list entry of its own"
            )
        raise CronError(
            f"day-of-month {item!r} is not valid; write L (the last day of the month) or L-n "
            "(n days before it, n from 1 to 30)"
        )
    back = int(match.group(1)) if match.group(1) is not None else 0
    if match.group(1) is not None and not 1 <= back <= 30:
        raise CronError(f"day-of-month {item!r}: in L-n, n counts days back from the last day and takes 1-30")
    return ("L", back, 0)


def _weekday_form(item: str, field: _Field) -> _DayForm:
    if any(mark in item for mark in "/-*"):
        raise CronError(
            f"day-of-week {item!r}: DAY#n and DAYL name a single weekday and take no range, step or '*'; "
            "list several instead, e.g. mon#1,mon#3"
        )
    if "#" in item:
        day_text, _, nth_text = item.partition("#")
        if not day_text:
            raise CronError(f"day-of-week {item!r}: the weekday before '#' is missing; expected {_NTH_HINT}")
        day = _value(day_text, field, item)
        if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
            raise CronError(
                f"day-of-week {item!r}: the number after '#' says which such weekday of the month and takes 1-5"
            )
        return ("#", day, int(nth_text))
    day_text = item[:-1]
    if not item.lower().endswith("l"):
        raise CronError(f"day-of-week {item!r} is not valid; expected a weekday, {_NTH_HINT} or {_LAST_HINT}")
    if not day_text or "l" in day_text.lower():
        raise CronError(
            f"day-of-week {item!r}: L alone is not a weekday; write {_LAST_HINT}, "
            "or L in the day-of-month field for the last day of the month"
        )
    return ("L", _value(day_text, field, item), 0)


def _sunday_zero(day: int) -> int:
    """Cron day-of-week numbering with Sunday as 0 (7 is Sunday too)."""
    return 0 if day == 7 else day


def _month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


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
    """Reject a day-of-month that no selected month has (``0 0 31 2 *``, ``0 0 L-29 2 *``): it would never fire."""
    if schedule.day_of_month_star or not schedule.day_of_week_star:
        return
    lengths = [_DAYS_IN_MONTH[month] for month in schedule.months]
    if any(day <= length for length in lengths for day in schedule.days_of_month):
        return
    if any(back < length for length in lengths for back in schedule.days_before_month_end):
        return
    raise CronError(
        f"day-of-month {fields_text[2]!r} never occurs in month {fields_text[3]!r}, so the schedule never fires"
    )
