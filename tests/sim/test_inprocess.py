"""PlatformTransport answers every request as the whole app behind httpx.ASGITransport does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from scaler.sim.app import DroppedConnection, create_app
from scaler.sim.clock import ManualClock
from scaler.sim.inprocess import PlatformTransport
from scaler.sim.state import SimState
from tests.sim.conftest import (
    AUTH,
    DEFAULT_SEED,
    LIST_PATH,
    ORG,
    UNKNOWN_ID,
    WHISPER,
    SleepRecorder,
    delete_path,
    health_path,
    replicas_path,
    startstop_path,
)

#: One request of each kind the platform surface answers: each endpoint, a refused token, an unknown
#: path and deployment, a wrong method, a body that is not JSON, a query, and the control API.
REQUESTS = [
    ("GET", LIST_PATH, {}, None),
    ("GET", LIST_PATH + "?model_repo_id=0caac439-5518-4569-a3db-a2d505a189f2", {}, None),
    ("GET", health_path(WHISPER), {}, None),
    ("GET", health_path(UNKNOWN_ID), {}, None),
    ("GET", "/deployments/model-deployment/fetch-status//", {}, None),
    ("POST", replicas_path(WHISPER), {}, b'{"min_replicas": 1, "max_replicas": 3}'),
    ("POST", replicas_path(WHISPER), {}, b"{not json"),
    ("POST", startstop_path(WHISPER), {}, b'{"action": "stop", "org": "%s"}' % ORG.encode()),
    ("GET", startstop_path(WHISPER), {}, None),
    ("DELETE", delete_path(WHISPER), {}, None),
    ("GET", "/no/such/path/", {}, None),
    ("GET", LIST_PATH, {"Authorization": "Bearer wrong-token"}, None),
    ("GET", "/_sim/requests", {}, None),
]


def simulator() -> SimState:
    return SimState.from_seed(DEFAULT_SEED, clock=ManualClock(), sleep=SleepRecorder())


@pytest.fixture
async def pair() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two clients of two identical simulators: one through the whole app, one through PlatformTransport."""
    app_transport = httpx.ASGITransport(app=create_app(simulator()))
    async with (
        httpx.AsyncClient(transport=app_transport, base_url="http://sim", headers=AUTH) as through_app,
        httpx.AsyncClient(transport=PlatformTransport(simulator()), base_url="http://sim", headers=AUTH) as direct,
    ):
        yield through_app, direct


async def test_every_answer_is_the_apps(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    """Status, headers and body of each request, and the request log after them, are those of the app."""
    through_app, direct = pair
    for number, (method, path, headers, body) in enumerate(REQUESTS):
        sent = {**headers, "X-Request-Id": f"request-{number}"}
        expected = await through_app.request(method, path, headers=sent, content=body)
        actual = await direct.request(method, path, headers=sent, content=body)
        assert (expected.status_code, expected.headers.multi_items(), expected.content) == (
            actual.status_code,
            actual.headers.multi_items(),
            actual.content,
        ), (method, path)
    assert (await through_app.get("/_sim/requests")).json() == (await direct.get("/_sim/requests")).json()


async def test_the_control_api_goes_through_the_app(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    """A fault injected through /_sim/ applies to the next platform request sent through the transport."""
    _, direct = pair
    response = await direct.post("/_sim/faults/malformed", json={"endpoint": "get_health", "kind": "drop"})
    assert 200 == response.status_code
    with pytest.raises(DroppedConnection):
        await direct.get(health_path(WHISPER))
    assert 200 == (await direct.get(health_path(WHISPER))).status_code
