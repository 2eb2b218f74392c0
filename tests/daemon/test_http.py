"""The daemon's HTTP endpoints: /metrics, /healthz, /readyz, /status; read-only, and never the token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from scaler.daemon.http import create_http_app
from scaler.sim import DEFAULT_TOKEN
from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document

OFFICE = document(policies.OFFICE)


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))


@pytest.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    app = create_http_app(harness.daemon, harness.metrics)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon") as client:
        yield client


async def test_metrics_serves_the_registry_in_the_exposition_format(harness: Harness, http: httpx.AsyncClient) -> None:
    """/metrics (no trailing slash, no redirect) serves the daemon's metrics."""
    await harness.cycle()
    response = await http.get("/metrics")
    assert 200 == response.status_code
    assert "text/plain" in response.headers["content-type"]
    assert 'scaler_actions_total{action="stop",policy="office",result="success"} 1.0' in response.text


async def test_readyz_is_false_until_the_first_list_and_names_the_failing_check(
    harness: Harness, http: httpx.AsyncClient
) -> None:
    """Before the first list the API check fails (503); after a cycle every check passes (200)."""
    before = await http.get("/readyz")
    await harness.cycle()
    after = await http.get("/readyz")
    assert (503, False, "the deployments have not been listed yet") == (
        before.status_code,
        before.json()["checks"]["api"]["ok"],
        before.json()["checks"]["api"]["detail"],
    )
    assert (200, {"policies": True, "api": True, "org_id": True, "store": True, "leadership": True}) == (
        after.status_code,
        {name: check["ok"] for name, check in after.json()["checks"].items()},
    )


async def test_readyz_is_false_while_the_token_is_refused(harness: Harness, http: httpx.AsyncClient) -> None:
    """A 401 makes /readyz answer 503 with the platform's message."""
    await harness.cycle()
    harness.sim.token = "another"
    harness.advance(minutes=1)
    await harness.cycle()
    response = await http.get("/readyz")
    assert (503, "the platform refuses the token: Invalid token.") == (
        response.status_code,
        response.json()["checks"]["api"]["detail"],
    )


async def test_healthz_is_ok_while_cycles_complete_and_fails_when_they_stop(
    harness: Harness, http: httpx.AsyncClient
) -> None:
    """/healthz is 200 after a cycle and 503 once no cycle completed for three intervals and a minute."""
    await harness.cycle()
    fresh = await http.get("/healthz")
    harness.advance(seconds=3 * 60 + 61)
    stale = await http.get("/healthz")
    assert (200, 503) == (fresh.status_code, stale.status_code)


async def test_status_describes_every_deployment_and_the_daemon(harness: Harness, http: httpx.AsyncClient) -> None:
    """/status: status, health, policy, desired state and source, last applied, next transition and its state,
    recent actions; and the daemon's facts."""
    await harness.cycle()
    harness.advance(minutes=1)
    await harness.daemon.poll_health()
    document = (await http.get("/status")).json()
    llama = next(item for item in document["deployments"] if item["deployment_id"] == LLAMA_8B)
    assert {
        "status": "SCALED_DOWN",
        "policy": "office",
        "desired": {"state": "stopped", "source": "default", "enforce": False},
        "last_applied_state": "stopped",
        "next_transition": {"at": "2026-03-02T08:00:00Z", "state": "min=1 max=3", "source": "window:office"},
        "health": "SCALED_DOWN",
        "last_action": ("stop", "success"),
    } == {
        "status": llama["status"],
        "policy": llama["policy"],
        "desired": llama["desired"],
        "last_applied_state": llama["last_applied"]["state"],
        "next_transition": llama["next_transition"],
        "health": llama["health"]["value"],
        "last_action": (llama["last_action"]["action"], llama["last_action"]["result"]),
    }
    assert 13 == len(document["deployments"])
    assert [("llama-3-8b-chat", "stop", "success")] == [
        (entry["deployment_name"], entry["action"], entry["result"]) for entry in document["recent_actions"]
    ]
    daemon = document["daemon"]
    assert (False, False, True, ["office"], "2026-03-02T08:00:00Z") == (
        daemon["dry_run"],
        daemon["allow_delete"],
        daemon["ready"],
        daemon["policies"]["policies"],
        llama["next_transition"]["at"],
    )
    assert {"auth": True, "wallet": False} == {
        "auth": daemon["organization"]["auth"]["ok"],
        "wallet": daemon["organization"]["wallet"]["blocked"],
    }


async def test_no_endpoint_changes_anything(harness: Harness, http: httpx.AsyncClient) -> None:
    """POST, PUT and DELETE are refused on every endpoint (405)."""
    await harness.cycle()
    statuses = {
        (method, path): (await http.request(method, path)).status_code
        for method in ("POST", "PUT", "DELETE")
        for path in ("/metrics", "/healthz", "/readyz", "/status")
    }
    assert {405} == set(statuses.values())


async def test_the_token_appears_in_no_endpoint(harness: Harness, http: httpx.AsyncClient) -> None:
    """After cycles, an auth failure and actions, the token is in none of the four answers."""
    await harness.cycle()
    harness.advance(hours=3)
    await harness.daemon.wake_up()
    await harness.cycle()
    bodies = [(await http.get(path)).text for path in ("/metrics", "/healthz", "/readyz", "/status")]
    assert [] == [body for body in bodies if DEFAULT_TOKEN in body]


async def test_status_shows_a_deferred_plan(make_harness: Callable[..., Harness]) -> None:
    """Over a budget of one action, the start waits: /status shows it deferred since the cycle that decided it."""
    harness = make_harness(
        OFFICE + "  - name: batch\n    match: {names: [batch-transcribe]}\n    default: running\n",
        start=at_utc(MONDAY, "07:00"),
        max_actions_per_cycle=1,
    )
    await harness.cycle()
    document = await harness.daemon.status_document()
    batch = next(item for item in document["deployments"] if item["deployment_name"] == "batch-transcribe")
    assert {"result": "deferred", "since": "2026-03-02T07:00:00Z"} == batch["waiting"]
    assert ("start", "deferred") == (batch["last_action"]["action"], batch["last_action"]["result"])


async def test_status_shows_a_backoff(harness: Harness) -> None:
    """A quota refusal at 08:00 shows as a backoff until 08:01 with the platform's message."""
    harness.at(at_utc(MONDAY, "07:59"))
    await harness.cycle()
    await harness.control("PATCH", "quotas", {"nvidia-l4": 2})
    harness.at(at_utc(MONDAY, "08:00"))
    await harness.daemon.wake_up()
    document = await harness.daemon.status_document()
    llama = next(item for item in document["deployments"] if item["deployment_id"] == LLAMA_8B)
    assert {
        "until": "2026-03-02T08:01:00Z",
        "failures": 1,
        "reason": "quota: Insufficient GPU quota for requested replicas",
    } == llama["backoff"]
