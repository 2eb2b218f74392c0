"""Each endpoint sends exactly the request the contract documents and returns its typed answer."""

from __future__ import annotations

import json
import uuid
from uuid import UUID

import httpx
import pytest

from scaler import __version__
from scaler.settings import load_settings
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import ServerError
from scaler.simplismart.models import (
    DeleteResult,
    DeploymentHealth,
    DeploymentStatus,
    HealthStatus,
    Pods,
    StartStopResult,
    UpdateReplicasResult,
)
from tests.client.fakes import (
    BASE_URL,
    DEPLOYMENT_ID,
    MODEL_REPO_ID,
    ORG_ID,
    OTHER_DEPLOYMENT_ID,
    TOKEN,
    ScriptedPlatform,
    deployment_json,
    make_client,
)

CONTRACT_LIST_EXAMPLE = [
    deployment_json(),
    deployment_json(
        deployment_id=OTHER_DEPLOYMENT_ID,
        deployment_name="llama-inference",
        model_repo_name="llama-7b-optimized",
        accelerator_type=["nvidia-l4"],
    ),
]


async def test_list_sends_get_to_the_documented_path_without_query() -> None:
    """list_deployments() is GET /deployments/list/model/ with no query string."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform) as client:
        await client.list_deployments()
    request = platform.requests[0]
    assert ("GET", f"{BASE_URL}/deployments/list/model/") == (request.method, str(request.url))


async def test_list_filters_by_model_repo_id_in_the_query() -> None:
    """model_repo_id travels as the documented query parameter."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform) as client:
        await client.list_deployments(model_repo_id=UUID(MODEL_REPO_ID))
    assert {"model_repo_id": MODEL_REPO_ID} == dict(platform.requests[0].url.params)


async def test_list_returns_the_contract_example_as_typed_deployments() -> None:
    """The documented example parses into two deployments with every field."""
    platform = ScriptedPlatform(httpx.Response(200, json=CONTRACT_LIST_EXAMPLE))
    async with make_client(platform) as client:
        deployments = await client.list_deployments()
    first, second = deployments
    assert UUID(DEPLOYMENT_ID) == first.deployment_id
    assert "whisper-v3" == first.deployment_name
    assert UUID(MODEL_REPO_ID) == first.model_repo_id
    assert "whisper-v3-arabic-h100" == first.model_repo_name
    assert "custom" == first.model_type
    assert ("nvidia-tesla-t4",) == first.accelerator_type
    assert 1 == first.accelerator_count
    assert DeploymentStatus.DEPLOYED == first.status
    assert ("llama-inference", ("nvidia-l4",)) == (second.deployment_name, second.accelerator_type)


@pytest.mark.parametrize("status", ["DEPLOYED", "DEPLOYING", "FAILED", "DELETED", "DELETING", "SCALED_DOWN"])
async def test_list_reads_every_documented_status(status: str) -> None:
    """Each of the six documented statuses maps to its own member."""
    platform = ScriptedPlatform(httpx.Response(200, json=[deployment_json(status=status)]))
    async with make_client(platform) as client:
        (deployment,) = await client.list_deployments()
    assert (DeploymentStatus(status), status) == (deployment.status, deployment.status_raw)


async def test_health_sends_get_to_the_fetch_status_path() -> None:
    """get_health() is GET /deployments/model-deployment/fetch-status/{id}/."""
    platform = ScriptedPlatform(httpx.Response(200, json={"data": "Healthy", "messages": []}))
    async with make_client(platform) as client:
        await client.get_health(DEPLOYMENT_ID)
    request = platform.requests[0]
    expected = f"{BASE_URL}/deployments/model-deployment/fetch-status/{DEPLOYMENT_ID}/"
    assert ("GET", expected) == (request.method, str(request.url))


async def test_health_returns_the_contract_example() -> None:
    """The documented Healthy answer parses with its message and pods."""
    body = {
        "data": "Healthy",
        "messages": [
            {"message": "Ready to use, the model is running and available for inference.", "severity": "info"}
        ],
        "pods": {"ready": 3, "not_ready": 0},
    }
    platform = ScriptedPlatform(httpx.Response(200, json=body))
    async with make_client(platform) as client:
        health = await client.get_health(DEPLOYMENT_ID)
    assert HealthStatus.HEALTHY == health.status
    assert Pods(ready=3, not_ready=0) == health.pods
    assert [("Ready to use, the model is running and available for inference.", "info")] == [
        (message.message, message.severity) for message in health.messages
    ]


async def test_health_reads_the_scaled_down_example_without_pods() -> None:
    """The documented SCALED_DOWN answer has no pods: pods is None."""
    body = {
        "data": "SCALED_DOWN",
        "messages": [{"message": "Deployment is paused. Resume to start inferencing.", "severity": "info"}],
    }
    platform = ScriptedPlatform(httpx.Response(200, json=body))
    async with make_client(platform) as client:
        health = await client.get_health(DEPLOYMENT_ID)
    assert (HealthStatus.SCALED_DOWN, None) == (health.status, health.pods)


@pytest.mark.parametrize(
    "value",
    ["Healthy", "Progressing", "Initializing", "Degraded", "Unhealthy", "Unknown", "SCALED_DOWN", "Missing"],
)
async def test_health_reads_every_documented_value(value: str) -> None:
    """Each of the eight documented health values maps to its own member."""
    platform = ScriptedPlatform(httpx.Response(200, json={"data": value, "messages": []}))
    async with make_client(platform) as client:
        health = await client.get_health(DEPLOYMENT_ID)
    assert (HealthStatus(value), value) == (health.status, health.status_raw)


async def test_update_replicas_posts_the_documented_body() -> None:
    """update_replicas() POSTs {min_replicas, max_replicas} as JSON to .../update-replicas/."""
    answer = {"message": "Autoscaling configuration updated successfully", "min_replicas": 2, "max_replicas": 4}
    platform = ScriptedPlatform(httpx.Response(200, json=answer))
    async with make_client(platform) as client:
        result = await client.update_replicas(DEPLOYMENT_ID, 2, 4)
    request = platform.requests[0]
    assert ("POST", f"{BASE_URL}/deployments/{DEPLOYMENT_ID}/update-replicas/") == (request.method, str(request.url))
    assert "application/json" == request.headers["content-type"]
    assert {"min_replicas": 2, "max_replicas": 4} == json.loads(request.content)
    assert UpdateReplicasResult(**answer, request_id=request.headers["x-request-id"]) == result


@pytest.mark.parametrize(
    ("action", "answer"),
    [
        ("start", {"message": "Deployment started successfully", "update_result": "started"}),
        ("stop", {"message": "Deployment stopped successfully", "update_result": "stopped"}),
    ],
)
async def test_startstop_posts_action_and_org(action: str, answer: dict[str, str]) -> None:
    """start()/stop() POST {action, org} to .../startstop/, org from the client's settings."""
    platform = ScriptedPlatform(httpx.Response(200, json=answer))
    async with make_client(platform) as client:
        result = await getattr(client, action)(DEPLOYMENT_ID)
    request = platform.requests[0]
    assert ("POST", f"{BASE_URL}/deployments/{DEPLOYMENT_ID}/startstop/") == (request.method, str(request.url))
    assert {"action": action, "org": str(ORG_ID)} == json.loads(request.content)
    assert StartStopResult(**answer, request_id=request.headers["x-request-id"]) == result


async def test_delete_sends_delete_to_the_documented_path() -> None:
    """delete() is DELETE /deployments/{id}/delete/ without a body."""
    platform = ScriptedPlatform(httpx.Response(200, json={"message": "Deployment deleted successfully"}))
    async with make_client(platform) as client:
        result = await client.delete(DEPLOYMENT_ID)
    request = platform.requests[0]
    assert ("DELETE", f"{BASE_URL}/deployments/{DEPLOYMENT_ID}/delete/", b"") == (
        request.method,
        str(request.url),
        request.content,
    )
    expected = DeleteResult(message="Deployment deleted successfully", request_id=request.headers["x-request-id"])
    assert (expected, False) == (result, result.already_deleted)


async def test_delete_tells_an_already_deleted_deployment_apart() -> None:
    """The documented idempotent answer sets already_deleted."""
    platform = ScriptedPlatform(httpx.Response(200, json={"message": "Deployment already Deleted"}))
    async with make_client(platform) as client:
        result = await client.delete(DEPLOYMENT_ID)
    assert result.already_deleted


async def test_every_request_carries_bearer_token_user_agent_and_a_request_id() -> None:
    """Authorization, User-Agent and a UUID X-Request-Id are on every request."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform) as client:
        await client.list_deployments()
    headers = platform.requests[0].headers
    assert f"Bearer {TOKEN}" == headers["authorization"]
    assert f"simplismart-scaler/{__version__}" == headers["user-agent"]
    assert 4 == uuid.UUID(headers["x-request-id"]).version


async def test_request_ids_are_fresh_for_every_request() -> None:
    """Two calls send two different X-Request-Id values."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform) as client:
        await client.list_deployments()
        await client.list_deployments()
    assert 2 == len({request.headers["x-request-id"] for request in platform.requests})


async def test_a_base_url_with_a_path_prefix_keeps_it() -> None:
    """A base URL behind a path prefix (a proxy) keeps the prefix before the documented path."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform, base_url="https://proxy.test.invalid/simplismart/") as client:
        await client.list_deployments()
    assert "https://proxy.test.invalid/simplismart/deployments/list/model/" == str(platform.requests[0].url)


async def test_mutations_accept_an_empty_success_body() -> None:
    """A 2xx without a body (e.g. 204) is a success with an empty message, not a parse error."""
    platform = ScriptedPlatform(httpx.Response(204))
    async with make_client(platform) as client:
        result = await client.delete(DEPLOYMENT_ID)
    assert "" == result.message


async def test_health_accepts_bare_string_messages() -> None:
    """A message given as a plain string becomes a HealthMessage with severity info."""
    platform = ScriptedPlatform(httpx.Response(200, json={"data": "Degraded", "messages": ["1 of 3 pods failing"]}))
    async with make_client(platform) as client:
        health = await client.get_health(DEPLOYMENT_ID)
    assert [("1 of 3 pods failing", "info")] == [(m.message, m.severity) for m in health.messages]


def test_health_model_round_trips_through_json() -> None:
    """A dumped health answer validates back to the same model (the CLI's JSON output)."""
    health = DeploymentHealth.model_validate({"data": "Rebooting", "pods": {"ready": 1, "not_ready": 2}})
    assert health == DeploymentHealth.model_validate(health.model_dump(mode="json"))


async def test_from_settings_wires_url_token_org_and_limits(tmp_path) -> None:
    """The settings give the base URL, the token (file first), the org id and the retry bounds."""
    token_file = tmp_path / "token"
    token_file.write_text("settings-token-1")
    token_file.chmod(0o600)
    settings = load_settings(
        api_url="https://api.settings.invalid/",
        api_token_file=token_file,
        org_id=str(ORG_ID),
        api_retry_attempts=2,
        api_retry_timeout_seconds=5,
    )
    platform = ScriptedPlatform(httpx.Response(500))
    async with SimplismartClient.from_settings(
        settings, transport=httpx.MockTransport(platform), sleep=_no_sleep
    ) as client:
        with pytest.raises(ServerError):
            await client.start(DEPLOYMENT_ID)
    assert (2, 5.0) == (client.retry.attempts, client.retry.timeout_seconds)
    assert 2 == len(platform.requests)
    request = platform.requests[0]
    assert "https://api.settings.invalid/deployments/" + DEPLOYMENT_ID + "/startstop/" == str(request.url)
    assert "Bearer settings-token-1" == request.headers["authorization"]
    assert str(ORG_ID) == json.loads(request.content)["org"]


async def _no_sleep(seconds: float) -> None:
    return None


async def test_leaving_the_context_closes_the_connections() -> None:
    """`async with` closes the underlying HTTP client."""
    client = make_client(ScriptedPlatform(httpx.Response(200, json=[])))
    async with client:
        await client.list_deployments()
    with pytest.raises(RuntimeError):
        await client.list_deployments()
