"""The ``between`` form of a window: ``[DAYS ]HH:MM-HH:MM`` in wall-clock time.

``DAYS`` is a comma list of day names or ranges (``Mon-Fri``, ``Sat,Sun``,
``Mon,Wed-Fri``; three-letter or full English names, any case; a range may wrap past
Sunday, as in ``Fri-Mon``); without it the window opens every day. The window opens at
the first time on each of those days and closes at the second; an end earlier than the
start closes on the next day, and ``24:00`` as an end means the following midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from scaler.policy.zones import local_instant, zone

#: Python's weekday numbers (Monday = 0) by the names accepted in ``between``.
_DAY_NUMBERS = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}  # fmt: skip
_DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TIMES = re.compile(r"(?:^|\s)(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
EXPECTED = 'a window such as "Mon-Fri 20:00-08:00", "Sat,Sun 00:00-24:00" or "22:00-06:00"'


class BetweenError(ValueError):
    """A ``between`` text is malformed; the message says which part and what is expected."""


@dataclass(frozen=True)
class BetweenSpec:
    """A parsed ``between``: opening weekdays (Monday = 0), opening and closing wall-clock times."""

    text: str
    weekdays: frozenset[int]
    start: time
    end: time
    end_is_midnight_after: bool = False

    def __str__(self) -> str:
        return self.text

    @property
    def closes_next_day(self) -> bool:
        """Whether the window closes on the day after it opens (end before start, or ``24:00``)."""
        return self.end_is_midnight_after or self.end <= self.start

    def opens_on(self, day: date) -> bool:
        """Return whether the window opens on local date ``day`` (skip dates not considered)."""
        return day.weekday() in self.weekdays

    def interval_on(self, day: date, tz: tzinfo) -> tuple[datetime, datetime]:
        """Return the UTC ``(open, close)`` of the window opening on local ``day`` (wall-clock ends)."""
        opened = local_instant(day, self.start, tz)
        close_day = day + timedelta(days=1) if self.closes_next_day else day
        return opened, local_instant(close_day, self.end, tz)


def parse_between(text: str) -> BetweenSpec:
    """Return the parsed ``between`` text.

    Raises :class:`BetweenError` naming the part that is wrong and the expected form.
    """
    if not isinstance(text, str) or not text.strip():
        raise BetweenError(f"empty window; expected {EXPECTED}")
    compact = " ".join(text.split())
    _refuse_a_zone(compact)
    times_match = _TIMES.search(compact)
    if times_match is None:
        tail = compact.rsplit(" ", 1)[-1]
        raise BetweenError(f"{tail!r} is not a time range HH:MM-HH:MM; expected {EXPECTED}")
    times_text = compact[times_match.start() :].strip()
    day_part = re.sub(r"\s*([,-])\s*", r"\1", compact[: times_match.start()].strip())
    if " " in day_part:
        raise BetweenError(f"{text!r} has too many parts; expected {EXPECTED}")
    start_hour, start_minute, end_hour, end_minute = (int(group) for group in times_match.groups())
    start = _clock(start_hour, start_minute, times_text, allow_24=False)
    end_is_midnight_after = (end_hour, end_minute) == (24, 0)
    end = time(0, 0) if end_is_midnight_after else _clock(end_hour, end_minute, times_text, allow_24=True)
    if not end_is_midnight_after and end == start:
        raise BetweenError(
            f"{times_text!r} opens and closes at the same time; for whole days write 00:00-24:00"
        )
    weekdays = _parse_days(day_part) if day_part else frozenset(range(7))
    return BetweenSpec(compact, weekdays, start, end, end_is_midnight_after)


def _refuse_a_zone(compact: str) -> None:
    """Raise :class:`BetweenError` when a part of ``compact`` is a time zone (``Mon-Fri 07:30-20:30
    Europe/Berlin``, as other downscalers write it), saying to put it in the policy's ``timezone``."""
    parts = compact.split(" ")
    for index, part in enumerate(parts):
        if _is_zone(part):
            rest = " ".join(parts[:index] + parts[index + 1 :])
            raise BetweenError(
                f"{part!r} is a time zone: between takes wall-clock times in the policy's zone; "
                f'write timezone: {part} in the policy and between: "{rest}"'
            )


def _is_zone(part: str) -> bool:
    """Whether ``part`` names a time zone (``Europe/Berlin``, ``UTC``, ``CET``), not a day list or times."""
    if ":" in part or part.lower().replace(",", "-").split("-")[0] in _DAY_NUMBERS:
        return False
    try:
        zone(part)
    except ValueError:
        return "/" in part
    return True


def _clock(hour: int, minute: int, times_text: str, *, allow_24: bool) -> time:
    if hour > 23 or minute > 59:
        allowed = "00:00-23:59" + (" (24:00 as an end)" if allow_24 else "")
        raise BetweenError(f"{hour:02d}:{minute:02d} in {times_text!r} is not a time of day; expected {allowed}")
    return time(hour, minute)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise BetweenError(f"day list {text!r} has an empty entry; expected e.g. Mon-Fri or Sat,Sun")
        first, dash, last = item.partition("-")
        start = _day(first, text)
        if not dash:
            days.add(start)
            continue
        end = _day(last, text)
        day = start
        while True:
            days.add(day)
            if day == end:
                break
            day = (day + 1) % 7
    return frozenset(days)


def _day(name: str, text: str) -> int:
    number = _DAY_NUMBERS.get(name.strip().lower())
    if number is None:
        raise BetweenError(f"{name.strip()!r} in {text!r} is not a day; expected Mon, Tue, Wed, Thu, Fri, Sat or Sun")
    return number


def describe_days(weekdays: frozenset[int]) -> str:
    """Return the weekdays as short names in week order (``Mon,Tue,Sat``)."""
    return ",".join(_DAY_LABELS[day] for day in sorted(weekdays))
