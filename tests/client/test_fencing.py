"""The fence of mutating calls: asked before every attempt, retries included; reads are never fenced."""

from __future__ import annotations

import httpx
import pytest

from scaler.metrics import Metrics
from scaler.simplismart import errors
from tests.client.fakes import DEPLOYMENT_ID, FakeTime, ScriptedPlatform, make_client, retries


async def test_a_fenced_mutation_is_not_sent(fake_time: FakeTime, metrics: Metrics) -> None:
    """may_send false: stop raises NotSent, nothing reaches the platform, no API error is counted."""
    platform = ScriptedPlatform(httpx.Response(200, json={}))
    async with make_client(platform, time=fake_time, metrics=metrics, may_send=lambda: False) as client:
        with pytest.raises(errors.NotSent) as caught:
            await client.stop(DEPLOYMENT_ID)
    assert ([], f"stop of deployment {DEPLOYMENT_ID} not sent") == (
        platform.requests,
        str(caught.value).split(":")[0],
    )
    counted = metrics.registry.get_sample_value(
        "scaler_api_request_errors_total", {"endpoint": "startstop", "reason": "other"}
    )
    assert 0.0 == counted


async def test_a_retry_is_fenced_too(fake_time: FakeTime) -> None:
    """Leadership lost between a failed attempt and its retry: the retry is not sent."""
    allowed = [True, False]
    platform = ScriptedPlatform(httpx.Response(503), httpx.Response(200, json={}))
    async with make_client(platform, time=fake_time, may_send=lambda: allowed.pop(0), retry=retries(attempts=4)) as client:
        with pytest.raises(errors.NotSent):
            await client.update_replicas(DEPLOYMENT_ID, 1, 2)
    assert 1 == len(platform.requests)


async def test_reads_are_never_fenced(fake_time: FakeTime) -> None:
    """A standby still lists deployments: the fence applies to mutating calls only."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform, time=fake_time, may_send=lambda: False) as client:
        assert [] == await client.list_deployments()
    assert 1 == len(platform.requests)
