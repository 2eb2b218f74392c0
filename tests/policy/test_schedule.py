"""The schedule engine: windows, DST, overnight, skip dates, lead time, first match, merging."""

from __future__ import annotations

import pytest

from scaler.policy.model import DesiredState, Policy
from scaler.policy.schedule import next_boundary, schedule_of, scheduled_state, window_intervals

from .helpers import BERLIN, NEW_YORK, local, policy, policy_set, utc

STOPPED = DesiredState.stopped()
RUNNING = DesiredState.running()


def one_window(timing: str, *, timezone: str = "UTC", extra: str = ""):
    """Return a policy (default stopped) with one window ``w`` (running) timed by ``timing`` (lines joined by newlines)."""
    timing_lines = "".join(f"      {line.strip()}\n" for line in timing.splitlines())
    text = (
        "- name: p\n"
        '  match: {names: ["*"]}\n'
        f"  timezone: {timezone}\n"
        "  default: stopped\n"
        + (f"  {extra}\n" if extra else "")
        + "  windows:\n"
        "    - name: w\n"
        + timing_lines
        + "      state: running\n"
    )
    return policy_set(text).policies[0]


def intervals(p, start: str, end: str) -> list[tuple]:
    return window_intervals(p, p.windows[0], utc(start), utc(end))


def test_cron_duration_is_elapsed_time_across_fall_back():
    """A 4h cron window opening at midnight on New York's fall-back night closes 4 elapsed hours later (03:00 EST)."""
    p = one_window('cron: "0 0 * * *"\n    duration: 4h', timezone="America/New_York")
    assert [(utc("2026-11-01T04:00"), utc("2026-11-01T08:00"))] == intervals(p, "2026-11-01T00:00", "2026-11-01T12:00")
    assert local("2026-11-01T03:00", NEW_YORK) == utc("2026-11-01T08:00")


def test_between_end_is_wall_clock_across_fall_back():
    """A between window 00:00-04:00 on the fall-back night closes at 04:00 EST: five elapsed hours."""
    p = one_window('between: "00:00-04:00"', timezone="America/New_York")
    assert [(utc("2026-11-01T04:00"), utc("2026-11-01T09:00"))] == intervals(p, "2026-11-01T00:00", "2026-11-01T12:00")


def test_cron_duration_is_elapsed_time_across_spring_forward():
    """A 4h cron window opening at midnight on the spring-forward night closes at 05:00 EDT."""
    p = one_window('cron: "0 0 * * *"\n    duration: 4h', timezone="America/New_York")
    assert [(utc("2026-03-08T05:00"), utc("2026-03-08T09:00"))] == intervals(p, "2026-03-08T00:00", "2026-03-08T12:00")


def test_between_end_is_wall_clock_across_spring_forward():
    """A between window 00:00-04:00 on the spring-forward night closes at 04:00 EDT: three elapsed hours."""
    p = one_window('between: "00:00-04:00"', timezone="America/New_York")
    assert [(utc("2026-03-08T05:00"), utc("2026-03-08T08:00"))] == intervals(p, "2026-03-08T00:00", "2026-03-08T12:00")


def test_window_opening_inside_the_gap_opens_after_it():
    """A window opening at 02:30 on the spring-forward night opens at 03:30 EDT."""
    p = one_window('between: "02:30-05:00"', timezone="America/New_York")
    assert [(local("2026-03-08T03:30", NEW_YORK), local("2026-03-08T05:00", NEW_YORK))] == intervals(
        p, "2026-03-08T00:00", "2026-03-08T12:00"
    )


def test_window_opening_in_the_repeated_hour_opens_once():
    """A window opening at 01:30 on the fall-back night opens once, at the first 01:30 (EDT)."""
    p = one_window('between: "01:30-03:00"', timezone="America/New_York")
    segments = schedule_of(p).segments(utc("2026-11-01T00:00"), utc("2026-11-01T12:00"))
    assert [
        (utc("2026-11-01T00:00"), STOPPED),
        (local("2026-11-01T01:30", NEW_YORK), RUNNING),
        (local("2026-11-01T03:00", NEW_YORK), STOPPED),
    ] == [(segment.start, segment.state) for segment in segments]
    assert utc("2026-11-01T05:30") == local("2026-11-01T01:30", NEW_YORK)


def test_cron_in_the_repeated_hour_opens_once():
    """A cron window at 01:30 on the fall-back night opens once; its 20 minutes do not recur an hour later."""
    p = one_window('cron: "30 1 * * *"\n    duration: 20m', timezone="America/New_York")
    assert [(utc("2026-11-01T05:30"), utc("2026-11-01T05:50"))] == intervals(p, "2026-11-01T00:00", "2026-11-01T12:00")


def test_berlin_cron_in_the_gap_opens_after_it():
    """Berlin: a cron window at 02:30 on the spring-forward night opens at 03:30 CEST."""
    p = one_window('cron: "30 2 * * *"\n    duration: 1h', timezone="Europe/Berlin")
    assert [(utc("2026-03-29T01:30"), utc("2026-03-29T02:30"))] == intervals(p, "2026-03-29T00:00", "2026-03-29T12:00")
    assert local("2026-03-29T03:30", BERLIN) == utc("2026-03-29T01:30")


def test_berlin_cron_in_the_repeated_hour_opens_once():
    """Berlin: a cron window at 02:30 on the fall-back night opens once, at 02:30 CEST, for 2 elapsed hours."""
    p = one_window('cron: "30 2 * * *"\n    duration: 2h', timezone="Europe/Berlin")
    assert [(utc("2026-10-25T00:30"), utc("2026-10-25T02:30"))] == intervals(p, "2026-10-24T12:00", "2026-10-25T12:00")


def test_berlin_between_across_fall_back_ends_at_wall_clock():
    """Berlin: a night window 22:00-06:00 over the fall-back night lasts nine elapsed hours."""
    p = one_window('between: "22:00-06:00"', timezone="Europe/Berlin")
    opening = intervals(p, "2026-10-24T12:00", "2026-10-25T12:00")
    assert [(local("2026-10-24T22:00", BERLIN), local("2026-10-25T06:00", BERLIN))] == opening
    assert 9 * 3600 == (opening[0][1] - opening[0][0]).total_seconds()


def test_overnight_between_closes_next_day_and_opens_only_on_listed_days():
    """``Mon-Fri 20:00-08:00`` opens Friday 20:00, closes Saturday 08:00, and does not open at the weekend."""
    p = one_window('between: "Mon-Fri 20:00-08:00"')
    assert [
        (utc("2026-03-05T20:00"), utc("2026-03-06T08:00")),
        (utc("2026-03-06T20:00"), utc("2026-03-07T08:00")),
        (utc("2026-03-09T20:00"), utc("2026-03-10T00:00")),
    ] == intervals(p, "2026-03-05T12:00", "2026-03-10T00:00")


def test_between_until_midnight_covers_whole_days():
    """``Sat,Sun 00:00-24:00`` is open from Saturday 00:00 to Monday 00:00 in one piece."""
    p = one_window('between: "Sat,Sun 00:00-24:00"')
    assert [(utc("2026-03-07T00:00"), utc("2026-03-09T00:00"))] == intervals(p, "2026-03-02T00:00", "2026-03-12T00:00")


def test_skip_date_stops_a_recurring_window_from_opening():
    """A cron window does not open on a skip date."""
    p = one_window('cron: "0 9 * * *"\n    duration: 8h', extra='skip_dates: ["2026-12-25"]')
    assert [
        (utc("2026-12-24T09:00"), utc("2026-12-24T17:00")),
        (utc("2026-12-26T09:00"), utc("2026-12-26T17:00")),
    ] == intervals(p, "2026-12-24T00:00", "2026-12-27T00:00")


def test_window_open_across_midnight_into_a_skip_date_stays_open():
    """A night window opened the day before a skip date stays open for its full length into it."""
    p = one_window('between: "22:00-06:00"', extra='skip_dates: ["2026-12-25"]')
    assert [
        (utc("2026-12-24T22:00"), utc("2026-12-25T06:00")),
        (utc("2026-12-26T22:00"), utc("2026-12-27T06:00")),
    ] == intervals(p, "2026-12-24T12:00", "2026-12-27T12:00")


def test_skip_date_range_is_inclusive():
    """``a..b`` skips every date from a to b, both included."""
    p = one_window('cron: "0 9 * * *"\n    duration: 1h', extra='skip_dates: ["2026-12-28..2026-12-30"]')
    opened = [interval[0] for interval in intervals(p, "2026-12-27T00:00", "2027-01-01T00:00")]
    assert [utc("2026-12-27T09:00"), utc("2026-12-31T09:00")] == opened


def test_skip_dates_are_local_dates():
    """Skip dates are dates in the policy's zone: a New York evening window on the skip date does not open."""
    p = one_window('between: "23:00-23:30"', timezone="America/New_York", extra='skip_dates: ["2026-12-25"]')
    opened = [interval[0] for interval in intervals(p, "2026-12-25T00:00", "2026-12-28T06:00")]
    assert [local("2026-12-24T23:00", NEW_YORK), local("2026-12-26T23:00", NEW_YORK), local("2026-12-27T23:00", NEW_YORK)] == opened


def test_absolute_window_ignores_skip_dates():
    """A from/until window is open on skip dates too."""
    p = one_window('from: "2026-12-24T00:00"\n    until: "2026-12-27T00:00"', extra='skip_dates: ["2026-12-25"]')
    assert [(utc("2026-12-24T00:00"), utc("2026-12-27T00:00"))] == intervals(p, "2026-12-01T00:00", "2027-01-01T00:00")


def test_absolute_window_is_wall_clock_in_the_zone_or_its_own_offset():
    """from/until are local times in the policy's zone unless they carry an offset."""
    p = one_window('from: "2026-12-24T00:00"\n    until: "2026-12-27T00:00+00:00"', timezone="Europe/Berlin")
    assert [(utc("2026-12-23T23:00"), utc("2026-12-27T00:00"))] == intervals(p, "2026-12-01T00:00", "2027-01-01T00:00")


def test_lead_time_opens_earlier_and_closes_on_time():
    """lead_time 15m opens a 09:00-17:00 window at 08:45; it still closes at 17:00."""
    p = one_window('cron: "0 9 * * 1-5"\n    duration: 8h\n    lead_time: 15m')
    assert [(utc("2026-03-02T08:45"), utc("2026-03-02T17:00"))] == intervals(p, "2026-03-02T00:00", "2026-03-03T00:00")


def test_lead_time_reaches_back_over_a_boundary_of_the_question():
    """A window whose lead time starts before the period asked about is open at its start."""
    p = one_window('between: "00:00-06:00"\n    lead_time: 30m')
    assert [(utc("2026-03-02T00:00"), utc("2026-03-02T06:00"))] == intervals(p, "2026-03-02T00:00", "2026-03-02T12:00")
    assert RUNNING == scheduled_state(p, utc("2026-03-01T23:30")).state


def test_lead_time_does_not_bring_back_a_skipped_opening():
    """A skipped opening has no warm-up either."""
    p = one_window('cron: "0 9 * * *"\n    duration: 1h\n    lead_time: 15m', extra='skip_dates: ["2026-03-03"]')
    assert STOPPED == scheduled_state(p, utc("2026-03-03T08:50")).state


def test_first_open_window_in_list_order_decides():
    """Where windows overlap, the one written first decides."""
    p = policy(
        """
        name: p
        match: {names: ["*"]}
        default: stopped
        windows:
          - name: lunch
            between: "12:00-14:00"
            state: {min_replicas: 1, max_replicas: 1}
          - name: day
            between: "09:00-17:00"
            state: {min_replicas: 2, max_replicas: 4}
        """
    )
    segments = schedule_of(p).segments(utc("2026-03-02T00:00"), utc("2026-03-03T00:00"))
    assert [
        ("00:00", "default"),
        ("09:00", "window:day"),
        ("12:00", "window:lunch"),
        ("14:00", "window:day"),
        ("17:00", "default"),
    ] == [(segment.start.strftime("%H:%M"), segment.source) for segment in segments]


def test_overlapping_openings_of_one_window_merge():
    """Hourly openings of 90 minutes make one continuous window."""
    p = one_window('cron: "0 9-12 * * *"\n    duration: 90m')
    assert [(utc("2026-03-02T09:00"), utc("2026-03-02T13:30"))] == intervals(p, "2026-03-02T00:00", "2026-03-03T00:00")


def test_long_window_opened_before_the_question_is_found():
    """A window opened weeks before the period asked about is seen open at its start."""
    p = one_window('cron: "0 0 1 * *"\n    duration: 20d')
    assert [(utc("2026-03-15T00:00"), utc("2026-03-21T00:00"))] == intervals(p, "2026-03-15T00:00", "2026-03-25T00:00")


def test_leap_day_window():
    """A window on 29 February opens in a leap year and covers that day."""
    p = one_window('cron: "0 0 29 2 *"\n    duration: 1d')
    assert [(utc("2028-02-29T00:00"), utc("2028-03-01T00:00"))] == intervals(p, "2026-01-01T00:00", "2029-01-01T00:00")


def test_window_across_year_end():
    """A New Year's Eve window from 22:00 for four hours runs into the new year."""
    p = one_window('cron: "0 22 31 12 *"\n    duration: 4h')
    assert [(utc("2026-12-31T22:00"), utc("2027-01-01T02:00"))] == intervals(p, "2026-12-31T00:00", "2027-01-02T00:00")
    assert RUNNING == scheduled_state(p, utc("2027-01-01T01:59")).state


def test_default_applies_when_no_window_is_open():
    """Outside every window the default decides, with source default."""
    p = one_window('between: "09:00-17:00"')
    segment = scheduled_state(p, utc("2026-03-02T08:00"))
    assert (STOPPED, "default") == (segment.state, segment.source)


def test_no_default_leaves_alone_with_source_none():
    """Without a default, outside every window the deployment is left alone (source none)."""
    p = policy(
        """
        name: p
        match: {names: ["*"]}
        windows:
          - between: "22:00-06:00"
            state: stopped
        """
    )
    segment = scheduled_state(p, utc("2026-03-02T12:00"))
    assert (None, "none") == (segment.state, segment.source)
    assert "window:0" == scheduled_state(p, utc("2026-03-02T23:00")).source


def test_next_boundary_is_the_next_change():
    """next_boundary gives the next opening (lead time included) or closing."""
    p = one_window('cron: "0 9 * * 1-5"\n    duration: 8h\n    lead_time: 15m')
    assert utc("2026-03-02T08:45") == next_boundary(p, utc("2026-03-02T00:00"))
    assert utc("2026-03-02T17:00") == next_boundary(p, utc("2026-03-02T08:45"))
    assert utc("2026-03-09T08:45") == next_boundary(p, utc("2026-03-06T17:00"))


def test_next_boundary_is_none_when_nothing_ever_changes():
    """A policy whose only window has passed has no next boundary."""
    p = one_window('from: "2020-01-01T00:00"\n    until: "2020-01-02T00:00"')
    assert next_boundary(p, utc("2026-03-02T00:00")) is None


def test_next_boundary_finds_a_far_absolute_window():
    """A holiday months ahead is found as the next boundary."""
    p = one_window('from: "2026-12-24T00:00"\n    until: "2026-12-27T00:00"')
    assert utc("2026-12-24T00:00") == next_boundary(p, utc("2026-03-02T00:00"))


def test_berlin_duration_and_wall_clock_end_across_spring_forward():
    """Berlin's spring-forward night: a 4h cron window from midnight ends 05:00 CEST, a 00:00-04:00 between at 04:00 CEST."""
    cron = one_window('cron: "0 0 * * *"\nduration: 4h', timezone="Europe/Berlin")
    between = one_window('between: "00:00-04:00"', timezone="Europe/Berlin")
    assert [(utc("2026-03-28T23:00"), utc("2026-03-29T03:00"))] == intervals(cron, "2026-03-28T12:00", "2026-03-29T12:00")
    assert [(utc("2026-03-28T23:00"), utc("2026-03-29T02:00"))] == intervals(between, "2026-03-28T12:00", "2026-03-29T12:00")
    assert local("2026-03-29T05:00", BERLIN) == utc("2026-03-29T03:00")


def test_a_loaded_policy_keeps_its_compiled_schedule():
    """The loader compiles each policy's schedule once; later questions reuse it."""
    p = one_window('cron: "0 9 * * 1-5"\nduration: 8h')
    assert schedule_of(p) is schedule_of(p)


def test_a_policy_not_loaded_from_files_has_no_schedule():
    """A policy validated without the loader has no compiled schedule, and asking for one says so."""
    bare = Policy.model_validate({"name": "bare", "match": {"names": ["*"]}, "default": "running"})
    with pytest.raises(LookupError, match="'bare' has no compiled schedule"):
        schedule_of(bare)
