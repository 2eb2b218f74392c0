"""The size of an answer the client reads is bounded: runaway and hostile bodies never fill memory."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from scaler.metrics import Metrics
from scaler.simplismart import errors
from scaler.simplismart.limits import DEFAULT_MAX_RESPONSE_BYTES
from tests.client.fakes import DEPLOYMENT_ID, ScriptedPlatform, deployment_json, limits, make_client, retries

CHUNK = 64 * 1024


class EndlessBody:
    """A streamed body of ``total`` bytes in 64 KiB chunks that counts how much was taken from it."""

    def __init__(self, total: int, head: bytes = b"[") -> None:
        self.total = total
        self.head = head
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        first = self.head + b" " * (CHUNK - len(self.head))
        while self.sent < self.total:
            chunk = first if self.sent == 0 else b" " * CHUNK
            self.sent += len(chunk)
            yield chunk


def test_the_default_cap_is_eight_mebibytes() -> None:
    """8 MiB: room for lists three times the size of 10,000 deployments (2.8 MB), and no more."""
    assert 8 * 1024 * 1024 == DEFAULT_MAX_RESPONSE_BYTES


async def test_a_success_larger_than_the_cap_is_malformed_and_reading_stops_at_the_cap(metrics: Metrics) -> None:
    """A 10 MB answer to the list is cut after 1 MiB (the cap here): MalformedResponse, counted, the rest never read."""
    body = EndlessBody(10 * 1024 * 1024)
    platform = ScriptedPlatform(lambda request: httpx.Response(200, content=body))
    async with make_client(platform, metrics=metrics, limits=limits(max_response_bytes=1024 * 1024)) as client:
        with pytest.raises(errors.MalformedResponse) as caught:
            await client.list_deployments()
    assert "the answer is larger than 1048576 bytes; it was not read" == caught.value.message
    assert 1024 * 1024 < body.sent <= 1024 * 1024 + CHUNK
    assert 1.0 == metrics.registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": "list_deployments"})
    assert 1.0 == metrics.registry.get_sample_value(
        "scaler_api_request_errors_total", {"endpoint": "list_deployments", "reason": "malformed_response"}
    )


async def test_a_declared_length_above_the_cap_is_refused_before_reading() -> None:
    """Content-Length beyond the cap: refused at once, not one byte of the body taken."""
    body = EndlessBody(10 * 1024 * 1024)
    platform = ScriptedPlatform(
        lambda request: httpx.Response(200, headers={"Content-Length": str(body.total)}, content=body)
    )
    async with make_client(platform, limits=limits(max_response_bytes=1024 * 1024)) as client:
        with pytest.raises(errors.MalformedResponse):
            await client.get_health(DEPLOYMENT_ID)
    assert 0 == body.sent


async def test_an_error_answer_larger_than_the_cap_is_judged_by_its_status() -> None:
    """A 502 whose body is 10 MB of HTML: a ServerError without the page, after reading no more than the cap."""
    body = EndlessBody(10 * 1024 * 1024, head=b"<html>")
    platform = ScriptedPlatform(lambda request: httpx.Response(502, headers={"Content-Type": "text/html"}, content=body))
    async with make_client(platform, limits=limits(max_response_bytes=1024 * 1024), retry=retries(attempts=1)) as client:
        with pytest.raises(errors.ServerError) as caught:
            await client.get_health(DEPLOYMENT_ID)
    assert ("", 502) == (caught.value.message, caught.value.status_code)
    assert body.sent <= 1024 * 1024 + CHUNK


async def test_a_compressed_answer_is_measured_after_decompression() -> None:
    """A 10 KB gzip body that inflates to 10 MB (a decompression bomb) is cut at the cap like any other."""
    bomb = gzip.compress(b"[" + b" " * (10 * 1024 * 1024) + b"]")
    platform = ScriptedPlatform(httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=bomb))
    async with make_client(platform, limits=limits(max_response_bytes=1024 * 1024)) as client:
        with pytest.raises(errors.MalformedResponse, match="larger than 1048576 bytes"):
            await client.list_deployments()
    assert len(bomb) < 100_000


async def test_a_compressed_answer_within_the_cap_is_read() -> None:
    """gzip answers under the cap parse as usual (the body is decoded once, not twice)."""
    body = gzip.compress(json.dumps([deployment_json()]).encode())
    platform = ScriptedPlatform(httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=body))
    async with make_client(platform) as client:
        (deployment,) = await client.list_deployments()
    assert "whisper-v3" == deployment.deployment_name


async def test_an_answer_exactly_at_the_cap_is_read() -> None:
    """The cap is inclusive: a body of exactly max_response_bytes parses."""
    content = b"[]".ljust(4096)
    platform = ScriptedPlatform(httpx.Response(200, content=content))
    async with make_client(platform, limits=limits(max_response_bytes=4096)) as client:
        assert [] == await client.list_deployments()


def test_the_cap_must_be_positive() -> None:
    """A cap of 0 bytes would refuse every answer: a ValueError when the limits are built."""
    with pytest.raises(ValueError, match="max_response_bytes"):
        make_client(ScriptedPlatform(httpx.Response(200)), limits=limits(max_response_bytes=0))
