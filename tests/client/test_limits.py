"""Concurrency and request-rate bounds, observed with a gated transport and fake time."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from scaler.simplismart import errors
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.ratelimit import RequestRateLimiter
from scaler.simplismart.token import TokenSource
from tests.client.fakes import DEPLOYMENT_ID, FakeTime, ScriptedPlatform, limits, make_client, retries


class GatedPlatform:
    """An async handler that holds every request until the gate opens, counting those in flight."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.served = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        self.served += 1
        return httpx.Response(200, json={"data": "Healthy", "messages": []})


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_no_more_than_max_concurrency_requests_are_in_flight() -> None:
    """25 concurrent calls with max_concurrency=3: three in flight, the rest queue, all complete."""
    platform = GatedPlatform()
    async with make_client(platform.handle, limits=limits(max_concurrency=3)) as client:
        calls = [asyncio.create_task(client.get_health(DEPLOYMENT_ID)) for _ in range(25)]
        await _settle()
        in_flight_while_gated = platform.in_flight
        platform.gate.set()
        results = await asyncio.gather(*calls)
    assert (3, 3, 25, 25) == (in_flight_while_gated, platform.most_in_flight, platform.served, len(results))


async def test_a_call_that_changes_a_deployment_goes_before_waiting_reads() -> None:
    """With one slot busy and three health reads waiting, a stop queued after them is sent first."""
    order: list[str] = []
    first_sent = asyncio.Event()
    release = asyncio.Event()

    async def platform(request: httpx.Request) -> httpx.Response:
        if not order:
            order.append("first read")
            first_sent.set()
            await release.wait()
            return httpx.Response(200, json={"data": "Healthy"})
        if request.url.path.endswith("/startstop/"):
            order.append("stop")
            return httpx.Response(200, json={"message": "Deployment stopped successfully"})
        order.append("read")
        return httpx.Response(200, json={"data": "Healthy"})

    async with make_client(platform, limits=limits(max_concurrency=1)) as client:
        calls = [asyncio.create_task(client.get_health(DEPLOYMENT_ID))]
        await first_sent.wait()
        calls += [asyncio.create_task(client.get_health(DEPLOYMENT_ID)) for _ in range(3)]
        await _settle()
        calls.append(asyncio.create_task(client.stop(DEPLOYMENT_ID)))
        await _settle()
        release.set()
        await asyncio.gather(*calls)
    assert ["first read", "stop", "read", "read", "read"] == order


async def test_a_call_waiting_to_retry_frees_its_slot(fake_time: FakeTime) -> None:
    """While one call sleeps before a retry, another call can use the only slot."""
    retry_wait_started = asyncio.Event()
    release_retry = asyncio.Event()
    order: list[str] = []

    async def sleep(seconds: float) -> None:
        retry_wait_started.set()
        await release_retry.wait()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/delete/"):
            order.append("delete")
            return httpx.Response(503) if order.count("delete") == 1 else httpx.Response(200, json={})
        order.append("list")
        return httpx.Response(200, json=[])

    async with make_client(ScriptedPlatform(handler), sleep=sleep, limits=limits(max_concurrency=1)) as client:
        deleting = asyncio.create_task(client.delete(DEPLOYMENT_ID))
        await retry_wait_started.wait()
        await client.list_deployments()
        release_retry.set()
        await deleting
    assert ["delete", "list", "delete"] == order


async def test_requests_are_spaced_by_the_rate_limit(fake_time: FakeTime) -> None:
    """At 4 requests per second, 5 back-to-back calls wait 0.25 s before each but the first."""
    platform = ScriptedPlatform(httpx.Response(200, json=[]))
    async with make_client(platform, time=fake_time, limits=limits(max_requests_per_second=4)) as client:
        for _ in range(5):
            await client.list_deployments()
    assert [0.25] * 4 == fake_time.sleeps
    assert 1001.0 == fake_time.now


async def test_concurrent_calls_share_the_rate_limit(fake_time: FakeTime) -> None:
    """10 concurrent calls at 5/s: the last is sent 1.8 s after the first, never two at once."""
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(fake_time.now)
        return httpx.Response(200, json=[])

    async with make_client(ScriptedPlatform(handler), time=fake_time, limits=limits(max_requests_per_second=5)) as client:
        await asyncio.gather(*(client.list_deployments() for _ in range(10)))
    gaps = [round(later - earlier, 9) for earlier, later in zip(sent_at, sent_at[1:], strict=False)]
    assert [0.2] * 9 == gaps


async def test_the_rate_limiter_does_not_wait_after_a_pause() -> None:
    """A request after a long quiet period goes at once; only close requests are spaced."""
    time = FakeTime()
    limiter = RequestRateLimiter(2.0, clock=time.clock, sleep=time.sleep)
    waits = [await limiter.acquire()]
    time.now += 10
    waits.append(await limiter.acquire())
    waits.append(await limiter.acquire())
    assert [0.0, 0.0, 0.5] == waits


@pytest.mark.parametrize("rate", [0, -1, math.nan])
def test_the_rate_must_be_positive(rate: float) -> None:
    """A zero, negative or NaN rate is refused."""
    with pytest.raises(ValueError, match="rate must be positive"):
        RequestRateLimiter(rate)


def test_an_unusable_ca_bundle_names_the_setting(tmp_path) -> None:
    """A CA bundle that cannot be loaded fails construction, naming SCALER_CA_BUNDLE."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    with pytest.raises(errors.ConfigurationError, match="SCALER_CA_BUNDLE"):
        SimplismartClient(base_url="https://x.invalid", token=TokenSource.static("abcdef"), org_id=None, ca_bundle=bundle)


async def test_an_answer_that_trickles_in_is_cut_off_by_the_attempt_deadline() -> None:
    """A body that starts but never finishes (no phase timeout trips) ends as a RequestTimeout."""
    never = asyncio.Event()

    async def trickle():
        yield b"["
        await never.wait()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    platform = ScriptedPlatform(handler)
    async with make_client(platform, limits=limits(attempt_deadline_seconds=0.05), retry=retries(attempts=1)) as client:
        with pytest.raises(errors.RequestTimeout) as caught:
            await client.list_deployments()
    assert "no complete answer within 0.05 s" in str(caught.value)


@pytest.mark.parametrize(
    "field", ["timeout_seconds", "attempt_deadline_seconds", "max_concurrency", "max_requests_per_second"]
)
def test_limits_refuse_a_value_that_is_not_positive(field: str) -> None:
    """Each limit must be positive: zero is refused with a ValueError naming the field."""
    with pytest.raises(ValueError, match=f"{field} must be positive"):
        Limits(**{field: 0})


def test_the_attempt_deadline_defaults_to_one_connect_plus_one_read() -> None:
    """Without an attempt deadline of its own, an attempt may take twice the phase timeout."""
    assert (14.0, 3.0) == (Limits(timeout_seconds=7).attempt_deadline, Limits(attempt_deadline_seconds=3).attempt_deadline)
