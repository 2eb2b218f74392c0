"""Crontab parsing and fire times: Unix day-of-week, the Vixie day rule, DST."""

from __future__ import annotations

from datetime import date, timezone

import pytest

from scaler.policy.cron import CronError, parse_cron

from .helpers import BERLIN, NEW_YORK, local, utc


def fires(expression: str, first: str, last: str, tz=timezone.utc) -> list:
    return [instant for _, instant in parse_cron(expression).fire_times(date.fromisoformat(first), date.fromisoformat(last), tz)]


def fire_days(expression: str, first: str, last: str) -> list[str]:
    return [day.isoformat() for day, _ in parse_cron(expression).fire_times(date.fromisoformat(first), date.fromisoformat(last), timezone.utc)]


def test_day_of_week_zero_is_sunday():
    """Day-of-week 0 is Sunday, as in Unix cron (not Monday, as APScheduler numbers it)."""
    assert ["2026-03-01", "2026-03-08"] == fire_days("0 9 * * 0", "2026-03-01", "2026-03-14")


def test_day_of_week_seven_is_sunday():
    """Day-of-week 7 is Sunday too."""
    assert ["2026-03-01", "2026-03-08"] == fire_days("0 9 * * 7", "2026-03-01", "2026-03-14")


def test_day_of_week_range_one_to_five_is_monday_to_friday():
    """1-5 is Monday to Friday (2026-03-02 is a Monday)."""
    assert ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"] == fire_days(
        "0 9 * * 1-5", "2026-03-01", "2026-03-08"
    )


def test_day_of_week_range_ending_at_seven_includes_sunday():
    """5-7 is Friday, Saturday and Sunday."""
    assert ["2026-03-06", "2026-03-07", "2026-03-08"] == fire_days("0 9 * * 5-7", "2026-03-02", "2026-03-08")


def test_day_and_month_names():
    """Names work in both name fields, in any case, in ranges."""
    assert ["2026-01-02", "2026-01-05"] == fire_days("0 9 * JAN mon,FRI", "2026-01-01", "2026-01-05")


def test_both_day_fields_restricted_match_either():
    """With day-of-month and day-of-week both restricted, a day matching either fires (Vixie rule)."""
    # March 2026: the 13th is a Friday; Fridays are 6, 13, 20, 27; plus the 1st.
    assert ["2026-03-01", "2026-03-06", "2026-03-13", "2026-03-20", "2026-03-27"] == fire_days(
        "0 9 1,13 * 5", "2026-03-01", "2026-03-31"
    )


def test_star_step_day_of_month_counts_as_unrestricted():
    """A day-of-month starting with '*' (``*/2``) is ANDed with the day of week, as Vixie cron does."""
    # Mondays in March 2026: 2, 9, 16, 23, 30; odd days among them: 9, 23.
    assert ["2026-03-09", "2026-03-23"] == fire_days("0 9 */2 * 1", "2026-03-01", "2026-03-31")


def test_steps_ranges_and_lists_in_minutes():
    """``a-b/n``, ``a/n`` and lists expand as in crontab."""
    schedule = parse_cron("10-30/10,45/5 * * * *")
    assert (10, 20, 30, 45, 50, 55) == schedule.minutes


def test_leap_day_fires_only_in_leap_years():
    """``0 0 29 2 *`` fires on 29 February of leap years only."""
    assert ["2028-02-29"] == fire_days("0 0 29 2 *", "2026-01-01", "2029-12-31")


def test_macro_daily():
    """``@daily`` is midnight every day."""
    assert [utc("2026-03-01T00:00"), utc("2026-03-02T00:00")] == fires("@daily", "2026-03-01", "2026-03-02")


def test_new_york_spring_forward_gap_time_moves_forward():
    """02:30 on the spring-forward night does not exist in New York and fires at 03:30 EDT."""
    assert [local("2026-03-08T03:30", NEW_YORK)] == fires("30 2 * * *", "2026-03-08", "2026-03-08", NEW_YORK)
    assert utc("2026-03-08T07:30") == local("2026-03-08T03:30", NEW_YORK)


def test_new_york_gap_hour_fires_once_per_minute_value():
    """An hourly cron fires once at 03:00 EDT on the spring-forward night (02:00 moves onto it)."""
    expected = [utc("2026-03-08T05:00"), utc("2026-03-08T06:00"), utc("2026-03-08T07:00"), utc("2026-03-08T08:00")]
    actual = [instant for instant in fires("0 0-4 * * *", "2026-03-08", "2026-03-08", NEW_YORK)]
    assert expected == actual


def test_new_york_fall_back_repeated_time_fires_once():
    """01:30 happens twice on the fall-back night in New York; the cron fires only at the first (EDT)."""
    assert [utc("2026-11-01T05:30")] == fires("30 1 * * *", "2026-11-01", "2026-11-01", NEW_YORK)


def test_new_york_fall_back_repeated_hour_is_not_fired_again():
    """A half-hourly cron does not fire again during the second pass through 01:00-02:00."""
    expected = [utc(f"2026-11-01T{time}") for time in ("04:00", "04:30", "05:00", "05:30", "07:00", "07:30")]
    actual = [instant for instant in fires("*/30 0-2 * * *", "2026-11-01", "2026-11-01", NEW_YORK)]
    assert expected == actual


def test_berlin_spring_forward_gap_time_moves_forward():
    """02:30 on Berlin's spring-forward night fires at 03:30 CEST (01:30 UTC)."""
    assert [utc("2026-03-29T01:30")] == fires("30 2 * * *", "2026-03-29", "2026-03-29", BERLIN)


def test_berlin_fall_back_repeated_time_fires_once():
    """02:30 happens twice on Berlin's fall-back night; it fires once, at the first (CEST, 00:30 UTC)."""
    assert [utc("2026-10-25T00:30")] == fires("30 2 * * *", "2026-10-25", "2026-10-25", BERLIN)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 9 * * *", "minute 61 is out of range; minute takes 0-59"),
        ("0 24 * * *", "hour 24 is out of range; hour takes 0-23"),
        ("0 9 0 * *", "day-of-month 0 is out of range; day-of-month takes 1-31"),
        ("0 9 * 13 *", "month 13 is out of range; month takes 1-12"),
        ("0 9 * * 8", "day-of-week 8 is out of range; day-of-week takes 0-7 (0 and 7 are Sunday)"),
        ("0 9 * * mnd", "day-of-week value 'mnd' is not valid; day-of-week takes numbers 0-7 or names sun..sat"),
        ("0 9 * jnu *", "month value 'jnu' is not valid; month takes numbers 1-12 or names jan..dec"),
        ("0 9 * * 5-1", "day-of-week range '5-1' runs backwards"),
        ("*/0 9 * * *", "minute '*/0': the step after '/' must be a whole number of at least 1"),
        ("0 9 * *", "has 4 fields; expected a 5-field crontab"),
        ("0 0 9 * * *", "seconds and years are not supported"),
        ("0 9 1,,2 * *", "has an empty list entry"),
        ("0 0 31 2 *", "never occurs in month '2', so the schedule never fires"),
        ("@reboot", "unknown macro '@reboot'"),
        ("mon 9 * * *", "minute value 'mon' is not valid; minute takes numbers 0-59"),
    ],
)
def test_invalid_expressions_say_what_is_wrong(expression: str, message: str):
    """Each malformed expression names the field, the value and what the field allows."""
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert message in str(caught.value)
