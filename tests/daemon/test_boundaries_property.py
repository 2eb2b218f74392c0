"""A property of the daemon under any mix of slow, stalled and failed calls: boundaries are applied in
order, once, and never reverted.

Each example runs the daemon as in production (its APScheduler jobs, every one every 10 s,
its client with a 5 s attempt deadline and retries) on virtual time
(:mod:`tests.reliability.live`) through a quarter of an hour with a boundary every few
minutes, while hypothesis decides what happens to each request: answered at once, late but
in time, 500 before the platform acts, stalled past the deadline before it acts, or stalled
past the deadline after it acted (the answer lost), each with odds of up to 15 % per request.
Whatever it draws, for every deployment
the states the platform went through are exactly the schedule's desired states, in order:
none skipped, none applied twice in a row, none reverted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid5

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaler.policy.loader import load_policy_text
from scaler.policy.model import DesiredState
from scaler.policy.schedule import scheduled_state
from scaler.sim.model import HealthAnswer, SeedDeployment, SeedDocument, TimelineEntry
from tests.daemon.harness import MONDAY, at_utc
from tests.reliability.figures import scaled
from tests.reliability.live import Network, live_daemon
from tests.reliability.platform_log import State, read_platform_log
from tests.structlog_level import structlog_level

NAMESPACE = UUID("0f3c2b1e-6a1d-4d39-8a8e-3c6a1b5e9d42")
START = at_utc(MONDAY, "05:30")
END = at_utc(MONDAY, "05:46")

#: Boundaries two to three minutes apart, all before 05:42; health watched (never acted on).
POLICIES = """version: 1
policies:
  - name: pauses
    match: {names: ["prop-a*"]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: first, between: "05:32-05:35", state: stopped}
      - {name: second, between: "05:37-05:39", state: stopped}
    health:
      - {name: watch, status: Degraded, for: 1h, state: {min_replicas: 1, max_replicas: 1}}
  - name: peaks
    match: {names: ["prop-b*"]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: peak, between: "05:33-05:36", state: {min_replicas: 2, max_replicas: 4}}
      - {name: pause, between: "05:38-05:41", state: stopped}
    health:
      - {name: watch, status: Degraded, for: 1h, state: {min_replicas: 1, max_replicas: 1}}
  - name: enforced
    match: {names: ["prop-c*"]}
    enforce: true
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: pause, between: "05:31-05:34", state: stopped}
      - {name: narrow, between: "05:36-05:40", state: {min_replicas: 1, max_replicas: 1}}
    health:
      - {name: watch, status: Degraded, for: 1h, state: {min_replicas: 1, max_replicas: 1}}
"""

NAMES = [f"prop-{group}{index}" for group in "abc" for index in range(2)]


def seed() -> SeedDocument:
    """Two deployments per policy, running at 1..2, their health changing every 25 s."""
    timeline = tuple(
        TimelineEntry(after_seconds=25.0 * (step + 1), health=HealthAnswer(data="Progressing" if step % 2 else "Healthy"))
        for step in range(45)
    )
    return SeedDocument(
        deployments=tuple(
            SeedDeployment(
                deployment_id=str(uuid5(NAMESPACE, name)),
                deployment_name=name,
                model_repo_id=str(uuid5(NAMESPACE, "repo")),
                model_repo_name="repo",
                accelerator_type=("nvidia-l4",),
                min_replicas=1,
                max_replicas=2,
                startup_seconds=10.0,
                health_timeline=timeline,
            )
            for name in NAMES
        ),
        source="<property>",
    )


@dataclass
class Fates:
    """What happens to each request: a seeded draw per request with the example's odds of each fault."""

    rng: random.Random
    odds: dict[str, float]
    stall_seconds: float

    async def __call__(self, request: httpx.Request, network: Network) -> httpx.Response | None:
        draw, fate = self.rng.random(), "answered"
        for name, probability in self.odds.items():
            if draw < probability:
                fate = name
                break
            draw -= probability
        if fate == "answered":
            return None
        if fate == "late":  # within the attempt deadline
            await asyncio.sleep(self.rng.uniform(0, 4.5))
            return None
        if fate == "500":
            return httpx.Response(500, json={"detail": "Internal Server Error"})
        if fate == "stall before":
            await asyncio.sleep(5 + self.stall_seconds)  # the deadline ends the attempt before the platform sees it
            return httpx.Response(500, json={"detail": "Internal Server Error"})
        answer = await network.forward(request)  # stall after: the platform acted, the answer is lost
        await asyncio.sleep(5 + self.stall_seconds)
        return answer


def matches(state: State, desired: DesiredState) -> bool:
    if desired.kind == "stopped":
        return not state[0]
    return state == (True, desired.min_replicas, desired.max_replicas)


def desired_changes(name: str) -> list[DesiredState]:
    """The schedule's desired states of ``name`` from START to END, each change once, in order."""
    policy = {policy.name: policy for policy in load_policy_text(POLICIES).policies}[
        {"a": "pauses", "b": "peaks", "c": "enforced"}[name[5]]
    ]
    states, instant = [], START
    while instant < END:
        segment = scheduled_state(policy, instant)
        assert segment.state is not None
        if not states or segment.state != states[-1]:
            states.append(segment.state)
        instant = segment.end
    return states


async def run(fates: Fates, directory: Path) -> dict[str, list[State]]:
    document = seed()
    async with live_daemon(
        directory,
        policies=POLICIES,
        start=START,
        seed=document,
        fault=fates,
        reconcile_interval_seconds=10.0,
        health_interval_seconds=10.0,
        health_idle_interval_seconds=10.0,
        http_timeout_seconds=5.0,
        api_retry_attempts=3,
    ) as live:
        await live.time.sleep_until(END)
        assert 0 == live.job_errors()
        ran = read_platform_log(live.harness.sim.requests, document)
        return {name: ran.states(name) for name in NAMES}


def collapse(states: list[State]) -> list[State]:
    """The states a deployment went through, with a bounds change while stopped merged into the start
    that follows it (a plan's first step, not a state of its own)."""
    merged: list[State] = []
    for state in states:
        if merged and not merged[-1][0] and not state[0]:
            merged[-1] = state
        else:
            merged.append(state)
    return merged


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    with structlog_level(logging.CRITICAL):
        yield


#: Each fault's odds per request, at most: together they leave a request answered in time at least 40 % of the time.
FAULT_ODDS = st.floats(min_value=0.0, max_value=0.15, allow_nan=False)


@settings(max_examples=scaled(12, 200), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    odds=st.fixed_dictionaries(
        {"late": FAULT_ODDS, "500": FAULT_ODDS, "stall before": FAULT_ODDS, "stall after": FAULT_ODDS}
    ),
    stall_seconds=st.floats(min_value=0.0, max_value=40.0, allow_nan=False),
)
def test_every_deployment_goes_through_its_desired_states_in_order_once_whatever_the_calls_meet(
    seed: int, odds: dict[str, float], stall_seconds: float
) -> None:
    """Slow, failed and stalled calls around boundaries: the platform's states are the schedule's, in order."""
    with tempfile.TemporaryDirectory() as directory:
        went = asyncio.run(run(Fates(random.Random(seed), odds, stall_seconds), Path(directory)))
    for name in NAMES:
        wanted = desired_changes(name)
        states = collapse(went[name])
        assert len(wanted) == len(states), f"{name}: went through {states}, the schedule wanted {wanted}"
        for state, desired in zip(states, wanted, strict=True):
            assert matches(state, desired), f"{name}: went through {states}, the schedule wanted {wanted}"


def test_the_property_sees_a_revert_when_one_happens() -> None:
    """The check itself: a stop undone inside its window is a state the schedule did not want."""
    wanted = [
        DesiredState(kind="bounds", min_replicas=1, max_replicas=2),
        DesiredState(kind="stopped"),
        DesiredState(kind="bounds", min_replicas=1, max_replicas=2),
    ]
    reverted = collapse([(True, 1, 2), (False, 1, 2), (True, 1, 2), (False, 1, 2), (True, 1, 2)])
    assert len(wanted) != len(reverted)
