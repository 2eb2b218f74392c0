"""The request log: what is recorded, filtering, clearing and its bound."""

from __future__ import annotations

import httpx
import pytest

from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.requestlog import LoggedRequest, RequestLog
from scaler.sim.state import SimState
from tests.sim.conftest import AUTH, LIST_PATH, ORG, WHISPER, WHISPER_REPO, health_path, startstop_path


async def test_a_platform_request_is_logged_with_everything(client: httpx.AsyncClient) -> None:
    """Method, path, query, parsed body, status, request id, timestamp, endpoint and deployment are logged."""
    await client.post(startstop_path(WHISPER), json={"action": "stop", "org": ORG}, headers={"X-Request-Id": "r-1"})
    entry = (await client.get("/_sim/requests")).json()["requests"][-1]
    assert {
        "method": "POST",
        "path": f"/deployments/{WHISPER}/startstop/",
        "query": {},
        "body": {"action": "stop", "org": ORG},
        "status": 200,
        "request_id": "r-1",
        "timestamp": "2025-01-06T09:00:00+00:00",
        "endpoint": "startstop",
        "deployment_id": WHISPER,
        "fault": None,
    } == entry


async def test_query_is_logged(client: httpx.AsyncClient) -> None:
    """The query parameters of a list are logged."""
    await client.get(LIST_PATH, params={"model_repo_id": WHISPER_REPO})
    assert {"model_repo_id": WHISPER_REPO} == (await client.get("/_sim/requests")).json()["requests"][-1]["query"]


async def test_refused_requests_are_logged_too(client: httpx.AsyncClient) -> None:
    """A 401 and a 404 on an unknown path are logged (the endpoint of the latter is null)."""
    await client.get(LIST_PATH, headers={"Authorization": "Bearer nope"})
    await client.get("/deployments/list/model")
    entries = (await client.get("/_sim/requests")).json()["requests"]
    assert [(401, "list_deployments"), (404, None)] == [(e["status"], e["endpoint"]) for e in entries]


async def test_control_calls_are_not_logged(client: httpx.AsyncClient) -> None:
    """Calls to /_sim/ never appear in the log."""
    await client.get("/_sim/")
    await client.put("/_sim/wallet", json={"blocked": False})
    assert [] == (await client.get("/_sim/requests")).json()["requests"]


async def test_log_filters_by_endpoint_deployment_and_limit(client: httpx.AsyncClient) -> None:
    """?endpoint=, ?deployment_id= and ?limit= select entries."""
    await client.get(LIST_PATH)
    for _ in range(3):
        await client.get(health_path(WHISPER))
    by_endpoint = (await client.get("/_sim/requests", params={"endpoint": "get_health"})).json()["requests"]
    by_deployment = (await client.get("/_sim/requests", params={"deployment_id": WHISPER.upper()})).json()["requests"]
    limited = (await client.get("/_sim/requests", params={"limit": 1})).json()["requests"]
    assert (3, 3, 1) == (len(by_endpoint), len(by_deployment), len(limited))


async def test_log_refuses_an_unknown_endpoint_filter(client: httpx.AsyncClient) -> None:
    """An endpoint name outside the five answers 400."""
    assert 400 == (await client.get("/_sim/requests", params={"endpoint": "health"})).status_code


async def test_log_is_cleared(client: httpx.AsyncClient) -> None:
    """DELETE /_sim/requests empties the log."""
    await client.get(LIST_PATH)
    await client.delete("/_sim/requests")
    assert (0, []) == (
        (await client.get("/_sim/requests")).json()["total"],
        (await client.get("/_sim/requests")).json()["requests"],
    )


async def test_log_keeps_only_the_most_recent_entries() -> None:
    """With a limit of 3, five requests keep the last three and count two dropped."""
    state = SimState(clock=ManualClock(), request_log_limit=3)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(state)), base_url="http://sim", headers=AUTH
    ) as http:
        for index in range(5):
            await http.get(LIST_PATH, headers={"X-Request-Id": f"r{index}"})
        log = (await http.get("/_sim/requests")).json()
    assert (5, 3, 2, ["r2", "r3", "r4"]) == (
        log["total"],
        log["kept"],
        log["dropped"],
        [e["request_id"] for e in log["requests"]],
    )


def test_request_log_needs_a_positive_limit() -> None:
    """A limit below 1 is refused."""
    with pytest.raises(ValueError, match="at least 1"):
        RequestLog(0)


async def test_unparseable_body_is_logged_as_text(client: httpx.AsyncClient) -> None:
    """A body that is not JSON is logged as its text."""
    await client.post(startstop_path(WHISPER), content=b"action=stop")
    assert "action=stop" == (await client.get("/_sim/requests")).json()["requests"][-1]["body"]


async def test_control_path_without_trailing_slash_is_not_logged(client: httpx.AsyncClient) -> None:
    """/_sim without its slash is not a platform request: 404, and not in the log."""
    assert 404 == (await client.get("/_sim")).status_code
    assert [] == (await client.get("/_sim/requests")).json()["requests"]


def test_latest_gives_the_last_entries_oldest_first() -> None:
    """latest(n): the n most recent entries in the order they came, no more than the log holds."""
    log = RequestLog(3)
    for number in range(5):
        log.record(LoggedRequest("GET", f"/{number}", {}, None, 200, str(number), "t", None, None, None))
    assert ["/3", "/4"] == [entry.path for entry in log.latest(2)]
    assert ["/2", "/3", "/4"] == [entry.path for entry in log.latest(10)]
    assert [] == log.latest(0)
