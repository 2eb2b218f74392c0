"""Property tests: fire dates of ``L``, ``L-n``, ``DAY#n`` and ``DAYL`` agree with independent implementations.

cronsim (the cron evaluator of healthchecks.io, which follows Debian cron's day rule and
reads ``L``, ``n#k`` and ``nL``) is the oracle for everything it reads; ``L-n``, which it
does not, is checked against the calendar module's month lengths.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone

from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.policy.cron import parse_cron

UTC = timezone.utc
NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# (our text, cronsim's text) for each kind of list entry
plain_days = st.integers(1, 28).map(lambda day: (str(day), str(day)))
last_day = st.just(("L", "L"))
day_of_month_items = st.one_of(plain_days, last_day)
day_of_month_fields = st.one_of(
    st.just(("*", "*")),
    st.just(("*/2", "*/2")),
    st.lists(day_of_month_items, min_size=1, max_size=3).map(lambda items: tuple(",".join(part) for part in zip(*items))),
)


@st.composite
def weekday_items(draw) -> tuple[str, str]:
    number = draw(st.integers(0, 7))
    ours = draw(st.sampled_from([str(number), NAMES[number % 7], NAMES[number % 7].upper()]))
    form = draw(st.sampled_from(["plain", "nth", "last"]))
    if form == "plain":
        return ours, str(number)
    if form == "nth":
        nth = draw(st.integers(1, 5))
        return f"{ours}#{nth}", f"{number}#{nth}"
    return f"{ours}L", f"{number}L"


day_of_week_fields = st.one_of(
    st.just(("*", "*")),
    st.lists(weekday_items(), min_size=1, max_size=3).map(lambda items: tuple(",".join(part) for part in zip(*items))),
)
months = st.sampled_from(["*", "1-6", "2", "2,8", "*/3"])
starts = st.dates(date(2024, 1, 1), date(2031, 12, 31))


def oracle_days(expression: str, first: date, last: date) -> list[date]:
    """The local dates cronsim fires ``expression`` (at 09:00) from ``first`` to ``last``."""
    found = []
    for fired in CronSim(expression, datetime.combine(first, time(0)) - timedelta(seconds=1)):
        if fired.date() > last:
            return found
        found.append(fired.date())
    return found


def engine_days(expression: str, first: date, last: date) -> list[date]:
    return [day for day, _ in parse_cron(expression).fire_times(first, last, UTC)]


@settings(max_examples=300, deadline=None)
@given(day_of_month_fields, months, day_of_week_fields, starts, st.integers(1, 400))
def test_fire_dates_agree_with_cronsim(day_of_month, month, day_of_week, first: date, length: int):
    """For any mix of plain days, ``L``, ``DAY#n`` and ``DAYL`` (names, numbers, 0 and 7), the engine fires on
    exactly the dates cronsim does, the two day fields combined by the same rule."""
    if day_of_month[0] == "*" and day_of_week[0] == "*":
        day_of_week = ("fri#1", "5#1")
    last = first + timedelta(days=length)
    ours = f"0 9 {day_of_month[0]} {month} {day_of_week[0]}"
    theirs = f"0 9 {day_of_month[1]} {month} {day_of_week[1]}"
    assert oracle_days(theirs, first, last) == engine_days(ours, first, last), ours


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), starts, st.integers(1, 800))
def test_days_before_month_end_agree_with_month_lengths(back: int, first: date, length: int):
    """``L-n`` fires on the day n before each month's last day, and not at all in a month too short for it."""
    last = first + timedelta(days=length)
    expected = [
        first + timedelta(days=offset)
        for offset in range(length + 1)
        if calendar.monthrange((first + timedelta(days=offset)).year, (first + timedelta(days=offset)).month)[1]
        - (first + timedelta(days=offset)).day
        == back
    ]
    assert expected == engine_days(f"0 9 L-{back} * *", first, last)
