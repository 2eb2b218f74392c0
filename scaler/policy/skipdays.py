"""The local dates on which a policy's recurring windows do not open, and why.

Three sources give them, and all behave alike: ``skip_dates`` written by hand, public
holidays (``holidays``) and the events of iCalendar files (``calendars``). Each date is a
local date in the policy's zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo

from scaler.policy.dates import DateSet
from scaler.policy.holiday_calendars import HolidayCalendar
from scaler.policy.icalendars import CalendarFile

#: The name of a date listed in ``skip_dates``.
SKIP_DATE = "skip date"


class SkipDays:
    """Membership and names of a policy's skipped local dates (holidays and calendars computed a year at a time)."""

    def __init__(
        self,
        dates: DateSet,
        holidays: Sequence[HolidayCalendar] = (),
        calendars: Sequence[CalendarFile] = (),
        tz: tzinfo | None = None,
    ) -> None:
        self._dates = dates
        self._holidays = tuple(holidays)
        self._calendars = tuple(calendars)
        self._tz = tz

    def __bool__(self) -> bool:
        return bool(self._dates) or bool(self._holidays) or bool(self._calendars)

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        if day in self._dates:
            return True
        if any(holiday.names_on(day) for holiday in self._holidays):
            return True
        return any(calendar.events_on(day, self._tz) for calendar in self._calendars if self._tz is not None)

    def names(self, day: date) -> tuple[str, ...]:
        """Return why ``day`` is skipped: ``skip date``, holiday names, event summaries (empty: it is not)."""
        found: list[str] = [SKIP_DATE] if day in self._dates else []
        for holiday in self._holidays:
            found.extend(holiday.names_on(day))
        if self._tz is not None:
            for calendar in self._calendars:
                found.extend(calendar.events_on(day, self._tz))
        return tuple(dict.fromkeys(found))
