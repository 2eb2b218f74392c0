"""Conformance of POST /deployments/{id}/update-replicas/ to the contract, quota arithmetic included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scaler.sim.clock import ManualClock
from scaler.sim.state import SimState
from tests.sim.conftest import (
    CODE_ASSIST,
    LEGACY_FAILED,
    LIST_PATH,
    LLAMA_70B,
    UNKNOWN_ID,
    VISION_DEPLOYING,
    WHISPER,
    health_path,
    listed_status,
    replicas_path,
    stop,
)

CONTRACT_SUCCESS = {"message": "Autoscaling configuration updated successfully", "min_replicas": 2, "max_replicas": 4}


async def test_contract_example_answers_the_documented_body(client: httpx.AsyncClient, state: SimState) -> None:
    """{"min_replicas": 2, "max_replicas": 4} answers 200 with exactly the contract's success body and applies."""
    response = await client.post(replicas_path(WHISPER), json={"min_replicas": 2, "max_replicas": 4})
    assert (200, CONTRACT_SUCCESS) == (response.status_code, response.json())
    assert (2, 4) == (state.deployments[WHISPER].min_replicas, state.deployments[WHISPER].max_replicas)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"min_replicas": -1, "max_replicas": 2}, "min_replicas must be greater than or equal to 0"),
        ({"min_replicas": 0, "max_replicas": 0}, "max_replicas must be greater than or equal to 1"),
        ({"min_replicas": 3, "max_replicas": 2}, "min_replicas must be less than or equal to max_replicas"),
        ({"max_replicas": 2}, "min_replicas and max_replicas are required"),
        ({"min_replicas": 1}, "min_replicas and max_replicas are required"),
        ({}, "min_replicas and max_replicas are required"),
        ({"min_replicas": "1", "max_replicas": 2}, "min_replicas and max_replicas must be integers"),
        ({"min_replicas": 1, "max_replicas": 2.5}, "min_replicas and max_replicas must be integers"),
        ({"min_replicas": True, "max_replicas": 2}, "min_replicas and max_replicas must be integers"),
        ({"min_replicas": None, "max_replicas": 2}, "min_replicas and max_replicas must be integers"),
        ([1, 2], "Request body must be a JSON object"),
    ],
)
async def test_invalid_bounds_answer_400_with_an_error(
    client: httpx.AsyncClient, state: SimState, body: Any, error: str
) -> None:
    """Every validation rule answers 400 {"error": ...} and changes nothing."""
    response = await client.post(replicas_path(WHISPER), json=body)
    assert (400, {"error": error}) == (response.status_code, response.json())
    assert (1, 2) == (state.deployments[WHISPER].min_replicas, state.deployments[WHISPER].max_replicas)


async def test_body_that_is_not_json_answers_400(client: httpx.AsyncClient) -> None:
    """A body that does not parse as JSON answers 400 with a parse error detail."""
    response = await client.post(replicas_path(WHISPER), content=b"min=1", headers={"content-type": "application/json"})
    assert 400 == response.status_code
    assert response.json()["detail"].startswith("JSON parse error")


@pytest.mark.parametrize("status", ["FAILED", "DELETING", "DELETED"])
async def test_inactive_deployment_answers_404_no_active_deployment(client: httpx.AsyncClient, status: str) -> None:
    """A FAILED, DELETING or DELETED deployment answers 404 {"error": "No active deployment found"}."""
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": status})
    response = await client.post(replicas_path(WHISPER), json={"min_replicas": 1, "max_replicas": 2})
    assert (404, {"error": "No active deployment found"}) == (response.status_code, response.json())


async def test_seeded_failed_deployment_answers_404(client: httpx.AsyncClient) -> None:
    """The seed's FAILED deployment cannot be scaled."""
    response = await client.post(replicas_path(LEGACY_FAILED), json={"min_replicas": 1, "max_replicas": 1})
    assert 404 == response.status_code


@pytest.mark.parametrize("deployment_id", [UNKNOWN_ID, "not-a-uuid"])
async def test_unknown_deployment_answers_404(client: httpx.AsyncClient, deployment_id: str) -> None:
    """An unknown or malformed id answers 404 {"error": "No active deployment found"}."""
    response = await client.post(replicas_path(deployment_id), json={"min_replicas": 1, "max_replicas": 2})
    assert (404, {"error": "No active deployment found"}) == (response.status_code, response.json())


async def test_deploying_and_paused_deployments_can_be_scaled(client: httpx.AsyncClient) -> None:
    """DEPLOYING and SCALED_DOWN deployments are active: their bounds can change."""
    assert (
        200
        == (await client.post(replicas_path(VISION_DEPLOYING), json={"min_replicas": 1, "max_replicas": 2})).status_code
    )
    await stop(client, WHISPER)
    assert 200 == (await client.post(replicas_path(WHISPER), json={"min_replicas": 1, "max_replicas": 2})).status_code


async def test_min_zero_scales_a_running_deployment_to_zero(client: httpx.AsyncClient) -> None:
    """min 0 on a running deployment: listed SCALED_DOWN, health SCALED_DOWN."""
    await client.post(replicas_path(WHISPER), json={"min_replicas": 0, "max_replicas": 2})
    assert "SCALED_DOWN" == await listed_status(client, WHISPER)
    assert "SCALED_DOWN" == (await client.get(health_path(WHISPER))).json()["data"]


async def test_raising_min_from_zero_comes_up_through_progressing(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """min back to >= 1 on a running deployment: DEPLOYED, Progressing until the start-up delay, then Healthy."""
    await client.post(replicas_path(WHISPER), json={"min_replicas": 0, "max_replicas": 2})
    await client.post(replicas_path(WHISPER), json={"min_replicas": 2, "max_replicas": 2})
    assert "DEPLOYED" == await listed_status(client, WHISPER)
    body = (await client.get(health_path(WHISPER))).json()
    assert ("Progressing", {"ready": 0, "not_ready": 2}) == (body["data"], body["pods"])
    clock.advance(30)  # whisper-v3 starts in 30 s
    body = (await client.get(health_path(WHISPER))).json()
    assert ("Healthy", {"ready": 2, "not_ready": 0}) == (body["data"], body["pods"])


async def test_bounds_of_a_paused_deployment_do_not_start_it(client: httpx.AsyncClient) -> None:
    """Scaling a paused deployment keeps it paused."""
    await stop(client, WHISPER)
    await client.post(replicas_path(WHISPER), json={"min_replicas": 2, "max_replicas": 3})
    assert "SCALED_DOWN" == await listed_status(client, WHISPER)


async def test_min_zero_refused_when_the_deployment_needs_cron_scaling(client: httpx.AsyncClient) -> None:
    """With refuse_min_zero set, min 0 answers 400 with the platform's message; min 1 still works."""
    await client.patch(f"/_sim/deployments/{WHISPER}", json={"refuse_min_zero": True})
    refused = await client.post(replicas_path(WHISPER), json={"min_replicas": 0, "max_replicas": 2})
    assert 400 == refused.status_code
    assert "cron scaling" in refused.json()["error"]
    assert 200 == (await client.post(replicas_path(WHISPER), json={"min_replicas": 1, "max_replicas": 2})).status_code


# --- Quota ----------------------------------------------------------------------------------
# H100 in the default seed: llama-3-70b-instruct 4 GPUs x max 2 = 8, code-assist-deepseek 2 x 2 = 4;
# quota 32. Raising llama-3-70b to max 7 needs 28 + 4 = 32 (fits); max 8 needs 36 (does not).


async def test_update_that_fills_the_quota_exactly_is_accepted(client: httpx.AsyncClient) -> None:
    """A total equal to the quota is allowed."""
    response = await client.post(replicas_path(LLAMA_70B), json={"min_replicas": 1, "max_replicas": 7})
    assert 200 == response.status_code


async def test_update_beyond_the_quota_answers_400_insufficient_quota(
    client: httpx.AsyncClient, state: SimState
) -> None:
    """One GPU over the quota answers 400 with the documented quota error and changes nothing."""
    response = await client.post(replicas_path(LLAMA_70B), json={"min_replicas": 1, "max_replicas": 8})
    assert (400, {"error": "Insufficient GPU quota for requested replicas"}) == (response.status_code, response.json())
    assert 2 == state.deployments[LLAMA_70B].max_replicas


async def test_paused_deployments_count_against_the_quota(client: httpx.AsyncClient) -> None:
    """A stopped deployment still reserves its GPUs (only FAILED, DELETING, DELETED do not)."""
    await stop(client, CODE_ASSIST)
    response = await client.post(replicas_path(LLAMA_70B), json={"min_replicas": 1, "max_replicas": 8})
    assert 400 == response.status_code


async def test_deleting_deployments_free_their_quota(client: httpx.AsyncClient) -> None:
    """A DELETING deployment no longer counts: code-assist's 4 GPUs make room for max 8."""
    await client.delete(f"/deployments/{CODE_ASSIST}/delete/")
    response = await client.post(replicas_path(LLAMA_70B), json={"min_replicas": 1, "max_replicas": 8})
    assert 200 == response.status_code


async def test_failed_deployments_do_not_count(client: httpx.AsyncClient) -> None:
    """A FAILED deployment's GPUs do not count against the quota."""
    await client.put(f"/_sim/deployments/{CODE_ASSIST}/status", json={"status": "FAILED"})
    assert 200 == (await client.post(replicas_path(LLAMA_70B), json={"min_replicas": 1, "max_replicas": 8})).status_code


async def test_no_quota_for_a_type_means_no_limit(client: httpx.AsyncClient) -> None:
    """Without a quota for the accelerator type any bounds are accepted."""
    await client.patch("/_sim/quotas", json={"nvidia-h100": None})
    assert (
        200 == (await client.post(replicas_path(LLAMA_70B), json={"min_replicas": 1, "max_replicas": 100})).status_code
    )


async def test_quota_set_through_control_applies_at_once(client: httpx.AsyncClient) -> None:
    """A quota lowered through control refuses an update that used to fit."""
    await client.patch("/_sim/quotas", json={"nvidia-tesla-t4": 4})
    # T4: whisper 1 x 2 + reranker 1 x 2 + batch-transcribe 2 x 2 = 8 already, over 4.
    response = await client.post(replicas_path(WHISPER), json={"min_replicas": 1, "max_replicas": 1})
    assert 400 == response.status_code
    assert "Insufficient GPU quota for requested replicas" == response.json()["error"]


async def test_quota_view_reports_reserved_gpus(client: httpx.AsyncClient) -> None:
    """GET /_sim/quotas reports each type's quota and the GPUs reserved against it."""
    view = (await client.get("/_sim/quotas")).json()
    assert {"quota": 32, "reserved": 12} == view["nvidia-h100"]


async def test_listing_is_unchanged_by_a_refused_update(client: httpx.AsyncClient) -> None:
    """A refused update leaves the list as it was."""
    before = (await client.get(LIST_PATH)).json()
    await client.post(replicas_path(LLAMA_70B), json={"min_replicas": 1, "max_replicas": 99})
    assert before == (await client.get(LIST_PATH)).json()
