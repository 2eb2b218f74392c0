"""Calendar dates of the policy language: skip dates and the ``from``/``until`` of absolute windows."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date, datetime

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?(?:Z|[+-]\d{2}:?\d{2})?$")
DATE_EXPECTED = 'a date YYYY-MM-DD or an inclusive range "YYYY-MM-DD..YYYY-MM-DD"'
DATETIME_EXPECTED = (
    'a local date and time such as "2026-12-24T00:00" (an offset such as +01:00 or Z is allowed)'
)
#: Earliest and latest date of a ``from``/``until``: every such instant, lead time and any
#: zone's offset applied, stays within what ``datetime`` can represent.
EARLIEST_INSTANT_DATE = date(1970, 1, 1)
LATEST_INSTANT_DATE = date(9999, 12, 30)


def parse_date(text: str) -> date:
    """Return the calendar date ``YYYY-MM-DD``; raise ``ValueError`` saying what is expected."""
    if not _DATE.match(text):
        raise ValueError(f"{text!r} is not a date; expected {DATE_EXPECTED}")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date of the calendar ({exc})") from None


@dataclass(frozen=True)
class DateRange:
    """Local dates ``first``..``last``, both included."""

    first: date
    last: date

    def __str__(self) -> str:
        return self.first.isoformat() if self.first == self.last else f"{self.first}..{self.last}"


def parse_date_range(text: str) -> DateRange:
    """Return the date or inclusive range ``a..b``; raise ``ValueError`` saying what is expected."""
    if not isinstance(text, str):
        raise ValueError(f"expected {DATE_EXPECTED}")
    compact = text.strip()
    first_text, dots, last_text = compact.partition("..")
    first = parse_date(first_text.strip())
    if not dots:
        return DateRange(first, first)
    last = parse_date(last_text.strip())
    if last < first:
        raise ValueError(f"range {compact!r} ends before it starts; write the earlier date first")
    return DateRange(first, last)


@dataclass(frozen=True)
class DateSet:
    """A set of local dates given as ranges, for fast membership tests."""

    ranges: tuple[DateRange, ...]

    def __post_init__(self) -> None:
        merged: list[DateRange] = []
        for item in sorted(self.ranges, key=lambda r: r.first):
            if merged and item.first.toordinal() <= merged[-1].last.toordinal() + 1:
                last = max(merged[-1].last, item.last)
                merged[-1] = DateRange(merged[-1].first, last)
            else:
                merged.append(item)
        object.__setattr__(self, "_starts", [r.first for r in merged])
        object.__setattr__(self, "_merged", merged)

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        index = bisect.bisect_right(self._starts, day) - 1  # type: ignore[attr-defined]
        return index >= 0 and day <= self._merged[index].last  # type: ignore[attr-defined]

    def __bool__(self) -> bool:
        return bool(self.ranges)


def parse_local_datetime(text: str) -> datetime:
    """Return ``from``/``until`` as a datetime: naive for wall clock, aware when an offset is given.

    Raises ``ValueError`` saying what is expected.
    """
    if not isinstance(text, str) or not _DATETIME.match(text.strip()):
        raise ValueError(f"{text!r} is not a date and time; expected {DATETIME_EXPECTED}")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date and time of the calendar ({exc})") from None
    if not EARLIEST_INSTANT_DATE <= moment.date() <= LATEST_INSTANT_DATE:
        raise ValueError(
            f"{text!r} is out of range; dates and times from {EARLIEST_INSTANT_DATE} to {LATEST_INSTANT_DATE} are accepted"
        )
    return moment
