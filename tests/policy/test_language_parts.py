"""The small grammars of the language: durations, between, dates, states."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from scaler.policy.between import BetweenError, parse_between
from scaler.policy.dates import DateRange, DateSet, parse_date_range
from scaler.policy.durations import format_duration, parse_duration
from scaler.policy.model import DesiredState


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("8h", 28800), ("7d", 604800), ("1h30m", 5400), ("0s", 0), ("1d2h3m4s", 93784)],
)
def test_durations(text: str, seconds: int):
    """Durations are sums of d, h, m, s parts, largest first."""
    assert timedelta(seconds=seconds) == parse_duration(text)


@pytest.mark.parametrize("text", ["", "10", "1.5h", "30m1h", "1h1h", "-5m", "5 m", "1w"])
def test_malformed_durations(text: str):
    """Anything else is refused, saying what is expected."""
    with pytest.raises(ValueError, match="30s, 10m, 8h, 7d or 1h30m|largest to smallest"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["1000000000000s", "11574075d", "999999999999999999999h"])
def test_durations_beyond_a_million_days_are_refused(text: str):
    """A duration no clock can hold (timedelta ends near 2.7 million years) is refused, not an OverflowError."""
    with pytest.raises(ValueError, match="is far too long a duration"):
        parse_duration(text)


def test_format_duration_is_the_inverse():
    """format_duration writes what parse_duration reads."""
    assert ["0s", "1h30m", "7d", "1d2h3m4s"] == [
        format_duration(parse_duration(text)) for text in ("0s", "90m", "168h", "1d2h3m4s")
    ]


def test_between_days_and_times():
    """Day lists, ranges and times parse into weekdays (Monday = 0) and clock times."""
    spec = parse_between("Mon,Wed-Fri 20:00-08:00")
    assert (frozenset({0, 2, 3, 4}), time(20, 0), time(8, 0), True) == (spec.weekdays, spec.start, spec.end, spec.closes_next_day)


def test_between_without_days_is_every_day_and_ranges_may_wrap():
    """No day part: every day; Fri-Mon wraps past Sunday; full names and any case are accepted."""
    assert frozenset(range(7)) == parse_between("22:00-06:00").weekdays
    assert frozenset({4, 5, 6, 0}) == parse_between("fri-MONDAY 09:00-10:00").weekdays


def test_between_until_midnight():
    """24:00 as an end closes at the following midnight."""
    spec = parse_between("Sat,Sun 00:00-24:00")
    assert (time(0, 0), True) == (spec.end, spec.closes_next_day)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mon-Fri", "is not a time range HH:MM-HH:MM"),
        ("Mon-Fri 08:00-08:00", "opens and closes at the same time; for whole days write 00:00-24:00"),
        ("Mon-Fri 24:00-08:00", "is not a time of day"),
        ("Mon-Fri 08:60-09:00", "is not a time of day"),
        ("Mon Fri 08:00-09:00", "has too many parts"),
        ("Mon,,Fri 08:00-09:00", "has an empty entry"),
        ("Someday 08:00-09:00", "'Someday' in 'Someday' is not a day"),
    ],
)
def test_malformed_between(text: str, message: str):
    """Each malformed between names the part that is wrong."""
    with pytest.raises(BetweenError, match=message):
        parse_between(text)


@pytest.mark.parametrize(
    ("text", "zone", "times"),
    [
        ("Mon-Fri 07:30-20:30 Europe/Berlin", "Europe/Berlin", "Mon-Fri 07:30-20:30"),
        ("Mon-Fri 07:30-20:30 UTC", "UTC", "Mon-Fri 07:30-20:30"),
        ("22:00-06:00 America/New_York", "America/New_York", "22:00-06:00"),
        ("Europe/Berlin Sat,Sun 00:00-24:00", "Europe/Berlin", "Sat,Sun 00:00-24:00"),
    ],
)
def test_a_zone_inside_between_is_refused_with_the_timezone_key_as_the_way(text: str, zone: str, times: str):
    """Other downscalers write the zone into the window; here it belongs in the policy's timezone: say so."""
    with pytest.raises(BetweenError) as caught:
        parse_between(text)
    assert (
        f"{zone!r} is a time zone: between takes wall-clock times in the policy's zone; "
        f'write timezone: {zone} in the policy and between: "{times}"'
    ) == str(caught.value)


def test_date_set_membership_merges_ranges():
    """A date set answers membership for single dates and inclusive ranges."""
    dates = DateSet((parse_date_range("2026-12-25"), parse_date_range("2026-12-28..2026-12-31"), DateRange(date(2026, 12, 26), date(2026, 12, 26))))
    assert [True, True, False, True, True, False] == [
        day in dates for day in (date(2026, 12, 25), date(2026, 12, 26), date(2026, 12, 27), date(2026, 12, 28), date(2026, 12, 31), date(2027, 1, 1))
    ]


def test_desired_state_describe_round_trips():
    """describe() and from_description() are inverses."""
    states = [DesiredState.stopped(), DesiredState.running(), DesiredState.bounds(0, 3)]
    assert ["stopped", "running", "min=0 max=3"] == [state.describe() for state in states]
    assert states == [DesiredState.from_description(state.describe()) for state in states]


def test_desired_state_follows_the_api_rules():
    """Bounds follow the API's rules: min >= 0, max >= 1, min <= max."""
    for minimum, maximum in ((-1, 2), (0, 0), (3, 2)):
        with pytest.raises(ValueError):
            DesiredState.bounds(minimum, maximum)


def test_desired_state_is_running():
    """is_running is true for running and bounds states."""
    assert [False, True, True] == [state.is_running for state in (DesiredState.stopped(), DesiredState.running(), DesiredState.bounds(0, 1))]
