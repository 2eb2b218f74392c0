"""Tolerant parsing: new fields and values are kept or ignored; bad items are skipped; bad bodies raise."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from scaler.metrics import Metrics
from scaler.simplismart.errors import MalformedResponse
from scaler.simplismart.models import DeploymentStatus, HealthStatus
from tests.client.fakes import DEPLOYMENT_ID, OTHER_DEPLOYMENT_ID, ScriptedPlatform, deployment_json, make_client


async def test_unknown_status_is_kept_as_unknown_with_its_raw_text() -> None:
    """A status this version does not know is UNKNOWN, the raw text beside it."""
    platform = ScriptedPlatform(httpx.Response(200, json=[deployment_json(status="HIBERNATING")]))
    async with make_client(platform) as client:
        (deployment,) = await client.list_deployments()
    assert (DeploymentStatus.UNKNOWN, "HIBERNATING") == (deployment.status, deployment.status_raw)


@pytest.mark.parametrize(("alias", "status"), [("PENDING", "DEPLOYING"), ("STOPPED", "SCALED_DOWN")])
async def test_status_aliases_of_the_platform_cli_are_accepted(alias: str, status: str) -> None:
    """PENDING reads as DEPLOYING and STOPPED as SCALED_DOWN."""
    platform = ScriptedPlatform(httpx.Response(200, json=[deployment_json(status=alias)]))
    async with make_client(platform) as client:
        (deployment,) = await client.list_deployments()
    assert DeploymentStatus(status) == deployment.status


async def test_extra_fields_are_ignored() -> None:
    """Fields the platform adds to items and to the health answer do not break parsing."""
    platform = ScriptedPlatform(
        httpx.Response(200, json=[deployment_json(region="us-east-1", replicas={"min": 1})]),
        httpx.Response(200, json={"data": "Healthy", "messages": [], "uptime_seconds": 12, "pods": {"ready": 1, "not_ready": 0, "evicted": 2}}),
    )
    async with make_client(platform) as client:
        (deployment,) = await client.list_deployments()
        health = await client.get_health(DEPLOYMENT_ID)
    assert ("whisper-v3", HealthStatus.HEALTHY, 1) == (deployment.deployment_name, health.status, health.pods.ready)


async def test_unknown_health_value_is_kept_as_unrecognized() -> None:
    """A health value this version does not know is UNRECOGNIZED, the raw text beside it."""
    platform = ScriptedPlatform(httpx.Response(200, json={"data": "Hibernating", "messages": []}))
    async with make_client(platform) as client:
        health = await client.get_health(DEPLOYMENT_ID)
    assert (HealthStatus.UNRECOGNIZED, "Hibernating") == (health.status, health.status_raw)


async def test_health_without_messages_or_pods_parses() -> None:
    """Only `data` is needed: messages default to none and pods to None."""
    platform = ScriptedPlatform(httpx.Response(200, json={"data": "Missing"}))
    async with make_client(platform) as client:
        health = await client.get_health(DEPLOYMENT_ID)
    assert (HealthStatus.MISSING, (), None) == (health.status, health.messages, health.pods)


@pytest.mark.parametrize(
    "bad_item",
    [
        {"deployment_name": "no-id", "status": "DEPLOYED"},
        deployment_json(deployment_id="not-a-uuid"),
        deployment_json(accelerator_count="two"),
        "just a string",
        None,
    ],
    ids=["missing-id", "id-not-uuid", "count-not-int", "string-item", "null-item"],
)
async def test_a_malformed_item_is_skipped_logged_and_counted(bad_item: object, metrics: Metrics) -> None:
    """The other items are returned; the bad one is logged and counted as malformed."""
    good = deployment_json(deployment_id=OTHER_DEPLOYMENT_ID)
    platform = ScriptedPlatform(httpx.Response(200, json=[bad_item, good]))
    async with make_client(platform, metrics=metrics) as client:
        with capture_logs() as logs:
            deployments = await client.list_deployments()
    assert [OTHER_DEPLOYMENT_ID] == [str(d.deployment_id) for d in deployments]
    assert [0] == [entry["index"] for entry in logs if entry["event"] == "api_malformed_item"]
    assert 1.0 == metrics.registry.get_sample_value(
        "scaler_api_malformed_responses_total", {"endpoint": "list_deployments"}
    )


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (httpx.Response(200, text="<html>gateway</html>"), "expected JSON"),
        (httpx.Response(200, text=""), "empty body"),
        (httpx.Response(200, json={"deployments": []}), "JSON array"),
        (httpx.Response(200, json="DEPLOYED"), "JSON array"),
    ],
    ids=["html", "empty", "object", "string"],
)
async def test_a_list_body_of_the_wrong_shape_raises_malformed_response(
    response: httpx.Response, problem: str, metrics: Metrics
) -> None:
    """A list answer that is not a JSON array raises MalformedResponse, counted by reason."""
    async with make_client(ScriptedPlatform(response), metrics=metrics) as client:
        with pytest.raises(MalformedResponse) as caught:
            await client.list_deployments()
    assert problem in caught.value.message
    assert 1.0 == metrics.registry.get_sample_value(
        "scaler_api_request_errors_total", {"endpoint": "list_deployments", "reason": "malformed_response"}
    )


@pytest.mark.parametrize(
    "body",
    [{"messages": []}, {"data": 3}, [{"data": "Healthy"}], {"data": "Healthy", "pods": {"ready": "many"}}],
    ids=["no-data", "data-not-string", "array", "pods-wrong-type"],
)
async def test_a_health_body_of_the_wrong_shape_raises_malformed_response(body: object) -> None:
    """fetch-status must answer an object with a string `data`."""
    async with make_client(ScriptedPlatform(httpx.Response(200, json=body))) as client:
        with pytest.raises(MalformedResponse):
            await client.get_health(DEPLOYMENT_ID)


async def test_a_mutation_answer_that_is_not_an_object_raises_malformed_response() -> None:
    """update-replicas answering a JSON array is not understood."""
    async with make_client(ScriptedPlatform(httpx.Response(200, json=[1, 2]))) as client:
        with pytest.raises(MalformedResponse) as caught:
            await client.update_replicas(DEPLOYMENT_ID, 1, 2)
    assert (DEPLOYMENT_ID, "update_replicas") == (caught.value.deployment_id, caught.value.endpoint)


async def test_malformed_responses_are_not_retried() -> None:
    """A 200 with a body we cannot read is not transient: one request only."""
    platform = ScriptedPlatform(httpx.Response(200, text="oops"))
    async with make_client(platform) as client:
        with pytest.raises(MalformedResponse):
            await client.list_deployments()
    assert 1 == len(platform.requests)


async def test_accelerator_type_given_as_a_string_becomes_a_tuple() -> None:
    """A single accelerator name instead of a list is accepted."""
    platform = ScriptedPlatform(httpx.Response(200, json=[deployment_json(accelerator_type="nvidia-h100")]))
    async with make_client(platform) as client:
        (deployment,) = await client.list_deployments()
    assert ("nvidia-h100",) == deployment.accelerator_type


@given(raw=st.text(max_size=40))
def test_any_status_text_parses_to_a_member(raw: str) -> None:
    """No status text can make parsing fail: it is a documented status, an alias, or UNKNOWN."""
    assert isinstance(DeploymentStatus.parse(raw), DeploymentStatus)
    assert isinstance(HealthStatus.parse(raw), HealthStatus)


@given(item=st.dictionaries(st.sampled_from(["deployment_id", "deployment_name", "status", "accelerator_count", "x"]),
                            st.one_of(st.none(), st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=2))))
def test_any_list_item_is_either_a_deployment_or_skipped(item: dict) -> None:
    """Whatever an item holds, the list call returns it parsed or skips it; it never raises."""
    platform = ScriptedPlatform(httpx.Response(200, json=[item, deployment_json()]))

    async def listing() -> int:
        async with make_client(platform) as client:
            return len(await client.list_deployments())

    assert asyncio.run(listing()) in (1, 2)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[" + b"9" * 5000 + b"]", "the JSON could not be read (Exceeds the limit (4300 digits)"),
        (b"[" * 100_000 + b"]" * 100_000, "the JSON could not be read (maximum recursion depth exceeded"),
    ],
    ids=["number-of-5000-digits", "nesting-100000-deep"],
)
async def test_json_that_python_cannot_read_is_a_malformed_response(body: bytes, problem: str, metrics: Metrics) -> None:
    """Valid JSON that json.loads refuses (a huge number, a deep nesting) is MalformedResponse, not ValueError or RecursionError."""
    platform = ScriptedPlatform(httpx.Response(200, content=body))
    async with make_client(platform, metrics=metrics) as client:
        with pytest.raises(MalformedResponse) as caught:
            await client.list_deployments()
    assert caught.value.message.startswith(problem)
    assert 1.0 == metrics.registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": "list_deployments"})


@pytest.mark.parametrize(
    "field",
    [{"accelerator_count": 10**300}, {"accelerator_count": 1_000_001}],
    ids=["count-of-300-digits", "count-above-a-million"],
)
async def test_an_item_with_an_implausible_count_is_skipped(field: dict, metrics: Metrics) -> None:
    """A count no deployment has (which would overflow GPU-hour arithmetic) makes the item malformed: skipped and counted."""
    items = [deployment_json(**field), deployment_json(deployment_id=OTHER_DEPLOYMENT_ID)]
    platform = ScriptedPlatform(httpx.Response(200, json=items))
    async with make_client(platform, metrics=metrics) as client:
        deployments = await client.list_deployments()
    assert [OTHER_DEPLOYMENT_ID] == [str(deployment.deployment_id) for deployment in deployments]
    assert 1.0 == metrics.registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": "list_deployments"})


async def test_a_health_answer_with_an_implausible_pod_count_is_malformed() -> None:
    """Pods beyond a million are a damaged answer: MalformedResponse naming the field."""
    platform = ScriptedPlatform(httpx.Response(200, json={"data": "Healthy", "pods": {"ready": 10**30, "not_ready": 0}}))
    async with make_client(platform) as client:
        with pytest.raises(MalformedResponse, match="pods.ready"):
            await client.get_health(DEPLOYMENT_ID)


async def test_a_list_read_again_gives_each_change_and_only_the_changes(metrics: Metrics) -> None:
    """A second list answer reads a changed item anew, an unchanged one as before (the same deployment, not
    validated again), and a formerly good item that is now malformed is skipped and counted."""
    first = [deployment_json(), deployment_json(deployment_id=OTHER_DEPLOYMENT_ID, status="DEPLOYED")]
    second = [deployment_json(accelerator_count="two"), deployment_json(deployment_id=OTHER_DEPLOYMENT_ID, status="STOPPED")]
    third = [deployment_json(), deployment_json(deployment_id=OTHER_DEPLOYMENT_ID, status="STOPPED")]
    platform = ScriptedPlatform(*(httpx.Response(200, json=body) for body in (first, second, third, third)))
    async with make_client(platform, metrics=metrics) as client:
        before = await client.list_deployments()
        changed = await client.list_deployments()
        again = await client.list_deployments()
        unchanged = await client.list_deployments()
    assert [OTHER_DEPLOYMENT_ID] == [str(deployment.deployment_id) for deployment in changed]
    assert (DeploymentStatus.DEPLOYED, DeploymentStatus.SCALED_DOWN) == (before[1].status, changed[0].status)
    assert 1.0 == metrics.registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": "list_deployments"})
    assert before[0] == again[0]
    assert [id(deployment) for deployment in again] == [id(deployment) for deployment in unchanged]
    assert changed[0] is again[1]
