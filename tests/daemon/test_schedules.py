"""Schedules end to end against the simulator: the calls leave at the right instants, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from tests.daemon.harness import EXAMPLES, MONDAY, Harness, at_utc
from tests.daemon.policies import NIGHT, OFFICE_BERLIN, document

OFFICE_AND_NIGHT = document(OFFICE_BERLIN, NIGHT)


async def test_a_day_of_office_hours_and_a_night_stop(make_harness: Callable[..., Harness]) -> None:
    """Over a Monday the simulator receives exactly the calls of the two schedules, each at its boundary."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "03:00"))
    await harness.cycle()
    await harness.run_until(MONDAY + timedelta(days=1, hours=3))
    assert [
        "Mon 03:00:00 llama-3-8b-chat stop -> 200",
        "Mon 03:00:00 whisper-v3 stop -> 200",
        "Mon 06:00:00 whisper-v3 start -> 200",
        "Mon 07:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 07:00:00 llama-3-8b-chat start -> 200",
        "Mon 18:00:00 llama-3-8b-chat stop -> 200",
        "Mon 22:00:00 whisper-v3 stop -> 200",
    ] == [str(call) for call in harness.calls()]


async def test_a_peak_window_opens_its_lead_time_early(make_harness: Callable[..., Harness]) -> None:
    """The example peak of llama-3-70b-instruct (09:00 Berlin, lead 20 min, 9 h): up at 07:40 UTC, down at 17:00."""
    harness = make_harness(EXAMPLES, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "20:00"))
    assert [
        "Mon 06:00:00 llama-3-70b-instruct update_replicas 1..2 -> 200",
        "Mon 07:40:00 llama-3-70b-instruct update_replicas 2..4 -> 200",
        "Mon 17:00:00 llama-3-70b-instruct update_replicas 1..2 -> 200",
    ] == [str(call) for call in harness.calls() if call.deployment == "llama-3-70b-instruct"]


async def test_the_boundary_call_leaves_at_the_boundary_instant_without_waiting_for_a_list(
    make_harness: Callable[..., Harness],
) -> None:
    """The wake-up at 06:00 sends whisper's start at 06:00:00 exactly, and lists nothing before it."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:59"))
    await harness.cycle()
    boundary = harness.daemon.reconciler.next_wakeup(harness.now())
    harness.sim.requests.clear()
    harness.at(at_utc(MONDAY, "06:00"))
    await harness.daemon.wake_up()
    assert at_utc(MONDAY, "06:00") == boundary
    assert [("startstop", at_utc(MONDAY, "06:00"))] == [
        (entry.endpoint, datetime.fromisoformat(entry.timestamp)) for entry in harness.requests()
    ]


async def test_the_wake_up_is_scheduled_at_exactly_the_next_boundary(make_harness: Callable[..., Harness]) -> None:
    """After a cycle the scheduler's one-shot boundary job fires at the earliest next change: 06:00:00.000."""
    harness = make_harness(OFFICE_AND_NIGHT, start=at_utc(MONDAY, "05:12:07"))
    scheduler = harness.daemon.build_scheduler()
    await harness.cycle()
    (job,) = scheduler.wakeup_jobs()
    assert at_utc(MONDAY, "06:00") == scheduler.wakeup_at
    assert at_utc(MONDAY, "06:00") == job.trigger.run_date
