"""Clock-driven behaviour: start-up delays, scripted health timelines and the clock offset."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from scaler.sim.clock import ManualClock
from scaler.sim.state import SimState
from tests.sim.conftest import EMBEDDINGS, LIST_PATH, WHISPER, delete_path, health_path, listed_status, start, stop


async def health(client: httpx.AsyncClient, deployment_id: str) -> str:
    return (await client.get(health_path(deployment_id))).json()["data"]


async def test_default_seed_turns_embeddings_degraded_after_20_seconds(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """embeddings-bge-large is Healthy at first, Degraded from 20 s on (the demo relies on it)."""
    assert "Healthy" == await health(client, EMBEDDINGS)
    clock.advance(19)
    assert "Healthy" == await health(client, EMBEDDINGS)
    clock.advance(1)
    body = (await client.get(health_path(EMBEDDINGS))).json()
    assert ("Degraded", {"ready": 1, "not_ready": 1}) == (body["data"], body["pods"])


async def test_default_seed_keeps_embeddings_degraded_for_six_minutes(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """embeddings-bge-large stays Degraded until 380 s, then is Healthy again."""
    clock.advance(379)
    assert "Degraded" == await health(client, EMBEDDINGS)
    clock.advance(1)
    assert "Healthy" == await health(client, EMBEDDINGS)


async def test_timeline_steps_apply_in_order_relative_to_when_scripted(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """A timeline set through control applies each step after_seconds after it was set."""
    clock.advance(1000)
    timeline = [
        {"after_seconds": 10, "data": "Unhealthy"},
        {"after_seconds": 5, "data": "Degraded"},
        {"after_seconds": 20, "data": "Healthy"},
    ]
    response = await client.put(f"/_sim/deployments/{WHISPER}/health-timeline", json={"timeline": timeline})
    assert 200 == response.status_code
    seen = []
    for step in (4, 1, 5, 10):
        clock.advance(step)
        seen.append(await health(client, WHISPER))
    assert ["Healthy", "Degraded", "Unhealthy", "Healthy"] == seen


async def test_timeline_step_at_zero_applies_at_once(client: httpx.AsyncClient) -> None:
    """after_seconds 0 applies immediately."""
    await client.put(f"/_sim/deployments/{WHISPER}/health-timeline", json=[{"after_seconds": 0, "data": "Unknown"}])
    assert "Unknown" == await health(client, WHISPER)


async def test_timeline_step_that_falls_due_while_paused_is_not_reported(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """A paused deployment answers SCALED_DOWN even when a scripted step fell due, and a start forgets it."""
    await client.put(f"/_sim/deployments/{WHISPER}/health-timeline", json=[{"after_seconds": 5, "data": "Unhealthy"}])
    await stop(client, WHISPER)
    clock.advance(10)
    assert "SCALED_DOWN" == await health(client, WHISPER)
    await start(client, WHISPER)
    assert "Progressing" == await health(client, WHISPER)


async def test_timeline_is_visible_in_the_control_view(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """Pending steps are listed with the instant they apply."""
    await client.put(f"/_sim/deployments/{WHISPER}/health-timeline", json=[{"after_seconds": 60, "data": "Degraded"}])
    view = (await client.get(f"/_sim/deployments/{WHISPER}")).json()
    assert [{"at": "2025-01-06T09:01:00+00:00", "data": "Degraded"}] == view["health_timeline"]


async def test_start_up_delay_is_per_deployment(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """A deployment's own startup_seconds decides when it turns Healthy."""
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"startup_seconds": 90})
    await stop(client, WHISPER)
    await start(client, WHISPER)
    clock.advance(89)
    assert "Progressing" == await health(client, WHISPER)
    clock.advance(1)
    assert "Healthy" == await health(client, WHISPER)


async def test_control_view_reports_when_the_deployment_will_be_ready(client: httpx.AsyncClient) -> None:
    """up_since and ready_at describe a start-up in progress."""
    await stop(client, WHISPER)
    await start(client, WHISPER)
    view = (await client.get(f"/_sim/deployments/{WHISPER}")).json()
    assert ("2025-01-06T09:00:00+00:00", "2025-01-06T09:00:30+00:00") == (view["up_since"], view["ready_at"])


async def test_clock_advance_through_control_moves_simulated_time(client: httpx.AsyncClient, state: SimState) -> None:
    """POST /_sim/clock/advance adds an offset: a deletion finishes without the test clock moving."""
    await client.delete(delete_path(WHISPER))
    response = await client.post("/_sim/clock/advance", json={"seconds": 10})
    assert {"now": "2025-01-06T09:00:10+00:00", "offset_seconds": 10.0} == response.json()
    assert "DELETED" == await listed_status(client, WHISPER)


@pytest.mark.parametrize("seconds", [-1, "10", None, True])
async def test_clock_advance_refuses_bad_values(client: httpx.AsyncClient, seconds: object) -> None:
    """The clock only moves forward by a number of seconds."""
    response = await client.post("/_sim/clock/advance", json={"seconds": seconds})
    assert 400 == response.status_code
    assert response.json()["error"].startswith("seconds:")


async def test_request_log_timestamps_follow_the_simulated_clock(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """Each logged request carries the simulated time at which it was handled."""
    clock.set(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    await client.get(LIST_PATH)
    entries = (await client.get("/_sim/requests")).json()["requests"]
    assert "2025-03-01T12:00:00+00:00" == entries[-1]["timestamp"]
