"""Conformance of GET /deployments/model-deployment/fetch-status/{id}/ to the contract."""

from __future__ import annotations

import httpx
import pytest

from scaler.sim.clock import ManualClock
from tests.sim.conftest import (
    BATCH_TRANSCRIBE,
    LEGACY_FAILED,
    UNKNOWN_ID,
    VISION_DEPLOYING,
    WHISPER,
    health_path,
    replicas_path,
    start,
    stop,
)

# The contract's examples, verbatim.
CONTRACT_HEALTHY = {
    "data": "Healthy",
    "messages": [{"message": "Ready to use, the model is running and available for inference.", "severity": "info"}],
    "pods": {"ready": 3, "not_ready": 0},
}
CONTRACT_SCALED_DOWN = {
    "data": "SCALED_DOWN",
    "messages": [{"message": "Deployment is paused. Resume to start inferencing.", "severity": "info"}],
}
DOCUMENTED_VALUES = [
    "Healthy",
    "Progressing",
    "Initializing",
    "Degraded",
    "Unhealthy",
    "Unknown",
    "SCALED_DOWN",
    "Missing",
]


async def test_healthy_answer_matches_the_contract_example(client: httpx.AsyncClient) -> None:
    """A running deployment kept at 3 replicas answers exactly the contract's Healthy example."""
    await client.post(replicas_path(WHISPER), json={"min_replicas": 3, "max_replicas": 3})
    await client.put(f"/_sim/deployments/{WHISPER}/health", json={"data": "Healthy"})
    response = await client.get(health_path(WHISPER))
    assert (200, CONTRACT_HEALTHY) == (response.status_code, response.json())


async def test_running_deployment_is_healthy_with_min_replicas_ready(client: httpx.AsyncClient) -> None:
    """A seeded running deployment is Healthy with ready = min_replicas."""
    body = (await client.get(health_path(WHISPER))).json()
    assert ("Healthy", {"ready": 1, "not_ready": 0}) == (body["data"], body["pods"])


async def test_paused_deployment_answers_the_contract_scaled_down_example(client: httpx.AsyncClient) -> None:
    """A paused deployment answers the contract's SCALED_DOWN example exactly, without pods."""
    response = await client.get(health_path(BATCH_TRANSCRIBE))
    assert (200, CONTRACT_SCALED_DOWN) == (response.status_code, response.json())


async def test_scaled_to_zero_deployment_answers_scaled_down(client: httpx.AsyncClient) -> None:
    """A running deployment whose min is 0 answers the SCALED_DOWN example, without pods."""
    await client.post(replicas_path(WHISPER), json={"min_replicas": 0, "max_replicas": 2})
    assert CONTRACT_SCALED_DOWN == (await client.get(health_path(WHISPER))).json()


async def test_stopped_deployment_answers_scaled_down(client: httpx.AsyncClient) -> None:
    """After a stop, fetch-status answers SCALED_DOWN at once."""
    await stop(client, WHISPER)
    assert CONTRACT_SCALED_DOWN == (await client.get(health_path(WHISPER))).json()


async def test_deploying_deployment_is_initializing_with_pods_not_ready(client: httpx.AsyncClient) -> None:
    """A deployment being created answers Initializing with its pods not ready."""
    body = (await client.get(health_path(VISION_DEPLOYING))).json()
    assert ("Initializing", {"ready": 0, "not_ready": 1}) == (body["data"], body["pods"])


async def test_failed_deployment_answers_missing_without_pods(client: httpx.AsyncClient) -> None:
    """A FAILED deployment has no health data: Missing, no pods."""
    body = (await client.get(health_path(LEGACY_FAILED))).json()
    assert ("Missing", False) == (body["data"], "pods" in body)


async def test_deleting_deployment_answers_unknown(client: httpx.AsyncClient) -> None:
    """A deployment being deleted answers Unknown."""
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "DELETING"})
    assert "Unknown" == (await client.get(health_path(WHISPER))).json()["data"]


@pytest.mark.parametrize("value", DOCUMENTED_VALUES[:6] + ["Missing"])
async def test_every_documented_health_value_can_be_answered(client: httpx.AsyncClient, value: str) -> None:
    """Each documented health value set through control is answered as `data` with its usual message."""
    await client.put(f"/_sim/deployments/{WHISPER}/health", json={"data": value})
    body = (await client.get(health_path(WHISPER))).json()
    assert value == body["data"]
    assert 1 == len(body["messages"])
    assert {"message", "severity"} == set(body["messages"][0])


async def test_health_value_outside_the_contract_is_answered_verbatim(client: httpx.AsyncClient) -> None:
    """A value the contract does not list (for tolerant parsing) is answered as given, with no message."""
    await client.put(f"/_sim/deployments/{WHISPER}/health", json={"data": "Hibernating"})
    body = (await client.get(health_path(WHISPER))).json()
    assert ("Hibernating", []) == (body["data"], body["messages"])


async def test_health_with_pods_null_has_no_pods_field(client: httpx.AsyncClient) -> None:
    """`pods: null` in a set health leaves the optional pods field out of the answer."""
    await client.put(f"/_sim/deployments/{WHISPER}/health", json={"data": "Unknown", "pods": None})
    assert "pods" not in (await client.get(health_path(WHISPER))).json()


async def test_health_with_given_pods_and_messages_is_answered_as_given(client: httpx.AsyncClient) -> None:
    """Pods and messages set through control are answered as given."""
    health = {
        "data": "Degraded",
        "pods": {"ready": 1, "not_ready": 2},
        "messages": [{"message": "2 pods crash-looping", "severity": "warning"}],
    }
    await client.put(f"/_sim/deployments/{WHISPER}/health", json=health)
    assert health == (await client.get(health_path(WHISPER))).json()


async def test_deleted_deployment_answers_400(client: httpx.AsyncClient) -> None:
    """fetch-status of a DELETED deployment answers 400 with an `error` message."""
    await client.put(f"/_sim/deployments/{WHISPER}/status", json={"status": "DELETED"})
    response = await client.get(health_path(WHISPER))
    assert (400, {"error": "Deployment is deleted"}) == (response.status_code, response.json())


async def test_unknown_deployment_answers_404(client: httpx.AsyncClient) -> None:
    """fetch-status of an unknown deployment answers 404."""
    response = await client.get(health_path(UNKNOWN_ID))
    assert (404, {"error": "Deployment not found"}) == (response.status_code, response.json())


async def test_malformed_id_answers_404(client: httpx.AsyncClient) -> None:
    """A deployment id that is not a UUID is answered like an unknown one: 404."""
    response = await client.get(health_path("not-a-uuid"))
    assert (404, {"error": "Deployment not found"}) == (response.status_code, response.json())


async def test_missing_id_answers_400(client: httpx.AsyncClient) -> None:
    """An empty deployment id in the path answers 400 (the contract's 'Missing deployment ID')."""
    response = await client.get("/deployments/model-deployment/fetch-status//")
    assert (400, {"error": "Deployment ID is required"}) == (response.status_code, response.json())


async def test_upper_case_id_is_the_same_deployment(client: httpx.AsyncClient) -> None:
    """An upper-case UUID in the path finds the deployment."""
    assert 200 == (await client.get(health_path(WHISPER.upper()))).status_code


async def test_set_health_is_forgotten_when_the_deployment_stops(client: httpx.AsyncClient, clock: ManualClock) -> None:
    """A health set from outside describes a run: stop, then start, and it is gone (Progressing, then Healthy)."""
    await client.put(f"/_sim/deployments/{WHISPER}/health", json={"data": "Unhealthy"})
    await stop(client, WHISPER)
    await start(client, WHISPER)
    assert "Progressing" == (await client.get(health_path(WHISPER))).json()["data"]
    clock.advance(30)
    assert "Healthy" == (await client.get(health_path(WHISPER))).json()["data"]


async def test_set_health_survives_a_change_of_bounds(client: httpx.AsyncClient) -> None:
    """Changing the bounds of an up deployment keeps a health set from outside (the demo scales down while Degraded)."""
    await client.put(f"/_sim/deployments/{WHISPER}/health", json={"data": "Degraded"})
    await client.post(replicas_path(WHISPER), json={"min_replicas": 1, "max_replicas": 1})
    assert "Degraded" == (await client.get(health_path(WHISPER))).json()["data"]


async def test_clearing_a_set_health_returns_to_the_derived_one(client: httpx.AsyncClient) -> None:
    """DELETE /_sim/deployments/{id}/health returns to the health the state implies."""
    await client.put(f"/_sim/deployments/{WHISPER}/health", json={"data": "Unhealthy"})
    await client.delete(f"/_sim/deployments/{WHISPER}/health")
    assert "Healthy" == (await client.get(health_path(WHISPER))).json()["data"]
