"""The daemon's time never goes back, its jobs are planned again after a step of the wall clock, and
its liveness does not depend on the wall clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import CollectorRegistry

from scaler.daemon.clock import MAX_HOLD_SECONDS, SteadyClock
from scaler.daemon.scheduler import DaemonJobs, DaemonScheduler
from scaler.metrics import Metrics
from scaler.sim.clock import ManualClock
from tests.daemon import policies
from tests.daemon.harness import MONDAY, Harness, at_utc
from tests.daemon.policies import document

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_steady_clock_follows_the_wall_clock_forward() -> None:
    """Forward, by a second or by an hour (a VM resumed), the daemon's time is the wall clock's."""
    wall = ManualClock(NOW)
    clock = SteadyClock(wall)
    seen = [clock()]
    wall.advance(1)
    seen.append(clock())
    wall.advance(3600)
    seen.append(clock())
    assert [NOW, NOW + timedelta(seconds=1), NOW + timedelta(seconds=3601)] == seen


def test_the_steady_clock_waits_for_the_wall_clock_to_catch_up_after_a_step_back() -> None:
    """Stepped back an hour, it returns the latest instant until the wall clock passes it; logged once each way."""
    wall = ManualClock(NOW)
    clock = SteadyClock(wall)
    clock()
    with structlog.testing.capture_logs() as logs:
        wall.advance(-3600)
        held = [clock(), clock()]
        wall.advance(1800)
        still = clock()
        wall.advance(1801)
        after = clock()
    assert ([NOW, NOW], NOW, NOW + timedelta(seconds=1)) == (held, still, after)
    assert ["wall_clock_behind", "wall_clock_caught_up"] == [line["event"] for line in logs]
    assert 3600.0 == logs[0]["behind_seconds"]


def test_the_steady_clock_holds_at_the_floor_the_store_remembers() -> None:
    """A floor an hour ahead of the wall clock (a restart while the clock is behind) holds from the first call."""
    clock = SteadyClock(ManualClock(NOW), floor=NOW + timedelta(hours=1))
    assert (NOW + timedelta(hours=1), NOW + timedelta(hours=1)) == (clock(), clock.held_until)


def test_the_steady_clock_follows_a_wall_clock_more_than_a_day_behind() -> None:
    """Further behind than MAX_HOLD_SECONDS, waiting would be worse than repeating: it follows, with an error."""
    floor = NOW + timedelta(seconds=MAX_HOLD_SECONDS + 60)
    with structlog.testing.capture_logs() as logs:
        clock = SteadyClock(ManualClock(NOW), floor=floor)
        first = clock()
    assert (NOW, None) == (first, clock.held_until)
    assert [("wall_clock_far_behind", "error")] == [(line["event"], line["log_level"]) for line in logs]


async def idle() -> None:
    """A job that does nothing."""


async def test_a_step_of_the_wall_clock_is_counted_and_the_recurring_jobs_planned_again() -> None:
    """Stepped back an hour, the reconcile job runs at once (not an hour later) and the step is logged and counted."""
    metrics = Metrics(CollectorRegistry())
    wall = [NOW.timestamp()]
    scheduler = DaemonScheduler(
        DaemonJobs(**dict.fromkeys(("reconcile", "health", "boundary", "policies", "token", "probe"), idle)),
        metrics=metrics,
        reconcile_interval_seconds=60,
        health_interval_seconds=30,
        wall=lambda: wall[0],
    )
    scheduler.start(NOW)
    try:
        scheduler.scheduler.pause()
        scheduler.schedule_wakeup(NOW + timedelta(minutes=30))
        wall[0] -= 3600
        with structlog.testing.capture_logs() as logs:
            step = scheduler.check_clock()
        jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
        (wakeup,) = scheduler.wakeup_jobs()
    finally:
        await scheduler.stop(timeout_seconds=1)
    back = NOW - timedelta(hours=1)
    assert -3600 == round(step)
    assert (back, back + timedelta(seconds=30), NOW + timedelta(minutes=30)) == (
        jobs["reconcile"].next_run_time,
        jobs["health"].trigger.start_date,
        wakeup.next_run_time,
    )
    assert 1.0 == metrics.registry.get_sample_value("scaler_clock_jumps_total", {"direction": "backward"})
    assert [("clock_jumped", "backward")] == [(line["event"], line["direction"]) for line in logs]


async def test_no_step_no_new_plan() -> None:
    """The wall clock advancing with the monotonic one is no step: nothing is counted or planned again."""
    metrics = Metrics(CollectorRegistry())
    scheduler = DaemonScheduler(
        DaemonJobs(**dict.fromkeys(("reconcile", "health", "boundary", "policies", "token", "probe"), idle)),
        metrics=metrics,
        reconcile_interval_seconds=60,
        health_interval_seconds=30,
    )
    scheduler.start(datetime.now(UTC))
    try:
        step = scheduler.check_clock()
    finally:
        await scheduler.stop(timeout_seconds=1)
    assert abs(step) < 1
    assert 0.0 == metrics.registry.get_sample_value("scaler_clock_jumps_total", {"direction": "forward"})


async def test_a_restart_while_the_clock_is_behind_does_not_undo_what_was_applied(
    make_harness: Callable[..., Harness],
) -> None:
    """Started at 08:00 (llama started), the clock steps back to 07:05 and the daemon restarts: llama is not stopped."""
    harness = make_harness(document(policies.OFFICE), start=at_utc(MONDAY, "07:59"))
    await harness.cycle()
    harness.calls(clear=True)
    harness.at(at_utc(MONDAY, "08:00"))
    await harness.cycle()
    started = harness.calls(clear=True)
    harness.at(at_utc(MONDAY, "07:05"))
    harness.restart()
    await harness.cycle()
    held = harness.daemon.clock.held_until
    assert ["Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200", "Mon 08:00:00 llama-3-8b-chat start -> 200"] == [
        str(call) for call in started
    ]
    assert [] == harness.calls()
    assert held is not None and held >= at_utc(MONDAY, "08:00")


async def test_liveness_follows_the_monotonic_clock_not_the_wall_clock(make_harness: Callable[..., Harness]) -> None:
    """A wall clock an hour ahead right after a cycle is no reason to report the daemon dead; a stalled one is."""
    monotonic = [0.0]
    harness = make_harness(document(policies.OFFICE), start=at_utc(MONDAY, "06:00"), monotonic=lambda: monotonic[0])
    await harness.cycle()
    harness.advance(hours=1)
    after_step = harness.daemon.liveness()[0]
    monotonic[0] += 3 * 60 + 61
    stalled = harness.daemon.liveness()[0]
    assert (True, False) == (after_step, stalled)
