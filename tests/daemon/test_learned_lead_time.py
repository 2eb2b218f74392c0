"""``lead_time: auto`` on virtual time against the simulator: start-ups observed, lead times learned, peaks judged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tests.daemon.harness import MONDAY, Harness, at_utc

#: llama-3-8b-chat stopped except in a daily 09:00-10:00 UTC peak that learns its lead time.
PEAK = """
version: 1
policies:
  - name: llama-peak
    match: {names: [llama-3-8b-chat]}
    default: stopped
    windows:
      - name: peak
        cron: "0 9 * * *"
        duration: 1h
        lead_time: auto
        state: running
"""
DEPLOYMENT = "llama-3-8b-chat"


async def days_of_peaks(harness: Harness, days: int) -> None:
    """Run the daemon from now for ``days`` days: reconciles hourly, boundary wake-ups, a health poll every minute."""
    await harness.run_until(harness.now() + timedelta(days=days), health_every=timedelta(minutes=1))


def starts(harness: Harness, action: str = "start") -> list[str]:
    """When the deployment was sent ``action``, as ``Mon 08:45``."""
    return [f"{call.at:%a %H:%M}" for call in harness.calls() if call.deployment == DEPLOYMENT and call.action == action]


async def harness_starting_in(make_harness: Callable[..., Harness], startup: timedelta) -> Harness:
    """A harness at Monday 00:00 (after its first cycle) whose llama-3-8b-chat takes ``startup`` to come up."""
    harness = make_harness(PEAK, start=at_utc(MONDAY, "00:00"))
    await harness.cycle()
    deployment_id = next(d for d, item in harness.daemon.inventory.deployments.items() if item.deployment_name == DEPLOYMENT)
    await harness.control("PATCH", f"/deployments/{deployment_id}", {"startup_seconds": startup.total_seconds()})
    return harness


async def test_a_slow_model_learns_to_start_twenty_minutes_early_and_is_ready_at_its_peak(
    make_harness: Callable[..., Harness],
) -> None:
    """Start-ups of 20 minutes: the first three days start 15 minutes early (initial) and are late; from the fourth
    day the learned p90 (20m) starts at 08:40 and every peak is Healthy at 09:00."""
    harness = await harness_starting_in(make_harness, timedelta(minutes=20))
    await days_of_peaks(harness, 6)
    assert ["Mon 08:45", "Tue 08:45", "Wed 08:45", "Thu 08:40", "Fri 08:40", "Sat 08:40"] == starts(harness)
    assert (3.0, 3.0) == (
        harness.sample("scaler_peak_starts_total", result="late"),
        harness.sample("scaler_peak_starts_total", result="ready"),
    )
    assert 6.0 == harness.sample("scaler_deployment_startup_seconds_count", accelerator="nvidia-l4")
    document = await harness.daemon.status_document()
    entry = next(item for item in document["deployments"] if item["deployment_name"] == DEPLOYMENT)
    assert {"peak": {"seconds": 1200, "source": "auto: p90 of 6 starts"}} == entry["lead_times"]


async def test_a_fast_model_starts_later(make_harness: Callable[..., Harness]) -> None:
    """Start-ups of 3 minutes: after three observations the lead time shrinks from 15 to 3 minutes, from the next
    opening on (the third start-up, observed at 08:48 on Wednesday, does not close that morning's window)."""
    harness = await harness_starting_in(make_harness, timedelta(minutes=3))
    await days_of_peaks(harness, 4)
    assert ["Mon 08:45", "Tue 08:45", "Wed 08:45", "Thu 08:57"] == starts(harness)
    assert ["Mon 00:00", "Mon 10:00", "Tue 10:00", "Wed 10:00", "Thu 10:00"] == starts(harness, "stop")
    assert (0.0, 4.0) == (
        harness.sample("scaler_peak_starts_total", result="late"),
        harness.sample("scaler_peak_starts_total", result="ready"),
    )


async def test_learned_start_ups_survive_a_restart(make_harness: Callable[..., Harness]) -> None:
    """The start-ups are kept in the store: a daemon restarted after three of them starts 08:57 at once."""
    harness = await harness_starting_in(make_harness, timedelta(minutes=3))
    await days_of_peaks(harness, 3)
    harness.restart()
    await harness.cycle()
    await days_of_peaks(harness, 1)
    assert ["Mon 08:45", "Tue 08:45", "Wed 08:45", "Thu 08:57"] == starts(harness)


async def test_one_slow_start_does_not_swing_the_lead_time(make_harness: Callable[..., Harness]) -> None:
    """After nineteen 3-minute start-ups, one of 40 minutes (a cold node) leaves the next day's start at 08:57."""
    harness = await harness_starting_in(make_harness, timedelta(minutes=40))
    deployment_id = next(d for d, item in harness.daemon.inventory.deployments.items() if item.deployment_name == DEPLOYMENT)
    for day in range(19):
        harness.store.record_startup(deployment_id, MONDAY - timedelta(days=19 - day), 180.0, keep=20)
    harness.restart()
    await harness.cycle()
    await days_of_peaks(harness, 1)
    await harness.control("PATCH", f"/deployments/{deployment_id}", {"startup_seconds": 180})
    await days_of_peaks(harness, 1)
    assert ["Mon 08:57", "Tue 08:57"] == starts(harness)
    assert 20 == len(harness.store.startups()[deployment_id])
    assert (1.0, 1.0) == (
        harness.sample("scaler_peak_starts_total", result="late"),
        harness.sample("scaler_peak_starts_total", result="ready"),
    )
