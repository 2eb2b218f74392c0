"""How a health poll uses the client: every due deployment fetched once, none waiting for an unrelated slow answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from scaler.daemon import health_polling
from scaler.daemon.health_polling import HealthPoller
from scaler.daemon.organization import OrganizationState
from scaler.metrics import Metrics
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.limits import Limits
from scaler.simplismart.models import Deployment, DeploymentStatus
from scaler.simplismart.token import TokenSource
from scaler.store import open_store
from tests.daemon import policies
from tests.daemon.harness import MONDAY, RERANKER, Harness, at_utc
from tests.daemon.policies import document


def running(number: int) -> Deployment:
    return Deployment.model_validate(
        {
            "deployment_id": str(uuid.UUID(int=number + 1)),
            "deployment_name": f"model-{number}",
            "status": "DEPLOYED",
            "accelerator_type": ["nvidia-l4"],
        }
    )


async def test_a_slow_answer_does_not_hold_back_the_other_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two requests at a time, the other four are fetched while the first one still waits for its answer."""
    monkeypatch.setattr(health_polling, "POLL_WORKERS", 2)
    deployments = [running(number) for number in range(5)]
    slow = str(deployments[0].deployment_id)
    others_answered = asyncio.Event()
    answered: list[str] = []

    async def platform(request: httpx.Request) -> httpx.Response:
        deployment_id = request.url.path.rstrip("/").rsplit("/", 1)[1]
        if deployment_id == slow:
            await others_answered.wait()  # answers only once every other deployment was fetched
        else:
            answered.append(deployment_id)
            if len(answered) == len(deployments) - 1:
                others_answered.set()
        return httpx.Response(200, json={"data": "Healthy"})

    metrics = Metrics(CollectorRegistry())
    client = SimplismartClient(
        base_url="http://platform", token=TokenSource.static("tok-health-poll-5e9a1c"), org_id=None,
        transport=httpx.MockTransport(platform), limits=Limits(max_concurrency=2),
    )
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    poller = HealthPoller(
        client=client, store=store, metrics=metrics, organization=OrganizationState(metrics=metrics),
        idle_interval_seconds=300,
    )
    try:
        poll = await asyncio.wait_for(poller.poll(deployments, set(), MONDAY), timeout=10)
    finally:
        await client.aclose()
        store.close()
    assert (5, {d.deployment_id for d in deployments}) == (poll.fetched, set(poll.tracks))


def test_an_unwatched_deployment_is_polled_when_its_idle_interval_is_up_within_half_a_poll(tmp_path: Path) -> None:
    """Idle interval 300 s, polls every 30 s: due at the poll 299.9 s after its last fetch, not at 270 s."""
    metrics = Metrics(CollectorRegistry())
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    poller = HealthPoller(
        client=SimplismartClient(base_url="http://platform", token=TokenSource.static("tok-health-poll-5e9a1c"),
                                 org_id=None, transport=httpx.MockTransport(lambda request: httpx.Response(500))),
        store=store, metrics=metrics,
        organization=OrganizationState(metrics=metrics), idle_interval_seconds=300, poll_interval_seconds=30,
    )
    deployment = running(0)
    poller.last_fetched[deployment.deployment_id] = MONDAY
    due = [
        bool(poller.due([deployment], set(), MONDAY + timedelta(seconds=seconds))) for seconds in (270.0, 299.9)
    ]
    store.close()
    assert [False, True] == due


async def test_the_first_cycle_polls_only_the_deployments_under_health_rules(
    make_harness: Callable[..., Harness],
) -> None:
    """Before its first reconcile the daemon fetches the health its rules need (reranker's) and nothing else;
    the health job then polls every running deployment (the others by the idle interval, never polled yet)."""
    harness = make_harness(document(policies.OFFICE, policies.RESTART), start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    first = {entry.deployment_id for entry in harness.requests("get_health")}
    harness.sim.requests.clear()
    await harness.poll_health()
    then = {entry.deployment_id for entry in harness.requests("get_health")}
    running = {
        str(deployment.deployment_id)
        for deployment in harness.daemon.inventory.deployments.values()
        if deployment.status is DeploymentStatus.DEPLOYED
    }
    assert {RERANKER} == first
    assert running == then and len(then) > 3


async def test_a_first_poll_longer_than_the_liveness_limit_stays_alive_while_answers_arrive(
    make_harness: Callable[..., Harness],
) -> None:
    """Every deployment under a health rule, one request at a time, 60 s per answer: the first cycle's poll lasts
    far beyond /healthz's limit (3 x 60 s + 60 s), and the daemon is alive at every answer; stuck, it is not."""
    liveness: list[bool] = []
    holder: list[Harness] = []

    async def slow_platform(seconds: float) -> None:
        liveness.append(holder[0].daemon.liveness()[0])
        holder[0].advance(seconds=seconds)

    everything_restarts = policies.RESTART.replace("names: [reranker-ms-marco]", "names: ['*']")
    harness = make_harness(
        document(everything_restarts), start=at_utc(MONDAY, "06:00"), sim_sleep=slow_platform, max_concurrency=1
    )
    holder.append(harness)
    await harness.control("PUT", "faults/latency", {"fixed_ms": 60_000, "endpoints": ["get_health"]})
    started = harness.now()
    await harness.cycle()
    lasted = harness.now() - started
    alive_after = harness.daemon.liveness()[0]
    harness.advance(seconds=241)
    stuck = harness.daemon.liveness()[0]
    assert lasted > timedelta(seconds=300) and len(liveness) >= 5
    assert (True, True, False) == (all(liveness), alive_after, stuck)


async def test_a_change_of_health_adds_one_history_entry_and_repeats_add_none(
    make_harness: Callable[..., Harness],
) -> None:
    """The health job records reranker's Healthy once however often it is polled; Unhealthy adds one entry."""
    harness = make_harness(document(policies.RESTART), start=at_utc(MONDAY, "10:00"))
    await harness.control("PUT", f"deployments/{RERANKER}/health-timeline", [])
    await harness.control("PUT", f"deployments/{RERANKER}/health", {"data": "Healthy"})
    await harness.cycle()
    reranker = uuid.UUID(RERANKER)
    for _ in range(3):
        harness.advance(seconds=30)
        await harness.poll_health()
    before = harness.store.health_history(reranker, harness.now())
    harness.advance(seconds=30)
    changed_at = harness.now()
    await harness.control("PUT", f"deployments/{RERANKER}/health", {"data": "Unhealthy"})
    for _ in range(3):
        await harness.poll_health()
        harness.advance(seconds=30)
    after = harness.store.health_history(reranker, harness.now())
    assert [("Healthy", at_utc(MONDAY, "10:00"), None)] == [(c.value, c.since, c.until) for c in before]
    assert [("Unhealthy", changed_at, None), ("Healthy", at_utc(MONDAY, "10:00"), changed_at)] == [
        (c.value, c.since, c.until) for c in after
    ]
