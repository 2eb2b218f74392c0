"""Conformance of POST /deployments/{id}/startstop/ to the contract: validation, wallet, transitions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scaler.sim.clock import ManualClock
from scaler.sim.state import SimState
from tests.sim.conftest import (
    BATCH_TRANSCRIBE,
    LEGACY_FAILED,
    ORG,
    UNKNOWN_ID,
    VISION_DEPLOYING,
    WHISPER,
    health_path,
    listed_status,
    replicas_path,
    start,
    startstop_path,
    stop,
)

CONTRACT_STARTED = {"message": "Deployment started successfully", "update_result": "started"}
CONTRACT_STOPPED = {"message": "Deployment stopped successfully", "update_result": "stopped"}


async def test_stop_answers_the_documented_body(client: httpx.AsyncClient) -> None:
    """The contract's stop example answers 200 with the stop text."""
    response = await stop(client, WHISPER)
    assert (200, CONTRACT_STOPPED) == (response.status_code, response.json())


async def test_start_answers_the_contract_body(client: httpx.AsyncClient) -> None:
    """The contract's start example answers 200 with exactly the documented body."""
    response = await start(client, BATCH_TRANSCRIBE)
    assert (200, CONTRACT_STARTED) == (response.status_code, response.json())


async def test_stop_scales_down_at_once(client: httpx.AsyncClient) -> None:
    """After a stop the list shows SCALED_DOWN and the health is SCALED_DOWN, without waiting."""
    await stop(client, WHISPER)
    assert "SCALED_DOWN" == await listed_status(client, WHISPER)
    assert "SCALED_DOWN" == (await client.get(health_path(WHISPER))).json()["data"]


async def test_start_comes_up_through_progressing(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """Start: DEPLOYED with Progressing and pods not ready until the start-up delay (30 s), then Healthy."""
    await start(client, BATCH_TRANSCRIBE)
    assert "DEPLOYED" == await listed_status(client, BATCH_TRANSCRIBE)
    body = (await client.get(health_path(BATCH_TRANSCRIBE))).json()
    assert ("Progressing", {"ready": 0, "not_ready": 1}) == (body["data"], body["pods"])
    clock.advance(29)
    assert "Progressing" == (await client.get(health_path(BATCH_TRANSCRIBE))).json()["data"]
    clock.advance(1)
    body = (await client.get(health_path(BATCH_TRANSCRIBE))).json()
    assert ("Healthy", {"ready": 1, "not_ready": 0}) == (body["data"], body["pods"])


async def test_start_of_a_running_deployment_changes_nothing(client: httpx.AsyncClient) -> None:
    """Starting a deployment that runs answers success and leaves it Healthy (no new start-up)."""
    response = await start(client, WHISPER)
    assert 200 == response.status_code
    assert "Healthy" == (await client.get(health_path(WHISPER))).json()["data"]


async def test_start_of_a_scaled_to_zero_deployment_stays_scaled_down(client: httpx.AsyncClient) -> None:
    """A running deployment with min 0 stays SCALED_DOWN when started (it is scaled to zero, not paused)."""
    await client.post(replicas_path(WHISPER), json={"min_replicas": 0, "max_replicas": 2})
    await stop(client, WHISPER)
    await start(client, WHISPER)
    assert "SCALED_DOWN" == await listed_status(client, WHISPER)


async def test_start_of_a_deploying_deployment_brings_it_up(client: httpx.AsyncClient) -> None:
    """A deployment being created becomes DEPLOYED (Progressing) when started."""
    await start(client, VISION_DEPLOYING)
    assert "DEPLOYED" == await listed_status(client, VISION_DEPLOYING)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"action": "restart", "org": ORG}, "Invalid action. Must be 'start' or 'stop'"),
        ({"action": "START", "org": ORG}, "Invalid action. Must be 'start' or 'stop'"),
        ({"org": ORG}, "Invalid action. Must be 'start' or 'stop'"),
        ({"action": "stop"}, "org is required"),
        ({"action": "stop", "org": ""}, "org is required"),
        (
            {"action": "stop", "org": "11111111-2222-4333-8444-555555555555"},
            "org does not match the deployment's organization",
        ),
        ({"action": "stop", "org": 42}, "org does not match the deployment's organization"),
        ("stop", "Request body must be a JSON object"),
    ],
)
async def test_invalid_body_answers_400(client: httpx.AsyncClient, body: Any, error: str) -> None:
    """An invalid action, a missing or foreign org answer 400 {"error": ...} and change nothing."""
    response = await client.post(startstop_path(WHISPER), json=body)
    assert (400, {"error": error}) == (response.status_code, response.json())
    assert "DEPLOYED" == await listed_status(client, WHISPER)


async def test_org_is_compared_case_insensitively(client: httpx.AsyncClient) -> None:
    """The org UUID in upper case is the same organization."""
    response = await client.post(startstop_path(WHISPER), json={"action": "stop", "org": ORG.upper()})
    assert 200 == response.status_code


@pytest.mark.parametrize("action", ["start", "stop"])
async def test_blocked_wallet_answers_402_for_start_and_stop(client: httpx.AsyncClient, action: str) -> None:
    """While the wallet is blocked both start and stop answer 402 with an `error`, and nothing changes."""
    await client.put("/_sim/wallet", json={"blocked": True})
    target = BATCH_TRANSCRIBE if action == "start" else WHISPER
    before = await listed_status(client, target)
    response = await client.post(startstop_path(target), json={"action": action, "org": ORG})
    assert 402 == response.status_code
    assert "Wallet is blocked. Please resolve billing issues to continue." == response.json()["error"]
    assert before == await listed_status(client, target)


async def test_unblocked_wallet_allows_start_again(client: httpx.AsyncClient) -> None:
    """After unblocking, start works."""
    await client.put("/_sim/wallet", json={"blocked": True})
    await client.put("/_sim/wallet", json={"blocked": False})
    assert 200 == (await start(client, BATCH_TRANSCRIBE)).status_code


async def test_wallet_does_not_block_update_replicas(client: httpx.AsyncClient) -> None:
    """The wallet only gates start/stop."""
    await client.put("/_sim/wallet", json={"blocked": True})
    assert 200 == (await client.post(replicas_path(WHISPER), json={"min_replicas": 1, "max_replicas": 2})).status_code


async def test_unknown_deployment_answers_404(client: httpx.AsyncClient) -> None:
    """startstop of an unknown deployment answers 404 {"error": "Deployment not found"}."""
    response = await start(client, UNKNOWN_ID)
    assert (404, {"error": "Deployment not found"}) == (response.status_code, response.json())


async def test_failed_deployment_answers_404_no_active_deployment(client: httpx.AsyncClient) -> None:
    """startstop of a FAILED deployment answers 404 {"error": "No active deployment found"}."""
    response = await start(client, LEGACY_FAILED)
    assert (404, {"error": "No active deployment found"}) == (response.status_code, response.json())


async def test_stop_forgets_pending_start_up(client: httpx.AsyncClient, state: SimState) -> None:
    """Stopping during start-up leaves the deployment paused, with no start-up pending."""
    await start(client, BATCH_TRANSCRIBE)
    await stop(client, BATCH_TRANSCRIBE)
    assert (False, None) == (state.deployments[BATCH_TRANSCRIBE].running, state.deployments[BATCH_TRANSCRIBE].up_since)


async def test_stop_of_a_deploying_deployment_pauses_it(client: httpx.AsyncClient) -> None:
    """A deployment being created is paused (SCALED_DOWN) by a stop."""
    await stop(client, VISION_DEPLOYING)
    assert "SCALED_DOWN" == await listed_status(client, VISION_DEPLOYING)


async def test_stop_of_a_paused_deployment_succeeds(client: httpx.AsyncClient) -> None:
    """Stopping a paused deployment answers success and leaves it paused."""
    response = await stop(client, BATCH_TRANSCRIBE)
    assert (200, "SCALED_DOWN") == (response.status_code, await listed_status(client, BATCH_TRANSCRIBE))
