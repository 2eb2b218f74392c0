"""Scenario 1, platform faults, continued: boundaries that fall while cycles are in flight on a slow
platform, and money-saving calls while spend is blocked.

Both run the daemon as in production on virtual time (:mod:`tests.reliability.live`), with
every job on a 10 s interval, so that reconcile and health cycles are always in flight when a
boundary falls, and a platform that fails and stalls (answers held for 40 s while the client
gives up after 5 s):

- **No boundary reverted** (:func:`test_boundaries_that_fall_during_slow_cycles_are_never_reverted`):
  a platform transition *reverts* a boundary when it undoes the deployment's previous
  transition, that transition had established the desired state, and the desired state has
  not changed since. The figure must be 0, and no transition may be applied twice.
- **Money-saving calls never wait for money**
  (:func:`test_stops_and_scale_downs_go_out_while_the_wallet_and_a_quota_hold_spend`):
  the daemon's wallet is blocked (starts refused with 402, then the platform unblocks while
  the daemon waits for its probe), a quota refuses scale-ups (a backoff), and calls fail
  with 5xx before and after the platform acted. Every stop and scale-down due (at a
  boundary, or after a person started an ``enforce: true`` deployment by hand) must be
  sent within three reconcile intervals; a money-saving plan recorded as held by a gate
  (``blocked``, or ``deferred`` by the cycle's budget) is counted: the figure must be 0.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import httpx
import pytest

from scaler.policy.loader import load_policy_text
from scaler.policy.model import DesiredState, Policy
from scaler.policy.schedule import scheduled_state
from scaler.sim.model import HealthAnswer, SeedDeployment, SeedDocument, TimelineEntry
from scaler.store import ActionRecord
from tests.daemon.harness import MONDAY, at_utc
from tests.reliability.figures import ScenarioFigures, is_full, run_seed
from tests.reliability.live import Live, Network, live_daemon
from tests.reliability.platform_log import Change, PlatformLog, State, read_platform_log
from tests.structlog_level import structlog_level

pytestmark = pytest.mark.scenario(1)

NAMESPACE = UUID("5b0c7d0e-8f63-4b0e-9a55-2f9f6f1f0c11")
START = at_utc(MONDAY, "05:30")
LENGTH = timedelta(hours=6) if is_full() else timedelta(minutes=50)
PER_GROUP = 8 if is_full() else 4
INTERVAL = 10.0
#: A transition is due at most this many reconcile intervals after its instant.
CYCLES_ALLOWED = 3
#: Lists and first sightings at the start are not boundaries.
WARM_UP = timedelta(minutes=2)

#: Three schedules with a boundary every three minutes or less, all watched by a health rule
#: that never acts (Degraded for an hour), so health cycles run and reconcile all the time.
POLICIES = """version: 1
policies:
  - name: stop-cycle
    match: {names: ["slow-a*"]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: pause, cron: "*/6 * * * *", duration: 3m, state: stopped}
    health:
      - {name: watch, status: Degraded, for: 1h, state: {min_replicas: 1, max_replicas: 1}}
  - name: peak-cycle
    match: {names: ["slow-b*"]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: peak, cron: "2-59/6 * * * *", duration: 2m, state: {min_replicas: 2, max_replicas: 4}}
    health:
      - {name: watch, status: Degraded, for: 1h, state: {min_replicas: 1, max_replicas: 1}}
  - name: enforced-pause
    match: {names: ["slow-c*"]}
    enforce: true
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: pause, cron: "1-59/6 * * * *", duration: 3m, state: stopped}
    health:
      - {name: watch, status: Degraded, for: 1h, state: {min_replicas: 1, max_replicas: 1}}
"""

def fleet(rng: random.Random, *, h100: bool = False) -> SeedDocument:
    """``PER_GROUP`` deployments per policy, running at 1..2, whose health changes every 20-40 s."""
    deployments = []
    for group in "abc":
        for index in range(PER_GROUP):
            name = f"slow-{group}{index}"
            timeline, after = [], 0.0
            while after < LENGTH.total_seconds() + 600:
                after += rng.uniform(20, 40)
                value = "Progressing" if len(timeline) % 2 == 0 else "Healthy"
                timeline.append(TimelineEntry(after_seconds=after, health=HealthAnswer(data=value)))
            accelerator = "nvidia-h100" if h100 and group == "b" else "nvidia-l4"
            deployments.append(
                SeedDeployment(
                    deployment_id=str(uuid5(NAMESPACE, name)),
                    deployment_name=name,
                    model_repo_id=str(uuid5(NAMESPACE, f"repo-{group}")),
                    model_repo_name=f"repo-{group}",
                    accelerator_type=(accelerator,),
                    min_replicas=1,
                    max_replicas=2,
                    startup_seconds=float(rng.randint(5, 30)),
                    health_timeline=tuple(timeline),
                )
            )
    return SeedDocument(deployments=tuple(deployments), source="<slow platform scenario>")


def policies_by_name() -> dict[str, Policy]:
    """The scenario's policies, by the deployment-name prefix they govern (``slow-a`` ...)."""
    loaded = load_policy_text(POLICIES).policies
    return {f"slow-{group}": policy for group, policy in zip("abc", loaded, strict=True)}


def matches(state: State, desired: DesiredState | None) -> bool:
    """Whether the platform's ``state`` is what ``desired`` asks for (bounds do not matter when stopped)."""
    if desired is None:
        return True
    if desired.kind == "stopped":
        return not state[0]
    if desired.kind == "running":
        return state[0]
    return state == (True, desired.min_replicas, desired.max_replicas)


def reached(platform: PlatformLog, name: str, start: datetime, end: datetime, desired: DesiredState | None) -> bool:
    """Whether ``name`` was in ``desired`` on the platform at some instant of ``[start, end]``."""
    if matches(platform.state_before(name, start), desired):
        return True
    return any(start <= change.at <= end and matches(change.after, desired) for change in platform.changes[name])


def reverted(changes: list[Change], policy: Policy) -> list[str]:
    """The changes that undo the previous one while the desired state it established still holds."""
    found = []
    for previous, change in zip(changes, changes[1:], strict=False):
        segment = scheduled_state(policy, previous.at)
        if (
            change.after == previous.before
            and matches(previous.after, segment.state)
            and segment.end > change.at
        ):
            found.append(f"{previous.after} at {previous.at:%H:%M:%S.%f} undone at {change.at:%H:%M:%S.%f}")
    return found


def established_twice(records: list[ActionRecord], name: str, policy: Policy) -> list[str]:
    """Plans of ``name`` that completed establishing the state the previous one had, with no boundary
    between them (the audit's successful last steps, which carry the target)."""
    targets = [
        (record.started_at, record.parameters["target"])
        for record in records
        if record.deployment_name == name and isinstance(record.parameters.get("target"), str)
    ]
    return [
        f"{target} at {at:%H:%M:%S} and again at {again:%H:%M:%S}"
        for (at, target), (again, repeated) in zip(targets, targets[1:], strict=False)
        if target == repeated and scheduled_state(policy, at).end > again
    ]


def boundaries(policy: Policy, start: datetime, end: datetime) -> list[tuple[datetime, DesiredState | None]]:
    """The instants in ``[start, end)`` where ``policy``'s desired state changes, with the new state."""
    found, instant = [], start
    while instant < end:
        segment = scheduled_state(policy, instant)
        if segment.end >= end:
            break
        following = scheduled_state(policy, segment.end)
        if following.state != segment.state:
            found.append((segment.end, following.state))
        instant = segment.end
    return found


@dataclass
class SlowPlatform:
    """Per attempt: 500 before the platform acts, a 40 s stall before or after it acted, or nothing."""

    rng: random.Random
    failures: float
    stalls: float
    failures_after: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    async def __call__(self, request: httpx.Request, network: Network) -> httpx.Response | None:
        draw = self.rng.random()
        if draw < self.failures:
            return self._count("500 before", httpx.Response(500, json={"detail": "Internal Server Error"}))
        draw -= self.failures
        if draw < self.stalls / 2:
            self._count("stall before", None)
            await asyncio.sleep(40)  # the client's 5 s deadline ends the attempt first
            return httpx.Response(500, json={"detail": "Internal Server Error"})
        draw -= self.stalls / 2
        if draw < self.stalls / 2:
            self._count("stall after", None)
            answer = await network.forward(request)
            await asyncio.sleep(40)
            return answer
        draw -= self.stalls / 2
        failures_after = self.failures_after * (2 if "update-replicas" in request.url.path else 1)
        if draw < failures_after and request.method == "POST":
            self._count("502 after", None)
            await network.forward(request)
            return httpx.Response(502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"})
        return None

    def _count(self, name: str, answer: httpx.Response | None) -> httpx.Response | None:
        self.counts[name] = self.counts.get(name, 0) + 1
        return answer


SETTINGS: dict[str, Any] = {
    "reconcile_interval_seconds": INTERVAL,
    "health_interval_seconds": INTERVAL,
    "health_idle_interval_seconds": INTERVAL,
    "http_timeout_seconds": 5.0,
}


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Only errors are rendered: a slow platform makes the daemon log a great deal."""
    with structlog_level(logging.ERROR):
        yield


async def test_boundaries_that_fall_during_slow_cycles_are_never_reverted(
    tmp_path: Path, figures: ScenarioFigures
) -> None:
    """30 % of attempts answered 500, 5 % stalled 40 s; every job every 10 s: no boundary reverted, none twice."""
    rng = random.Random(run_seed())
    seed = fleet(rng)
    platform = SlowPlatform(random.Random(run_seed() + 1), failures=0.30, stalls=0.05)
    policies = policies_by_name()
    async with live_daemon(tmp_path, policies=POLICIES, start=START, seed=seed, fault=platform, **SETTINGS) as live:
        await live.time.sleep_until(START + LENGTH)
        ran = read_platform_log(live.harness.sim.requests, seed)
        established = live.harness.audit(results=["success"])
        job_errors = live.job_errors()

    problems: list[str] = []
    reverts = duplicates = late = expected = 0
    # Reached within a minute and a half: stalled attempts (5 s each) and their retries take time.
    allowed = timedelta(seconds=90)
    for name, deployment_changes in sorted(ran.changes.items()):
        policy = policies[name[:6]]
        for found in reverted(deployment_changes, policy):
            reverts += 1
            problems.append(f"{name}: reverted: {found}")
        for found in established_twice(established, name, policy):
            duplicates += 1
            problems.append(f"{name}: applied twice: {found}")
        for instant, desired in boundaries(policy, START + WARM_UP, START + LENGTH - allowed):
            expected += 1
            if not reached(ran, name, instant, instant + allowed, desired):
                late += 1
                problems.append(f"{name}: {desired} due at {instant:%H:%M:%S} not reached within {allowed}")
    if job_errors:
        problems.append(f"{job_errors:.0f} jobs failed")

    applied = sum(len(items) for items in ran.changes.values())
    figures.add(
        cases=len(live.network.sent),
        faults=sum(platform.counts.values()),
        duplicates=duplicates,
        losses=late,
        crashes=int(job_errors),
        reverted=reverts,
    )
    figures.note(
        f"slow platform: {expected} boundaries of {3 * PER_GROUP} deployments, {applied} platform transitions, "
        f"{len(live.network.sent):,} requests, faults {dict(sorted(platform.counts.items()))}"
    )
    assert expected > 0 and applied >= expected
    assert [] == problems, "\n".join(problems)


#: The cycle's budget (SCALER_MAX_ACTIONS_PER_CYCLE): smaller than the starts that wait for the wallet.
BUDGET = 2

#: The quota on the scale-up group's accelerator: all at 1..2, half of them at 2..4; the others'
#: scale-ups are refused (a backoff), and the scale-downs of those that went up are due.
QUOTA_GPUS = 2 * PER_GROUP + 2 * (PER_GROUP // 2)


async def person_starts(live: Live, rng: random.Random, names: list[str]) -> list[tuple[str, datetime]]:
    """A person starts an ``enforce: true`` deployment by hand inside its stop window (xx:07 to xx:10,
    every twelve minutes), at a random second of it."""
    started = []
    sim = live.harness.sim
    by_name = {deployment.deployment_name: deployment for deployment in sim.deployments.values()}
    opening = START + timedelta(minutes=7)
    while opening < START + LENGTH - timedelta(minutes=3):
        await live.time.sleep_until(opening + timedelta(seconds=rng.randint(10, 100)))
        opening += timedelta(minutes=12)
        deployment = by_name[rng.choice(names)]
        sim.settle(sim.now())
        if not deployment.running:
            sim.start(deployment, sim.now())
            started.append((deployment.deployment_name, live.time.now()))
    return started


async def block_the_wallet_now_and_then(live: Live) -> int:
    """The platform refuses starts with 402 around every third start boundary of ``stop-cycle`` (xx:03:00),
    for a minute; the daemon then holds spend until its probe, ten minutes later."""
    blocks = 0
    instant = START + timedelta(minutes=2, seconds=40)
    while instant < START + LENGTH:
        await live.time.sleep_until(instant)
        live.harness.sim.wallet_blocked = True
        await live.time.sleep_until(instant + timedelta(seconds=50))
        live.harness.sim.wallet_blocked = False
        blocks += 1
        instant += timedelta(minutes=18)
    return blocks


def spend_effect(action: str, parameters: dict[str, Any], before: State) -> int:
    """-1 when a call saves money on a deployment in state ``before``, 1 when it spends more, 0 when neither."""
    if action == "stop":
        return -1 if before[0] else 0
    if action == "start":
        return 0 if before[0] else 1
    if action == "update_replicas":
        bounds = (int(parameters["min_replicas"]), int(parameters["max_replicas"]))
        if not before[0] or bounds == before[1:]:
            return 0
        return -1 if bounds[0] <= before[1] and bounds[1] <= before[2] else 1
    return 0


async def test_stops_and_scale_downs_go_out_while_the_wallet_and_a_quota_hold_spend(
    tmp_path: Path, figures: ScenarioFigures
) -> None:
    """A blocked wallet, a quota backoff and 5xx before and after the platform acted: every stop and scale-down
    is sent within three cycles of being due, and none is held by a gate."""
    rng = random.Random(run_seed() + 2)
    seed = fleet(rng, h100=True)
    seed = SeedDocument(deployments=seed.deployments, quotas={"nvidia-h100": QUOTA_GPUS}, source=seed.source)
    platform = SlowPlatform(random.Random(run_seed() + 3), failures=0.20, stalls=0.0, failures_after=0.25)
    policies = policies_by_name()
    async with live_daemon(
        tmp_path, policies=POLICIES, start=START, seed=seed, fault=platform, max_actions_per_cycle=BUDGET, **SETTINGS
    ) as live:
        people = asyncio.create_task(person_starts(live, random.Random(run_seed() + 4), [f"slow-c{i}" for i in range(PER_GROUP)]))
        wallet = asyncio.create_task(block_the_wallet_now_and_then(live))
        await live.time.sleep_until(START + LENGTH)
        manual = await people
        blocks = await wallet
        ran = read_platform_log(live.harness.sim.requests, seed)
        audit = live.harness.audit()
        names = {item.deployment_id: item.deployment_name for item in seed.deployments}
        sent = [(names.get(item.deployment, item.deployment), item) for item in live.network.mutations()]
        job_errors = live.job_errors()

    problems: list[str] = []
    held_saving = held_spending = quota_refusals = 0
    effects = []
    for record in audit:
        before = ran.state_before(record.deployment_name, record.started_at)
        effects.append((record, spend_effect(record.action, record.parameters, before)))
        if record.result == "error" and "quota" in (record.platform_message or "").lower():
            quota_refusals += 1
    went_out = [(record, effect) for record, effect in effects if record.result not in ("blocked", "deferred")]
    for record, effect in effects:
        if record.result not in ("blocked", "deferred") or effect == 0:
            continue
        if effect > 0:
            held_spending += 1
            continue
        # A saving plan may wait for the budget that calls which went out used (other saving plans,
        # re-sends after an unknown outcome), never for a gate, nor for spend, nor for held plans.
        same_cycle = [
            (other, other_effect)
            for other, other_effect in went_out
            if abs((other.started_at - record.started_at).total_seconds()) < 5
        ]
        spent = any(other_effect > 0 for _, other_effect in same_cycle)
        used = {other.deployment_id for other, _ in same_cycle}
        if record.result == "blocked" or spent or len(used) < BUDGET:
            held_saving += 1
            problems.append(
                f"{record.deployment_name}: {record.action} {record.parameters} {record.result} "
                f"at {record.started_at:%H:%M:%S}: {record.reason}"
            )

    # What was due: each boundary that lowers spend, and each stop after a person's start.
    due: list[tuple[str, datetime, str]] = []
    for name in ran.seeded:
        policy = policies[name[:6]]
        for instant, desired in boundaries(policy, START + WARM_UP, START + LENGTH - timedelta(minutes=1)):
            before_state = ran.state_before(name, instant - timedelta(seconds=1))
            if desired is None or not before_state[0]:
                continue
            bounds = {"min_replicas": desired.min_replicas, "max_replicas": desired.max_replicas}
            action = "stop" if desired.kind == "stopped" else "update_replicas"
            if spend_effect(action, bounds, before_state) < 0:
                due.append((name, instant, action))
    due += [(name, at, "stop") for name, at in manual]
    allowed = timedelta(seconds=CYCLES_ALLOWED * INTERVAL)
    late = 0
    for name, instant, action in due:
        first = next(
            (item for to, item in sent if to == name and item.wall >= instant and item.action.startswith(action)),
            None,
        )
        if first is None or first.wall > instant + allowed:
            late += 1
            problems.append(f"{name}: {action} due at {instant:%H:%M:%S} sent at {first.wall if first else 'never'}")
    if job_errors:
        problems.append(f"{job_errors:.0f} jobs failed")

    figures.add(
        cases=len(live.network.sent),
        faults=sum(platform.counts.values()) + blocks,
        losses=late,
        crashes=int(job_errors),
        gated=held_saving,
    )
    figures.note(
        f"spend held: {len(due)} stops and scale-downs due ({len(manual)} after a start by hand), "
        f"{held_spending} spending plans held by a gate, {quota_refusals} quota refusals, "
        f"{blocks} wallet blocks, faults {dict(sorted(platform.counts.items()))}"
    )
    assert held_spending > 0, "the wallet never held a start: the scenario proves nothing"
    assert quota_refusals > 0, "the quota never refused a scale-up: the scenario proves nothing"
    assert len(due) > 0
    assert [] == problems, "\n".join(problems)
