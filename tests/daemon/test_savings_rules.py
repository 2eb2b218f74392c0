"""What the savings counters count: only the scaler's own savings, and only while they are real.

llama-3-8b-chat (one nvidia-l4 GPU, baseline 1 replica) runs 08:00-19:00 UTC on weekdays
and is stopped otherwise: every second it is stopped by the scaler saves one GPU-second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from tests.daemon import policies
from tests.daemon.harness import BATCH, LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document
from tests.daemon.stalls import Stalls

OFFICE = document(policies.OFFICE)
LLAMA = {"deployment": "llama-3-8b-chat", "deployment_id": LLAMA_8B, "accelerator": "nvidia-l4"}


def saved(harness: Harness, **labels: str) -> float:
    return harness.sample("scaler_gpu_seconds_saved_total", **(labels or LLAMA)) or 0.0


async def test_a_deployment_held_down_by_the_wallet_saves_nothing_of_the_scalers(
    make_harness: Callable[..., Harness],
) -> None:
    """Stopped by the scaler at 06:00; from 08:00 it should run but the wallet refuses its start: the two
    hours it was stopped on purpose count, the hour it was kept down by the platform does not."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.at(at_utc(MONDAY, "08:00"))
    await harness.control("PUT", "wallet", {"blocked": True})
    await harness.daemon.wake_up()
    await harness.run_until(at_utc(MONDAY, "09:00"), interval=timedelta(minutes=15))
    await harness.cycle()
    assert "Mon 08:00:00 llama-3-8b-chat start -> 402" in [str(call) for call in harness.calls()]
    assert 2 * 3600.0 == saved(harness)


async def test_a_deployment_already_stopped_when_first_seen_and_never_touched_saves_nothing(
    make_harness: Callable[..., Harness],
) -> None:
    """batch-transcribe is SCALED_DOWN in the seed and its policy keeps it stopped: no call, no saving."""
    harness = make_harness(
        document(
            """
  - name: batch
    match: {names: [batch-transcribe]}
    default: stopped
"""
        ),
        start=at_utc(MONDAY, "06:00"),
    )
    await harness.run_until(at_utc(MONDAY, "18:00"), interval=timedelta(hours=1))
    await harness.cycle()
    assert [] == harness.calls()
    labels = {"deployment": "batch-transcribe", "deployment_id": BATCH, "accelerator": "nvidia-tesla-t4"}
    assert 0.0 == saved(harness, **labels)


async def test_savings_stop_at_the_list_that_shows_a_manual_start(make_harness: Callable[..., Harness]) -> None:
    """Stopped by the scaler at 19:00; a person starts it at 20:10; the list of 20:30 shows it running and
    is read at 20:31: savings count up to 20:30, the instant the platform was seen, and no further."""
    stalls: list[Stalls] = []

    def network(inner):  # type: ignore[no-untyped-def]
        stalls.append(Stalls(inner))
        return stalls[0]

    harness = make_harness(OFFICE, start=at_utc(MONDAY, "18:30"), network=network)
    await harness.run_until(at_utc(MONDAY, "20:10"), interval=timedelta(minutes=30))
    await harness.control("PUT", f"deployments/{LLAMA_8B}/status", {"status": "DEPLOYED"})
    harness.at(at_utc(MONDAY, "20:30"))
    stalls[0].hold("/deployments/list/")
    cycle = asyncio.create_task(harness.cycle())
    await stalls[0].wait_held("/deployments/list/")
    harness.at(at_utc(MONDAY, "20:31"))
    stalls[0].release("/deployments/list/")
    await cycle
    harness.at(at_utc(MONDAY, "21:00"))
    await harness.cycle()
    assert 90 * 60.0 == saved(harness)


def dollars_saved(harness: Harness) -> float:
    return harness.sample("scaler_cost_saved_dollars_total", **LLAMA) or 0.0


async def test_counted_savings_land_in_the_store_by_utc_day(make_harness: Callable[..., Harness]) -> None:
    """Stopped by the scaler at 19:00 Monday and kept stopped overnight: the store holds what the counters
    counted, split at midnight UTC: 5 h on Monday, 3 h on Tuesday up to 03:00 (8 h, $12 since Monday)."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "18:30"))
    await harness.run_until(at_utc(MONDAY + timedelta(days=1), "03:00"), interval=timedelta(minutes=30))
    await harness.cycle()
    monday, tuesday = MONDAY.date(), MONDAY.date() + timedelta(days=1)
    since_monday = harness.store.savings_since(monday)[UUID(LLAMA_8B)]
    on_tuesday = harness.store.savings_since(tuesday)[UUID(LLAMA_8B)]
    assert (8 * 3600.0, 3 * 3600.0) == (since_monday.gpu_seconds, on_tuesday.gpu_seconds)
    assert saved(harness) == since_monday.gpu_seconds
    assert (12.0, 12.0) == (round(since_monday.dollars, 6), round(dollars_saved(harness), 6))  # L4: $1.50 an hour


async def test_a_dry_run_writes_no_savings(make_harness: Callable[..., Harness]) -> None:
    """A dry run applies nothing, so it counts and stores nothing over a night it would have stopped."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "18:30"), dry_run=True)
    await harness.run_until(at_utc(MONDAY + timedelta(days=1), "03:00"), interval=timedelta(minutes=30))
    await harness.cycle()
    assert (0.0, {}) == (saved(harness), harness.store.savings_since(MONDAY.date()))
