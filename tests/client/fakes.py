"""Test doubles for the client: a controllable clock and a scripted platform behind MockTransport."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

import httpx

from scaler.metrics import Metrics
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.retries import RetryPolicy
from scaler.simplismart.token import TokenSource

TOKEN = "tok-SECRET-7f3a9c21e5"
ORG_ID = UUID("54360212-2263-44c6-afaf-1333544854f7")
DEPLOYMENT_ID = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
OTHER_DEPLOYMENT_ID = "3bda38dc-e4be-43c2-a5eb-4d23ed4d3970"
MODEL_REPO_ID = "0caac439-5518-4569-a3db-a2d505a189f2"
BASE_URL = "https://api.test.invalid"

#: The tests' limits: no rate limit (time is fake; the limiter has tests of its own).
TEST_LIMITS = Limits(max_requests_per_second=math.inf)
#: The tests' retry policy: no jitter, so that the waits are exact.
TEST_RETRY = RetryPolicy(wait_jitter_seconds=0.0)


def limits(**fields: Any) -> Limits:
    """The tests' limits with ``fields`` changed."""
    return replace(TEST_LIMITS, **fields)


def retries(**fields: Any) -> RetryPolicy:
    """The tests' retry policy with ``fields`` changed."""
    return replace(TEST_RETRY, **fields)


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class ScriptedPlatform:
    """An httpx handler answering with the given replies in order (the last one repeats).

    A reply is a response, an exception to raise (a transport failure), or a function
    of the request. Every request is kept in ``requests``.
    """

    def __init__(self, *replies: Reply) -> None:
        assert replies, "at least one reply"
        self._replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(request.content) if request.content else None for request in self.requests]


def make_client(
    platform: Callable[[httpx.Request], httpx.Response],
    *,
    time: FakeTime | None = None,
    metrics: Metrics | None = None,
    token: TokenSource | None = None,
    **options: Any,
) -> SimplismartClient:
    """A client on a MockTransport, on fake time, with :data:`TEST_LIMITS` and :data:`TEST_RETRY`
    unless ``options`` give others (``limits=limits(...)``, ``retry=retries(...)``)."""
    time = time or FakeTime()
    settings: dict[str, Any] = {
        "base_url": BASE_URL,
        "token": token or TokenSource.static(TOKEN),
        "org_id": ORG_ID,
        "transport": httpx.MockTransport(platform),
        "metrics": metrics,
        "clock": time.clock,
        "sleep": time.sleep,
        "limits": TEST_LIMITS,
        "retry": TEST_RETRY,
    }
    settings.update(options)
    return SimplismartClient(**settings)


def deployment_json(**overrides: Any) -> dict[str, Any]:
    """One list item shaped like the contract's example."""
    item: dict[str, Any] = {
        "deployment_id": DEPLOYMENT_ID,
        "deployment_name": "whisper-v3",
        "model_repo_id": MODEL_REPO_ID,
        "model_repo_name": "whisper-v3-arabic-h100",
        "model_type": "custom",
        "accelerator_type": ["nvidia-tesla-t4"],
        "accelerator_count": 1,
        "status": "DEPLOYED",
    }
    item.update(overrides)
    return item
