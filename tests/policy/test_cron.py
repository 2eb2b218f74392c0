"""Crontab parsing and fire times: Unix day-of-week, the Vixie day rule, L and # forms, DST."""

from __future__ import annotations

from datetime import date, timezone

import pytest

from scaler.policy.cron import CronError, parse_cron
from scaler.policy.errors import PolicyLoadError
from scaler.policy.loader import load_policy_text

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


def test_last_day_of_month():
    """``L`` in the day of month is the month's last day, 28 or 29 in February."""
    assert ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"] == fire_days("0 9 L * *", "2028-01-01", "2028-04-30")


def test_days_before_the_last_day_of_month():
    """``L-n`` is n days before the last day: L-2 of a 30-day month is the 28th, of a leap February the 27th."""
    assert ["2028-01-29", "2028-02-27", "2028-03-29", "2028-04-28"] == fire_days(
        "0 9 L-2 * *", "2028-01-01", "2028-04-30"
    )


def test_last_day_listed_with_plain_days():
    """``L`` is a list entry like any other: ``1,15,L``."""
    assert ["2026-02-01", "2026-02-15", "2026-02-28"] == fire_days("0 9 1,15,L * *", "2026-02-01", "2026-02-28")


def test_nth_weekday_by_name_and_by_number():
    """``mon#1`` and ``1#1`` are both the first Monday of each month."""
    first_mondays = ["2026-01-05", "2026-02-02", "2026-03-02", "2026-04-06"]
    assert first_mondays == fire_days("0 9 * * mon#1", "2026-01-01", "2026-04-30")
    assert first_mondays == fire_days("0 9 * * 1#1", "2026-01-01", "2026-04-30")


def test_second_weekday_with_sunday_as_zero_and_seven():
    """Numbers keep Unix numbering in ``#``: ``0#2`` and ``7#2`` are the second Sunday."""
    assert ["2026-03-08", "2026-04-12"] == fire_days("0 9 * * 0#2", "2026-03-01", "2026-04-30")
    assert ["2026-03-08", "2026-04-12"] == fire_days("0 9 * * 7#2", "2026-03-01", "2026-04-30")


def test_fifth_weekday_fires_only_in_months_that_have_one():
    """``fri#5`` does not fire in a month with four Fridays (2026: January, May, July, October have five)."""
    assert ["2026-01-30", "2026-05-29", "2026-07-31", "2026-10-30"] == fire_days(
        "0 9 * * fri#5", "2026-01-01", "2026-12-31"
    )


def test_last_weekday_of_month_by_name_and_number():
    """``friL`` and ``5L`` are the last Friday of the month."""
    last_fridays = ["2026-01-30", "2026-02-27", "2026-03-27"]
    assert last_fridays == fire_days("0 9 * * friL", "2026-01-01", "2026-03-31")
    assert last_fridays == fire_days("0 9 * * 5L", "2026-01-01", "2026-03-31")


def test_nth_weekday_ored_with_a_restricted_day_of_month():
    """With both day fields restricted (``1`` and ``fri#1``) a day matching either fires, as Vixie cron combines them."""
    assert ["2026-01-01", "2026-01-02", "2026-02-01", "2026-02-06"] == fire_days(
        "0 9 1 * fri#1", "2026-01-01", "2026-02-28"
    )


def test_nth_weekday_anded_with_a_star_step_day_of_month():
    """A day of month starting with ``*`` is ANDed: ``*/2`` with ``fri#1`` fires on first Fridays with odd dates."""
    assert ["2026-04-03", "2026-05-01", "2026-06-05"] == fire_days("0 9 */2 * fri#1", "2026-01-01", "2026-06-30")


def test_last_day_ored_with_a_weekday():
    """``L`` with ``mon``: the last day of the month and every Monday."""
    assert ["2026-02-02", "2026-02-09", "2026-02-16", "2026-02-23", "2026-02-28"] == fire_days(
        "0 9 L * mon", "2026-02-01", "2026-02-28"
    )


def test_nth_weekday_on_a_spring_forward_day_moves_the_gap_time_forward():
    """The second Sunday of March 2026 is New York's spring-forward day: 02:30 fires once, at 03:30 EDT."""
    assert [local("2026-03-08T03:30", NEW_YORK)] == fires("30 2 * * sun#2", "2026-03-01", "2026-03-31", NEW_YORK)


def test_last_sunday_on_a_fall_back_day_fires_once():
    """The last Sunday of October 2026 is Berlin's fall-back day: 02:30 fires once, at its first occurrence."""
    assert [utc("2026-10-25T00:30")] == fires("30 2 * * sunL", "2026-10-01", "2026-10-31", BERLIN)


def test_last_day_of_month_in_a_zone_is_the_local_date():
    """``L`` is the local last day: 23:00 on 31 January in Kolkata is 17:30 UTC that day."""
    from zoneinfo import ZoneInfo

    assert [utc("2026-01-31T17:30")] == fires("0 23 L * *", "2026-01-01", "2026-01-31", ZoneInfo("Asia/Kolkata"))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 9 * * L", "day-of-week 'L': L alone is not a weekday; write DAYL"),
        ("0 9 L/2 * *", "day-of-month 'L/2': L takes no range or step"),
        ("0 9 3-L * *", "day-of-month '3-L': L takes no range or step"),
        ("0 9 L-0 * *", "day-of-month 'L-0': in L-n, n counts days back from the last day and takes 1-30"),
        ("0 9 L-31 * *", "day-of-month 'L-31': in L-n, n counts days back from the last day and takes 1-30"),
        ("0 9 Lx * *", "day-of-month 'Lx' is not valid; write L (the last day of the month) or L-n"),
        ("0 9 15W * *", "day-of-month '15W': W (the nearest weekday) is not supported"),
        ("0 9 1#1 * *", "day-of-month '1#1': # belongs in the day-of-week field"),
        ("0 9 * * fri#6", "day-of-week 'fri#6': the number after '#' says which such weekday of the month and takes 1-5"),
        ("0 9 * * fri#0", "the number after '#' says which such weekday of the month and takes 1-5"),
        ("0 9 * * fri#", "the number after '#' says which such weekday of the month and takes 1-5"),
        ("0 9 * * #1", "day-of-week '#1': the weekday before '#' is missing"),
        ("0 9 * * fry#1", "day-of-week value 'fry' in 'fry#1' is not valid"),
        ("0 9 * * 8#1", "day-of-week 8 is out of range"),
        ("0 9 * * mon-fri#1", "day-of-week 'mon-fri#1': DAY#n and DAYL name a single weekday and take no range"),
        ("0 9 * * 1-5L", "day-of-week '1-5L': DAY#n and DAYL name a single weekday"),
        ("0 9 * * */2L", "day-of-week '*/2L': DAY#n and DAYL name a single weekday"),
        ("0 9 * * lfri", "day-of-week 'lfri' is not valid; expected a weekday, DAY#n"),
        ("L 9 * * *", "minute 'L': L and # belong to the day fields only"),
        ("0 9 * 3#1 *", "month '3#1': L and # belong to the day fields only"),
        ("0 9 L-29 2 *", "day-of-month 'L-29' never occurs in month '2', so the schedule never fires"),
    ],
)
def test_misused_last_and_nth_forms_say_what_is_wrong(expression: str, message: str):
    """Each misuse of ``L``, ``L-n``, ``DAY#n`` and ``DAYL`` names the field, the item and what is allowed."""
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert message in str(caught.value)


def test_misused_form_in_a_policy_names_file_line_and_field():
    """A policy with ``fri#6`` is rejected at its file, line and the window's cron field."""
    text = (
        "version: 1\npolicies:\n  - name: office\n    match: {names: [\"*\"]}\n    windows:\n"
        "      - cron: \"0 9 * * fri#6\"\n        duration: 8h\n        state: running\n"
    )
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "office.yaml")
    assert [
        "office.yaml:6: policies[0].windows[0].cron: day-of-week 'fri#6': the number after '#' says which such "
        "weekday of the month and takes 1-5"
    ] == [str(issue) for issue in caught.value.issues]


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
