"""Injected faults: latency, error rates, failing the next N requests, and malformed answers."""

from __future__ import annotations

import json

import httpx
import pytest

from scaler.sim.app import DroppedConnection, create_app
from scaler.sim.state import SimState
from tests.sim.conftest import LIST_PATH, ORG, WHISPER, SleepRecorder, health_path, listed_status, startstop_path


async def test_latency_sleeps_fixed_plus_jitter(client: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    """Latency holds each request fixed_ms plus a draw in [0, jitter_ms] (asked of the injected sleep)."""
    await client.put("/_sim/faults/latency", json={"fixed_ms": 200, "jitter_ms": 50})
    for _ in range(20):
        await client.get(LIST_PATH)
    assert 20 == len(sleeps.calls)
    assert all(0.2 <= seconds <= 0.25 for seconds in sleeps.calls)
    assert len(set(sleeps.calls)) > 1


async def test_latency_jitter_is_repeatable_with_the_same_rng_seed(clock, sleeps: SleepRecorder) -> None:
    """Two simulators with the same rng_seed draw the same jitter."""
    draws = []
    for _ in range(2):
        recorder = SleepRecorder()
        app = create_app(SimState(clock=clock, sleep=recorder, rng_seed=7))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
            await http.put("/_sim/faults/latency", json={"fixed_ms": 0, "jitter_ms": 100})
            for _ in range(5):
                await http.get(LIST_PATH, headers={"Authorization": "Bearer sim-token"})
        draws.append(recorder.calls)
    assert draws[0] == draws[1]


async def test_latency_restricted_to_endpoints(client: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    """Latency with endpoints only delays those endpoints."""
    await client.put("/_sim/faults/latency", json={"fixed_ms": 100, "endpoints": ["get_health"]})
    await client.get(LIST_PATH)
    await client.get(health_path(WHISPER))
    assert [0.1] == sleeps.calls


async def test_latency_zero_removes_it(client: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    """fixed_ms 0 and jitter_ms 0 remove the latency."""
    await client.put("/_sim/faults/latency", json={"fixed_ms": 100})
    await client.put("/_sim/faults/latency", json={"fixed_ms": 0})
    await client.get(LIST_PATH)
    assert [] == sleeps.calls


async def test_error_rate_one_fails_every_request_without_handling_it(client: httpx.AsyncClient) -> None:
    """rate 1 with 503: every request answers 503 and nothing changes."""
    await client.put("/_sim/faults/errors", json={"rate": 1, "status": 503})
    response = await client.post(startstop_path(WHISPER), json={"action": "stop", "org": ORG})
    assert (503, {"error": "Service Unavailable"}) == (response.status_code, response.json())
    await client.delete("/_sim/faults")
    assert "DEPLOYED" == await listed_status(client, WHISPER)


async def test_error_rate_fails_about_that_share(client: httpx.AsyncClient) -> None:
    """rate 0.3 fails roughly 30% of 400 requests (seeded, so the same share every run)."""
    await client.put("/_sim/faults/errors", json={"rate": 0.3, "status": 500})
    statuses = [(await client.get(LIST_PATH)).status_code for _ in range(400)]
    failed = statuses.count(500)
    assert 80 < failed < 160
    assert {200, 500} == set(statuses)


async def test_error_rate_restricted_to_endpoints(client: httpx.AsyncClient) -> None:
    """An error rate with endpoints leaves the others alone."""
    await client.put("/_sim/faults/errors", json={"rate": 1, "status": 500, "endpoints": ["startstop"]})
    assert 200 == (await client.get(LIST_PATH)).status_code


async def test_error_with_retry_after_header_and_body(client: httpx.AsyncClient) -> None:
    """An injected 429 can carry Retry-After and a body of one's choosing."""
    await client.put(
        "/_sim/faults/errors",
        json={"rate": 1, "status": 429, "headers": {"Retry-After": "3"}, "body": {"detail": "Request was throttled."}},
    )
    response = await client.get(LIST_PATH)
    assert (429, "3", {"detail": "Request was throttled."}) == (
        response.status_code,
        response.headers["retry-after"],
        response.json(),
    )


async def test_fail_next_fails_exactly_n_requests_of_the_endpoint(client: httpx.AsyncClient) -> None:
    """fail-next 2 on get_health: two 502s there, then normal answers; other endpoints unaffected."""
    await client.post("/_sim/faults/fail-next", json={"endpoint": "get_health", "count": 2, "status": 502})
    assert 200 == (await client.get(LIST_PATH)).status_code
    statuses = [(await client.get(health_path(WHISPER))).status_code for _ in range(3)]
    assert [502, 502, 200] == statuses


async def test_fail_next_with_a_text_body(client: httpx.AsyncClient) -> None:
    """A string body is sent as plain text."""
    await client.post("/_sim/faults/fail-next", json={"endpoint": "list_deployments", "status": 500, "body": "boom"})
    response = await client.get(LIST_PATH)
    assert (500, "boom", "text/plain") == (response.status_code, response.text, response.headers["content-type"])


async def test_fail_next_without_endpoint_applies_to_any(client: httpx.AsyncClient) -> None:
    """fail-next without endpoint fails the next request, whichever endpoint."""
    await client.post("/_sim/faults/fail-next", json={"status": 500})
    assert 500 == (await client.get(health_path(WHISPER))).status_code
    assert 200 == (await client.get(LIST_PATH)).status_code


async def test_failures_are_logged_with_their_fault(client: httpx.AsyncClient) -> None:
    """The request log marks injected failures."""
    await client.post("/_sim/faults/fail-next", json={"endpoint": "list_deployments", "status": 500})
    await client.get(LIST_PATH)
    entry = (await client.get("/_sim/requests")).json()["requests"][-1]
    assert (500, "fail_next") == (entry["status"], entry["fault"])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sim/faults/latency", {"fixed_ms": -1}),
        ("/_sim/faults/errors", {"rate": 1.5, "status": 500}),
        ("/_sim/faults/errors", {"rate": 0.5}),
        ("/_sim/faults/errors", {"rate": 0.5, "status": 200}),
        ("/_sim/faults/fail-next", {"endpoint": "health", "status": 500}),
        ("/_sim/faults/fail-next", {"status": 500, "count": 0}),
        ("/_sim/faults/malformed", {"kind": "garbage"}),
        ("/_sim/faults/malformed", {"kind": "large", "size_bytes": 0}),
        ("/_sim/faults/malformed", {"kind": "slow_drip", "bytes_per_second": 0}),
        ("/_sim/faults/latency", {"fixed_ms": 1, "endpoints": ["nope"]}),
    ],
)
async def test_invalid_fault_descriptions_answer_400(client: httpx.AsyncClient, path: str, body: dict) -> None:
    """A malformed fault is refused with a message naming the field."""
    method = "PUT" if path.endswith(("latency", "errors")) else "POST"
    response = await client.request(method, path, json=body)
    assert 400 == response.status_code
    assert ":" in response.json()["error"]


async def test_faults_are_listed_and_cleared(client: httpx.AsyncClient) -> None:
    """GET /_sim/faults shows the installed faults; DELETE removes them all."""
    await client.put("/_sim/faults/latency", json={"fixed_ms": 5})
    await client.post("/_sim/faults/malformed", json={"kind": "html", "endpoint": "delete", "count": 2})
    shown = (await client.get("/_sim/faults")).json()
    assert (5.0, "html", 2) == (
        shown["latency"]["fixed_ms"],
        shown["malformed"][0]["kind"],
        shown["malformed"][0]["remaining"],
    )
    cleared = (await client.delete("/_sim/faults")).json()
    assert {"latency": None, "error_rate": None, "fail_next": [], "malformed": []} == cleared


# --- Malformed answers -------------------------------------------------------------------


async def malformed(client: httpx.AsyncClient, endpoint: str, kind: str, **extra: object) -> None:
    response = await client.post("/_sim/faults/malformed", json={"endpoint": endpoint, "kind": kind, **extra})
    assert 200 == response.status_code


async def test_non_json_answer(client: httpx.AsyncClient) -> None:
    """non_json: a 200 whose body is a proxy's plain text, not JSON."""
    await malformed(client, "list_deployments", "non_json")
    response = await client.get(LIST_PATH)
    assert (200, "text/plain") == (response.status_code, response.headers["content-type"])
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_html_error_page(client: httpx.AsyncClient) -> None:
    """html: a 502 nginx error page."""
    await malformed(client, "get_health", "html")
    response = await client.get(health_path(WHISPER))
    assert (502, "text/html") == (response.status_code, response.headers["content-type"])
    assert "<h1>502 Bad Gateway</h1>" in response.text


async def test_malformed_applies_to_the_next_n_only(client: httpx.AsyncClient) -> None:
    """count 2: two damaged answers, then genuine ones."""
    await malformed(client, "get_health", "html", count=2)
    statuses = [(await client.get(health_path(WHISPER))).status_code for _ in range(3)]
    assert [502, 502, 200] == statuses


async def test_missing_fields_in_list_items(client: httpx.AsyncClient) -> None:
    """missing_fields on the list: items without deployment_id, status and the other required fields."""
    await malformed(client, "list_deployments", "missing_fields")
    items = (await client.get(LIST_PATH)).json()
    assert 13 == len(items)
    assert all("deployment_id" not in item and "status" not in item for item in items)
    assert all("model_repo_name" in item for item in items)


async def test_missing_fields_in_health(client: httpx.AsyncClient) -> None:
    """missing_fields on fetch-status: no data, messages or pods."""
    await malformed(client, "get_health", "missing_fields")
    assert {} == (await client.get(health_path(WHISPER))).json()


async def test_wrong_types_in_list_items(client: httpx.AsyncClient) -> None:
    """wrong_types on the list: strings become numbers, numbers strings, lists strings."""
    await malformed(client, "list_deployments", "wrong_types")
    item = (await client.get(LIST_PATH)).json()[0]
    assert (12345, "three", "not-a-list", 12345) == (
        item["deployment_id"],
        item["accelerator_count"],
        item["accelerator_type"],
        item["status"],
    )


async def test_wrong_types_in_health(client: httpx.AsyncClient) -> None:
    """wrong_types on fetch-status: data a number, messages a string, pods a list."""
    await malformed(client, "get_health", "wrong_types")
    body = (await client.get(health_path(WHISPER))).json()
    assert (12345, "not-a-list", ["not", "an", "object"]) == (body["data"], body["messages"], body["pods"])


async def test_malformed_answer_still_applies_the_change(client: httpx.AsyncClient) -> None:
    """A damaged answer to a stop does not undo the stop: the platform did it, the answer got lost."""
    await malformed(client, "startstop", "html")
    response = await client.post(startstop_path(WHISPER), json={"action": "stop", "org": ORG})
    assert 502 == response.status_code
    assert "SCALED_DOWN" == await listed_status(client, WHISPER)


async def test_large_answer_is_valid_json_of_the_size_asked(client: httpx.AsyncClient) -> None:
    """large: the genuine JSON padded with whitespace to size_bytes."""
    await malformed(client, "get_health", "large", size_bytes=2_000_000)
    response = await client.get(health_path(WHISPER))
    assert (2_000_000, "Healthy") == (len(response.content), response.json()["data"])


async def test_slow_drip_sends_the_body_piece_by_piece(client: httpx.AsyncClient, sleeps: SleepRecorder) -> None:
    """slow_drip: the genuine body, sent in pieces with pauses adding up to size / bytes_per_second."""
    await malformed(client, "list_deployments", "slow_drip", bytes_per_second=1000)
    response = await client.get(LIST_PATH)
    assert 13 == len(response.json())
    assert len(response.content) / 1000 == pytest.approx(sum(sleeps.calls))
    assert len(sleeps.calls) > 10


async def test_dropped_connection_raises_in_process(client: httpx.AsyncClient) -> None:
    """drop: the app starts the answer and then raises (in process the caller sees DroppedConnection)."""
    await malformed(client, "get_health", "drop")
    with pytest.raises(DroppedConnection):
        await client.get(health_path(WHISPER))
    assert 200 == (await client.get(health_path(WHISPER))).status_code


async def test_dropped_connection_is_logged(client: httpx.AsyncClient) -> None:
    """A dropped answer is logged with its fault."""
    await malformed(client, "get_health", "drop")
    with pytest.raises(DroppedConnection):
        await client.get(health_path(WHISPER))
    entry = (await client.get("/_sim/requests")).json()["requests"][-1]
    assert "malformed:drop" == entry["fault"]


async def test_malformed_status_can_be_chosen(client: httpx.AsyncClient) -> None:
    """The status of a malformed answer can be set (here: a 200 HTML page, as a captive portal answers)."""
    await malformed(client, "list_deployments", "html", status=200)
    assert 200 == (await client.get(LIST_PATH)).status_code
