"""Retries: transient failures only, bounded in attempts and time, Retry-After honoured; time is fake."""

from __future__ import annotations

import random

import httpx
import pytest
from structlog.testing import capture_logs

from scaler.metrics import Metrics
from scaler.settings import load_settings
from scaler.simplismart import errors
from scaler.simplismart.retries import RetryPolicy
from tests.client.fakes import DEPLOYMENT_ID, FakeTime, ScriptedPlatform, make_client, retries

OK_LIST = httpx.Response(200, json=[])


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
async def test_a_4xx_is_never_retried(status: int, fake_time: FakeTime) -> None:
    """Client errors other than 429 are sent once and not waited on."""
    platform = ScriptedPlatform(httpx.Response(status, json={"error": "no"}), OK_LIST)
    async with make_client(platform, time=fake_time, retry=retries(attempts=5)) as client:
        with pytest.raises(errors.ApiStatusError) as caught:
            await client.list_deployments()
    assert (1, [], 1) == (len(platform.requests), fake_time.sleeps, caught.value.attempts)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(503, json={"message": "unavailable"}),
        httpx.Response(429, json={"detail": "throttled"}),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "502", "503", "429", "read-timeout", "connect-timeout", "connect-error"],
)
async def test_transient_failures_are_retried_up_to_the_attempt_limit(failure: object, fake_time: FakeTime) -> None:
    """5xx, 429, timeouts and connection errors: exactly the policy's attempts as requests, then the last error."""
    platform = ScriptedPlatform(failure)
    async with make_client(platform, time=fake_time, retry=retries(attempts=4)) as client:
        with pytest.raises(errors.SimplismartError) as caught:
            await client.list_deployments()
    assert (4, 3, 4) == (len(platform.requests), len(fake_time.sleeps), caught.value.attempts)
    assert caught.value.transient
    assert "after 4 attempts" in str(caught.value)


async def test_a_transient_failure_followed_by_success_returns_the_result(fake_time: FakeTime) -> None:
    """Two 503s then a 200: the call succeeds on the third request."""
    answer = httpx.Response(200, json=[{"deployment_id": DEPLOYMENT_ID, "deployment_name": "a", "status": "DEPLOYED"}])
    platform = ScriptedPlatform(httpx.Response(503), httpx.Response(503), answer)
    async with make_client(platform, time=fake_time) as client:
        deployments = await client.list_deployments()
    assert (1, 3) == (len(deployments), len(platform.requests))


async def test_backoff_doubles_from_the_initial_wait_up_to_the_maximum(fake_time: FakeTime) -> None:
    """Without jitter the waits are 0.5, 1, 2, 4, then capped at the maximum (5)."""
    platform = ScriptedPlatform(httpx.Response(500))
    policy = retries(attempts=6, wait_initial_seconds=0.5, wait_max_seconds=5.0, timeout_seconds=100)
    async with make_client(platform, time=fake_time, retry=policy) as client:
        with pytest.raises(errors.ServerError):
            await client.list_deployments()
    assert [0.5, 1.0, 2.0, 4.0, 5.0] == fake_time.sleeps


async def test_jitter_adds_at_most_its_maximum_to_each_wait(fake_time: FakeTime) -> None:
    """With jitter each wait lies in [backoff, backoff + jitter], and they are not all the bare backoff."""
    random.seed(1234)
    platform = ScriptedPlatform(httpx.Response(500))
    policy = retries(attempts=4, wait_jitter_seconds=0.5, timeout_seconds=100)
    async with make_client(platform, time=fake_time, retry=policy) as client:
        with pytest.raises(errors.ServerError):
            await client.list_deployments()
    bases = [0.5, 1.0, 2.0]
    assert all(base <= wait <= base + 0.5 for base, wait in zip(bases, fake_time.sleeps, strict=True))
    assert bases != fake_time.sleeps


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_the_wait_used(status: int, fake_time: FakeTime) -> None:
    """A Retry-After of 7 seconds makes the next attempt wait exactly 7 seconds."""
    platform = ScriptedPlatform(httpx.Response(status, headers={"Retry-After": "7"}), OK_LIST)
    async with make_client(platform, time=fake_time) as client:
        await client.list_deployments()
    assert ([7.0], 2) == (fake_time.sleeps, len(platform.requests))


async def test_retry_after_is_kept_on_the_rate_limited_error(fake_time: FakeTime) -> None:
    """When attempts run out, the RateLimited error still says how long the platform asked to wait."""
    platform = ScriptedPlatform(httpx.Response(429, headers={"Retry-After": "3"}, json={"detail": "slow down"}))
    async with make_client(platform, time=fake_time, retry=retries(attempts=2)) as client:
        with pytest.raises(errors.RateLimited) as caught:
            await client.list_deployments()
    assert 3.0 == caught.value.retry_after
    assert "retry after 3 s" in str(caught.value)


async def test_retry_after_is_capped_by_the_remaining_time_budget(fake_time: FakeTime) -> None:
    """Retry-After: 120 with a 30 s budget waits 30 s, tries once more, and gives up."""
    platform = ScriptedPlatform(httpx.Response(429, headers={"Retry-After": "120"}))
    async with make_client(platform, time=fake_time, retry=retries(attempts=10, timeout_seconds=30)) as client:
        with pytest.raises(errors.RateLimited):
            await client.list_deployments()
    assert ([30.0], 2) == (fake_time.sleeps, len(platform.requests))


async def test_the_time_budget_bounds_retries_before_the_attempt_limit(fake_time: FakeTime) -> None:
    """With a 3 s budget the waits 0.5 + 1 + 1.5 use it up: 4 requests, not 10."""
    platform = ScriptedPlatform(httpx.Response(500))
    async with make_client(platform, time=fake_time, retry=retries(attempts=10, timeout_seconds=3)) as client:
        with pytest.raises(errors.ServerError):
            await client.list_deployments()
    assert ([0.5, 1.0, 1.5], 4) == (fake_time.sleeps, len(platform.requests))


async def test_slow_failed_attempts_count_against_the_budget(fake_time: FakeTime) -> None:
    """Time spent waiting for answers counts too: a 5 s timeout against a 4 s budget allows no retry."""

    def slow_timeout(request: httpx.Request) -> httpx.Response:
        fake_time.now += 5.0
        raise httpx.ReadTimeout("read timed out", request=request)

    platform = ScriptedPlatform(slow_timeout)
    async with make_client(platform, time=fake_time, retry=retries(attempts=4, timeout_seconds=4)) as client:
        with pytest.raises(errors.RequestTimeout):
            await client.list_deployments()
    assert (1, []) == (len(platform.requests), fake_time.sleeps)


async def test_each_attempt_has_its_own_request_id_and_the_error_names_the_last(fake_time: FakeTime) -> None:
    """Retried attempts are separate requests: distinct X-Request-Ids, the last one on the error."""
    platform = ScriptedPlatform(httpx.Response(502))
    async with make_client(platform, time=fake_time, retry=retries(attempts=3)) as client:
        with pytest.raises(errors.ServerError) as caught:
            await client.get_health(DEPLOYMENT_ID)
    sent = [request.headers["x-request-id"] for request in platform.requests]
    assert (3, sent[-1]) == (len(set(sent)), caught.value.request_id)


async def test_a_retried_mutation_resends_the_same_body(fake_time: FakeTime) -> None:
    """A start that failed with 500 is sent again unchanged (start/stop/scale/delete are idempotent)."""
    platform = ScriptedPlatform(httpx.Response(500, json={"error": "Failed to start"}), httpx.Response(200, json={}))
    async with make_client(platform, time=fake_time) as client:
        await client.start(DEPLOYMENT_ID)
    assert 2 == len(platform.bodies)
    assert platform.bodies[0] == platform.bodies[1]


async def test_retries_are_counted_and_logged(fake_time: FakeTime, metrics: Metrics) -> None:
    """Each retry increments scaler_api_retries_total and logs api_retry with its wait."""
    platform = ScriptedPlatform(httpx.Response(503), httpx.Response(503), OK_LIST)
    async with make_client(platform, time=fake_time, metrics=metrics) as client:
        with capture_logs() as logs:
            await client.list_deployments()
    retried = [entry for entry in logs if entry["event"] == "api_retry"]
    assert [(1, 0.5, "server_error"), (2, 1.0, "server_error")] == [
        (entry["attempt"], entry["wait_seconds"], entry["reason"]) for entry in retried
    ]
    assert 2.0 == metrics.registry.get_sample_value("scaler_api_retries_total", {"endpoint": "list_deployments"})
    assert 0.0 == metrics.registry.get_sample_value(
        "scaler_api_request_errors_total", {"endpoint": "list_deployments", "reason": "server_error"}
    )


@pytest.mark.parametrize(("field", "value"), [("attempts", 0), ("timeout_seconds", 0), ("wait_initial_seconds", -1)])
def test_a_retry_policy_refuses_an_impossible_value(field: str, value: float) -> None:
    """No attempts, no time or a negative wait is refused with a ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: value})


def test_the_retry_policy_of_the_settings() -> None:
    """SCALER_API_RETRY_ATTEMPTS and SCALER_API_RETRY_TIMEOUT_SECONDS make the policy; the waits keep their defaults."""
    settings = load_settings(api_retry_attempts=7, api_retry_timeout_seconds=12)
    assert RetryPolicy(attempts=7, timeout_seconds=12.0) == RetryPolicy.from_settings(settings)
