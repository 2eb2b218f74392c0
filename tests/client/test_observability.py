"""What every request leaves behind: a duration sample and an api_request log event."""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from scaler.metrics import Metrics
from scaler.simplismart import errors
from tests.client.fakes import DEPLOYMENT_ID, FakeTime, ScriptedPlatform, make_client


def _observations(metrics: Metrics, endpoint: str, method: str, status: str) -> float | None:
    return metrics.registry.get_sample_value(
        "scaler_api_request_duration_seconds_count", {"endpoint": endpoint, "method": method, "status_code": status}
    )


@pytest.mark.parametrize(
    ("call", "endpoint", "method"),
    [
        (lambda c: c.list_deployments(), "list_deployments", "GET"),
        (lambda c: c.get_health(DEPLOYMENT_ID), "get_health", "GET"),
        (lambda c: c.update_replicas(DEPLOYMENT_ID, 1, 2), "update_replicas", "POST"),
        (lambda c: c.start(DEPLOYMENT_ID), "startstop", "POST"),
        (lambda c: c.stop(DEPLOYMENT_ID), "startstop", "POST"),
        (lambda c: c.delete(DEPLOYMENT_ID), "delete", "DELETE"),
    ],
)
async def test_each_request_is_observed_under_its_endpoint_name(call, endpoint: str, method: str, metrics: Metrics) -> None:
    """The histogram is labelled by endpoint name (never a raw path), method and status code."""
    body = [] if endpoint == "list_deployments" else {"data": "Healthy"}
    async with make_client(ScriptedPlatform(httpx.Response(200, json=body)), metrics=metrics) as client:
        await call(client)
    assert 1.0 == _observations(metrics, endpoint, method, "200")


async def test_every_attempt_is_observed_with_its_outcome(fake_time: FakeTime, metrics: Metrics) -> None:
    """A timeout, a 503 and a 200 give one sample each, labelled timeout, 503 and 200."""
    platform = ScriptedPlatform(httpx.ReadTimeout("slow"), httpx.Response(503), httpx.Response(200, json=[]))
    async with make_client(platform, time=fake_time, metrics=metrics) as client:
        await client.list_deployments()
    samples = [_observations(metrics, "list_deployments", "GET", status) for status in ("timeout", "503", "200")]
    assert [1.0, 1.0, 1.0] == samples


async def test_the_duration_is_measured_on_the_clock(fake_time: FakeTime, metrics: Metrics) -> None:
    """A request that takes 0.3 s on the clock is observed as 0.3 s."""

    def slow(request: httpx.Request) -> httpx.Response:
        fake_time.now += 0.3
        return httpx.Response(200, json=[])

    async with make_client(ScriptedPlatform(slow), time=fake_time, metrics=metrics) as client:
        await client.list_deployments()
    total = metrics.registry.get_sample_value(
        "scaler_api_request_duration_seconds_sum",
        {"endpoint": "list_deployments", "method": "GET", "status_code": "200"},
    )
    assert 0.3 == pytest.approx(total)


async def test_a_successful_request_logs_api_request_at_debug() -> None:
    """The event names endpoint, method, status, duration, request id and deployment."""
    platform = ScriptedPlatform(httpx.Response(200, json={"data": "Healthy"}))
    async with make_client(platform) as client:
        with capture_logs() as logs:
            await client.get_health(DEPLOYMENT_ID)
    (entry,) = [entry for entry in logs if entry["event"] == "api_request"]
    expected = {
        "event": "api_request",
        "log_level": "debug",
        "endpoint": "get_health",
        "method": "GET",
        "status": "200",
        "duration_seconds": 0.0,
        "request_id": platform.requests[0].headers["x-request-id"],
        "deployment_id": DEPLOYMENT_ID,
    }
    assert expected == entry


async def test_a_failed_request_logs_a_warning_with_reason_and_message() -> None:
    """A refused request is a warning carrying the reason and the platform's message."""
    platform = ScriptedPlatform(httpx.Response(400, json={"error": "Insufficient GPU quota for requested replicas"}))
    async with make_client(platform) as client:
        with capture_logs() as logs:
            with pytest.raises(errors.QuotaExceeded):
                await client.update_replicas(DEPLOYMENT_ID, 2, 8)
    (entry,) = [entry for entry in logs if entry["event"] == "api_request"]
    assert ("warning", "400", "quota", "Insufficient GPU quota for requested replicas") == (
        entry["log_level"],
        entry["status"],
        entry["reason"],
        entry["message"],
    )


async def test_without_metrics_nothing_is_recorded_and_calls_work() -> None:
    """metrics=None is allowed: failures still raise their typed error."""
    async with make_client(ScriptedPlatform(httpx.Response(404, json={"error": "Deployment not found"}))) as client:
        with pytest.raises(errors.NotFound):
            await client.delete(DEPLOYMENT_ID)


async def test_the_api_series_exist_from_the_clients_start(metrics: Metrics) -> None:
    """A client built on the metrics creates every endpoint's retry, malformed-answer and error-by-reason
    series at zero, before any call."""
    async with make_client(ScriptedPlatform(httpx.Response(200, json=[])), metrics=metrics):
        pass
    registry = metrics.registry
    values = {
        registry.get_sample_value("scaler_api_request_errors_total", {"endpoint": "startstop", "reason": "wallet_blocked"}),
        registry.get_sample_value("scaler_api_retries_total", {"endpoint": "get_health"}),
        registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": "delete"}),
    }
    assert {0.0} == values
