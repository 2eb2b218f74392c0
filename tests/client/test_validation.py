"""Bad arguments raise ClientValidationError before any request is sent."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.metrics import Metrics
from scaler.simplismart.errors import ClientValidationError
from tests.client.fakes import DEPLOYMENT_ID, ScriptedPlatform, make_client


@pytest.mark.parametrize(
    ("min_replicas", "max_replicas", "problem"),
    [
        (-1, 2, "min_replicas: Input should be greater than or equal to 0 (got -1)"),
        (0, 0, "max_replicas: Input should be greater than or equal to 1 (got 0)"),
        (3, 2, "min_replicas (3) must not exceed max_replicas (2)"),
        (True, 2, "min_replicas: Input should be a valid integer (got True)"),
        (1, 2.0, "max_replicas: Input should be a valid integer (got 2.0)"),
        ("1", 2, "min_replicas: Input should be a valid integer (got '1')"),
    ],
)
async def test_replica_bounds_are_checked_before_sending(
    min_replicas: Any, max_replicas: Any, problem: str, metrics: Metrics
) -> None:
    """min >= 0, max >= 1, min <= max, integers only (not bools): else no request, a clear message."""
    platform = ScriptedPlatform(httpx.Response(200, json={}))
    async with make_client(platform, metrics=metrics) as client:
        with pytest.raises(ClientValidationError) as caught:
            await client.update_replicas(DEPLOYMENT_ID, min_replicas, max_replicas)
    assert [] == platform.requests
    assert problem == caught.value.message
    assert 0.0 == metrics.registry.get_sample_value(
        "scaler_api_request_errors_total", {"endpoint": "update_replicas", "reason": "invalid_request"}
    )


@pytest.mark.parametrize("bounds", [(0, 1), (2, 2), (0, 100)])
async def test_boundary_replica_bounds_are_sent(bounds: tuple[int, int]) -> None:
    """The edges of the rules (min 0, min == max) are valid."""
    platform = ScriptedPlatform(httpx.Response(200, json={}))
    async with make_client(platform) as client:
        await client.update_replicas(DEPLOYMENT_ID, *bounds)
    assert 1 == len(platform.requests)


@pytest.mark.parametrize("bad_id", ["", "abc", "1e99a854-26de-4c19-b6b6", 42, None, True, "../etc/passwd"])
@pytest.mark.parametrize("method", ["get_health", "start", "stop", "delete", "update_replicas"])
async def test_deployment_ids_must_be_uuids(method: str, bad_id: Any) -> None:
    """Every per-deployment call rejects a non-UUID id without sending anything."""
    platform = ScriptedPlatform(httpx.Response(200, json={}))
    async with make_client(platform) as client:
        call = getattr(client, method)
        with pytest.raises(ClientValidationError) as caught:
            await (call(bad_id, 1, 2) if method == "update_replicas" else call(bad_id))
    assert [] == platform.requests
    assert "deployment id must be a UUID" in caught.value.message


async def test_uuid_objects_and_uppercase_ids_are_canonicalised() -> None:
    """A UUID object or an upper-case id is sent in canonical lower-case form."""
    platform = ScriptedPlatform(httpx.Response(200, json={"message": "ok"}))
    async with make_client(platform) as client:
        await client.delete(UUID(DEPLOYMENT_ID))
        await client.delete(DEPLOYMENT_ID.upper())
    assert [f"/deployments/{DEPLOYMENT_ID}/delete/"] * 2 == [r.url.path for r in platform.requests]


async def test_model_repo_id_must_be_a_uuid() -> None:
    """list_deployments(model_repo_id=...) rejects a non-UUID filter without sending anything."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform) as client:
        with pytest.raises(ClientValidationError) as caught:
            await client.list_deployments(model_repo_id="whisper")
    assert ([], "model_repo_id must be a UUID, got 'whisper'") == (platform.requests, caught.value.message)


@pytest.mark.parametrize("action", ["start", "stop"])
async def test_start_and_stop_need_the_org_id(action: str) -> None:
    """Without an organization id, start/stop send nothing and name SCALER_ORG_ID."""
    platform = ScriptedPlatform(httpx.Response(200, json={}))
    async with make_client(platform, org_id=None) as client:
        with pytest.raises(ClientValidationError) as caught:
            await getattr(client, action)(DEPLOYMENT_ID)
    assert [] == platform.requests
    assert f"{action} of deployment {DEPLOYMENT_ID} not sent: the organization is unknown: set SCALER_ORG_ID to its UUID" == str(
        caught.value
    )


async def test_validation_errors_are_not_transient() -> None:
    """A caller's retry logic must not retry a bad argument."""
    async with make_client(ScriptedPlatform(httpx.Response(200, json={}))) as client:
        with pytest.raises(ClientValidationError) as caught:
            await client.update_replicas(DEPLOYMENT_ID, 5, 1)
    assert (False, "invalid_request") == (caught.value.transient, caught.value.reason)


@settings(max_examples=150, deadline=None)
@given(min_replicas=st.integers(-3, 12), max_replicas=st.integers(-3, 12))
def test_a_request_is_sent_exactly_when_the_documented_rules_hold(min_replicas: int, max_replicas: int) -> None:
    """For any pair of integers: valid (0 <= min <= max, max >= 1) -> one request with that body; else none."""
    valid = 0 <= min_replicas <= max_replicas and max_replicas >= 1
    platform = ScriptedPlatform(httpx.Response(200, json={}))

    async def scale() -> bool:
        async with make_client(platform) as client:
            try:
                await client.update_replicas(DEPLOYMENT_ID, min_replicas, max_replicas)
            except ClientValidationError:
                return False
            return True

    sent = asyncio.run(scale())
    assert (valid, valid) == (sent, bool(platform.requests))
    if valid:
        assert [{"min_replicas": min_replicas, "max_replicas": max_replicas}] == platform.bodies
