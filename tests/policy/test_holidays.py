"""Public holidays (``holidays``): checked codes, skipped like skip dates, named in the plan."""

from __future__ import annotations

import pytest

from scaler.policy.errors import PolicyLoadError
from scaler.policy.loader import load_policy_text
from scaler.policy.model import DesiredState
from scaler.policy.plan import build_plan
from scaler.policy.report import render_plan_table
from scaler.policy.schedule import next_skipped_opening, scheduled_state, window_intervals

from .helpers import NEW_YORK, deployment, local, policy_set, utc

STOPPED = DesiredState.stopped()


def one_window(timing: str, holidays: str, *, timezone: str = "UTC"):
    """A policy (default stopped) with one running window ``w`` timed by ``timing`` and the ``holidays`` given."""
    timing_lines = "".join(f"      {line.strip()}\n" for line in timing.splitlines())
    text = (
        "- name: p\n"
        '  match: {names: ["*"]}\n'
        f"  timezone: {timezone}\n"
        "  default: stopped\n"
        f"  holidays: {holidays}\n"
        "  windows:\n"
        "    - name: w\n" + timing_lines + "      state: running\n"
    )
    return policy_set(text).policies[0]


def openings(p, start: str, end: str) -> list:
    return [opened for opened, _ in window_intervals(p, p.windows[0], utc(start), utc(end))]


def test_a_national_holiday_stops_a_recurring_window_from_opening():
    """US Christmas (Friday 25 December 2026) is skipped like a skip date: the weekday window opens on the 24th and 28th."""
    p = one_window('cron: "0 9 * * 1-5"\n    duration: 8h', "[{country: US}]")
    assert [utc("2026-12-24T09:00"), utc("2026-12-28T09:00")] == openings(p, "2026-12-24T00:00", "2026-12-29T00:00")


def test_india_skips_republic_day_and_diwali_without_a_date_written():
    """``{country: IN}`` skips Republic Day (26 January) and Diwali (8 November 2026) in the policy's zone."""
    p = one_window('cron: "0 9 * * *"\n    duration: 8h', "[{country: IN}]", timezone="Asia/Kolkata")
    assert next_skipped_opening(p, utc("2026-01-20T00:00"))[0].isoformat() == "2026-01-26"
    assert ("Republic Day (IN)",) == p.skip.names(next_skipped_opening(p, utc("2026-01-20T00:00"))[0])
    skipped = next_skipped_opening(p, utc("2026-11-06T00:00"))
    assert ("2026-11-08", ("w",), ("Diwali (IN)",)) == (skipped[0].isoformat(), skipped[1], p.skip.names(skipped[0]))


def test_a_subdivision_adds_its_own_holidays():
    """Cesar Chavez Day (31 March) is a holiday in California, not in the United States as a whole."""
    national = one_window('cron: "0 9 * * *"\n    duration: 1h', "[{country: US}]")
    california = one_window('cron: "0 9 * * *"\n    duration: 1h', "[{country: US, subdivision: CA}]")
    assert utc("2026-03-31T09:00") in openings(national, "2026-03-30T00:00", "2026-04-02T00:00")
    assert utc("2026-03-31T09:00") not in openings(california, "2026-03-30T00:00", "2026-04-02T00:00")
    assert ("Cesar Chavez Day (US-CA)",) == california.skip.names(utc("2026-03-31T00:00").date())


def test_categories_choose_which_holidays_count():
    """US ``government`` holidays are not ``public`` ones: with categories [public] 24 December is worked."""
    public = one_window('cron: "0 9 * * *"\n    duration: 1h', "[{country: US, categories: [public]}]")
    assert utc("2026-12-24T09:00") in openings(public, "2026-12-24T00:00", "2026-12-25T00:00")
    assert utc("2026-12-25T09:00") not in openings(public, "2026-12-25T00:00", "2026-12-26T00:00")


def test_holidays_are_local_dates_of_the_policy_zone():
    """A New York window at 23:00 on Christmas Day does not open, though it is 26 December in UTC then."""
    p = one_window('between: "23:00-23:30"', "[{country: US}]", timezone="America/New_York")
    assert [local("2026-12-24T23:00", NEW_YORK), local("2026-12-26T23:00", NEW_YORK)] == openings(
        p, "2026-12-24T12:00", "2026-12-27T12:00"
    )


def test_an_opening_the_day_before_a_holiday_keeps_its_full_length():
    """A 22:00-06:00 window opened on 24 December stays open until 06:00 on Christmas Day; none opens that evening."""
    p = one_window('between: "22:00-06:00"', "[{country: US}]")
    assert [
        (utc("2026-12-24T22:00"), utc("2026-12-25T06:00")),
        (utc("2026-12-26T22:00"), utc("2026-12-27T06:00")),
    ] == window_intervals(p, p.windows[0], utc("2026-12-24T12:00"), utc("2026-12-27T12:00"))


def test_absolute_windows_ignore_holidays():
    """A from/until window is open on a holiday."""
    p = one_window('from: "2026-12-24T00:00"\n    until: "2026-12-27T00:00"', "[{country: US}]")
    assert [utc("2026-12-24T00:00")] == openings(p, "2026-12-01T00:00", "2027-01-01T00:00")


def test_lead_time_does_not_bring_back_a_holiday_opening():
    """A window skipped for a holiday has no warm-up: at 08:50 on New Year's Day the default holds."""
    p = one_window('cron: "0 9 * * *"\n    duration: 1h\n    lead_time: 15m', "[{country: DE}]")
    assert STOPPED == scheduled_state(p, utc("2027-01-01T08:50")).state


def test_holidays_and_skip_dates_together_are_all_named():
    """A date that is both a skip date and a holiday is named by both."""
    p = one_window('cron: "0 9 * * *"\n    duration: 1h', '[{country: US}]\n  skip_dates: ["2026-12-25"]')
    assert ("skip date", "Christmas Day (US)") == p.skip.names(utc("2026-12-25T00:00").date())


def issues_of(holidays: str) -> list[str]:
    text = (
        "version: 1\npolicies:\n  - name: p\n    match: {names: [\"*\"]}\n    default: stopped\n"
        f"    holidays:\n{holidays}"
    )
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_text(text, "office.yaml")
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "      - country: India\n",
            "office.yaml:7: policies[0].holidays[0].country: unknown country 'India'; did you mean IN?",
        ),
        (
            "      - country: Germny\n",
            "office.yaml:7: policies[0].holidays[0].country: unknown country 'Germny'; did you mean DE?",
        ),
        (
            "      - country: US\n        subdivision: Calif\n",
            "office.yaml:8: policies[0].holidays[0].subdivision: unknown subdivision 'Calif' of US; did you mean CA?",
        ),
        (
            "      - country: SG\n        subdivision: X\n",
            "office.yaml:8: policies[0].holidays[0].subdivision: SG has no subdivisions in the holidays package",
        ),
        (
            "      - country: US\n        categories: [publik]\n",
            "office.yaml:8: policies[0].holidays[0].categories: unknown holiday category 'publik' for US; "
            "did you mean public?",
        ),
        (
            "      - country: US\n        region: CA\n",
            "office.yaml:8: policies[0].holidays[0].region: unknown key 'region'; expected one of: "
            "country, subdivision, categories",
        ),
        ("      - {}\n", "office.yaml:7: policies[0].holidays[0].country: required key 'country' is missing"),
    ],
)
def test_an_unknown_code_is_an_error_with_the_closest_valid_one(entry: str, expected: str):
    """Unknown countries, subdivisions and categories are errors at their file, line and field, naming the closest code."""
    found = issues_of(entry)
    assert 1 == len(found), found
    assert found[0].startswith(expected), found[0]


def test_plan_labels_each_skipped_date_with_the_holiday_name():
    """``scaler plan`` says ``skipped: Christmas Day (US)`` on the date, and the JSON lists the name."""
    policies = policy_set(
        """
        - name: office
          match: {names: ["*"]}
          default: stopped
          holidays: [{country: US}]
          windows:
            - name: workdays
              cron: "0 9 * * 1-5"
              duration: 8h
              state: running
        """
    )
    plan = build_plan(policies, [deployment()], utc("2026-12-24T00:00"), utc("2026-12-26T00:00"))
    assert "  Fri 2026-12-25  skipped: Christmas Day (US): window workdays does not open" in render_plan_table(
        plan
    ).splitlines()
    assert [{"date": "2026-12-25", "windows": ["workdays"], "names": ["Christmas Day (US)"]}] == plan.to_json()[
        "deployments"
    ][0]["skipped_dates"]
