"""The client end to end against the platform simulator, in process (httpx.ASGITransport).

The simulator keeps its own plain data and never imports the client, so these tests check
each against the other: requests are read back from the simulator's request log, and the
simulator's own view of a deployment (its control API) is compared with what the client parsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest

from scaler import __version__
from scaler.metrics import Metrics
from scaler.sim import DEFAULT_ORG_ID
from scaler.simplismart import errors
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.models import DeploymentStatus, HealthStatus, Pods
from tests.client.fakes import retries
from tests.client.in_process_sim import WHISPER, InProcessSim

WHISPER_REPO = "0caac439-5518-4569-a3db-a2d505a189f2"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    simulator = InProcessSim()
    yield simulator
    await simulator.aclose()


@pytest.fixture
async def client(sim: InProcessSim) -> AsyncIterator[SimplismartClient]:
    async with sim.client() as api:
        yield api


# --- list ------------------------------------------------------------------------------


async def test_list_returns_every_listed_deployment_of_the_seed(sim: InProcessSim, client: SimplismartClient) -> None:
    """The client's list equals the simulator's own view: ids, names, statuses, accelerators."""
    deployments = await client.list_deployments()
    own = [item for item in await sim.ctl("GET", "/deployments") if item["listed"]]
    expected = sorted(
        (d["deployment_id"], d["deployment_name"], d["status"], tuple(d["accelerator_type"]), d["accelerator_count"])
        for d in own
    )
    assert expected == sorted(
        (str(d.deployment_id), d.deployment_name, d.status.value, d.accelerator_type, d.accelerator_count)
        for d in deployments
    )
    assert 10 <= len(deployments)


async def test_list_filters_by_model_repo_id(sim: InProcessSim, client: SimplismartClient) -> None:
    """model_repo_id returns exactly the deployments of that container, and travels in the query."""
    deployments = await client.list_deployments(model_repo_id=WHISPER_REPO)
    assert {UUID(WHISPER_REPO)} == {d.model_repo_id for d in deployments}
    assert WHISPER in {str(d.deployment_id) for d in deployments}
    (logged,) = await sim.requests(endpoint="list_deployments")
    assert {"model_repo_id": WHISPER_REPO} == logged["query"]


@pytest.mark.parametrize("status", ["DEPLOYED", "DEPLOYING", "FAILED", "DELETED", "DELETING", "SCALED_DOWN"])
async def test_every_documented_status_is_read(sim: InProcessSim, client: SimplismartClient, status: str) -> None:
    """A deployment put in each of the six statuses is listed with it."""
    await sim.ctl("PUT", f"/deployments/{WHISPER}/status", {"status": status})
    by_id = {str(d.deployment_id): d for d in await client.list_deployments()}
    assert DeploymentStatus(status) == by_id[WHISPER].status


@pytest.mark.parametrize(
    ("label", "expected"),
    [("PENDING", DeploymentStatus.DEPLOYING), ("STOPPED", DeploymentStatus.SCALED_DOWN), ("HIBERNATING", DeploymentStatus.UNKNOWN)],
)
async def test_aliases_and_unknown_statuses_are_read(sim: InProcessSim, client: SimplismartClient, label: str, expected: DeploymentStatus) -> None:
    """PENDING and STOPPED read as their documented twins; an unknown status is kept as UNKNOWN."""
    await sim.ctl("PUT", f"/deployments/{WHISPER}/status", {"status": label})
    by_id = {str(d.deployment_id): d for d in await client.list_deployments()}
    assert (expected, label) == (by_id[WHISPER].status, by_id[WHISPER].status_raw)


# --- health ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["Healthy", "Progressing", "Initializing", "Degraded", "Unhealthy", "Unknown", "SCALED_DOWN", "Missing", "Rebooting"]
)
async def test_every_health_value_is_read(sim: InProcessSim, client: SimplismartClient, value: str) -> None:
    """Each documented health value (and an unknown one) comes back with its pods and messages."""
    answer = {"data": value, "pods": {"ready": 1, "not_ready": 2}, "messages": [{"message": f"it is {value}", "severity": "warning"}]}
    await sim.ctl("PUT", f"/deployments/{WHISPER}/health", answer)
    health = await client.get_health(WHISPER)
    expected_status = HealthStatus.UNRECOGNIZED if value == "Rebooting" else HealthStatus(value)
    assert (expected_status, value, Pods(ready=1, not_ready=2)) == (health.status, health.status_raw, health.pods)
    assert [(f"it is {value}", "warning")] == [(m.message, m.severity) for m in health.messages]


async def test_health_without_pods_is_read(sim: InProcessSim, client: SimplismartClient) -> None:
    """An answer that leaves pods out gives pods None."""
    await sim.ctl("PUT", f"/deployments/{WHISPER}/health", {"data": "Missing", "pods": None})
    assert None is (await client.get_health(WHISPER)).pods


async def test_health_of_an_unknown_deployment_is_not_found(client: SimplismartClient) -> None:
    """404 with the platform's message."""
    with pytest.raises(errors.NotFound) as caught:
        await client.get_health(UNKNOWN_ID)
    assert ("Deployment not found", UNKNOWN_ID) == (caught.value.message, caught.value.deployment_id)


async def test_health_of_a_deleted_deployment_is_an_invalid_request(sim: InProcessSim, client: SimplismartClient) -> None:
    """400 for a deleted deployment, as the contract documents."""
    await sim.ctl("PUT", f"/deployments/{WHISPER}/status", {"status": "DELETED"})
    with pytest.raises(errors.InvalidRequest) as caught:
        await client.get_health(WHISPER)
    assert (400, "Deployment is deleted") == (caught.value.status_code, caught.value.message)


# --- stop, start -----------------------------------------------------------------------


async def test_stop_scales_down_at_once(sim: InProcessSim, client: SimplismartClient) -> None:
    """stop: the platform's message, SCALED_DOWN in the list and in health, the documented body sent."""
    result = await client.stop(WHISPER)
    by_id = {str(d.deployment_id): d for d in await client.list_deployments()}
    health = await client.get_health(WHISPER)
    assert ("Deployment stopped successfully", "stopped") == (result.message, result.update_result)
    assert (DeploymentStatus.SCALED_DOWN, HealthStatus.SCALED_DOWN) == (by_id[WHISPER].status, health.status)
    (logged,) = await sim.requests(endpoint="startstop")
    assert ("POST", f"/deployments/{WHISPER}/startstop/", {"action": "stop", "org": DEFAULT_ORG_ID}) == (
        logged["method"],
        logged["path"],
        logged["body"],
    )


async def test_start_progresses_then_becomes_healthy(sim: InProcessSim, client: SimplismartClient) -> None:
    """start: DEPLOYED and Progressing with pods not ready, Healthy with ready pods after the start-up delay."""
    await client.stop(WHISPER)
    result = await client.start(WHISPER)
    starting = await client.get_health(WHISPER)
    sim.clock.advance(3600)
    started = await client.get_health(WHISPER)
    by_id = {str(d.deployment_id): d for d in await client.list_deployments()}
    assert ("Deployment started successfully", "started") == (result.message, result.update_result)
    assert DeploymentStatus.DEPLOYED == by_id[WHISPER].status
    assert HealthStatus.PROGRESSING == starting.status
    assert starting.pods is not None and 0 == starting.pods.ready
    assert HealthStatus.HEALTHY == started.status
    assert started.pods is not None and 0 < started.pods.ready


async def test_start_while_the_wallet_is_blocked_is_refused(sim: InProcessSim, client: SimplismartClient) -> None:
    """402 becomes WalletBlocked with the platform's message; nothing is retried."""
    await sim.ctl("PUT", "/wallet", {"blocked": True})
    with pytest.raises(errors.WalletBlocked) as caught:
        await client.start(WHISPER)
    assert "Wallet is blocked. Please resolve billing issues to continue." == caught.value.message
    assert 1 == len(await sim.requests(endpoint="startstop"))


async def test_start_with_another_organization_is_an_invalid_request(sim: InProcessSim) -> None:
    """An org id the platform does not know is refused with 400 and its message."""
    async with sim.client(org_id="11111111-1111-4111-8111-111111111111") as other:
        with pytest.raises(errors.InvalidRequest) as caught:
            await other.start(WHISPER)
    assert "org does not match the deployment's organization" == caught.value.message


async def test_start_of_an_unknown_deployment_is_not_found(client: SimplismartClient) -> None:
    """404 for a deployment that does not exist."""
    with pytest.raises(errors.NotFound):
        await client.start(UNKNOWN_ID)


# --- update-replicas -------------------------------------------------------------------


async def test_update_replicas_sets_the_bounds(sim: InProcessSim, client: SimplismartClient) -> None:
    """The platform confirms the bounds and the simulator holds them; the body is as documented."""
    result = await client.update_replicas(WHISPER, 2, 3)
    own = await sim.ctl("GET", f"/deployments/{WHISPER}")
    assert ("Autoscaling configuration updated successfully", 2, 3) == (result.message, result.min_replicas, result.max_replicas)
    assert (2, 3) == (own["min_replicas"], own["max_replicas"])
    (logged,) = await sim.requests(endpoint="update_replicas")
    assert {"min_replicas": 2, "max_replicas": 3} == logged["body"]


async def test_update_replicas_beyond_the_quota_is_quota_exceeded(sim: InProcessSim, client: SimplismartClient) -> None:
    """A max_replicas the GPU quota cannot hold raises QuotaExceeded with the platform's message."""
    await sim.ctl("PUT", "/quotas", {"nvidia-tesla-t4": 2})
    with pytest.raises(errors.QuotaExceeded) as caught:
        await client.update_replicas(WHISPER, 1, 50)
    assert ("Insufficient GPU quota for requested replicas", 400) == (caught.value.message, caught.value.status_code)


async def test_update_replicas_of_a_failed_deployment_is_not_found(sim: InProcessSim, client: SimplismartClient) -> None:
    """FAILED, DELETING or DELETED: 404 'No active deployment found'."""
    await sim.ctl("PUT", f"/deployments/{WHISPER}/status", {"status": "FAILED"})
    with pytest.raises(errors.NotFound) as caught:
        await client.update_replicas(WHISPER, 1, 2)
    assert "No active deployment found" == caught.value.message


async def test_a_refused_min_zero_surfaces_the_platform_message(sim: InProcessSim, client: SimplismartClient) -> None:
    """When the platform refuses min_replicas 0, its own words reach the caller."""
    await sim.ctl("PATCH", f"/deployments/{WHISPER}", {"refuse_min_zero": True})
    with pytest.raises(errors.InvalidRequest) as caught:
        await client.update_replicas(WHISPER, 0, 2)
    assert "min_replicas can only be 0 when cron scaling is configured for this deployment" == caught.value.message


async def test_invalid_bounds_never_reach_the_platform(sim: InProcessSim, client: SimplismartClient) -> None:
    """Client-side validation sends nothing: the request log stays empty."""
    with pytest.raises(errors.ClientValidationError):
        await client.update_replicas(WHISPER, 3, 1)
    assert [] == await sim.requests()


# --- delete ----------------------------------------------------------------------------


async def test_delete_is_asynchronous_and_idempotent(sim: InProcessSim, client: SimplismartClient) -> None:
    """Deleted successfully, DELETING, then DELETED after the delay; a repeat says already deleted."""
    first = await client.delete(WHISPER)
    during = {str(d.deployment_id): d.status for d in await client.list_deployments()}[WHISPER]
    sim.clock.advance(120)
    after = {str(d.deployment_id): d.status for d in await client.list_deployments()}[WHISPER]
    again = await client.delete(WHISPER)
    assert ("Deployment deleted successfully", False) == (first.message, first.already_deleted)
    assert (DeploymentStatus.DELETING, DeploymentStatus.DELETED) == (during, after)
    assert ("Deployment already Deleted", True) == (again.message, again.already_deleted)


async def test_delete_of_an_unknown_deployment_is_not_found(client: SimplismartClient) -> None:
    """404 'Deployment not found'."""
    with pytest.raises(errors.NotFound) as caught:
        await client.delete(UNKNOWN_ID)
    assert "Deployment not found" == caught.value.message


async def test_failed_deletions_are_retried_until_the_platform_refuses(sim: InProcessSim) -> None:
    """Three 500s are retried; the fourth answer, 400 'failed multiple times', is not."""
    await sim.ctl("PATCH", f"/deployments/{WHISPER}", {"deletion_failures": 5})
    async with sim.client(retry=retries(attempts=6)) as client:
        with pytest.raises(errors.InvalidRequest) as caught:
            await client.delete(WHISPER)
    statuses = [entry["status"] for entry in await sim.requests(endpoint="delete")]
    assert [500, 500, 500, 400] == statuses
    assert "Deletion failed multiple times already. Please contact support." == caught.value.message
    assert [0.5, 1.0, 2.0] == sim.time.sleeps


# --- auth, headers, faults ------------------------------------------------------------


async def test_a_wrong_token_is_an_authentication_error(sim: InProcessSim) -> None:
    """401 {"detail": "Invalid token."} raises AuthenticationError, not retried."""
    async with sim.client(token="not-the-sim-token") as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.list_deployments()
    assert ("Invalid token.", 401) == (caught.value.message, caught.value.status_code)
    assert 1 == len(await sim.requests())


async def test_the_request_log_shows_our_request_ids(sim: InProcessSim, client: SimplismartClient) -> None:
    """Each request reaches the platform with the X-Request-Id the client logged and would report."""
    await sim.ctl("POST", "/faults/fail-next", {"endpoint": "get_health", "count": 1, "status": 404})
    with pytest.raises(errors.NotFound) as caught:
        await client.get_health(WHISPER)
    (logged,) = await sim.requests(endpoint="get_health")
    assert caught.value.request_id == logged["request_id"]


async def test_a_retry_after_from_the_platform_is_honoured(sim: InProcessSim, client: SimplismartClient) -> None:
    """Two injected 429s with Retry-After: 4 are waited out (4 s each), then the list succeeds."""
    await sim.ctl(
        "POST", "/faults/fail-next", {"endpoint": "list_deployments", "count": 2, "status": 429, "headers": {"Retry-After": "4"}}
    )
    deployments = await client.list_deployments()
    statuses = [entry["status"] for entry in await sim.requests(endpoint="list_deployments")]
    assert ([429, 429, 200], [4.0, 4.0]) == (statuses, sim.time.sleeps)
    assert deployments


async def test_injected_server_errors_are_retried_then_reported(sim: InProcessSim) -> None:
    """Persistent 503s: the policy's attempts as requests, then ServerError with the injected message."""
    await sim.ctl("POST", "/faults/fail-next", {"endpoint": "get_health", "count": 10, "status": 503, "body": {"error": "maintenance"}})
    metrics = Metrics()
    async with sim.client(metrics=metrics, retry=retries(attempts=3)) as client:
        with pytest.raises(errors.ServerError) as caught:
            await client.get_health(WHISPER)
    assert (3, "maintenance", 3) == (len(await sim.requests(endpoint="get_health")), caught.value.message, caught.value.attempts)
    assert 2.0 == metrics.registry.get_sample_value("scaler_api_retries_total", {"endpoint": "get_health"})


@pytest.mark.parametrize("kind", ["missing_fields", "wrong_types"])
async def test_damaged_list_items_are_skipped_and_counted(sim: InProcessSim, kind: str) -> None:
    """Every item damaged: none returned, each one counted as malformed, no exception."""
    metrics = Metrics()
    async with sim.client(metrics=metrics) as client:
        expected = len(await client.list_deployments())
        await sim.ctl("POST", "/faults/malformed", {"kind": kind, "endpoint": "list_deployments"})
        assert [] == await client.list_deployments()
    assert float(expected) == metrics.registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": "list_deployments"})


@pytest.mark.parametrize(("kind", "error_class"), [("non_json", errors.MalformedResponse), ("html", errors.ServerError)])
async def test_a_proxy_answer_instead_of_json_is_a_typed_error(sim: InProcessSim, kind: str, error_class: type) -> None:
    """A 200 plain-text body is MalformedResponse; a 502 HTML page a ServerError without a message."""
    await sim.ctl("POST", "/faults/malformed", {"kind": kind, "endpoint": "get_health", "count": 10})
    async with sim.client(retry=retries(attempts=2)) as client:
        with pytest.raises(error_class) as caught:
            await client.get_health(WHISPER)
    assert "<html" not in str(caught.value)


async def test_a_large_but_valid_answer_is_read(sim: InProcessSim, client: SimplismartClient) -> None:
    """A list padded to 2 MB is still valid JSON and parses."""
    await sim.ctl("POST", "/faults/malformed", {"kind": "large", "endpoint": "list_deployments", "size_bytes": 2_000_000})
    assert await client.list_deployments()


async def test_user_agent_names_the_product(sim: InProcessSim) -> None:
    """Requests carry User-Agent simplismart-scaler/<version> (checked at the ASGI boundary)."""
    seen: list[str] = []

    async def spy(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            seen.append(dict(scope["headers"]).get(b"user-agent", b"").decode())
        await sim.app(scope, receive, send)

    async with sim.client(transport=httpx.ASGITransport(app=spy)) as client:
        await client.list_deployments()
    assert [f"simplismart-scaler/{__version__}"] == seen
