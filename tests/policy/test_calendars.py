"""iCalendar files (``calendars``): read relative to the policy file, recurrences honoured, errors at file:line."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from scaler.policy.errors import PolicyLoadError
from scaler.policy.loader import load_policy_set
from scaler.policy.plan import build_plan
from scaler.policy.report import render_plan_table
from scaler.policy.schedule import window_intervals

from .helpers import BERLIN, deployment, local, utc


def ics(*events: str) -> str:
    """An iCalendar file holding ``events`` (each the lines between BEGIN:VEVENT and END:VEVENT)."""
    body = "".join(f"BEGIN:VEVENT\n{textwrap.dedent(event).strip()}\nEND:VEVENT\n" for event in events)
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Example Corp//Closures//EN\n{body}END:VCALENDAR\n"
    return text.replace("\n", "\r\n")


def write_policy(directory: Path, calendars: str, *, timezone: str = "UTC", timing: str = 'cron: "0 9 * * *"') -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "office.yaml"
    path.write_text(
        "version: 1\n"
        "policies:\n"
        "  - name: office\n"
        '    match: {names: ["*"]}\n'
        f"    timezone: {timezone}\n"
        "    default: stopped\n"
        f"    calendars: {calendars}\n"
        "    windows:\n"
        "      - name: workdays\n"
        f"        {timing}\n"
        "        duration: 1h\n"
        "        state: running\n"
    )
    return path


def load(directory: Path, calendar_text: str, **options):
    (directory / "closures.ics").write_text(calendar_text)
    return load_policy_set([write_policy(directory, "[closures.ics]", **options)]).policies[0]


def skipped_days(p, first: str, last: str) -> list[str]:
    """The dates from ``first`` to ``last`` (UTC midnights) on which the daily 09:00 window does not open."""
    opened = {interval[0].date().isoformat() for interval in window_intervals(p, p.windows[0], utc(first), utc(last))}
    day, end, missing = utc(first), utc(last), []
    while day < end:
        if day.date().isoformat() not in opened:
            missing.append(day.date().isoformat())
        day += timedelta(days=1)
    return missing


def test_an_all_day_event_skips_its_dates_with_dtend_exclusive(tmp_path: Path):
    """DTSTART 24 December, DTEND 27 December: the 24th, 25th and 26th are skipped, the 27th is not."""
    p = load(tmp_path, ics("UID:1\nDTSTART;VALUE=DATE:20261224\nDTEND;VALUE=DATE:20261227\nSUMMARY:Winter closure"))
    assert ["2026-12-24", "2026-12-25", "2026-12-26"] == skipped_days(p, "2026-12-20T00:00", "2026-12-31T00:00")
    assert ("Winter closure",) == p.skip.names(utc("2026-12-25T00:00").date())


def test_a_recurring_closure_skips_every_occurrence_except_its_exdates(tmp_path: Path):
    """A closure on the first Friday of each month (RRULE), but not in March (EXDATE)."""
    p = load(
        tmp_path,
        ics(
            """
            UID:closure
            DTSTART;VALUE=DATE:20260102
            RRULE:FREQ=MONTHLY;BYDAY=1FR
            EXDATE;VALUE=DATE:20260306
            SUMMARY:Office closed
            """
        ),
    )
    assert ["2026-01-02", "2026-02-06", "2026-04-03", "2026-05-01"] == skipped_days(
        p, "2026-01-01T00:00", "2026-05-31T00:00"
    )


def test_a_moved_occurrence_skips_its_new_date_not_the_old_one(tmp_path: Path):
    """RECURRENCE-ID moves February's closure from the 6th to the 9th, with its own summary."""
    p = load(
        tmp_path,
        ics(
            "UID:closure\nDTSTART;VALUE=DATE:20260102\nRRULE:FREQ=MONTHLY;BYDAY=1FR;COUNT=3\nSUMMARY:Office closed",
            "UID:closure\nRECURRENCE-ID;VALUE=DATE:20260206\nDTSTART;VALUE=DATE:20260209\nSUMMARY:Office closed (moved)",
        ),
    )
    assert ["2026-01-02", "2026-02-09", "2026-03-06"] == skipped_days(p, "2026-01-01T00:00", "2026-03-31T00:00")
    assert ("Office closed (moved)",) == p.skip.names(utc("2026-02-09T00:00").date())


def test_a_timed_event_skips_the_local_dates_it_touches(tmp_path: Path):
    """An event 22:00 to 02:00 Berlin time touches two Berlin dates; one ending at midnight touches one."""
    p = load(
        tmp_path,
        ics(
            "UID:a\nDTSTART;TZID=Europe/Berlin:20260310T220000\nDTEND;TZID=Europe/Berlin:20260311T020000\nSUMMARY:Migration",
            "UID:b\nDTSTART:20260315T220000Z\nDTEND:20260315T230000Z\nSUMMARY:Late UTC call",
        ),
        timezone="Europe/Berlin",
    )
    found = [day for day in ("2026-03-10", "2026-03-11", "2026-03-12", "2026-03-15", "2026-03-16")
             if p.skip.names(utc(f"{day}T00:00").date())]
    # 22:00-23:00 UTC on the 15th is 23:00-00:00 Berlin (CET): only the 15th.
    assert ["2026-03-10", "2026-03-11", "2026-03-15"] == found


def test_a_floating_time_is_read_in_the_policy_zone(tmp_path: Path):
    """A time without a zone is wall-clock time in the policy's zone: 23:30 floating is 23:30 in Berlin."""
    p = load(tmp_path, ics("UID:a\nDTSTART:20260310T233000\nDTEND:20260310T235000\nSUMMARY:Floating"), timezone="Europe/Berlin")
    assert ("Floating",) == p.skip.names(local("2026-03-10T23:30", BERLIN).astimezone(BERLIN).date())
    assert () == p.skip.names(utc("2026-03-11T00:00").date())


def test_a_cancelled_event_skips_nothing(tmp_path: Path):
    """STATUS:CANCELLED: the closure does not happen, so the window opens."""
    p = load(tmp_path, ics("UID:a\nDTSTART;VALUE=DATE:20261224\nSTATUS:CANCELLED\nSUMMARY:Cancelled closure"))
    assert [] == skipped_days(p, "2026-12-23T00:00", "2026-12-26T00:00")


def test_a_calendar_path_is_relative_to_the_policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``calendars: [shared/closures.ics]`` in policies/office.yaml reads policies/shared/closures.ics, wherever the command runs."""
    (tmp_path / "policies" / "shared").mkdir(parents=True)
    (tmp_path / "policies" / "shared" / "closures.ics").write_text(ics("UID:a\nDTSTART;VALUE=DATE:20261224\nSUMMARY:Eve"))
    policy_file = write_policy(tmp_path / "policies", "[shared/closures.ics]")
    monkeypatch.chdir(tmp_path / "policies" / "shared")
    policies = load_policy_set([policy_file])
    assert ("Eve",) == policies.policies[0].skip.names(utc("2026-12-24T00:00").date())
    assert [tmp_path / "policies" / "shared" / "closures.ics"] == [source.path for source in policies.calendars]


def test_the_content_hash_changes_with_the_calendar(tmp_path: Path):
    """Two loads of the same policy file differ in content hash when the calendar's bytes differ."""
    (tmp_path / "closures.ics").write_text(ics("UID:a\nDTSTART;VALUE=DATE:20261224\nSUMMARY:Eve"))
    policy_file = write_policy(tmp_path, "[closures.ics]")
    before = load_policy_set([policy_file]).content_hash
    (tmp_path / "closures.ics").write_text(ics("UID:a\nDTSTART;VALUE=DATE:20261231\nSUMMARY:New Year's Eve"))
    assert before != load_policy_set([policy_file]).content_hash


def test_plan_labels_a_skipped_date_with_the_event_summary(tmp_path: Path):
    """The plan names the event: ``skipped: Winter closure``."""
    (tmp_path / "closures.ics").write_text(ics("UID:a\nDTSTART;VALUE=DATE:20261224\nSUMMARY:Winter closure"))
    policies = load_policy_set([write_policy(tmp_path, "[closures.ics]")])
    plan = build_plan(policies, [deployment()], utc("2026-12-23T00:00"), utc("2026-12-26T00:00"))
    assert "  Thu 2026-12-24  skipped: Winter closure: window workdays does not open" in render_plan_table(plan).splitlines()


BROKEN = {
    "missing.ics": (None, "calendar 'missing.ics' cannot be read (No such file or directory)"),
    "text.ics": ("hello\n", "calendar 'text.ics' is not an iCalendar file: Content line could not be parsed"),
    "empty.ics": ("", "calendar 'empty.ics' is not an iCalendar file"),
    "bad-start.ics": (
        ics("UID:a\nDTSTART:garbage\nSUMMARY:Broken"),
        "calendar 'bad-start.ics' has a VEVENT 'Broken' whose DTSTART is invalid",
    ),
    "no-start.ics": (ics("UID:a\nSUMMARY:Startless"), "calendar 'no-start.ics' has a VEVENT 'Startless' without DTSTART"),
    "bad-rule.ics": (
        ics("UID:a\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=SOMETIMES\nSUMMARY:Odd"),
        "calendar 'bad-rule.ics' has a VEVENT 'Odd' whose RRULE is invalid",
    ),
    "event-only.ics": (
        "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VEVENT\r\n",
        "calendar 'event-only.ics' is not an iCalendar file: it holds a VEVENT, not a VCALENDAR",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_an_unreadable_or_malformed_calendar_is_an_error_at_the_policy_line(tmp_path: Path, name: str):
    """The error names the policy file, the line of the calendar's entry, the field, and what is wrong."""
    content, message = BROKEN[name]
    if content is not None:
        (tmp_path / name).write_text(content)
    policy_file = write_policy(tmp_path, f"\n      - {name}")
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_set([policy_file])
    found = [str(issue) for issue in caught.value.issues]
    assert 1 == len(found), found
    assert found[0].startswith(f"{policy_file}:8: policies[0].calendars[0]: {message}"), found[0]
    assert [tmp_path / name] == list(caught.value.calendar_paths)


def test_a_calendar_entry_that_is_not_a_path_is_an_error(tmp_path: Path):
    """``calendars: [42]`` says a path is expected."""
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_set([write_policy(tmp_path, "[42]")])
    assert [
        f"{tmp_path / 'office.yaml'}:7: policies[0].calendars[0]: expected the path of an iCalendar (.ics) file, "
        "relative to the policy file, got the number 42"
    ] == [str(issue) for issue in caught.value.issues]
